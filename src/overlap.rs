//! Field-level overlap between the branches of a conflicting app: what each branch did since
//! the fork point, and whether those changes touch the same things.
//!
//! Branches are read from the graph alone: a leaf's branch is every migration it depends on
//! that no other leaf depends on. So the analysis works on any tree, with or without git.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::graph::{Graph, Key, KeySet, LeafConflict, NodeKind};
use crate::migration::{Arg, Detail, Operation};
use crate::operation::{self, Action, ModelRef, Touch};
use crate::project::Project;

/// How much two branches' changes collide, in the three grades the JSON has always had:
/// [`Consequence`] says more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Nothing to decide: disjoint, or the same change on both sides.
    None,
    /// Resolvable, worth a look: same model, different fields; the same field altered
    /// differently (the last applied wins); code that cannot be read statically.
    Caution,
    /// Some order makes `migrate` fail or lose data: a human must decide.
    Conflict,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Caution => "caution",
            Severity::Conflict => "conflict",
        }
    }

    /// Whether a human must decide how the branches combine: the one question the resolver
    /// and the hooks ask before deciding on their own.
    pub fn needs_human(self) -> bool {
        self == Severity::Conflict
    }
}

/// What `migrate` does with two branches' changes to one thing, in whatever order Django's plan
/// puts the branches. Ordered from harmless to harmful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Consequence {
    /// Disjoint: nothing one branch does concerns the other.
    None,
    /// The same operations, with the same arguments, on both sides, and applying them twice
    /// succeeds (an `AlterField` to the same definition): nothing to decide.
    Identical,
    /// Same model, different fields; or code that cannot be read statically.
    Caution,
    /// The same field or `Meta` option altered differently: `migrate` succeeds in either
    /// order, and the definition applied last is the one that stays.
    Order,
    /// Some order makes `migrate` fail or lose data: removed or renamed on one side and used
    /// on the other, or added on both (even identically).
    Breaks,
}

impl Consequence {
    pub fn as_str(self) -> &'static str {
        match self {
            Consequence::None => "none",
            Consequence::Identical => "identical",
            Consequence::Caution => "caution",
            Consequence::Order => "order",
            Consequence::Breaks => "breaks",
        }
    }

    /// The grade the JSON key `severity` keeps for existing consumers.
    pub fn severity(self) -> Severity {
        match self {
            Consequence::None | Consequence::Identical => Severity::None,
            Consequence::Caution | Consequence::Order => Severity::Caution,
            Consequence::Breaks => Severity::Conflict,
        }
    }

    /// Whether a human must decide: only what breaks `migrate` does.
    pub fn needs_human(self) -> bool {
        self.severity().needs_human()
    }
}

/// One migration on a branch and what its operations do.
#[derive(Debug, Clone, Serialize)]
pub struct BranchMigration {
    pub app: String,
    pub name: String,
    pub path: String,
    pub operations: Vec<String>,
}

/// The migrations that lead to one leaf and to no other.
#[derive(Debug, Clone, Serialize)]
pub struct Branch {
    pub leaf: String,
    /// `"ours"` or `"theirs"` when the snapshot says which side of a merge the leaf is on
    /// (`check --staged`: `"committed"` or `"staged"`).
    pub side: Option<&'static str>,
    pub migrations: Vec<BranchMigration>,
}

/// One argument whose value differs between the two sides' definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The argument's name; `class` for a field's class.
    pub argument: String,
    /// Its value on the first branch of the pair, `None` when not given there.
    pub ours: Option<String>,
    pub theirs: Option<String>,
}

/// Two branches touching the same thing.
#[derive(Debug, Clone, Serialize)]
pub struct OverlapItem {
    /// The model, lower-cased as Django compares names; `None` for opaque operations.
    pub model: Option<String>,
    /// The field, index or constraint; `None` for model-level and opaque overlaps.
    pub field: Option<String>,
    /// The `Meta` option both sides set (`options`, `unique_together`, `db_table`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option: Option<String>,
    /// [`Consequence::severity`] of `consequence`.
    pub severity: Severity,
    pub consequence: Consequence,
    /// What the first branch of the pair does there.
    pub ours: String,
    /// What the second branch of the pair does there.
    pub theirs: String,
    /// The leaves of the two branches compared, first branch first.
    pub leaves: [String; 2],
    /// One line, in a Django developer's words: "Alter field email on user: max_length 300 |
    /// 128".
    pub summary: String,
    /// The arguments in which the two sides' last definitions differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
    /// For [`Consequence::Order`]: each side's last definition, first branch first; the one
    /// of the branch `migrate` applies last stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definitions: Option<[String; 2]>,
}

impl OverlapItem {
    /// What the item is about, in words: "field email on user", "Meta option ordering on
    /// product", "index shop_sku_idx on product".
    pub fn subject(&self) -> String {
        match (&self.model, &self.field, &self.option) {
            (Some(model), _, Some(option)) => format!("Meta option {option} on {model}"),
            (Some(model), Some(field), None) => format!("{field} on {model}"),
            (Some(model), None, None) => format!("model {model}"),
            _ => "code that cannot be read statically".to_owned(),
        }
    }

    /// For [`Consequence::Order`], what stays once the branch of `last_leaf` is applied after
    /// the other one; `None` for other consequences and for leaves not in the pair.
    pub fn applied_last(&self, last_leaf: &str) -> Option<String> {
        if self.consequence != Consequence::Order {
            return None;
        }
        let [first, second] = self.definitions.as_ref()?;
        let subject = self.subject();
        if first == second {
            return Some(format!(
                "{subject}: both sides end with {first} by different steps, so the order does not matter"
            ));
        }
        let last = self.leaves.iter().position(|l| l == last_leaf)?;
        let (kept, replaced) = if last == 0 {
            (first, second)
        } else {
            (second, first)
        };
        Some(format!(
            "{subject} ends as {kept}, from {last_leaf}, applied last ({replaced}, from {}, is replaced)",
            self.leaves[1 - last]
        ))
    }
}

/// The overlap analysis of one conflicting app.
#[derive(Debug, Clone, Serialize)]
pub struct AppOverlap {
    pub app: String,
    /// The app's last migrations common to every branch.
    pub fork: Vec<String>,
    /// One per leaf, in the order given to [`analyze`].
    pub branches: Vec<Branch>,
    pub items: Vec<OverlapItem>,
    /// [`Consequence::severity`] of `consequence`.
    pub severity: Severity,
    /// The worst consequence among the items.
    pub consequence: Consequence,
    /// The leaf whose branch `migrate` applies last once a merge migration joins the leaves
    /// ([`merge_applies_last`]).
    pub merge_applies_last: Option<String>,
}

impl AppOverlap {
    /// Whether a human must decide how the branches combine (some order breaks `migrate`):
    /// the resolver and the hooks decide alone only when this is false.
    pub fn needs_human(&self) -> bool {
        self.consequence.needs_human()
    }

    /// What the definitions altered differently on both sides end as when the branch of
    /// `last_leaf` is applied last (for a renumbering, the moved branch; for a merge
    /// migration, [`AppOverlap::merge_applies_last`]), then how to check it. Empty when no
    /// item's outcome depends on the order.
    pub fn order_notes(&self, last_leaf: &str) -> Vec<String> {
        let mut notes: Vec<String> = self
            .items
            .iter()
            .filter_map(|item| item.applied_last(last_leaf))
            .collect();
        if !notes.is_empty() {
            notes.push(
                "models.py is the truth: `python manage.py makemigrations --check` says whether the result matches it"
                    .to_owned(),
            );
        }
        notes
    }
}

/// Compares the branches of `conflict`. `leaf_order` lists its leaves with "ours" first; leaves
/// it omits follow in name order.
pub fn analyze(
    graph: &Graph,
    project: &Project,
    conflict: &LeafConflict,
    leaf_order: &[String],
) -> AppOverlap {
    let mut leaves: Vec<&String> = leaf_order
        .iter()
        .filter(|l| conflict.leaves.contains(l))
        .collect();
    for leaf in &conflict.leaves {
        if !leaves.contains(&leaf) {
            leaves.push(leaf);
        }
    }
    let keys: Vec<Key> = leaves.iter().map(|l| Key::new(&conflict.app, *l)).collect();
    let ancestry: Vec<KeySet<'_>> = keys.iter().map(|k| graph.ancestors(k)).collect();

    let common: KeySet<'_> = ancestry
        .iter()
        .skip(1)
        .fold(ancestry.first().cloned().unwrap_or_default(), |acc, set| {
            acc.intersection(set).copied().collect()
        });
    let mut fork: Vec<String> = common
        .iter()
        .filter(|k| k.app == conflict.app)
        .filter(|k| {
            !graph
                .children(k)
                .iter()
                .any(|c| c.app == conflict.app && common.contains(c))
        })
        .map(|k| k.name.clone())
        .collect();
    fork.sort();

    let branch_keys = own_branches(graph, &conflict.app, &ancestry);

    let file_of = |key: &Key| match graph.node(key).map(|n| n.kind) {
        Some(NodeKind::Migration(i)) => {
            let file = &project.migrations[i];
            debug_assert!(
                file.detail == Detail::Full,
                "{}: operations not read; see branch_files",
                file.path
            );
            Some(file)
        }
        _ => None,
    };

    let branches: Vec<Branch> = leaves
        .iter()
        .zip(&branch_keys)
        .map(|(leaf, keys)| Branch {
            leaf: (*leaf).clone(),
            side: None,
            migrations: keys
                .iter()
                .filter_map(|k| file_of(k))
                .map(|file| BranchMigration {
                    app: file.app.clone(),
                    name: file.name.clone(),
                    path: file.path.clone(),
                    operations: file
                        .migration
                        .operations
                        .iter()
                        .flatten()
                        .map(operation::describe)
                        .collect(),
                })
                .collect(),
        })
        .collect();

    // What each branch touches, in the order its migrations apply, with the operation that
    // does it and the words for it.
    let steps: Vec<Vec<Step<'_>>> = branch_keys
        .iter()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| file_of(k))
                .flat_map(|file| {
                    file.migration.operations.iter().flatten().flat_map(|op| {
                        let words = format!("{} ({})", operation::describe(op), file.name);
                        operation::touches_by(op, &file.app, &project.config)
                            .into_iter()
                            .map(move |(touch, op)| Step {
                                touch,
                                op,
                                words: words.clone(),
                            })
                    })
                })
                .collect()
        })
        .collect();

    let mut items = Vec::new();
    for i in 0..steps.len() {
        for j in i + 1..steps.len() {
            items.extend(compare(
                &steps[i],
                &steps[j],
                [leaves[i].clone(), leaves[j].clone()],
            ));
        }
    }
    let consequence = items
        .iter()
        .map(|item| item.consequence)
        .max()
        .unwrap_or(Consequence::None);
    AppOverlap {
        app: conflict.app.clone(),
        fork,
        branches,
        items,
        severity: consequence.severity(),
        consequence,
        merge_applies_last: merge_applies_last(graph, &conflict.app),
    }
}

/// The leaf of `app` whose branch Django's `migrate` applies last once one merge migration
/// joins the leaves of each app that has several: `None` when `app` has fewer than two.
///
/// This is Django's plan, step by step (`MigrationExecutor.migration_plan` over
/// `MigrationGraph.leaf_nodes()`): the targets are every app's leaf in key order, each planned
/// by `iterative_dfs`, which pushes a node's parents in sorted order and so visits the last of
/// them first; a migration already planned is not planned again. For a merge migration alone,
/// the branch of the leaf that sorts first comes last, unless an app planned before pulled
/// another branch ahead.
pub fn merge_applies_last(graph: &Graph, app: &str) -> Option<String> {
    let all_leaves = graph.leaves();
    let own = all_leaves.get(app).filter(|leaves| leaves.len() > 1)?;
    // Only a target that depends on one of the leaves can plan it before the merge migration
    // does; every other target leaves the leaves' order alone, so its plan is not walked.
    let pulling: HashSet<&Key> = own
        .iter()
        .flat_map(|leaf| graph.descendants(&Key::new(app, *leaf)))
        .collect();
    let mut planned: HashSet<&Key> = HashSet::new();
    let mut position: BTreeMap<&str, usize> = BTreeMap::new();
    for (target_app, leaves) in &all_leaves {
        let pulls = leaves.iter().any(|leaf| {
            pulling
                .iter()
                .any(|k| k.app == *target_app && k.name == *leaf)
        });
        if *target_app != app && !pulls {
            continue;
        }
        // A merge migration of `leaves` is a node whose parents are the leaves (one leaf is
        // its own target).
        let mut parents: Vec<&Key> = leaves
            .iter()
            .filter_map(|leaf| graph.node(&Key::new(*target_app, *leaf)))
            .map(|node| &node.key)
            .collect();
        parents.sort();
        // `iterative_dfs` from that node, itself left out: its parents pushed at once, so the
        // last is planned first.
        for key in graph.plan(parents.into_iter().rev(), |_| true) {
            if planned.insert(key)
                && key.app == app
                && let Some(leaf) = own.iter().find(|l| **l == key.name)
            {
                position.insert(leaf, planned.len());
            }
        }
        if *target_app == app {
            break;
        }
    }
    position
        .into_iter()
        .max_by_key(|(_, at)| *at)
        .map(|(leaf, _)| leaf.to_owned())
}

/// The migration files (indices into [`Project::migrations`]) on the branches of `conflict`:
/// those whose operations [`analyze`] reads, so those a project loaded with
/// [`Detail::Graph`] must read in full first ([`Project::read_operations`]).
pub fn branch_files(graph: &Graph, conflict: &LeafConflict) -> Vec<usize> {
    let ancestry: Vec<KeySet<'_>> = conflict
        .leaves
        .iter()
        .map(|leaf| graph.ancestors(&Key::new(&conflict.app, leaf)))
        .collect();
    own_branches(graph, &conflict.app, &ancestry)
        .into_iter()
        .flatten()
        .filter_map(|key| match graph.node(key)?.kind {
            NodeKind::Migration(i) => Some(i),
            _ => None,
        })
        .collect()
}

/// Per leaf, given each leaf's ancestors: the migrations that lead to it and to no other leaf,
/// the conflicting app's own chain first, then the other apps', each by name.
fn own_branches<'g>(graph: &Graph, app: &str, ancestry: &[KeySet<'g>]) -> Vec<Vec<&'g Key>> {
    ancestry
        .iter()
        .enumerate()
        .map(|(i, own)| {
            let mut mine: Vec<&Key> = own
                .iter()
                .filter(|k| {
                    ancestry
                        .iter()
                        .enumerate()
                        .all(|(j, other)| i == j || !other.contains(*k))
                })
                .filter(|k| matches!(graph.node(k).map(|n| n.kind), Some(NodeKind::Migration(_))))
                .copied()
                .collect();
            mine.sort_by(|a, b| {
                (a.app != app, &a.app, &a.name).cmp(&(b.app != app, &b.app, &b.name))
            });
            mine
        })
        .collect()
}

/// One thing a branch touches, with the operation that does it and the words for that.
struct Step<'p> {
    touch: Touch,
    op: &'p Operation,
    words: String,
}

/// Where an overlap is filed. Index and constraint names are compared alone, because the
/// database holds them in one namespace whatever the model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Spot {
    Opaque,
    Model(ModelRef),
    Meta(ModelRef, &'static str),
    Field(ModelRef, String),
    Named(String),
}

fn spot_of(touch: &Touch) -> Option<Spot> {
    Some(match touch {
        Touch::Model { model, .. } => Spot::Model(model.clone()),
        Touch::Meta { model, option } => Spot::Meta(model.clone(), option),
        Touch::Field { model, field, .. } => Spot::Field(model.clone(), field.clone()),
        Touch::Named { name, .. } => Spot::Named(name.clone()),
        Touch::Opaque => Spot::Opaque,
        Touch::Reference { .. } => return None,
    })
}

/// An item being written: the worst consequence found at its spot so far, and why.
struct Draft {
    model: Option<String>,
    consequence: Consequence,
    ours: Vec<String>,
    theirs: Vec<String>,
    summary: String,
    differences: Vec<Difference>,
    definitions: Option<[String; 2]>,
}

/// What the grading of one spot found.
struct Grade {
    consequence: Consequence,
    summary: String,
    differences: Vec<Difference>,
    definitions: Option<[String; 2]>,
}

impl Grade {
    fn plain(consequence: Consequence, summary: String) -> Self {
        Grade {
            consequence,
            summary,
            differences: Vec::new(),
            definitions: None,
        }
    }
}

fn compare<'s, 'p>(
    ours: &'s [Step<'p>],
    theirs: &'s [Step<'p>],
    leaves: [String; 2],
) -> Vec<OverlapItem> {
    let mut found: BTreeMap<Spot, Draft> = BTreeMap::new();
    let mut note =
        |spot: Spot, model: Option<&ModelRef>, grade: Grade, a: &[&Step<'_>], b: &[&Step<'_>]| {
            let draft = found.entry(spot).or_insert_with(|| Draft {
                model: model.map(|m| m.model.clone()),
                consequence: grade.consequence,
                ours: Vec::new(),
                theirs: Vec::new(),
                summary: grade.summary.clone(),
                differences: Vec::new(),
                definitions: None,
            });
            if grade.consequence >= draft.consequence {
                draft.consequence = grade.consequence;
                draft.summary = grade.summary;
                draft.differences = grade.differences;
                draft.definitions = grade.definitions;
            }
            for (words, steps) in [(&mut draft.ours, a), (&mut draft.theirs, b)] {
                for step in steps {
                    if !words.contains(&step.words) {
                        words.push(step.words.clone());
                    }
                }
            }
        };

    // Each side's direct touches by spot, in the order they apply.
    let by_spot = |steps: &'_ [Step<'_>]| {
        let mut map: BTreeMap<Spot, Vec<usize>> = BTreeMap::new();
        for (i, step) in steps.iter().enumerate() {
            if let Some(spot) = spot_of(&step.touch) {
                map.entry(spot).or_default().push(i);
            }
        }
        map
    };
    let (a_spots, b_spots) = (by_spot(ours), by_spot(theirs));

    // Code nobody can read: flagged whichever side it is on.
    let opaque = |steps: &'s [Step<'p>]| -> Vec<&'s Step<'p>> {
        steps.iter().filter(|s| s.touch == Touch::Opaque).collect()
    };
    let (a_opaque, b_opaque) = (opaque(ours), opaque(theirs));
    if !a_opaque.is_empty() || !b_opaque.is_empty() {
        let grade = Grade::plain(
            Consequence::Caution,
            "Code that cannot be read statically (RunPython, RunSQL, a custom operation): check what it touches".to_owned(),
        );
        note(Spot::Opaque, None, grade, &a_opaque, &b_opaque);
    }

    // A model deleted or renamed away on one side, used in any way on the other.
    for (removing, using, flip) in [(ours, theirs, false), (theirs, ours, true)] {
        for gone in removing.iter().filter(|s| {
            matches!(
                s.touch,
                Touch::Model {
                    action: Action::Remove,
                    ..
                }
            )
        }) {
            let Some(model) = gone.touch.model() else {
                continue;
            };
            let users: Vec<&Step<'_>> = using
                .iter()
                .filter(|s| s.touch != Touch::Opaque && s.touch.model() == Some(model))
                .collect();
            if users.is_empty() {
                continue;
            }
            let grade = Grade::plain(
                Consequence::Breaks,
                format!(
                    "Model {} is deleted or renamed on one side and used on the other: in one order `migrate` fails on a model that no longer exists",
                    model.model
                ),
            );
            let (a, b) = if flip {
                (users, vec![gone])
            } else {
                (vec![gone], users)
            };
            note(Spot::Model(model.clone()), Some(model), grade, &a, &b);
        }
    }

    // A model both sides create breaks as a whole: its fields and options need no item each.
    let creates = |steps: &[Step<'_>], model: &ModelRef| {
        steps.iter().any(
            |s| matches!(&s.touch, Touch::Model { model: m, action: Action::Create } if m == model),
        )
    };
    let created_by_both = |spot: &Spot| {
        !matches!(spot, Spot::Model(_))
            && spot_model(spot).is_some_and(|m| creates(ours, m) && creates(theirs, m))
    };

    // The same thing on both sides.
    for (spot, a_at) in &a_spots {
        let Some(b_at) = b_spots.get(spot) else {
            continue;
        };
        if *spot == Spot::Opaque || created_by_both(spot) {
            continue;
        }
        let (a, b) = (pick(ours, a_at), pick(theirs, b_at));
        let model = a[0].touch.model().cloned();
        note(spot.clone(), model.as_ref(), grade(spot, &a, &b), &a, &b);
    }

    // The same model, different things on it.
    for (a_spot, a_at) in &a_spots {
        for (b_spot, b_at) in &b_spots {
            let (Some(ma), Some(mb)) = (spot_model(a_spot), spot_model(b_spot)) else {
                continue;
            };
            if a_spot == b_spot || ma != mb || created_by_both(a_spot) || created_by_both(b_spot) {
                continue;
            }
            let grade = Grade::plain(
                Consequence::Caution,
                format!("Both sides change model {}, in different places", ma.model),
            );
            note(
                Spot::Model(ma.clone()),
                Some(ma),
                grade,
                &pick(ours, a_at),
                &pick(theirs, b_at),
            );
        }
    }

    let mut items: Vec<OverlapItem> = found
        .into_iter()
        .map(|(spot, draft)| {
            let (field, option) = match &spot {
                Spot::Field(_, field) | Spot::Named(field) => (Some(field.clone()), None),
                Spot::Meta(_, option) => (None, Some((*option).to_owned())),
                Spot::Model(_) | Spot::Opaque => (None, None),
            };
            OverlapItem {
                model: draft.model,
                field,
                option,
                severity: draft.consequence.severity(),
                consequence: draft.consequence,
                ours: draft.ours.join("; "),
                theirs: draft.theirs.join("; "),
                leaves: leaves.clone(),
                summary: draft.summary,
                differences: draft.differences,
                definitions: draft.definitions,
            }
        })
        .collect();
    // What a human must decide comes first; the sort is stable, so each group stays by model.
    items.sort_by_key(|item| std::cmp::Reverse(item.consequence));
    items
}

/// The steps at the indices `at`.
fn pick<'s, 'p>(steps: &'s [Step<'p>], at: &[usize]) -> Vec<&'s Step<'p>> {
    at.iter().map(|&i| &steps[i]).collect()
}

/// The model a spot lies on; index and constraint names are apart from models.
fn spot_model(spot: &Spot) -> Option<&ModelRef> {
    match spot {
        Spot::Model(model) | Spot::Meta(model, _) | Spot::Field(model, _) => Some(model),
        Spot::Named(_) | Spot::Opaque => None,
    }
}

/// What `migrate` makes of both sides touching the same spot, `a` and `b` each side's steps
/// there in the order they apply (never empty).
fn grade(spot: &Spot, a: &[&Step<'_>], b: &[&Step<'_>]) -> Grade {
    let what = match spot {
        Spot::Model(model) => format!("model {}", model.model),
        Spot::Meta(model, option) => format!("Meta option {option} on {}", model.model),
        Spot::Field(model, field) => format!("field {field} on {}", model.model),
        Spot::Named(name) => format!("index or constraint {name}"),
        Spot::Opaque => "code that cannot be read statically".to_owned(),
    };
    let has =
        |steps: &[&Step<'_>], action: Action| steps.iter().any(|s| s.touch.action() == action);
    let texts =
        |steps: &[&Step<'_>]| -> Vec<String> { steps.iter().map(|s| s.op.normalized()).collect() };
    let same_steps = texts(a) == texts(b);
    let last = |steps: &[&Step<'_>]| {
        steps
            .last()
            .and_then(|s| operation::setting(s.op, &s.touch))
    };
    let (a_last, b_last) = (last(a), last(b));
    let differences = match (&a_last, &b_last) {
        (Some(x), Some(y)) => differences(&x.parts, &y.parts),
        _ => Vec::new(),
    };
    let shown = |differences: &[Difference]| -> String {
        differences
            .iter()
            .map(|d| {
                format!(
                    "{} {} | {}",
                    d.argument,
                    d.ours.as_deref().unwrap_or("unset"),
                    d.theirs.as_deref().unwrap_or("unset")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let with_differences = |grade: Grade| Grade {
        differences: differences.clone(),
        ..grade
    };

    if has(a, Action::Remove) || has(b, Action::Remove) {
        let both = has(a, Action::Remove) && has(b, Action::Remove);
        let summary = if both {
            format!("{what} is removed or renamed on both sides: the second removal fails")
        } else {
            format!(
                "{what} is removed or renamed on one side and used on the other: in one order `migrate` fails on what no longer exists"
            )
        };
        return Grade::plain(Consequence::Breaks, summary);
    }
    if has(a, Action::Create) && has(b, Action::Create) {
        let summary = if same_steps {
            format!(
                "The same {what} is added on both sides (identically): applying it twice fails, one copy must go"
            )
        } else if differences.is_empty() {
            format!("{what} is added on both sides: applying it twice fails, one must go")
        } else {
            format!(
                "{what} is added on both sides, differently ({}): applying it twice fails, one must go",
                shown(&differences)
            )
        };
        return with_differences(Grade::plain(Consequence::Breaks, summary));
    }
    if has(a, Action::Create) || has(b, Action::Create) {
        return Grade::plain(
            Consequence::Breaks,
            format!(
                "{what} is added on one side and already altered on the other: in one order `migrate` alters what does not exist yet, in the other adds it twice"
            ),
        );
    }
    let described = operation::describe(a[a.len() - 1].op);
    if same_steps {
        return Grade::plain(
            Consequence::Identical,
            format!("{described}: the same on both sides, nothing to decide"),
        );
    }
    let definitions = match (a_last, b_last) {
        (Some(x), Some(y)) => Some([x.text, y.text]),
        _ => None,
    };
    let summary = match &definitions {
        Some([x, y]) if x == y => format!(
            "{described}: both sides end with {x} by different steps, whichever order they run in"
        ),
        _ if differences.is_empty() => {
            format!("{described}: altered on both sides, the one applied last stays")
        }
        _ => format!("{described}: {}", shown(&differences)),
    };
    Grade {
        consequence: Consequence::Order,
        summary,
        differences,
        definitions,
    }
}

/// The parts whose values differ, in the order of the first side then the other's extras.
fn differences(a: &[Arg], b: &[Arg]) -> Vec<Difference> {
    let value = |parts: &[Arg], name: &str| {
        parts
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.clone())
    };
    let mut names: Vec<&str> = a.iter().map(|p| p.name.as_str()).collect();
    for part in b {
        if !names.contains(&part.name.as_str()) {
            names.push(&part.name);
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let (ours, theirs) = (value(a, name), value(b, name));
            (ours != theirs).then(|| Difference {
                argument: name.to_owned(),
                ours,
                theirs,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::migration::parse;
    use crate::plan::testing::Tree;

    fn ops(body: &str) -> Vec<Operation> {
        let source =
            format!("class Migration(migrations.Migration):\n    operations = [\n{body}\n    ]\n");
        parse(source.as_bytes())
            .expect("test migration parses")
            .operations
            .expect("a literal list")
    }

    fn steps<'o>(ops: &'o [Operation]) -> Vec<Step<'o>> {
        ops.iter()
            .flat_map(|op| {
                operation::touches_by(op, "shop", &Config::default())
                    .into_iter()
                    .map(|(touch, by)| Step {
                        touch,
                        op: by,
                        words: operation::describe(op),
                    })
            })
            .collect()
    }

    fn items(ours: &str, theirs: &str) -> Vec<OverlapItem> {
        let (a, b) = (ops(ours), ops(theirs));
        compare(
            &steps(&a),
            &steps(&b),
            ["0005_a".to_owned(), "0005_b".to_owned()],
        )
    }

    const PRICE_10: &str = "migrations.AlterField(model_name='product', name='price', field=models.DecimalField(decimal_places=2, max_digits=10))";
    const PRICE_8_DEFAULT: &str = "migrations.AlterField(model_name='product', name='price', field=models.DecimalField(decimal_places=2, default=0, max_digits=8))";

    /// Each rule: both sides' operations, the worst consequence, and words its summary holds.
    #[test]
    fn each_pair_of_changes_is_graded_by_what_migrate_does() {
        let table: &[(&str, &str, &str, Consequence, &str)] = &[
            (
                "same AlterField, written differently",
                "migrations.AlterField('recipe', 'time', models.IntegerField(default=0))",
                "migrations.AlterField(\n  name=\"time\", model_name=\"recipe\",\n  field=models.IntegerField(default=0,), preserve_default=True,\n)",
                Consequence::Identical,
                "Alter field time on recipe: the same on both sides",
            ),
            (
                "same AddField on both sides",
                "migrations.AddField('product', 'weight', models.IntegerField(null=True))",
                "migrations.AddField(model_name='product', name='weight', field=models.IntegerField(null=True))",
                Consequence::Breaks,
                "The same field weight on product is added on both sides (identically): applying it twice fails, one copy must go",
            ),
            (
                "AddField of one name, different definitions",
                "migrations.AddField('product', 'weight', models.IntegerField(null=True))",
                "migrations.AddField('product', 'weight', models.FloatField(null=True))",
                Consequence::Breaks,
                "added on both sides, differently (class IntegerField | FloatField)",
            ),
            (
                "same CreateModel on both sides",
                "migrations.CreateModel('Tag', [('id', models.AutoField(primary_key=True))])",
                "migrations.CreateModel(name='Tag', fields=[('id', models.AutoField(primary_key=True))], options={})",
                Consequence::Breaks,
                "one copy must go",
            ),
            (
                "same field altered differently",
                PRICE_10,
                PRICE_8_DEFAULT,
                Consequence::Order,
                "Alter field price on product: max_digits 10 | 8, default unset | 0",
            ),
            (
                "same end state by different steps",
                PRICE_10,
                &format!("{PRICE_8_DEFAULT},\n{PRICE_10}"),
                Consequence::Order,
                "both sides end with DecimalField(decimal_places=2, max_digits=10) by different steps",
            ),
            (
                "removed on one side, altered on the other",
                "migrations.RemoveField('product', 'price')",
                PRICE_10,
                Consequence::Breaks,
                "field price on product is removed or renamed on one side and used on the other",
            ),
            (
                "removed on both sides",
                "migrations.RemoveField('product', 'price')",
                "migrations.RemoveField(model_name='product', name='price')",
                Consequence::Breaks,
                "removed or renamed on both sides",
            ),
            (
                "renamed on one side, altered on the other",
                "migrations.RenameField('product', 'price', 'amount')",
                PRICE_10,
                Consequence::Breaks,
                "removed or renamed on one side",
            ),
            (
                "model renamed on one side, a field added to it on the other",
                "migrations.RenameModel('Category', 'Department')",
                "migrations.AddField('category', 'slug', models.SlugField(null=True))",
                Consequence::Breaks,
                "Model category is deleted or renamed on one side and used on the other",
            ),
            (
                "model deleted on one side, pointed at on the other",
                "migrations.DeleteModel('Coupon')",
                "migrations.AddField('order', 'coupon', models.ForeignKey('shop.coupon', models.CASCADE, null=True))",
                Consequence::Breaks,
                "Model coupon is deleted or renamed",
            ),
            (
                "the same index name, on different models",
                "migrations.AddIndex('a', models.Index(fields=['x'], name='idx_x'))",
                "migrations.AddIndex('b', models.Index(fields=['x'], name='idx_x'))",
                Consequence::Breaks,
                "index or constraint idx_x is added on both sides",
            ),
            (
                "the same Meta option set differently",
                "migrations.AlterModelOptions('product', {'ordering': ['name']})",
                "migrations.AlterModelOptions('product', options={'ordering': ['-name']})",
                Consequence::Order,
                "Change Meta options on product: options {\"ordering\": [\"name\"]} | {\"ordering\": [\"-name\"]}",
            ),
            (
                "the same Meta option set the same",
                "migrations.AlterUniqueTogether('product', {('a', 'b')})",
                "migrations.AlterUniqueTogether(name='product', unique_together={('a', 'b')})",
                Consequence::Identical,
                "Alter unique_together for product: the same on both sides",
            ),
            (
                "different Meta options of one model",
                "migrations.AlterModelOptions('product', {'ordering': ['name']})",
                "migrations.AlterUniqueTogether('product', {('a', 'b')})",
                Consequence::Caution,
                "Both sides change model product, in different places",
            ),
            (
                "different fields of one model",
                "migrations.AddField('product', 'weight', models.IntegerField(null=True))",
                PRICE_10,
                Consequence::Caution,
                "Both sides change model product",
            ),
            (
                "RunPython on one side",
                "migrations.RunPython(forwards)",
                "migrations.AddField('category', 'slug', models.SlugField(null=True))",
                Consequence::Caution,
                "cannot be read statically",
            ),
            (
                "a field dropped from the state only, altered on the other side",
                "migrations.SeparateDatabaseAndState(state_operations=[migrations.RemoveField('product', 'price')])",
                PRICE_10,
                Consequence::Breaks,
                "removed or renamed on one side",
            ),
        ];
        for (story, ours, theirs, consequence, words) in table {
            let found = items(ours, theirs);
            let worst = found.first().map(|i| i.consequence);
            assert_eq!(worst, Some(*consequence), "{story}: {found:#?}");
            assert_eq!(found[0].severity, consequence.severity(), "{story}");
            assert!(
                found[0].summary.contains(words),
                "{story}: {:?} lacks {words:?}",
                found[0].summary
            );
        }
    }

    #[test]
    fn a_model_created_on_both_sides_is_one_item() {
        let create = "migrations.CreateModel('Tag', [('id', models.AutoField(primary_key=True)), ('name', models.CharField(max_length=9))], options={'ordering': ['name']})";
        let found = items(create, create);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].consequence, Consequence::Breaks);
        assert_eq!(
            (found[0].model.as_deref(), found[0].field.as_deref()),
            (Some("tag"), None)
        );
    }

    #[test]
    fn disjoint_changes_and_relations_to_a_kept_model_do_not_overlap() {
        assert!(
            items(
                "migrations.AddField('a', 'x', models.IntegerField(null=True))",
                "migrations.AddField('b', 'x', models.IntegerField(null=True))"
            )
            .is_empty()
        );
        assert!(
            items(
                "migrations.AddField('order', 'product', models.ForeignKey('shop.product', models.CASCADE))",
                "migrations.AddField('product', 'sku', models.CharField(max_length=8, null=True))"
            )
            .is_empty()
        );
    }

    #[test]
    fn what_breaks_comes_first_and_keeps_both_sides_words() {
        let found = items(
            &format!("{PRICE_10},\nmigrations.RunPython(forwards)"),
            "migrations.RemoveField('product', 'price'),\nmigrations.AlterField('product', 'name', models.CharField(max_length=9))",
        );
        assert_eq!(found[0].consequence, Consequence::Breaks);
        assert_eq!(found[0].field.as_deref(), Some("price"));
        assert_eq!(
            (found[0].ours.as_str(), found[0].theirs.as_str()),
            (
                "Alter field price on product",
                "Remove field price from product"
            )
        );
        assert!(
            found[1..]
                .iter()
                .all(|i| i.consequence == Consequence::Caution)
        );
    }

    #[test]
    fn the_definition_applied_last_is_the_one_that_stays() {
        let found = items(PRICE_10, PRICE_8_DEFAULT);
        let item = &found[0];
        assert_eq!(
            item.definitions,
            Some([
                "DecimalField(decimal_places=2, max_digits=10)".to_owned(),
                "DecimalField(decimal_places=2, default=0, max_digits=8)".to_owned()
            ])
        );
        assert_eq!(
            item.applied_last("0005_b").as_deref(),
            Some(
                "price on product ends as DecimalField(decimal_places=2, default=0, max_digits=8), from 0005_b, applied last (DecimalField(decimal_places=2, max_digits=10), from 0005_a, is replaced)"
            )
        );
        assert!(
            item.applied_last("0005_a")
                .unwrap()
                .contains("ends as DecimalField(decimal_places=2, max_digits=10), from 0005_a")
        );
        assert_eq!(item.applied_last("0009_elsewhere"), None);
        let same_end = items(PRICE_10, &format!("{PRICE_8_DEFAULT},\n{PRICE_10}"));
        assert!(
            same_end[0]
                .applied_last("0005_a")
                .unwrap()
                .contains("order does not matter")
        );
        let identical = items(PRICE_10, PRICE_10);
        assert_eq!(identical[0].applied_last("0005_a"), None);
    }

    #[test]
    fn only_what_breaks_needs_a_human() {
        let needs: Vec<bool> = [
            Consequence::None,
            Consequence::Identical,
            Consequence::Caution,
            Consequence::Order,
            Consequence::Breaks,
        ]
        .iter()
        .map(|c| c.needs_human())
        .collect();
        assert_eq!(needs, [false, false, false, false, true]);
        let severities: Vec<&str> = [
            Consequence::None,
            Consequence::Identical,
            Consequence::Caution,
            Consequence::Order,
            Consequence::Breaks,
        ]
        .iter()
        .map(|c| c.severity().as_str())
        .collect();
        assert_eq!(
            severities,
            ["none", "none", "caution", "caution", "conflict"]
        );
    }

    fn migration(dependencies: &str) -> String {
        format!(
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    dependencies = {dependencies}\n    operations = []\n"
        )
    }

    #[test]
    fn a_merge_migration_applies_the_branch_of_the_first_leaf_last() {
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_b.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0002_a.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0003_a_more.py",
                &migration("[('shop', '0002_a')]"),
            ),
        ]);
        let graph = Graph::build(&tree.project());
        // The merge migration's parents are pushed in order, so 0003_a_more's branch is
        // visited, and applied, first: 0002_b, the leaf that sorts first, comes last.
        assert_eq!(
            merge_applies_last(&graph, "shop").as_deref(),
            Some("0002_b")
        );
        assert_eq!(merge_applies_last(&graph, "elsewhere"), None);
    }

    #[test]
    fn an_app_planned_earlier_can_pull_a_branch_ahead() {
        // billing sorts before shop, and its leaf needs shop's 0002_a: Django plans billing's
        // leaf first, so 0002_a is applied before 0002_b though it sorts first.
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_a.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0002_b.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "billing/migrations/0001_initial.py",
                &migration("[('shop', '0002_a')]"),
            ),
        ]);
        let graph = Graph::build(&tree.project());
        assert_eq!(
            merge_applies_last(&graph, "shop").as_deref(),
            Some("0002_b")
        );
    }
}
