//! migmerge inside git: the merge driver's file logic, the hook shims and their installation,
//! and committing a resolution with plumbing. Everything here drives the git command line (the
//! same git the user runs, with its hooks and configuration); `git2` stays in `source`.

/// The directory in a repository's git directory where migmerge keeps its state: records,
/// the write journal, the merge driver's view, the parse cache.
pub const STATE_DIR: &str = "migmerge";

pub mod chain;
pub mod cmd;
pub mod commit;
pub mod driver;
pub mod hooks;
pub mod install;
pub mod record;
pub mod recover;

pub use cmd::{Git, GitError};
