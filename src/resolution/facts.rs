//! Gathering the facts [`decide`](super::decide::decide) needs, from the repository as it was
//! before the operation (merge, pull, rebase) that brought the conflict.
//!
//! "Published" is read from the protected refs before the operation: a hook runs after git
//! moved the branch, so a protected ref that is the current branch is read where it stood
//! (the merge's first parent, the rebase's `ORIG_HEAD`), and a rebase's upstream counts as
//! published (its migrations are the base the rebased ones are replayed on). Every migration a
//! renumbering would move is looked up, not just the leaf.

use std::path::Path;

use crate::deploy;
use crate::graph::{Graph, Key, LeafConflict, NodeKind};
use crate::plan;
use crate::project::Project;
use crate::source::{self, GitRevision, Source};

use super::decide::{Member, Side};

/// What happened just before migmerge runs, as the caller knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `migmerge resolve`: told from the repository's state (a merge in progress, a merge
    /// commit at HEAD), else nothing.
    Detect,
    /// A merge that has not made its commit yet (`git merge --no-commit`, a merge stopped on
    /// conflicts then `git commit`, `--squash`): the branch has not moved.
    MergeInProgress,
    /// A merge commit was just made (`post-merge`): the branch stood at `HEAD^1` before.
    MergeCommitted,
    /// A rebase ended: the branch stood at `orig_head` and was replayed onto `onto`.
    Rebased {
        orig_head: Option<String>,
        onto: Option<String>,
    },
}

/// The repository before the operation.
pub struct History {
    /// Protected refs, named as the user knows them, at their position before the operation.
    protected: Vec<(String, GitRevision)>,
    /// Every protected name, resolvable or not, for messages.
    names: Vec<String>,
    /// The history the operation built on (the branch before a merge, a rebase's upstream): a
    /// side absent from it is the one the operation brought in.
    mainline: Option<GitRevision>,
}

impl History {
    /// Reads the protected refs (`configured`, else the default ones) as they stood before
    /// `operation`. Refs that do not resolve hold nothing.
    pub fn open(root: &Path, configured: Option<&[String]>, operation: Operation) -> History {
        let refs: Vec<String> = match configured {
            Some(refs) => refs.to_vec(),
            None => source::default_protected_refs(root),
        };
        let open = |rev: &str| GitRevision::open(root, rev).ok();
        let operation = match operation {
            Operation::Detect if open("MERGE_HEAD").is_some() => Operation::MergeInProgress,
            Operation::Detect if open("HEAD^2").is_some() => Operation::MergeCommitted,
            other => other,
        };
        let (branch_before, mainline, upstream) = match &operation {
            Operation::Detect => (None, None, None),
            Operation::MergeInProgress => (None, Some("HEAD"), None),
            Operation::MergeCommitted => (Some("HEAD^1"), Some("HEAD^1"), None),
            Operation::Rebased { orig_head, onto } => {
                (orig_head.as_deref(), onto.as_deref(), onto.as_deref())
            }
        };
        let branch = source::current_branch(root);
        let is_current = |name: &str| {
            branch.as_deref().is_some_and(|b| {
                name == b || name == format!("heads/{b}") || name == format!("refs/heads/{b}")
            })
        };
        let mut protected: Vec<(String, GitRevision)> = refs
            .iter()
            .filter_map(|name| {
                let at = match branch_before {
                    Some(before) if is_current(name) => before,
                    _ => name.as_str(),
                };
                open(at).map(|rev| (name.clone(), rev))
            })
            .collect();
        let mut names = refs;
        if let Some(onto) = upstream.and_then(open) {
            protected.push(("the rebase's upstream".to_owned(), onto));
            names.push("the rebase's upstream".to_owned());
        }
        History {
            protected,
            names,
            mainline: mainline.and_then(open),
        }
    }

    /// A history with no repository: nothing is published, nobody arrived.
    pub fn none() -> History {
        History {
            protected: Vec::new(),
            names: Vec::new(),
            mainline: None,
        }
    }

    /// The protected refs' names, for messages.
    pub fn protected_names(&self) -> &[String] {
        &self.names
    }

    /// The first protected ref that held the root-relative `path` before the operation.
    pub fn published_on(&self, path: &str) -> Option<String> {
        if path.is_empty() {
            return None;
        }
        self.protected
            .iter()
            .find(|(_, rev)| holds(rev, path))
            .map(|(name, _)| name.clone())
    }

    /// Whether the operation brought `path` in; `None` when nothing tells.
    pub fn arrived(&self, path: &str) -> Option<bool> {
        let mainline = self.mainline.as_ref()?;
        (!path.is_empty()).then(|| !holds(mainline, path))
    }
}

fn holds(revision: &GitRevision, path: &str) -> bool {
    matches!(revision.read(path), Ok(Some(_)))
}

/// The file of a migration in the graph; empty when it is not a file of the project.
pub fn migration_path(project: &Project, graph: &Graph, app: &str, name: &str) -> String {
    match graph.node(&Key::new(app, name)).map(|n| n.kind) {
        Some(NodeKind::Migration(i)) => project.migrations[i].path.clone(),
        _ => String::new(),
    }
}

/// One [`Side`] per leaf of the conflict, in the conflict's (sorted) order.
pub fn sides(
    project: &Project,
    graph: &Graph,
    conflict: &LeafConflict,
    history: &History,
    source: &dyn Source,
) -> Vec<Side> {
    let app = conflict.app.as_str();
    let read = |p: &str| source.read(p).ok().flatten();
    // Stages matter only where the project's tooling stages its migrations.
    let staged = deploy::tooling(project).syzygy;
    let stage = |index: usize| {
        staged.then(|| deploy::migration_stage(&project.migrations[index].migration))
    };
    conflict
        .leaves
        .iter()
        .enumerate()
        .map(|(i, leaf)| {
            let others: Vec<&String> = conflict
                .leaves
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| l)
                .collect();
            let members = own_migrations(graph, app, leaf, &others);
            let unmovable = match others.as_slice() {
                [stay] => plan::renumber(project, graph, app, stay, leaf, read)
                    .err()
                    .map(|e| e.to_string()),
                _ => Some("only two branches can be renumbered one after the other".to_owned()),
            };
            let members = members
                .into_iter()
                .map(|index| {
                    let file = &project.migrations[index];
                    Member {
                        name: file.name.clone(),
                        published_on: history.published_on(&file.path),
                        stage: stage(index),
                    }
                })
                .collect();
            Side {
                leaf: leaf.clone(),
                members,
                unmovable,
                arriving: history.arrived(&migration_path(project, graph, app, leaf)),
                stage: match graph.node(&Key::new(app, leaf)).map(|n| n.kind) {
                    Some(NodeKind::Migration(i)) => stage(i),
                    _ => None,
                },
            }
        })
        .collect()
}

/// The migration files of `app` that `leaf` depends on (itself included) and none of `others`
/// does, in dependency order: with one other leaf, exactly what renumbering `leaf` moves.
fn own_migrations(graph: &Graph, app: &str, leaf: &str, others: &[&String]) -> Vec<usize> {
    if let [stay] = others
        && let Ok(chain) = plan::chain_members(graph, app, stay, leaf)
    {
        return chain;
    }
    let shared: Vec<_> = others
        .iter()
        .map(|other| graph.ancestors(&Key::new(app, other.as_str())))
        .collect();
    let mut own: Vec<(String, usize)> = graph
        .ancestors(&Key::new(app, leaf))
        .into_iter()
        .filter(|key| key.app == app && !shared.iter().any(|s| s.contains(key)))
        .filter_map(|key| match graph.node(key).map(|n| n.kind) {
            Some(NodeKind::Migration(i)) => Some((key.name.clone(), i)),
            _ => None,
        })
        .collect();
    own.sort();
    own.into_iter().map(|(_, i)| i).collect()
}
