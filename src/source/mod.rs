//! Where migration files are read from: the work tree, a git revision, the in-memory merge of
//! two revisions, or the staged files of a repository's index. Each source lists the paths the caller wants and reads them; none writes
//! anything.
//!
//! Paths are always relative to the source's root, with `/` separators, whatever the platform.

mod git;
mod prune;
mod worktree;

pub use git::{
    GitMerge, GitRevision, IndexSnapshot, MergeChanges, Staged, changed_in_work_tree,
    current_branch, default_protected_refs, in_repository, index_holds, limit_git_memory,
    merge_base, place_in_repository, sparse_excluded, stage_added, stage_renames, stage_resolution,
};
pub use worktree::WorkTree;

use std::path::PathBuf;

/// Decides, from a root-relative path, whether a file is worth listing.
pub type PathFilter<'a> = &'a (dyn Fn(&str) -> bool + Sync);

/// How old a file's times must be when it is stamped for the stamp to be kept: more than the
/// coarsest clock a filesystem keeps times with (FAT's two seconds).
pub const SETTLED: std::time::Duration = std::time::Duration::from_secs(3);

/// What the filesystem says of a file: modification and change times (seconds, nanoseconds),
/// size, inode, device and mode. Two reads of a file under the same status read the same
/// bytes, unless a write came within the clock's tick of the stamp (see [`SETTLED`]).
pub type Status = [u64; 8];

/// A work-tree file's stamp (see [`Source::stamp`]): what a parse kept for its bytes is found
/// by (see [`crate::project::parse_cache`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The file's absolute path, as bytes.
    pub file: Vec<u8>,
    pub status: Status,
    /// Whether the file's times were more than [`SETTLED`] old when it was stamped.
    pub settled: bool,
}

/// A snapshot of a project's files.
pub trait Source: Sync {
    /// How the snapshot is named in messages: "the work tree", "revision main (1a2b3c4)".
    fn describe(&self) -> String;

    /// Every file path for which `wanted` is true, sorted. Directories that never hold a Django
    /// app's files (version-control internals, virtualenvs, `node_modules`, `site-packages`,
    /// `__pycache__`, and for the work tree whatever git ignores) are not entered.
    fn list(&self, wanted: PathFilter<'_>) -> Result<Vec<String>, SourceError>;

    /// The bytes of one file. `Ok(None)` when the snapshot has no such file.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError>;

    /// [`Source::read`] into `buf`, which is cleared first: `Ok(false)` when the snapshot has no
    /// such file. A caller reading many files with one buffer saves an allocation per file.
    fn read_into(&self, path: &str, buf: &mut Vec<u8>) -> Result<bool, SourceError> {
        buf.clear();
        Ok(match self.read(path)? {
            Some(bytes) => {
                *buf = bytes;
                true
            }
            None => false,
        })
    }

    /// The id of the git blob holding exactly the bytes [`Source::read`] gives for `path`, when
    /// the snapshot knows it without reading them (a revision's tree, an index, an in-memory
    /// merge): what lets a kept parse of those bytes be found without inflating the blob. `None`
    /// when the snapshot has no such id to give, which only costs a read.
    fn blob_id(&self, _path: &str) -> Option<git2::Oid> {
        None
    }

    /// The stamp of the file at `path` (a work tree's files have one), taken now: what finds
    /// the parse kept for it without reading it. `None` when the snapshot has none to give.
    fn stamp(&self, _path: &str) -> Option<Stamp> {
        None
    }

    /// The directory where parses of this snapshot's files may be kept between runs (the
    /// [`crate::git::STATE_DIR`] of the repository's common git directory); `None` outside a
    /// repository.
    fn parse_cache_dir(&self) -> Option<PathBuf> {
        None
    }

    /// Paths that git could not merge in this snapshot (only an in-memory merge has any).
    fn conflicted(&self) -> &[ConflictedPath] {
        &[]
    }
}

/// A path git would leave conflicted, and how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConflictedPath {
    pub path: String,
    /// Git's words for it: "both modified", "both added", "deleted by them", ...
    pub kind: String,
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a git repository (or any of its parents): {message}")]
    NotARepository { path: PathBuf, message: String },
    #[error(
        "{path}: a bare repository or a git directory, with no work tree to read; read a \
         revision with `--rev REV`, or run migmerge in a work tree"
    )]
    NoWorkTree { path: PathBuf },
    #[error("cannot resolve revision `{rev}`: {message}")]
    BadRevision { rev: String, message: String },
    #[error("git: {0}")]
    Git(String),
}
