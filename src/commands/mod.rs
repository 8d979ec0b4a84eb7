//! One function per subcommand: options in, text and an exit status out.

pub mod apps;
pub mod check;
pub mod completions;
pub mod demo;
pub mod graph;
pub mod hook;
pub mod install;
pub mod lint;
pub mod man;
pub mod merge_driver;
pub mod resolve;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

/// How a command ended, as the process reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Nothing to report.
    Success,
    /// Conflicts or problems were found.
    Failure,
    /// The command could not run.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::from(0),
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}

/// What a command prints and how it ends.
pub struct Outcome {
    pub stdout: String,
    pub status: ExitStatus,
}

/// Settles the write an interrupted migmerge run left for the tree at `path` (see
/// [`crate::git::recover`]) before a command reads or writes it, and says so on stderr (so
/// that what a command prints on stdout, JSON included, stays its own).
pub fn settle_interrupted_write(path: &Path) -> Result<()> {
    if let Some(line) = crate::git::recover::interrupted_write(path)? {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{line}");
        }
    }
    Ok(())
}
