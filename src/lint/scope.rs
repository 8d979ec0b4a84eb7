//! Which migrations a lint run judges: by default those the branch adds or changes since it
//! forked from the first protected ref, so that adopting the linter on an old project reports
//! nothing already deployed; `--since REV` for another base; `--all` for every migration.

use crate::project::Project;
use crate::source::{Source, SourceError};

/// The migrations (indices into `project.migrations`) whose file is absent from `base` or
/// differs from it, in project order. `current` is the snapshot `project` was read from.
pub fn changed_since(
    project: &Project,
    current: &dyn Source,
    base: &dyn Source,
) -> Result<Vec<usize>, SourceError> {
    // Listing first lets a git revision find each file by its blob id, not by walking trees
    // from the root for every path.
    let paths: std::collections::HashSet<&str> =
        project.migrations.iter().map(|f| f.path.as_str()).collect();
    base.list(&|path: &str| paths.contains(path))?;
    let mut changed = Vec::new();
    let mut now = Vec::new();
    let mut then = Vec::new();
    for (i, file) in project.migrations.iter().enumerate() {
        let present = base.read_into(&file.path, &mut then)?;
        if !present || !current.read_into(&file.path, &mut now)? || now != then {
            changed.push(i);
        }
    }
    Ok(changed)
}
