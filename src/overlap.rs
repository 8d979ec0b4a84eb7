//! Field-level overlap between the branches of a conflicting app: what each branch did since
//! the fork point, and whether those changes touch the same things.
//!
//! Branches are read from the graph alone: a leaf's branch is every migration it depends on
//! that no other leaf depends on. So the analysis works on any tree, with or without git.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::graph::{Graph, Key, KeySet, LeafConflict, NodeKind};
use crate::migration::Detail;
use crate::operation::{self, Action, ModelRef, Touch};
use crate::project::Project;

/// How much two branches' changes collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Disjoint: nothing one branch does concerns the other.
    None,
    /// Same model, different fields; or code that cannot be read statically.
    Caution,
    /// Same field, same index or constraint name, or a model one side deletes or renames and
    /// the other uses: a human must decide.
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

/// Two branches touching the same thing.
#[derive(Debug, Clone, Serialize)]
pub struct OverlapItem {
    /// The model, lower-cased as Django compares names; `None` for opaque operations.
    pub model: Option<String>,
    /// The field, index or constraint; `None` for model-level and opaque overlaps.
    pub field: Option<String>,
    pub severity: Severity,
    /// What the first branch of the pair does there.
    pub ours: String,
    /// What the second branch of the pair does there.
    pub theirs: String,
    /// The leaves of the two branches compared, first branch first.
    pub leaves: [String; 2],
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
    pub severity: Severity,
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

    // What each branch touches, with the words for the operation that does it.
    let touched: Vec<Vec<(Touch, String)>> = branch_keys
        .iter()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| file_of(k))
                .flat_map(|file| {
                    file.migration.operations.iter().flatten().flat_map(|op| {
                        let words = format!("{} ({})", operation::describe(op), file.name);
                        operation::touches(op, &file.app, &project.config)
                            .into_iter()
                            .map(move |t| (t, words.clone()))
                    })
                })
                .collect()
        })
        .collect();

    let mut items = Vec::new();
    for i in 0..touched.len() {
        for j in i + 1..touched.len() {
            items.extend(compare(
                &touched[i],
                &touched[j],
                [leaves[i].clone(), leaves[j].clone()],
            ));
        }
    }
    let severity = items
        .iter()
        .map(|item| item.severity)
        .max()
        .unwrap_or(Severity::None);
    AppOverlap {
        app: conflict.app.clone(),
        fork,
        branches,
        items,
        severity,
    }
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

/// Where an overlap is filed: a model and optionally one of its fields or named indexes.
type Anchor = (Option<ModelRef>, Option<String>);

fn compare(
    ours: &[(Touch, String)],
    theirs: &[(Touch, String)],
    leaves: [String; 2],
) -> Vec<OverlapItem> {
    // Per anchor: the worst severity and each side's words, in order, without repeats.
    let mut found: BTreeMap<Anchor, (Severity, Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut note = |anchor: Anchor, severity: Severity, a: &str, b: &str| {
        let entry = found
            .entry(anchor)
            .or_insert_with(|| (severity, Vec::new(), Vec::new()));
        entry.0 = entry.0.max(severity);
        if !a.is_empty() && !entry.1.iter().any(|w| w == a) {
            entry.1.push(a.to_owned());
        }
        if !b.is_empty() && !entry.2.iter().any(|w| w == b) {
            entry.2.push(b.to_owned());
        }
    };

    for (touch, words) in ours {
        if *touch == Touch::Opaque {
            note((None, None), Severity::Caution, words, "");
        }
    }
    for (touch, words) in theirs {
        if *touch == Touch::Opaque {
            note((None, None), Severity::Caution, "", words);
        }
    }
    for (a, a_words) in ours {
        for (b, b_words) in theirs {
            if let Some((anchor, severity)) = collide(a, b) {
                note(anchor, severity, a_words, b_words);
            }
        }
    }

    let mut items: Vec<OverlapItem> = found
        .into_iter()
        .map(|((model, field), (severity, a, b))| OverlapItem {
            model: model.map(|m| m.model),
            field,
            severity,
            ours: a.join("; "),
            theirs: b.join("; "),
            leaves: leaves.clone(),
        })
        .collect();
    // What a human must decide comes first; the sort is stable, so each group stays by model.
    items.sort_by_key(|item| std::cmp::Reverse(item.severity));
    items
}

fn model_of(touch: &Touch) -> Option<&ModelRef> {
    match touch {
        Touch::Model { model, .. }
        | Touch::Field { model, .. }
        | Touch::Named { model, .. }
        | Touch::Reference { model } => Some(model),
        Touch::Opaque => None,
    }
}

/// Whether two touches, one per branch, collide, and where to file it.
fn collide(a: &Touch, b: &Touch) -> Option<(Anchor, Severity)> {
    use Touch::*;
    match (a, b) {
        (
            Field {
                model: ma,
                field: fa,
                ..
            },
            Field {
                model: mb,
                field: fb,
                ..
            },
        ) if ma == mb => {
            if fa == fb {
                Some(((Some(ma.clone()), Some(fa.clone())), Severity::Conflict))
            } else {
                Some(((Some(ma.clone()), None), Severity::Caution))
            }
        }
        (
            Named {
                name: na,
                model: ma,
            },
            Named { name: nb, .. },
        ) if na == nb => Some(((Some(ma.clone()), Some(na.clone())), Severity::Conflict)),
        _ => {
            let (ma, mb) = (model_of(a)?, model_of(b)?);
            if ma != mb {
                return None;
            }
            let removes = |t: &Touch| {
                matches!(
                    t,
                    Model {
                        action: Action::Remove,
                        ..
                    }
                )
            };
            let creates = |t: &Touch| {
                matches!(
                    t,
                    Model {
                        action: Action::Create,
                        ..
                    }
                )
            };
            let severity = if removes(a) || removes(b) || (creates(a) && creates(b)) {
                Severity::Conflict
            } else if matches!((a, b), (Reference { .. }, Reference { .. })) {
                return None;
            } else if matches!(a, Reference { .. }) || matches!(b, Reference { .. }) {
                // A relation to a model the other side changes (but keeps) is fine.
                return None;
            } else {
                Severity::Caution
            };
            Some(((Some(ma.clone()), None), severity))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str) -> ModelRef {
        ModelRef {
            app: "shop".into(),
            model: name.into(),
        }
    }

    fn field(m: &str, f: &str, action: Action) -> Touch {
        Touch::Field {
            model: model(m),
            field: f.into(),
            action,
        }
    }

    fn leaves() -> [String; 2] {
        ["0005_a".to_owned(), "0005_b".to_owned()]
    }

    #[test]
    fn same_field_is_a_conflict_and_comes_first() {
        let ours = vec![
            (
                field("product", "price", Action::Alter),
                "Alter price".to_owned(),
            ),
            (Touch::Opaque, "Raw Python operation".to_owned()),
        ];
        let theirs = vec![
            (
                field("product", "price", Action::Remove),
                "Remove price".to_owned(),
            ),
            (
                field("product", "name", Action::Alter),
                "Alter name".to_owned(),
            ),
        ];
        let items = compare(&ours, &theirs, leaves());
        assert_eq!(items[0].severity, Severity::Conflict);
        assert_eq!(items[0].field.as_deref(), Some("price"));
        assert_eq!(
            (items[0].ours.as_str(), items[0].theirs.as_str()),
            ("Alter price", "Remove price")
        );
        assert!(items[1..].iter().all(|i| i.severity == Severity::Caution));
    }

    #[test]
    fn deleting_a_model_the_other_side_references_is_a_conflict() {
        let ours = vec![(
            Touch::Model {
                model: model("coupon"),
                action: Action::Remove,
            },
            "Delete model coupon".to_owned(),
        )];
        let theirs = vec![(
            Touch::Reference {
                model: model("coupon"),
            },
            "Add field coupon to order".to_owned(),
        )];
        let items = compare(&ours, &theirs, leaves());
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].severity, Severity::Conflict);
    }

    #[test]
    fn relations_to_a_model_the_other_side_only_extends_are_fine() {
        let ours = vec![(
            Touch::Reference {
                model: model("product"),
            },
            "FK".to_owned(),
        )];
        let theirs = vec![(
            field("product", "sku", Action::Create),
            "Add sku".to_owned(),
        )];
        assert!(compare(&ours, &theirs, leaves()).is_empty());
    }

    #[test]
    fn same_index_name_on_different_models_is_a_conflict() {
        let ours = vec![(
            Touch::Named {
                model: model("a"),
                name: "idx_x".into(),
            },
            "Create index idx_x on a".to_owned(),
        )];
        let theirs = vec![(
            Touch::Named {
                model: model("b"),
                name: "idx_x".into(),
            },
            "Create index idx_x on b".to_owned(),
        )];
        assert_eq!(
            compare(&ours, &theirs, leaves())[0].severity,
            Severity::Conflict
        );
    }

    #[test]
    fn disjoint_models_do_not_overlap() {
        let ours = vec![(field("a", "x", Action::Create), "Add x".to_owned())];
        let theirs = vec![(field("b", "x", Action::Create), "Add x".to_owned())];
        assert!(compare(&ours, &theirs, leaves()).is_empty());
    }
}
