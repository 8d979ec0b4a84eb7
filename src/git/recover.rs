//! What a later run does with a write an earlier one left half-done (see
//! [`crate::edit::journal`]): the one decision, made here for every command that reads or
//! writes the tree.
//!
//! - The interrupted run was a hook that had already moved the branch to the commit holding
//!   the resolution, and every file holds what it wrote: the resolution is in history, so the
//!   files stay, are staged as the hook would have staged them, and the journal goes.
//! - Otherwise every file goes back to what it was before the run, and its temp files go:
//!   none of the resolution is left, and git's own result stands.

use std::path::Path;

use crate::edit::journal::{self, RecoveryError};
use crate::source::SourceError;

use super::Git;

/// Why an interrupted write could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(transparent)]
    Journal(#[from] RecoveryError),
    #[error("an interrupted migmerge run committed its resolution, but staging it failed: {0}")]
    Stage(#[from] SourceError),
}

/// Settles the write an interrupted run left for the tree at `root`, if any; returns the line
/// that says what was done.
pub fn interrupted_write(root: &Path) -> Result<Option<String>, RecoverError> {
    let Some(leftover) = journal::leftover(root)? else {
        return Ok(None);
    };
    let committed = leftover.commit().is_some_and(|commit| {
        Git::discover(leftover.root())
            .and_then(|git| git.rev("HEAD"))
            .is_ok_and(|head| head == commit)
    });
    if committed && leftover.is_complete() {
        let commit = leftover.commit().unwrap_or_default().to_owned();
        crate::source::stage_resolution(leftover.root(), None, &leftover.updates())?;
        leftover.settle()?;
        return Ok(Some(format!(
            "migmerge: an interrupted run had committed its resolution ({}); its files are \
             kept and staged",
            commit.get(..7).unwrap_or(&commit)
        )));
    }
    let put_back = leftover.roll_back()?;
    Ok(Some(match put_back {
        0 => "migmerge: an interrupted migmerge run left a write unfinished; none of its files \
              had changed yet (its temp files are removed)"
            .to_owned(),
        n => format!(
            "migmerge: an interrupted migmerge run left a write unfinished; {n} file{} put back \
             as before that run (none of its resolution is left)",
            if n == 1 { "" } else { "s" }
        ),
    }))
}
