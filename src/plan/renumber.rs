//! The renumber strategy: move one branch's migrations of an app after the other branch's
//! leaf, so history stays linear.
//!
//! Given the leaf that stays and the leaf that moves, the chain to move is every migration of
//! the app that the moving leaf depends on (itself included) and the staying leaf does not. In
//! dependency order, the chain takes the numbers after the staying leaf's (squash aware:
//! `0001_squashed_0006_x` counts as 6), each name keeping what follows its number. The
//! chain's first migration then depends on the staying leaf instead of the fork point, and
//! every literal reference to a renamed migration, in any app's `dependencies`, `run_before`
//! or `replaces`, is rewritten in place, as is `max_migration.txt`. Swappable entries are left
//! as they are: they never name a migration of the chain. An entry that cannot be read might,
//! so any makes the planner refuse.
//!
//! With `renumber-replaces` set in the configuration, each renamed migration also gets
//! `replaces = [("app", "old_name")]`, in Django's layout (its own line before `dependencies`,
//! as Django's writer puts it), so a database that applied it under the old name counts it
//! as applied under the new one.
//!
//! Renumbering is only safe for migrations no database has applied yet; deciding that (which
//! side is published) is the caller's business.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::edit::{Edit, FileChange, Plan, append_to_list, python_string, replace_string_value};
use crate::graph::{Graph, Key, NodeKind};
use crate::migration::{ListAttr, Migration, Reference, StrLit};
use crate::project::Project;

use super::merge::join;
use super::{number_digits, split_number};

/// A planned renumbering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renumbering {
    pub app: String,
    /// The leaf the chain now follows.
    pub stay: String,
    /// The dependency of the chain's first migration that now names `stay` instead.
    pub fork: String,
    /// `(old name, new name)` of every moved migration, in dependency order. A migration whose
    /// number does not change is listed with its name twice.
    pub renames: Vec<(String, String)>,
    /// How many renamed migrations were given `replaces` of their old name
    /// (`renumber-replaces`); their edits are in the plan.
    pub replaced: usize,
    pub plan: Plan,
}

/// Why a renumbering cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenumberError {
    #[error("no app labelled {0:?} has a migrations package")]
    UnknownApp(String),
    #[error("{app}.{name} would have to stay and move at once")]
    SameLeaf { app: String, name: String },
    #[error("{app}.{name} is not a leaf of {app} (its leaves are {})", .leaves.join(", "))]
    NotALeaf {
        app: String,
        name: String,
        leaves: Vec<String>,
    },
    #[error(
        "{app}.{moving} is already an ancestor of {app}.{stay} (through another app's migrations), so there is nothing to move; a merge migration resolves this"
    )]
    AlreadyBefore {
        app: String,
        stay: String,
        moving: String,
    },
    #[error("{0} is not a migration file in the repository, so the chain cannot be moved")]
    NotAFile(Key),
    #[error(
        "{app}.{name} is a squashed migration; renaming it would break databases that applied it or what it replaces. Use --strategy merge: a merge migration renames nothing"
    )]
    SquashInChain { app: String, name: String },
    #[error("{app}.{name} has no number, so there is no number to follow")]
    StayHasNoNumber { app: String, name: String },
    #[error("{app}.{name} does not start with a number, so it cannot be renumbered")]
    NoNumber { app: String, name: String },
    #[error("the numbers after {app}.{name} do not fit in 64 bits")]
    TooLarge { app: String, name: String },
    #[error(
        "{app}.{name} has no literal dependency on an earlier migration of {app}, so it cannot be made to follow {stay}"
    )]
    NoForkDependency {
        app: String,
        name: String,
        stay: String,
    },
    #[error(
        "{app}.{name} depends on several earlier migrations of {app} ({}); which one to replace with the other leaf is not clear", .deps.join(", ")
    )]
    SeveralForkDependencies {
        app: String,
        name: String,
        deps: Vec<String>,
    },
    #[error("{app}.{old} would become {new}, but {app} already has a migration named {new}")]
    NameTaken {
        app: String,
        old: String,
        new: String,
    },
    #[error(
        "{app}.{old} would become {new}, which {squash} lists in `replaces`: Django would take it for a replaced migration"
    )]
    NameReplaced {
        app: String,
        old: String,
        new: String,
        squash: String,
    },
    #[error(
        "{app}.{old} would become {new}, the old name of another moved migration; with renumber-replaces, a database that applied the old {new} would take it for this one. Use --strategy merge"
    )]
    ReplacesOldName {
        app: String,
        old: String,
        new: String,
    },
    #[error(
        "{path}:{line}: `{text}` cannot be read without running the code, so it may name a migration this renumbering renames. Use --strategy merge: a merge migration renames nothing"
    )]
    UnknownReference {
        path: String,
        line: u32,
        text: String,
    },
    #[error(
        "{path}: `dependencies` is not on a line of its own in the class body, so migmerge does not know where to add `replaces` (renumber-replaces)"
    )]
    ReplacesLayout { path: String },
}

/// Plans moving `moving`'s branch of `app` after `stay`. `read` gives a file's current bytes
/// (for quote styles when a literal must be re-quoted); nothing is written.
pub fn renumber(
    project: &Project,
    graph: &Graph,
    app: &str,
    stay: &str,
    moving: &str,
    read: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<Renumbering, RenumberError> {
    let app_info = project
        .apps
        .iter()
        .find(|a| a.label == app)
        .ok_or_else(|| RenumberError::UnknownApp(app.to_owned()))?;
    if stay == moving {
        return Err(RenumberError::SameLeaf {
            app: app.to_owned(),
            name: stay.to_owned(),
        });
    }
    let all_leaves = graph.leaves();
    let leaves = all_leaves.get(app).map(Vec::as_slice).unwrap_or_default();
    for name in [stay, moving] {
        if !leaves.contains(&name) {
            return Err(RenumberError::NotALeaf {
                app: app.to_owned(),
                name: name.to_owned(),
                leaves: leaves.iter().map(|l| (*l).to_owned()).collect(),
            });
        }
    }

    let chain = moving_chain(project, graph, app, stay, moving)?;
    let Some(&first) = chain.first() else {
        return Err(RenumberError::AlreadyBefore {
            app: app.to_owned(),
            stay: stay.to_owned(),
            moving: moving.to_owned(),
        });
    };
    let chain_names: HashSet<&str> = chain
        .iter()
        .map(|&i| project.migrations[i].name.as_str())
        .collect();

    let stay_digits = number_digits(stay).ok_or_else(|| RenumberError::StayHasNoNumber {
        app: app.to_owned(),
        name: stay.to_owned(),
    })?;
    let too_large = || RenumberError::TooLarge {
        app: app.to_owned(),
        name: stay.to_owned(),
    };
    let stay_number: u64 = stay_digits.parse().map_err(|_| too_large())?;

    // New names: the numbers after the staying leaf's, each name's suffix kept.
    let mut renames: Vec<(String, String)> = Vec::with_capacity(chain.len());
    let mut number = stay_number;
    for &i in &chain {
        let old = &project.migrations[i].name;
        let (digits, suffix) = split_number(old).ok_or_else(|| RenumberError::NoNumber {
            app: app.to_owned(),
            name: old.clone(),
        })?;
        number = number.checked_add(1).ok_or_else(too_large)?;
        let width = digits.len().max(4);
        renames.push((old.clone(), format!("{number:0width$}{suffix}")));
    }
    for (old, new) in &renames {
        if old == new {
            continue;
        }
        let taken = project
            .migrations
            .iter()
            .any(|f| f.app == app && f.name == *new && !chain_names.contains(new.as_str()));
        if taken {
            return Err(RenumberError::NameTaken {
                app: app.to_owned(),
                old: old.clone(),
                new: new.clone(),
            });
        }
        if let Some(squash) = replacer_of(project, app, new) {
            return Err(RenumberError::NameReplaced {
                app: app.to_owned(),
                old: old.clone(),
                new: new.clone(),
                squash,
            });
        }
    }
    // A reference that cannot be read may name a renamed migration, and would then dangle.
    if let Some((path, text, line)) = project.migrations.iter().find_map(|file| {
        let m = &file.migration;
        [&m.dependencies, &m.run_before, &m.replaces]
            .into_iter()
            .flat_map(ListAttr::unknowns)
            .next()
            .map(|(text, line)| (&file.path, text, line))
    }) {
        return Err(RenumberError::UnknownReference {
            path: path.clone(),
            line,
            text: text.to_owned(),
        });
    }
    let new_name: HashMap<&str, &str> = renames
        .iter()
        .filter(|(old, new)| old != new)
        .map(|(old, new)| (old.as_str(), new.as_str()))
        .collect();

    // Files are read only when an edit needs their quote style, and once.
    let mut sources: HashMap<String, Vec<u8>> = HashMap::new();
    let mut rewrite = |path: &str, lit: &StrLit, value: &str| -> Edit {
        let source = sources
            .entry(path.to_owned())
            .or_insert_with(|| read(path).unwrap_or_default());
        replace_string_value(source, lit, value)
    };
    let mut edits: BTreeMap<&str, Vec<Edit>> = BTreeMap::new();

    // (a) The chain's first migration follows the staying leaf.
    let first = &project.migrations[first];
    let fork_candidates: Vec<&StrLit> = first
        .migration
        .dependencies
        .entries()
        .iter()
        .filter_map(|entry| match &entry.reference {
            Reference::Literal { app: a, name } if a.value == app => Some(name),
            _ => None,
        })
        .filter(|name| name.value != "__first__" && !chain_names.contains(name.value.as_str()))
        .collect();
    let fork = match fork_candidates.as_slice() {
        [one] => *one,
        [] => {
            return Err(RenumberError::NoForkDependency {
                app: app.to_owned(),
                name: first.name.clone(),
                stay: stay.to_owned(),
            });
        }
        several => {
            return Err(RenumberError::SeveralForkDependencies {
                app: app.to_owned(),
                name: first.name.clone(),
                deps: several.iter().map(|n| n.value.clone()).collect(),
            });
        }
    };
    edits
        .entry(first.path.as_str())
        .or_default()
        .push(rewrite(&first.path, fork, stay));

    // (b) Every literal reference to a renamed migration, in any file of any app, where it is
    // written (a module-level list's entry in that list).
    for file in &project.migrations {
        let attrs: [&ListAttr; 3] = [
            &file.migration.dependencies,
            &file.migration.run_before,
            &file.migration.replaces,
        ];
        for entry in attrs.into_iter().flat_map(ListAttr::entries) {
            if let Reference::Literal { app: a, name } = &entry.reference
                && a.value == app
                && let Some(new) = new_name.get(name.value.as_str())
            {
                let edit = rewrite(&file.path, name, new);
                edits.entry(file.path.as_str()).or_default().push(edit);
            }
        }
    }

    // (d) Optionally, each renamed migration replaces its old name, for databases that
    // applied it under that name.
    let mut replaced = 0;
    if project.config.renumber_replaces {
        for (&i, (old, new)) in chain.iter().zip(&renames) {
            if old == new {
                continue;
            }
            // A database that applied the old migration of this name would count the renamed
            // one as applied too: refuse rather than guess which it ran.
            if new_name.contains_key(new.as_str()) {
                return Err(RenumberError::ReplacesOldName {
                    app: app.to_owned(),
                    old: old.clone(),
                    new: new.clone(),
                });
            }
            let file = &project.migrations[i];
            let source = sources
                .entry(file.path.clone())
                .or_insert_with(|| read(&file.path).unwrap_or_default());
            let edit = replaces_edit(source, &file.migration, app, old).ok_or_else(|| {
                RenumberError::ReplacesLayout {
                    path: file.path.clone(),
                }
            })?;
            edits.entry(file.path.as_str()).or_default().push(edit);
            replaced += 1;
        }
    }

    // Renames carry their file's edits; the other edited files follow by path.
    let mut changes = Vec::new();
    for (&i, (old, new)) in chain.iter().zip(&renames) {
        let path = &project.migrations[i].path;
        let file_edits = edits.remove(path.as_str()).unwrap_or_default();
        if old == new {
            if !file_edits.is_empty() {
                changes.push(FileChange::Edit {
                    path: path.clone(),
                    edits: file_edits,
                });
            }
            continue;
        }
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        changes.push(FileChange::Rename {
            from: path.clone(),
            to: join(dir, &format!("{new}.py")),
            edits: file_edits,
        });
    }
    for (path, file_edits) in edits {
        changes.push(FileChange::Edit {
            path: path.to_owned(),
            edits: file_edits,
        });
    }
    // (c) max_migration.txt names the new leaf.
    if let (Some(max), Some((_, leaf))) = (&app_info.max_migration, renames.last())
        && max.name != *leaf
    {
        changes.push(FileChange::MaxMigration {
            path: max.path.clone(),
            from: max.name.clone(),
            to: leaf.clone(),
        });
    }

    Ok(Renumbering {
        app: app.to_owned(),
        stay: stay.to_owned(),
        fork: fork.value.clone(),
        renames,
        replaced,
        plan: Plan { changes },
    })
}

/// The edit that makes `migration` (whose bytes are `source`) replace `(app, old)`: appended
/// to its `replaces` list when it has one, else a `replaces = [(app, old)]` line of its own
/// before `dependencies`, where Django's writer puts it, followed by a blank line. Quotes
/// follow the file's dependencies. `None` when the file's layout leaves no clear place.
fn replaces_edit(source: &[u8], migration: &Migration, app: &str, old: &str) -> Option<Edit> {
    let quote = migration
        .dependencies
        .entries()
        .iter()
        .find_map(|entry| match &entry.reference {
            Reference::Literal { app, .. } => source
                .get(app.span.range())?
                .iter()
                .find(|&&b| b == b'\'' || b == b'"')
                .map(|&b| char::from(b)),
            _ => None,
        })
        .unwrap_or('\'');
    let entry = format!(
        "({}, {})",
        python_string(app, quote),
        python_string(old, quote)
    );
    match &migration.replaces {
        ListAttr::Literal { entries, span, .. } => {
            let spans: Vec<_> = entries.iter().map(|e| e.span).collect();
            append_to_list(source, *span, &spans, &entry).ok()
        }
        // No list literal of its own to extend.
        ListAttr::Unknown { .. } | ListAttr::Computed { .. } => None,
        ListAttr::Absent => {
            let ListAttr::Literal { span, .. } = &migration.dependencies else {
                return None;
            };
            let at = span.start as usize;
            let line_start = source
                .get(..at)?
                .iter()
                .rposition(|&b| b == b'\n' || b == b'\r')
                .map_or(0, |i| i + 1);
            // The line must read `<indent>dependencies = [` (an annotation allowed), so the
            // new line can take the same indentation.
            let head = std::str::from_utf8(source.get(line_start..at)?).ok()?;
            let indent_len = head.len() - head.trim_start_matches([' ', '\t']).len();
            let (indent, rest) = head.split_at(indent_len);
            let rest = rest.strip_prefix("dependencies")?.trim_start();
            if indent.is_empty() || !(rest.starts_with('=') || rest.starts_with(':')) {
                return None;
            }
            let eol = if source.get(..line_start)?.ends_with(b"\r\n") {
                "\r\n"
            } else if source.get(..line_start)?.ends_with(b"\r") {
                "\r"
            } else {
                "\n"
            };
            Some(Edit::insertion(
                u32::try_from(line_start).ok()?,
                format!("{indent}replaces = [{entry}]{eol}{eol}"),
            ))
        }
    }
}

/// The migrations of `app` that `moving` depends on (itself included) and `stay` does not, as
/// indices into `project.migrations`, in dependency order (ties by name): what renumbering
/// `moving` after `stay` moves. The publication rule is checked on exactly these, so it is
/// the one definition of the chain.
pub fn chain_members(
    graph: &Graph,
    app: &str,
    stay: &str,
    moving: &str,
) -> Result<Vec<usize>, RenumberError> {
    let stay_ancestors = graph.ancestors(&Key::new(app, stay));
    let members: Vec<&Key> = graph
        .ancestors(&Key::new(app, moving))
        .into_iter()
        .filter(|key| key.app == app && !stay_ancestors.contains(key))
        .collect();
    // A migration's ancestors within the chain strictly include those of each of its chain
    // ancestors, so sorting by their count is a topological order; also through other apps.
    let mut ordered = Vec::with_capacity(members.len());
    for &key in &members {
        let index = match graph.node(key).map(|n| n.kind) {
            Some(NodeKind::Migration(i)) => i,
            _ => return Err(RenumberError::NotAFile(key.clone())),
        };
        let ancestors = graph.ancestors(key);
        let depth = members.iter().filter(|m| ancestors.contains(**m)).count();
        ordered.push((depth, &key.name, index));
    }
    ordered.sort();
    Ok(ordered.into_iter().map(|(_, _, i)| i).collect())
}

/// [`chain_members`], refused when one of them is a squash.
fn moving_chain(
    project: &Project,
    graph: &Graph,
    app: &str,
    stay: &str,
    moving: &str,
) -> Result<Vec<usize>, RenumberError> {
    let chain = chain_members(graph, app, stay, moving)?;
    for &i in &chain {
        let file = &project.migrations[i];
        let squash = match &file.migration.replaces {
            ListAttr::Absent => false,
            ListAttr::Literal { entries, .. } | ListAttr::Computed { entries, .. } => {
                !entries.is_empty()
            }
            ListAttr::Unknown { .. } => true,
        };
        if squash {
            return Err(RenumberError::SquashInChain {
                app: app.to_owned(),
                name: file.name.clone(),
            });
        }
    }
    Ok(chain)
}

/// The squash of `app` that lists `name` in `replaces`, if any.
fn replacer_of(project: &Project, app: &str, name: &str) -> Option<String> {
    project.migrations.iter().find_map(|file| {
        file.migration
            .replaces
            .entries()
            .iter()
            .any(|entry| {
                matches!(&entry.reference, Reference::Literal { app: a, name: n }
                    if a.value == app && n.value == name)
            })
            .then(|| format!("{}.{}", file.app, file.name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::{Tree, migration};
    use crate::plan::{Overlay, verify};

    /// Plans a renumbering on `tree`, previews it, checks the result with a fresh load and
    /// graph, and returns the plan and the tree as it would be written.
    fn resolve(tree: &Tree, app: &str, stay: &str, moving: &str) -> (Renumbering, Tree) {
        let project = tree.project();
        let graph = Graph::build(&project);
        assert_eq!(
            graph.conflicts().len(),
            1,
            "the test starts from a conflict"
        );
        let planned = renumber(&project, &graph, app, stay, moving, |p| tree.read(p)).unwrap();
        let updates = tree.preview(&planned.plan);
        let overlay = Overlay::new(tree, &updates);
        let after = crate::project::load(&overlay).unwrap();
        let new_graph = verify(&graph, &after, app).unwrap();
        assert!(new_graph.conflicts().is_empty());
        (planned, tree.applied(&updates))
    }

    fn refused(tree: &Tree, app: &str, stay: &str, moving: &str) -> RenumberError {
        let project = tree.project();
        let graph = Graph::build(&project);
        renumber(&project, &graph, app, stay, moving, |p| tree.read(p)).unwrap_err()
    }

    const U: &str = "users/migrations";

    /// users: 0001 <- 0002_profile, then 0003_add_avatar <- 0004_avatar_size on one side and
    /// 0003_add_phone <- 0004_phone_index <- 0005_phone_verified on the other; orders and
    /// billing depend on the moving side, billing also with `run_before`.
    fn three_after_two() -> Tree {
        let mut tree = Tree::new(&[
            ("users/migrations/0001_initial.py", &migration("[]")),
            (
                "users/migrations/0002_profile.py",
                &migration("[('users', '0001_initial')]"),
            ),
            (
                "users/migrations/0003_add_avatar.py",
                &migration("[('users', '0002_profile')]"),
            ),
            (
                "users/migrations/0004_avatar_size.py",
                &migration("[('users', '0003_add_avatar')]"),
            ),
            ("users/migrations/max_migration.txt", "0004_avatar_size\n"),
            (
                "orders/migrations/0001_initial.py",
                &migration("[\n        ('users', '0003_add_phone'),  # the phone field\n    ]"),
            ),
            (
                "orders/migrations/0002_notify.py",
                // An escaped literal must be re-quoted whole, in its own quotes.
                &migration("[('orders', '0001_initial'), ('users', '0005_phone\\x5fverified')]"),
            ),
            (
                "billing/migrations/0001_initial.py",
                &format!(
                    "{}    run_before = [\n        (\"users\", \"0005_phone_verified\"),\n    ]\n",
                    migration("[\n        (\"users\", \"0004_phone_index\"),\n    ]")
                ),
            ),
        ]);
        tree.add(
            "users/migrations/0003_add_phone.py",
            "# Generated by Django 6.1 on 2026-01-02 03:04\n\
             from django.conf import settings\n\
             from django.db import migrations, models\n\n\n\
             class Migration(migrations.Migration):\n\n\
             \x20   dependencies = [\n\
             \x20       migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n\
             \x20       ('users', '0002_profile'),  # the fork\n\
             \x20   ]\n\n\
             \x20   operations = [\n\
             \x20       migrations.AddField(\n\
             \x20           model_name='profile',\n\
             \x20           name='phone',\n\
             \x20           field=models.CharField(max_length=20),\n\
             \x20       ),\n\
             \x20   ]\n",
        );
        tree.add(
            "users/migrations/0004_phone_index.py",
            &migration("[('users', '0003_add_phone')]"),
        );
        tree.add(
            "users/migrations/0005_phone_verified.py",
            &migration("[('users', '0004_phone_index')]"),
        );
        tree
    }

    #[test]
    fn moves_a_chain_of_three_after_a_chain_of_two() {
        let tree = three_after_two();
        let (planned, after) = resolve(&tree, "users", "0004_avatar_size", "0005_phone_verified");
        assert_eq!(planned.fork, "0002_profile");
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(a, b)| ((*a).into(), (*b).into()))
                .collect()
        };
        assert_eq!(
            planned.renames,
            pairs(&[
                ("0003_add_phone", "0005_add_phone"),
                ("0004_phone_index", "0006_phone_index"),
                ("0005_phone_verified", "0007_phone_verified"),
            ])
        );

        // Only the changed strings differ: comments, quotes, the swappable dependency and the
        // operations stay byte for byte.
        let moved = tree
            .text("users/migrations/0003_add_phone.py")
            .replace("'0002_profile'", "'0004_avatar_size'");
        assert_eq!(after.text("users/migrations/0005_add_phone.py"), moved);
        assert!(
            !after
                .files
                .contains_key("users/migrations/0003_add_phone.py")
        );
        assert_eq!(
            after.text("users/migrations/0006_phone_index.py"),
            migration("[('users', '0005_add_phone')]")
        );
        assert_eq!(
            after.text("users/migrations/0007_phone_verified.py"),
            migration("[('users', '0006_phone_index')]")
        );
        assert_eq!(
            after.text("orders/migrations/0001_initial.py"),
            migration("[\n        ('users', '0005_add_phone'),  # the phone field\n    ]")
        );
        assert_eq!(
            after.text("orders/migrations/0002_notify.py"),
            migration("[('orders', '0001_initial'), ('users', '0007_phone_verified')]")
        );
        assert_eq!(
            after.text("billing/migrations/0001_initial.py"),
            format!(
                "{}    run_before = [\n        (\"users\", \"0007_phone_verified\"),\n    ]\n",
                migration("[\n        (\"users\", \"0006_phone_index\"),\n    ]")
            )
        );
        assert_eq!(
            after.text("users/migrations/max_migration.txt"),
            "0007_phone_verified\n"
        );
        // The staying side is untouched.
        for name in [
            "0001_initial",
            "0002_profile",
            "0003_add_avatar",
            "0004_avatar_size",
        ] {
            let path = format!("{U}/{name}.py");
            assert_eq!(after.text(&path), tree.text(&path));
        }
        // The written tree loads with one leaf per app and no problem at all.
        let graph = Graph::build(&after.project());
        assert!(graph.conflicts().is_empty());
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        // Running again finds nothing to move.
        let leaves = graph.leaves();
        assert_eq!(leaves["users"], ["0007_phone_verified"]);
    }

    #[test]
    fn the_plan_lists_renames_then_edits_then_max_migration() {
        let tree = three_after_two();
        let (planned, _) = resolve(&tree, "users", "0004_avatar_size", "0005_phone_verified");
        let summary: Vec<String> = planned
            .plan
            .changes
            .iter()
            .map(|c| match c {
                FileChange::Rename { from, to, edits } => {
                    format!("rename {from} -> {to} ({})", edits.len())
                }
                FileChange::Edit { path, edits } => format!("edit {path} ({})", edits.len()),
                FileChange::MaxMigration { path, from, to } => format!("max {path} {from}->{to}"),
                FileChange::Create { path, .. } => format!("create {path}"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "rename users/migrations/0003_add_phone.py -> users/migrations/0005_add_phone.py (1)",
                "rename users/migrations/0004_phone_index.py -> users/migrations/0006_phone_index.py (1)",
                "rename users/migrations/0005_phone_verified.py -> users/migrations/0007_phone_verified.py (1)",
                "edit billing/migrations/0001_initial.py (2)",
                "edit orders/migrations/0001_initial.py (1)",
                "edit orders/migrations/0002_notify.py (1)",
                "max users/migrations/max_migration.txt 0004_avatar_size->0007_phone_verified",
            ]
        );
    }

    #[test]
    fn writes_to_disk_and_reloads_clean() {
        let tree = three_after_two();
        let dir = tempfile::tempdir().unwrap();
        for (path, bytes) in &tree.files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, bytes).unwrap();
        }
        let source = crate::source::WorkTree::new(dir.path()).unwrap();
        let project = crate::project::load(&source).unwrap();
        let graph = Graph::build(&project);
        let read = |p: &str| std::fs::read(dir.path().join(p)).ok();
        let planned = renumber(
            &project,
            &graph,
            "users",
            "0004_avatar_size",
            "0005_phone_verified",
            read,
        )
        .unwrap();
        let updates = crate::edit::preview(&planned.plan, read).unwrap();
        crate::edit::write_atomically(dir.path(), &updates).unwrap();
        let reloaded = crate::project::load(&source).unwrap();
        let graph = Graph::build(&reloaded);
        assert!(graph.conflicts().is_empty());
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert_eq!(reloaded.migrations.len(), project.migrations.len());
        assert!(!dir.path().join(U).join("0003_add_phone.py").exists());
    }

    #[test]
    fn a_squashed_staying_leaf_counts_by_its_last_number() {
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_squashed_0006_x.py",
                &format!(
                    "{}    replaces = [('shop', '0002_a'), ('shop', '0006_x')]\n",
                    migration("[('shop', '0001_initial')]")
                ),
            ),
            (
                "shop/migrations/0002_add_phone.py",
                &migration("[(\"shop\", \"0001_initial\")]"),
            ),
        ]);
        let (planned, after) = resolve(&tree, "shop", "0002_squashed_0006_x", "0002_add_phone");
        assert_eq!(
            planned.renames,
            [("0002_add_phone".to_owned(), "0007_add_phone".to_owned())]
        );
        assert_eq!(
            after.text("shop/migrations/0007_add_phone.py"),
            migration("[(\"shop\", \"0002_squashed_0006_x\")]")
        );
    }

    #[test]
    fn five_digit_numbers_keep_their_width() {
        let tree = Tree::new(&[
            ("shop/migrations/00001_initial.py", &migration("[]")),
            (
                "shop/migrations/00002_a.py",
                &migration("[('shop', '00001_initial')]"),
            ),
            (
                "shop/migrations/00002_b.py",
                &migration("[('shop', '00001_initial')]"),
            ),
            (
                "shop/migrations/00003_b2.py",
                &migration("[('shop', '00002_b')]"),
            ),
        ]);
        let (planned, after) = resolve(&tree, "shop", "00002_a", "00003_b2");
        assert_eq!(
            planned.renames,
            [
                ("00002_b".to_owned(), "00003_b".to_owned()),
                ("00003_b2".to_owned(), "00004_b2".to_owned()),
            ]
        );
        assert!(after.files.contains_key("shop/migrations/00004_b2.py"));
    }

    #[test]
    fn names_may_shift_into_each_other() {
        // 0002_x takes the name 0003_x while 0003_x moves on to 0004_x.
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_y.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0002_x.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0003_x.py",
                &migration("[('shop', '0002_x')]"),
            ),
        ]);
        let (planned, after) = resolve(&tree, "shop", "0002_y", "0003_x");
        assert_eq!(
            planned.renames,
            [
                ("0002_x".to_owned(), "0003_x".to_owned()),
                ("0003_x".to_owned(), "0004_x".to_owned()),
            ]
        );
        assert_eq!(
            after.text("shop/migrations/0003_x.py"),
            migration("[('shop', '0002_y')]")
        );
        assert_eq!(
            after.text("shop/migrations/0004_x.py"),
            migration("[('shop', '0003_x')]")
        );
        assert!(!after.files.contains_key("shop/migrations/0002_x.py"));
    }

    #[test]
    fn a_number_that_already_fits_is_only_edited() {
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_a.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0003_s.py",
                &migration("[('shop', '0002_a')]"),
            ),
            (
                "shop/migrations/0004_m.py",
                &migration("[('shop', '0002_a')]"),
            ),
        ]);
        let (planned, after) = resolve(&tree, "shop", "0003_s", "0004_m");
        assert_eq!(
            planned.renames,
            [("0004_m".to_owned(), "0004_m".to_owned())]
        );
        assert!(matches!(
            planned.plan.changes.as_slice(),
            [FileChange::Edit { .. }]
        ));
        assert_eq!(
            after.text("shop/migrations/0004_m.py"),
            migration("[('shop', '0003_s')]")
        );
    }

    fn forked(stay: &str, moving: &str, moving_deps: &str) -> Tree {
        Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                &format!("shop/migrations/{stay}.py"),
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                &format!("shop/migrations/{moving}.py"),
                &migration(moving_deps),
            ),
        ])
    }

    #[test]
    fn refuses_with_clear_reasons() {
        let fork = "[('shop', '0001_initial')]";
        let tree = forked("0002_a", "add_phone", fork);
        let err = refused(&tree, "shop", "0002_a", "add_phone");
        assert!(matches!(err, RenumberError::NoNumber { .. }), "{err}");
        assert!(err.to_string().contains("does not start with a number"));

        let tree = forked("initial_a", "0002_b", fork);
        let err = refused(&tree, "shop", "initial_a", "0002_b");
        assert!(
            matches!(err, RenumberError::StayHasNoNumber { .. }),
            "{err}"
        );

        let tree = forked("0002_a", "0002_b", fork);
        assert!(matches!(
            refused(&tree, "shop", "0002_a", "0002_a"),
            RenumberError::SameLeaf { .. }
        ));
        let err = refused(&tree, "shop", "0002_a", "0001_initial");
        assert!(matches!(err, RenumberError::NotALeaf { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "shop.0001_initial is not a leaf of shop (its leaves are 0002_a, 0002_b)"
        );
        assert!(matches!(
            refused(&tree, "nope", "0002_a", "0002_b"),
            RenumberError::UnknownApp(_)
        ));

        // No same-app dependency: the moving side starts a new root.
        let tree = forked("0002_a", "0002_b", "[]");
        let err = refused(&tree, "shop", "0002_a", "0002_b");
        assert!(
            matches!(err, RenumberError::NoForkDependency { .. }),
            "{err}"
        );

        // The number would overflow.
        let tree = forked("18446744073709551615_a", "0002_b", fork);
        let err = refused(&tree, "shop", "18446744073709551615_a", "0002_b");
        assert!(matches!(err, RenumberError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn refuses_while_a_reference_is_unknown() {
        // billing's dependencies come from a helper: they may name users.0002_b, which the
        // renumbering would rename, so it would dangle.
        let mut tree = Tree::new(&[
            ("users/migrations/0001_initial.py", &migration("[]")),
            (
                "users/migrations/0002_a.py",
                &migration("[('users', '0001_initial')]"),
            ),
            (
                "users/migrations/0002_b.py",
                &migration("[('users', '0001_initial')]"),
            ),
        ]);
        tree.add(
            "billing/migrations/0001_initial.py",
            &migration("[('users', '0001_initial')] + helper()"),
        );
        let err = refused(&tree, "users", "0002_a", "0002_b");
        assert_eq!(
            err,
            RenumberError::UnknownReference {
                path: "billing/migrations/0001_initial.py".into(),
                line: 6,
                text: "helper()".into(),
            }
        );
        assert!(err.to_string().contains("--strategy merge"), "{err}");
    }

    /// A dependency bound to a module-level name is rewritten where the name is bound; one
    /// literal reached twice (`DEPS + DEPS`) is edited once.
    #[test]
    fn rewrites_module_level_references_in_place() {
        let mut tree = Tree::new(&[
            ("users/migrations/0001_initial.py", &migration("[]")),
            (
                "users/migrations/0002_a.py",
                &migration("[('users', '0001_initial')]"),
            ),
        ]);
        let moving = |deps: &str| {
            format!(
                "PARENT = ('users', '0001_initial')\nBASE = [PARENT]\n\n{}",
                migration(deps)
            )
        };
        tree.add("users/migrations/0002_b.py", &moving("BASE + []"));
        let orders = "DEPS = [('users', '0002_b')]\nif X:\n    DEPS.append(('users', '0001_initial'))\n\n\nclass Migration:\n    dependencies = DEPS + DEPS\n";
        tree.add("orders/migrations/0001_initial.py", orders);
        let (planned, after) = resolve(&tree, "users", "0002_a", "0002_b");
        assert_eq!(
            planned.renames,
            [("0002_b".to_owned(), "0003_b".to_owned())]
        );
        assert_eq!(
            after.text("users/migrations/0003_b.py"),
            moving("BASE + []").replace("'0001_initial')\nBASE", "'0002_a')\nBASE")
        );
        assert_eq!(
            after.text("orders/migrations/0001_initial.py"),
            orders.replace("0002_b", "0003_b")
        );
    }

    #[test]
    fn leaves_linked_through_another_app() {
        // users.0002_b depends on orders.0001, which depends on users.0002_a: both are leaves
        // of users, and 0002_a is already an ancestor of 0002_b.
        let tree = Tree::new(&[
            ("users/migrations/0001_initial.py", &migration("[]")),
            (
                "users/migrations/0002_a.py",
                &migration("[('users', '0001_initial')]"),
            ),
            (
                "orders/migrations/0001_initial.py",
                &migration("[('users', '0002_a')]"),
            ),
            (
                "users/migrations/0002_b.py",
                &migration("[('users', '0001_initial'), ('orders', '0001_initial')]"),
            ),
        ]);
        let err = refused(&tree, "users", "0002_b", "0002_a");
        assert!(matches!(err, RenumberError::AlreadyBefore { .. }), "{err}");
        let (planned, after) = resolve(&tree, "users", "0002_a", "0002_b");
        assert_eq!(
            planned.renames,
            [("0002_b".to_owned(), "0003_b".to_owned())]
        );
        assert_eq!(
            after.text("users/migrations/0003_b.py"),
            migration("[('users', '0002_a'), ('orders', '0001_initial')]")
        );
    }

    #[test]
    fn refuses_several_fork_dependencies() {
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_a.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0003_s.py",
                &migration("[('shop', '0002_a')]"),
            ),
            (
                "shop/migrations/0003_m.py",
                &migration("[('shop', '0001_initial'), ('shop', '0002_a')]"),
            ),
        ]);
        let err = refused(&tree, "shop", "0003_s", "0003_m");
        assert_eq!(
            err,
            RenumberError::SeveralForkDependencies {
                app: "shop".into(),
                name: "0003_m".into(),
                deps: vec!["0001_initial".into(), "0002_a".into()],
            }
        );
    }

    #[test]
    fn refuses_a_name_that_is_taken_or_replaced() {
        // The staying side holds a 0004_b, which is where 0002_b would go.
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0004_b.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0003_s.py",
                &migration("[('shop', '0004_b')]"),
            ),
            (
                "shop/migrations/0002_b.py",
                &migration("[('shop', '0001_initial')]"),
            ),
        ]);
        let err = refused(&tree, "shop", "0003_s", "0002_b");
        assert_eq!(
            err.to_string(),
            "shop.0002_b would become 0004_b, but shop already has a migration named 0004_b"
        );

        // A squash on the staying side replaces a migration whose name the moved one would
        // take (its file is gone).
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_squashed_0003_b.py",
                &format!(
                    "{}    replaces = [('shop', '0002_a'), ('shop', '0004_b')]\n",
                    migration("[('shop', '0001_initial')]")
                ),
            ),
            (
                "shop/migrations/0002_b.py",
                &migration("[('shop', '0001_initial')]"),
            ),
        ]);
        let err = refused(&tree, "shop", "0002_squashed_0003_b", "0002_b");
        assert!(matches!(err, RenumberError::NameReplaced { .. }), "{err}");
    }

    #[test]
    fn refuses_to_rename_a_squash() {
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_a.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0002_squashed_0004_b.py",
                &format!(
                    "{}    replaces = [('shop', '0002_b'), ('shop', '0004_b')]\n",
                    migration("[('shop', '0001_initial')]")
                ),
            ),
        ]);
        let err = refused(&tree, "shop", "0002_a", "0002_squashed_0004_b");
        assert!(matches!(err, RenumberError::SquashInChain { .. }), "{err}");
    }

    /// `forked`, with `renumber-replaces` switched on.
    fn forked_keeping_old_names(moving_source: &str) -> Tree {
        let mut tree = forked("0002_a", "0002_b", "[]");
        tree.files
            .insert("shop/migrations/0002_b.py".into(), moving_source.into());
        tree.files.insert(
            "pyproject.toml".into(),
            b"[tool.migmerge]\nrenumber-replaces = true\n".to_vec(),
        );
        tree
    }

    #[test]
    fn renumber_replaces_adds_the_old_name_in_djangos_layout() {
        let tree = forked_keeping_old_names(&migration("[('shop', '0001_initial')]"));
        let (planned, after) = resolve(&tree, "shop", "0002_a", "0002_b");
        assert_eq!(planned.replaced, 1);
        assert_eq!(
            after.text("shop/migrations/0003_b.py"),
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n\n    \
             replaces = [('shop', '0002_b')]\n\n    dependencies = [('shop', '0002_a')]\n\n    \
             operations = []\n"
        );
        // Without the setting, nothing of the kind.
        let mut plain = tree.clone();
        plain.files.remove("pyproject.toml");
        let (planned, after) = resolve(&plain, "shop", "0002_a", "0002_b");
        assert_eq!(planned.replaced, 0);
        assert!(!after.text("shop/migrations/0003_b.py").contains("replaces"));
    }

    #[test]
    fn renumber_replaces_follows_quotes_line_breaks_and_an_existing_list() {
        let crlf = "from django.db import migrations\r\n\r\nclass Migration(migrations.Migration):\r\n    dependencies = [\r\n        (\"shop\", \"0001_initial\"),\r\n    ]\r\n    operations = []\r\n";
        let (_, after) = resolve(&forked_keeping_old_names(crlf), "shop", "0002_a", "0002_b");
        assert_eq!(
            after.text("shop/migrations/0003_b.py"),
            "from django.db import migrations\r\n\r\nclass Migration(migrations.Migration):\r\n    replaces = [(\"shop\", \"0002_b\")]\r\n\r\n    dependencies = [\r\n        (\"shop\", \"0002_a\"),\r\n    ]\r\n    operations = []\r\n"
        );

        let empty = format!(
            "{}    replaces = []\n",
            migration("[('shop', '0001_initial')]")
        );
        let (_, after) = resolve(
            &forked_keeping_old_names(&empty),
            "shop",
            "0002_a",
            "0002_b",
        );
        assert_eq!(
            after.text("shop/migrations/0003_b.py"),
            format!(
                "{}    replaces = [('shop', '0002_b')]\n",
                migration("[('shop', '0002_a')]")
            )
        );
    }

    #[test]
    fn renumber_replaces_refuses_what_it_cannot_place() {
        // `dependencies` shares its line with another statement.
        let odd = "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    initial = False; dependencies = [('shop', '0001_initial')]\n    operations = []\n";
        let err = refused(&forked_keeping_old_names(odd), "shop", "0002_a", "0002_b");
        assert!(matches!(err, RenumberError::ReplacesLayout { .. }), "{err}");

        // Names shifting into each other: the new 0003_x is the old name of the other one.
        let mut tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_y.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0002_x.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0003_x.py",
                &migration("[('shop', '0002_x')]"),
            ),
        ]);
        tree.files.insert(
            "pyproject.toml".into(),
            b"[tool.migmerge]\nrenumber-replaces = true\n".to_vec(),
        );
        let err = refused(&tree, "shop", "0002_y", "0003_x");
        assert_eq!(
            err,
            RenumberError::ReplacesOldName {
                app: "shop".into(),
                old: "0002_x".into(),
                new: "0003_x".into(),
            }
        );
    }
}
