//! Following a rename made on the other side of a merge.
//!
//! One branch renumbered a migration (`0003_post_tags` became `0004_post_tags`, file renamed)
//! while the other kept building on the old name. Git merges both without a conflict, and the
//! merged tree holds a dependency on a migration that no longer exists: Django stops with
//! `NodeNotFoundError`. The rename shows in the tree itself: the missing name's app has exactly
//! one migration with the same name after the number. The caller confirms it from git (the old
//! file existed in a merged commit), and the plan rewrites every reference to the old name.

use std::collections::{BTreeMap, HashMap};

use crate::edit::{Edit, FileChange, Plan, replace_string_value};
use crate::graph::{Graph, Key, NodeKind};
use crate::migration::{ListAttr, Reference};
use crate::project::Project;

use crate::problem::ProblemKind;

use super::{problem_count, split_number};

/// A missing migration found under its new name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedRename {
    pub app: String,
    pub old: String,
    pub new: String,
    /// How many `dependencies` / `run_before` entries named the old name.
    pub references: usize,
}

/// What following the renames of a tree comes to.
#[derive(Debug, Clone, Default)]
pub struct Following {
    pub renames: Vec<FollowedRename>,
    /// One edit per reference, grouped per file; empty when nothing is followed.
    pub plan: Plan,
}

/// Plans the references to missing migrations that can be followed to their new names.
///
/// A missing `(app, old)` is followed to `new` when `app` is in the repository, exactly one of
/// its migrations other than `old` has the same name after the number (`_post_tags`), and
/// `existed(path)` says the old file, at its path in the app's migrations directory, was part of
/// the history being merged. Only the renamed migrations of apps `in_scope` accepts are
/// followed (wherever they are referenced). `read` gives a referring file's bytes, for its quote
/// style.
pub fn follow_renames(
    project: &Project,
    graph: &Graph,
    in_scope: impl Fn(&str) -> bool,
    read: impl Fn(&str) -> Option<Vec<u8>>,
    existed: impl Fn(&str) -> bool,
) -> Following {
    let mut found: BTreeMap<Key, Option<String>> = BTreeMap::new();
    let mut sources: HashMap<&str, Vec<u8>> = HashMap::new();
    let mut edits: BTreeMap<&str, Vec<Edit>> = BTreeMap::new();
    let mut counts: BTreeMap<Key, usize> = BTreeMap::new();

    for file in &project.migrations {
        for attr in [&file.migration.dependencies, &file.migration.run_before] {
            let ListAttr::Literal { entries, .. } = attr else {
                continue;
            };
            for entry in entries {
                let Reference::Literal { app, name } = &entry.reference else {
                    continue;
                };
                let key = Key::new(&app.value, &name.value);
                let missing = graph
                    .node(&key)
                    .is_some_and(|node| matches!(node.kind, NodeKind::Missing { .. }));
                if !missing || !in_scope(&key.app) {
                    continue;
                }
                let new = found
                    .entry(key.clone())
                    .or_insert_with(|| new_name(project, &key, &existed));
                let Some(new) = new else {
                    continue;
                };
                let source = sources
                    .entry(file.path.as_str())
                    .or_insert_with(|| read(&file.path).unwrap_or_default());
                edits
                    .entry(file.path.as_str())
                    .or_default()
                    .push(replace_string_value(source, name, new));
                *counts.entry(key).or_default() += 1;
            }
        }
    }

    let renames = counts
        .into_iter()
        .filter_map(|(key, references)| {
            let new = found.get(&key)?.clone()?;
            Some(FollowedRename {
                app: key.app,
                old: key.name,
                new,
                references,
            })
        })
        .collect();
    let changes = edits
        .into_iter()
        .map(|(path, edits)| FileChange::Edit {
            path: path.to_owned(),
            edits,
        })
        .collect();
    Following {
        renames,
        plan: Plan { changes },
    }
}

/// Whether following the renames (`before` the plan, `after` it) settles missing references
/// without making a loop: fewer dangling references, no more cycles.
pub fn settles(before: &Graph, after: &Graph) -> bool {
    let count = |graph: &Graph, kinds: &[ProblemKind]| -> usize {
        kinds.iter().map(|&kind| problem_count(graph, kind)).sum()
    };
    let loops = [ProblemKind::Cycle, ProblemKind::SquashCycle];
    count(after, &[ProblemKind::Dangling]) < count(before, &[ProblemKind::Dangling])
        && count(after, &loops) <= count(before, &loops)
}

/// The one migration of `missing.app` that `missing.name` was renamed to, if the tree and the
/// history say so.
fn new_name(project: &Project, missing: &Key, existed: impl Fn(&str) -> bool) -> Option<String> {
    let (_, suffix) = split_number(&missing.name)?;
    // A bare number (`0003`) has no name to recognise it by.
    if suffix.trim_start_matches('_').is_empty() {
        return None;
    }
    let app = project.apps.iter().find(|a| a.label == missing.app)?;
    let mut candidates = project.migrations.iter().filter(|file| {
        file.app == missing.app
            && file.name != missing.name
            && split_number(&file.name).is_some_and(|(_, rest)| rest == suffix)
    });
    let new = candidates.next()?;
    if candidates.next().is_some() {
        return None;
    }
    let old_path = format!("{}/{}.py", app.migrations_dir, missing.name);
    existed(&old_path).then(|| new.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::{Tree, migration};

    const BLOG: &str = "blog/migrations";

    /// Ours renumbered `0003_post_tags` to `0004_post_tags`; theirs added `0004_post_tags_index`
    /// on the old name.
    fn renamed_under_a_dependent() -> Tree {
        Tree::new(&[
            (&format!("{BLOG}/0001_initial.py"), &migration("[]")),
            (
                &format!("{BLOG}/0002_post_body.py"),
                &migration("[('blog', '0001_initial')]"),
            ),
            (
                &format!("{BLOG}/0003_post_summary.py"),
                &migration("[('blog', '0002_post_body')]"),
            ),
            (
                &format!("{BLOG}/0004_post_tags.py"),
                &migration("[('blog', '0003_post_summary')]"),
            ),
            (
                &format!("{BLOG}/0004_post_tags_index.py"),
                &migration("[\n        (\"blog\", \"0003_post_tags\"),\n    ]"),
            ),
            (
                "shop/migrations/0001_initial.py",
                &migration("[('blog', '0003_post_tags'), ('auth', '0012_gone')]"),
            ),
        ])
    }

    fn plan(tree: &Tree, existed: impl Fn(&str) -> bool) -> Following {
        let project = tree.project();
        let graph = Graph::build(&project);
        follow_renames(&project, &graph, |_| true, |p| tree.read(p), existed)
    }

    #[test]
    fn a_dependency_on_the_old_name_follows_the_rename() {
        let tree = renamed_under_a_dependent();
        let before = Graph::build(&tree.project());
        assert!(
            before
                .problems
                .iter()
                .any(|p| p.kind == ProblemKind::Dangling)
        );
        let following = plan(&tree, |path| path == "blog/migrations/0003_post_tags.py");
        assert_eq!(
            following.renames,
            [FollowedRename {
                app: "blog".into(),
                old: "0003_post_tags".into(),
                new: "0004_post_tags".into(),
                references: 2,
            }]
        );
        let after = tree.applied(&tree.preview(&following.plan));
        assert!(
            after
                .text(&format!("{BLOG}/0004_post_tags_index.py"))
                .contains("(\"blog\", \"0004_post_tags\"),")
        );
        assert!(
            after
                .text("shop/migrations/0001_initial.py")
                .contains("[('blog', '0004_post_tags'), ('auth', '0012_gone')]")
        );
        let graph = Graph::build(&after.project());
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        assert!(graph.conflicts().is_empty());
        assert!(settles(&before, &graph));
        assert!(!settles(&graph, &graph));

        // Scoped to another app, blog's rename is not followed, even where shop refers to it.
        let project = tree.project();
        let graph = Graph::build(&project);
        let scoped = follow_renames(
            &project,
            &graph,
            |app| app == "shop",
            |p| tree.read(p),
            |_| true,
        );
        assert!(scoped.renames.is_empty() && scoped.plan.changes.is_empty());
    }

    #[test]
    fn nothing_is_followed_without_the_history_or_a_single_candidate() {
        let tree = renamed_under_a_dependent();
        // The old file never existed: a typo, not a rename.
        assert!(plan(&tree, |_| false).plan.changes.is_empty());

        // Two migrations now carry the name: which one is meant cannot be known.
        let mut twice = tree.clone();
        twice.add(
            &format!("{BLOG}/0005_post_tags.py"),
            &migration("[('blog', '0004_post_tags')]"),
        );
        assert!(plan(&twice, |_| true).renames.is_empty());

        // A bare number names nothing to recognise.
        let bare = Tree::new(&[
            (&format!("{BLOG}/0001.py"), &migration("[]")),
            (&format!("{BLOG}/0002.py"), &migration("[('blog', '0009')]")),
        ]);
        assert!(plan(&bare, |_| true).renames.is_empty());
    }
}
