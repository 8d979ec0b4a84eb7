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

use std::process::ExitCode;

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
