//! What a later run does with a write an earlier one left half-done (see
//! [`crate::edit::journal`]): the one decision, made here for every command that reads or
//! writes the tree.
//!
//! - Every file holds what the run wrote, and the run had got as far as history or the index:
//!   a hook had moved the branch to the commit holding the resolution, or the index it was
//!   staging in holds it. Then the resolution stays, staged as the run would have staged it,
//!   and the journal goes.
//! - Otherwise every file goes back to what it was before the run, and its temp files go:
//!   none of the resolution is left, and git's own result stands.

use std::path::Path;

use crate::edit::journal::{self, RecoveryError};
use crate::source::SourceError;

use super::Git;
use super::commit::short;

/// Why an interrupted write could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(transparent)]
    Journal(#[from] RecoveryError),
    #[error("cannot read or update the index after an interrupted migmerge run: {0}")]
    Index(#[from] SourceError),
}

/// Settles the write an interrupted run left for the tree at `root`, if any; returns the line
/// that says what was done.
pub fn interrupted_write(root: &Path) -> Result<Option<String>, RecoverError> {
    let Some(leftover) = journal::leftover(root)? else {
        return Ok(None);
    };
    let leftover_commit = leftover.commit().map(str::to_owned);
    let committed = leftover.commit().is_some_and(|commit| {
        Git::discover(leftover.root())
            .and_then(|git| git.rev("HEAD"))
            .is_ok_and(|head| head == commit)
    });
    let updates = leftover.updates();
    let staged = match leftover.staging() {
        Some(staging) => {
            crate::source::index_holds(leftover.root(), staging.index.as_deref(), &updates)?
        }
        None => false,
    };
    if (committed || staged) && leftover.is_complete() {
        let index = leftover.staging().and_then(|s| s.index.clone());
        // Staging again is harmless when the index holds it already, and finishes the job when
        // the run was killed after the commit and before the index.
        crate::source::stage_resolution(leftover.root(), index.as_deref(), &updates)?;
        leftover.settle()?;
        return Ok(Some(match committed {
            true => format!(
                "migmerge: an interrupted run had committed its resolution ({}); its files are \
                 kept and staged",
                short(leftover_commit.as_deref().unwrap_or_default())
            ),
            false => "migmerge: an interrupted run had written and staged its resolution; it \
                      is kept"
                .to_owned(),
        }));
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
