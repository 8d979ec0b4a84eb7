//! Which files of the work tree differ from a revision, as `git diff REV` plus `git status`'s
//! untracked files see them. The index's cached stat data says which files are unchanged, so a
//! project of thousands of files costs a `stat` each, not a read and a comparison each.

use std::path::Path;

use git2::{Delta, DiffOptions};

use super::super::{PathFilter, SourceError};
use super::{Located, below_place, git_error, locate, resolve_commit};

/// The root-relative, `/`-separated paths, sorted, of the files under `path` (the snapshot's
/// root, as [`super::super::WorkTree`] lists it) for which `wanted` is true and whose content in
/// the work tree is not the content revision `rev` holds at that path: files added since `rev`
/// (committed, staged or untracked), and files changed since (in any of those ways). Ignored
/// files are not looked at, as the work tree source does not list them. Nothing is written,
/// not even the index's stat cache.
pub fn changed_in_work_tree(
    path: &Path,
    rev: &str,
    wanted: PathFilter<'_>,
) -> Result<Vec<String>, SourceError> {
    let Located { repo, prefix } = locate(path)?;
    if repo.workdir().is_none() {
        return Err(SourceError::NoWorkTree {
            path: path.to_path_buf(),
        });
    }
    let tree = resolve_commit(&repo, rev)?.tree().map_err(git_error)?;
    let mut options = DiffOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .ignore_submodules(true);
    if !prefix.is_empty() {
        // libgit2 narrows its walk of the tree, the index and the work tree to the pathspec.
        options.pathspec(format!("{prefix}/"));
    }
    let diff = repo
        .diff_tree_to_workdir_with_index(Some(&tree), Some(&mut options))
        .map_err(git_error)?;
    let mut changed = Vec::new();
    for delta in diff.deltas() {
        if !matches!(
            delta.status(),
            Delta::Added | Delta::Modified | Delta::Untracked | Delta::Typechange
        ) {
            continue;
        }
        // A name that is not UTF-8 cannot be a Python module.
        let Some(in_repo) = delta
            .new_file()
            .path_bytes()
            .and_then(|p| std::str::from_utf8(p).ok())
        else {
            continue;
        };
        if let Some(relative) = below_place(&prefix, in_repo)
            && wanted(relative)
        {
            changed.push(relative.to_owned());
        }
    }
    changed.sort_unstable();
    changed.dedup();
    Ok(changed)
}
