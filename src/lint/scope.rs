//! Which migrations a lint run judges: by default those the branch adds or changes since it
//! forked from the first protected ref, so that adopting the linter on an old project reports
//! nothing already deployed; `--since REV` for another base; `--all` for every migration.

use std::collections::HashSet;
use std::path::Path;

use crate::project::Project;
use crate::source::{self, Source, SourceError};

/// The root-relative paths of the Python files of the work tree at `root` that are absent from
/// revision `base` or differ from it. Git's index tells which files are unchanged, so only the
/// changed ones cost more than a `stat`; and it needs no project, so it can run while the
/// project loads.
pub fn python_files_changed_in_work_tree(
    root: &Path,
    base: &str,
) -> Result<HashSet<String>, SourceError> {
    let changed = source::changed_in_work_tree(root, base, &|path: &str| path.ends_with(".py"))?;
    Ok(changed.into_iter().collect())
}

/// The migrations (indices into `project.migrations`) among `changed` paths, in project order.
pub fn migrations_among(project: &Project, changed: &HashSet<String>) -> Vec<usize> {
    in_project_order(project, |path| changed.contains(path))
}

/// The migrations of any snapshot `current` (the in-memory merge of `--against`) whose file is
/// absent from `base` or differs from it, in project order: each one's bytes compared.
pub fn changed_since(
    project: &Project,
    current: &dyn Source,
    base: &dyn Source,
) -> Result<Vec<usize>, SourceError> {
    // Listing first lets a git revision find each file by its blob id, not by walking trees
    // from the root for every path.
    let paths: HashSet<&str> = project.migrations.iter().map(|f| f.path.as_str()).collect();
    base.list(&|path: &str| paths.contains(path))?;
    let mut changed = HashSet::new();
    let mut now = Vec::new();
    let mut then = Vec::new();
    for file in &project.migrations {
        let present = base.read_into(&file.path, &mut then)?;
        if !present || !current.read_into(&file.path, &mut now)? || now != then {
            changed.insert(file.path.as_str());
        }
    }
    Ok(in_project_order(project, |path| changed.contains(path)))
}

fn in_project_order(project: &Project, changed: impl Fn(&str) -> bool) -> Vec<usize> {
    project
        .migrations
        .iter()
        .enumerate()
        .filter(|(_, file)| changed(&file.path))
        .map(|(i, _)| i)
        .collect()
}
