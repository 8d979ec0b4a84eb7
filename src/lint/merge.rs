//! The merge-time rule: where two branches meet (the snapshot of a merge in progress, or the
//! in-memory merge of `--against`), one branch removes or renames a field or model that the
//! other branch's migrations still add to, alter or point at. Django applies both, in some
//! order, and one of them fails or undoes the other.

use std::collections::BTreeMap;

use super::{Finding, Rule, graded};
use crate::graph::{Graph, Key, KeySet, NodeKind};
use crate::operation::{self, Action, ModelRef, Touch};
use crate::project::Project;

/// The migration files on the branches of every conflicting app, whose operations the rule
/// reads (so they must be read in full first).
pub fn branch_files(graph: &Graph) -> Vec<usize> {
    graph
        .conflicts()
        .iter()
        .flat_map(|conflict| crate::overlap::branch_files(graph, conflict))
        .collect()
}

/// One thing a branch's operation touches, and where that operation is.
struct Use<'p> {
    touch: Touch,
    file: usize,
    line: u32,
    words: String,
    leaf: &'p str,
}

/// The findings of the merge-time rule on every conflicting app of the snapshot.
pub fn findings(project: &Project, graph: &Graph) -> Vec<Finding> {
    let Some(severity) = graded(&project.config, Rule::RemovedOnOtherBranch) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for conflict in graph.conflicts() {
        let keys: Vec<Key> = conflict
            .leaves
            .iter()
            .map(|leaf| Key::new(&conflict.app, leaf))
            .collect();
        let ancestry: Vec<KeySet<'_>> = keys.iter().map(|k| graph.ancestors(k)).collect();
        let branches: Vec<Vec<Use<'_>>> = ancestry
            .iter()
            .enumerate()
            .map(|(i, own)| {
                let mut uses = Vec::new();
                for key in own.iter().filter(|k| {
                    ancestry
                        .iter()
                        .enumerate()
                        .all(|(j, other)| i == j || !other.contains(*k))
                }) {
                    let Some(NodeKind::Migration(file)) = graph.node(key).map(|n| n.kind) else {
                        continue;
                    };
                    let migration = &project.migrations[file];
                    for op in migration.migration.operations.iter().flatten() {
                        for touch in operation::touches(op, &migration.app, &project.config) {
                            uses.push(Use {
                                touch,
                                file,
                                line: op.line,
                                words: operation::describe(op),
                                leaf: &conflict.leaves[i],
                            });
                        }
                    }
                }
                uses
            })
            .collect();
        for (i, removing) in branches.iter().enumerate() {
            let removed: BTreeMap<(ModelRef, Option<String>), &Use<'_>> = removing
                .iter()
                .filter_map(|u| match &u.touch {
                    Touch::Field {
                        model,
                        field,
                        action: Action::Remove,
                    } => Some(((model.clone(), Some(field.clone())), u)),
                    Touch::Model {
                        model,
                        action: Action::Remove,
                    } => Some(((model.clone(), None), u)),
                    _ => None,
                })
                .collect();
            for (j, using) in branches.iter().enumerate() {
                if i == j {
                    continue;
                }
                for u in using {
                    let (model, field) = match &u.touch {
                        Touch::Field {
                            model,
                            field,
                            action: Action::Create | Action::Alter,
                        } => (model, Some(field)),
                        Touch::Model {
                            model,
                            action: Action::Alter,
                        } => (model, None),
                        Touch::Reference { model } => (model, None),
                        _ => continue,
                    };
                    let by_field =
                        field.and_then(|f| removed.get(&(model.clone(), Some(f.clone()))));
                    let by_model = removed.get(&(model.clone(), None));
                    let Some(remover) = by_field.or(by_model) else {
                        continue;
                    };
                    let file = &project.migrations[u.file];
                    let remover_file = &project.migrations[remover.file];
                    out.push(Finding {
                        rule: Rule::RemovedOnOtherBranch,
                        severity,
                        file: file.path.clone(),
                        line: u.line,
                        migration: format!("{}.{}", file.app, file.name),
                        message: format!(
                            "{} here, but the branch of {} removes it ({} in {}:{}): after the merge one of them fails or undoes the other; agree on one before merging",
                            u.words, remover.leaf, remover.words, remover_file.path, remover.line
                        ),
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    out.dedup();
    out
}
