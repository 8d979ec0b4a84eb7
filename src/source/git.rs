//! Snapshots read from a git repository's object database, never from its work tree: a
//! revision ([`GitRevision`]), the in-memory merge of two revisions ([`GitMerge`]), or the
//! staged files ([`IndexSnapshot`]); and what the last merge changed ([`MergeChanges`]).
//!
//! This is the only module of the crate that uses `git2`, so the git library can be swapped.
//!
//! Both sources are opened from a directory. The repository is discovered from it, like git
//! does, and when the directory is a subdirectory of the repository's work tree the snapshot's
//! root is that subdirectory: paths are listed relative to it, exactly as the work tree source
//! lists them. `GIT_DIR` is not consulted: the directory alone decides.
//!
//! `git2::Repository` may move between threads but not be shared by them, and reads may come from
//! several threads at once, so each source keeps its repository behind a mutex.

mod changes;
mod index;
mod merge;
mod stage;
#[cfg(test)]
mod testrepo;
mod work_changes;

pub use changes::MergeChanges;
pub use index::IndexSnapshot;
pub use merge::GitMerge;
pub use stage::{Staged, index_holds, stage_resolution};
pub use work_changes::changed_in_work_tree;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use git2::{Commit, ErrorCode, ObjectType, Oid, Repository, Tree};

use super::prune::{VENV_MARKER, is_skipped_dir, require_dir};
use super::{PathFilter, Source, SourceError};

/// A repository and where the snapshot's root lies inside it.
struct Located {
    repo: Repository,
    /// The root's path inside the repository, `/`-separated, empty for the top.
    prefix: String,
}

/// The most of a pack file libgit2 maps at once, and in all: blobs are read once each, so a
/// page of a pack is not worth keeping mapped after its blobs are read. With libgit2's defaults
/// (1 GiB windows, 8 GiB in all) every touched page of every pack stays mapped, and counts in
/// the process's memory, until exit.
const PACK_WINDOW: usize = 1 << 20;
const PACK_MAPPED_LIMIT: usize = 2 << 20;

/// Bounds the memory libgit2 keeps for pack files and objects. Call it once, first thing in
/// `main`.
///
/// These limits are process-wide C globals that libgit2 reads without synchronization, which is
/// why git2 marks their setters `unsafe`. Calling this before any thread exists makes it sound:
/// nothing can read or write them concurrently, and every thread started later sees the writes
/// (thread creation orders them). Calling it later would race with any libgit2 call running on
/// another thread, hence "first thing in `main`".
pub fn limit_git_memory() {
    #[allow(unsafe_code)]
    // SAFETY: see above: the caller runs this before spawning any thread, so no other thread can
    // touch libgit2's globals while they change. Both setters only store a number.
    unsafe {
        // A failure leaves libgit2's defaults: more memory, the same answers.
        let _ = git2::opts::set_mwindow_size(PACK_WINDOW);
        let _ = git2::opts::set_mwindow_mapped_limit(PACK_MAPPED_LIMIT);
    }
    // Each tree and blob is read once, so libgit2's object cache only holds memory: for
    // 50,000 files, the parsed trees alone were about 10 MB of peak memory. The switch is a
    // process-wide global too, so it is set here for the same reason.
    git2::opts::enable_caching(false);
    // git checks an object's hash when it receives or fsck-s it, not each time it reads one;
    // libgit2 by default hashes every object it reads again, which for a merge read from the
    // object database is a tenth of the work.
    git2::opts::strict_hash_verification(false);
}

/// Discovers the repository holding `path` and `path`'s place in it.
fn locate(path: &Path) -> Result<Located, SourceError> {
    require_dir(path)?;
    let repo = Repository::discover(path).map_err(|err| match err.code() {
        // `Owner` is libgit2's "dubious ownership" refusal: for the user it is the same answer.
        ErrorCode::NotFound | ErrorCode::Owner => SourceError::NotARepository {
            path: path.to_path_buf(),
            message: err.message().to_owned(),
        },
        _ => git_error(err),
    })?;
    if let Some(work_tree) = linked_work_tree(&repo, path)
        && repo
            .workdir()
            .and_then(|w| w.canonicalize().ok())
            .is_none_or(|w| w != work_tree)
    {
        repo.set_workdir(&work_tree, false).map_err(git_error)?;
    }
    let prefix = prefix_in_repo(&repo, path)?;
    Ok(Located { repo, prefix })
}

/// The work tree whose `.git` file links to `repo`'s git directory, found from `path` upwards
/// as git finds it. libgit2 takes the parent of the git directory for the work tree of a
/// repository made with `git init --separate-git-dir` (when `core.worktree` is not set), which
/// would put every path under the wrong prefix. `None` when a `core.worktree` decides, or when
/// the first `.git` above `path` is not a link to this repository.
fn linked_work_tree(repo: &Repository, path: &Path) -> Option<std::path::PathBuf> {
    if repo.is_bare() || repo.config().ok()?.get_path("core.worktree").is_ok() {
        return None;
    }
    let git_dir = repo.path().canonicalize().ok()?;
    let start = path.canonicalize().ok()?;
    let dir = start
        .ancestors()
        .find(|dir| std::fs::symlink_metadata(dir.join(".git")).is_ok())?;
    let dot_git = dir.join(".git");
    if !std::fs::symlink_metadata(&dot_git).ok()?.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let link = Path::new(text.lines().next()?.strip_prefix("gitdir:")?.trim());
    let target = dir.join(link).canonicalize().ok()?;
    (target == git_dir).then(|| dir.to_path_buf())
}

/// Whether `path` lies where a repository has no work tree: in a bare repository, or inside a
/// repository's git directory. Such a directory holds git's objects, not the project's files:
/// a work tree source there would find nothing, and say so misleadingly.
pub(super) fn without_work_tree(path: &Path) -> bool {
    let Ok(Located { repo, .. }) = locate(path) else {
        return false;
    };
    let Some(workdir) = repo.workdir() else {
        return true;
    };
    let (Ok(path), Ok(git_dir)) = (path.canonicalize(), repo.path().canonicalize()) else {
        return false;
    };
    path.starts_with(git_dir) && workdir.canonicalize().is_ok_and(|w| !path.starts_with(w))
}

/// The `/`-separated path of `path` inside the repository's work tree. Empty for a bare
/// repository, or for a path inside the git directory itself: then the whole tree is meant.
fn prefix_in_repo(repo: &Repository, path: &Path) -> Result<String, SourceError> {
    let io_error = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let Some(workdir) = repo.workdir() else {
        return Ok(String::new());
    };
    // Both sides canonical, so that symlinked temp dirs or `..` in the argument compare equal.
    let path = path.canonicalize().map_err(io_error)?;
    let workdir = workdir.canonicalize().map_err(io_error)?;
    let gitdir = repo.path().canonicalize().map_err(io_error)?;
    if path.starts_with(&gitdir) {
        return Ok(String::new());
    }
    let Ok(inside) = path.strip_prefix(&workdir) else {
        return Ok(String::new());
    };
    let parts: Option<Vec<&str>> = inside
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    match parts {
        Some(parts) => Ok(parts.join("/")),
        None => Err(io_error(io::Error::new(
            io::ErrorKind::InvalidData,
            "the path inside the repository is not valid UTF-8",
        ))),
    }
}

/// The commit `rev` names (a branch, tag, hash, `HEAD~2`, ...).
fn resolve_commit<'r>(repo: &'r Repository, rev: &str) -> Result<Commit<'r>, SourceError> {
    let bad = |err: git2::Error| SourceError::BadRevision {
        rev: rev.to_owned(),
        message: err.message().to_owned(),
    };
    repo.revparse_single(rev)
        .map_err(bad)?
        .peel_to_commit()
        .map_err(bad)
}

/// The tree at `prefix` inside `tree`, `None` when the revision has no such directory (then the
/// snapshot is simply empty, as a directory added later is in an older revision).
fn subtree(tree: &Tree<'_>, prefix: &str) -> Result<Option<Oid>, SourceError> {
    if prefix.is_empty() {
        return Ok(Some(tree.id()));
    }
    match tree.get_path(Path::new(prefix)) {
        Ok(entry) if entry.kind() == Some(ObjectType::Tree) => Ok(Some(entry.id())),
        Ok(_) => Ok(None),
        Err(err) if err.code() == ErrorCode::NotFound => Ok(None),
        Err(err) => Err(git_error(err)),
    }
}

/// Any other git failure, as a value.
fn git_error(err: git2::Error) -> SourceError {
    SourceError::Git(err.message().to_owned())
}

/// Whether a tree entry's mode is a regular file (plain or executable), not a symlink or a
/// submodule.
fn is_regular_file(mode: u32) -> bool {
    mode & 0o170000 == 0o100000
}

/// Whether a tree entry's mode is a directory.
fn is_tree(mode: u32) -> bool {
    mode & 0o170000 == 0o040000
}

/// Takes the repository's lock. A panic while it was held cannot leave a `Repository` half
/// changed (sources only read), so a poisoned lock is still usable.
fn lock(repo: &Mutex<Repository>) -> MutexGuard<'_, Repository> {
    repo.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The short, unambiguous hash of a commit, as `git log --oneline` shows it.
fn short_id(commit: &Commit<'_>) -> String {
    match commit.as_object().short_id() {
        Ok(buf) => buf.as_str().map(str::to_owned),
        Err(_) => None,
    }
    .unwrap_or_else(|| commit.id().to_string().chars().take(7).collect())
}

/// The files of one commit, read from the object database without a checkout.
pub struct GitRevision {
    repo: Mutex<Repository>,
    /// The tree at the snapshot's root; `None` when the root directory is absent in the revision.
    root: Option<Oid>,
    rev: String,
    short: String,
    /// The blob of every listed path. Reading by blob id skips the tree lookups from the root,
    /// which libgit2 re-inflates for every file once trees outgrow its object cache.
    blobs: OnceLock<HashMap<String, Oid>>,
    /// More handles on the same repository: a `Repository` is not `Sync`, and blobs read by
    /// several threads at once must each go through their own.
    readers: ReaderPool,
    parse_cache_dir: PathBuf,
}

/// Repository handles opened on demand, one per thread reading at a time.
struct ReaderPool {
    git_dir: std::path::PathBuf,
    idle: Mutex<Vec<Repository>>,
}

impl ReaderPool {
    fn new(repo: &Repository) -> Self {
        ReaderPool {
            git_dir: repo.path().to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn with<T>(
        &self,
        read: impl FnOnce(&Repository) -> Result<T, git2::Error>,
    ) -> Result<T, git2::Error> {
        let handle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let repo = match handle {
            Some(repo) => repo,
            None => Repository::open(&self.git_dir)?,
        };
        let result = read(&repo);
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(repo);
        result
    }
}

impl GitRevision {
    /// The revision `rev` of the repository holding `path`, rooted at `path`'s place in it.
    pub fn open(path: &Path, rev: &str) -> Result<GitRevision, SourceError> {
        let Located { repo, prefix } = locate(path)?;
        let (root, short) = {
            let commit = resolve_commit(&repo, rev)?;
            let tree = commit.tree().map_err(git_error)?;
            (subtree(&tree, &prefix)?, short_id(&commit))
        };
        Ok(GitRevision {
            readers: ReaderPool::new(&repo),
            parse_cache_dir: parse_cache_dir(&repo),
            repo: Mutex::new(repo),
            root,
            rev: rev.to_owned(),
            short,
            blobs: OnceLock::new(),
        })
    }
}

/// Every regular file under `root` for which `wanted` is true, walking tree objects depth first
/// and not entering the directories no source enters.
fn walk_tree(
    repo: &Repository,
    root: Oid,
    wanted: PathFilter<'_>,
) -> Result<Vec<(String, Oid)>, git2::Error> {
    let mut found = Vec::new();
    let mut pending = vec![(String::new(), root)];
    while let Some((dir, oid)) = pending.pop() {
        let tree = repo.find_tree(oid)?;
        // A committed virtualenv is still a virtualenv; the root is the user's choice.
        if !dir.is_empty() && tree.get_name(VENV_MARKER).is_some() {
            continue;
        }
        for entry in tree.iter() {
            // A non-UTF-8 name cannot be a Python module or package.
            let Some(name) = entry.name() else { continue };
            let path = if dir.is_empty() {
                name.to_owned()
            } else {
                format!("{dir}/{name}")
            };
            let mode = entry.filemode() as u32;
            if is_tree(mode) {
                if !is_skipped_dir(name) {
                    pending.push((path, entry.id()));
                }
            } else if is_regular_file(mode) && wanted(&path) {
                found.push((path, entry.id()));
            }
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// The bytes of the regular file at `path` under the tree `root`, `None` if there is none.
fn read_in_tree(repo: &Repository, root: Oid, path: &str) -> Result<Option<Vec<u8>>, git2::Error> {
    if path.is_empty() {
        return Ok(None);
    }
    let tree = repo.find_tree(root)?;
    let entry = match tree.get_path(Path::new(path)) {
        Ok(entry) => entry,
        Err(err) if err.code() == ErrorCode::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    if !is_regular_file(entry.filemode() as u32) {
        return Ok(None);
    }
    Ok(Some(repo.find_blob(entry.id())?.content().to_vec()))
}

/// Where the parses of a repository's files are kept: its common git directory's, which its
/// linked worktrees share.
pub(super) fn parse_cache_dir(repo: &Repository) -> PathBuf {
    repo.commondir().join(crate::git::STATE_DIR)
}

impl Source for GitRevision {
    fn describe(&self) -> String {
        format!("revision {} ({})", self.rev, self.short)
    }

    fn parse_cache_dir(&self) -> Option<PathBuf> {
        Some(self.parse_cache_dir.clone())
    }

    fn list(&self, wanted: PathFilter<'_>) -> Result<Vec<String>, SourceError> {
        let Some(root) = self.root else {
            return Ok(Vec::new());
        };
        let found = walk_tree(&lock(&self.repo), root, wanted).map_err(git_error)?;
        let paths = found.iter().map(|(path, _)| path.clone()).collect();
        // A second listing names the same blobs (the revision does not change), so keeping the
        // first is enough.
        let _ = self.blobs.set(found.into_iter().collect());
        Ok(paths)
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let Some(root) = self.root else {
            return Ok(None);
        };
        if let Some(&oid) = self.blobs.get().and_then(|blobs| blobs.get(path)) {
            return self
                .readers
                .with(|repo| Ok(Some(repo.find_blob(oid)?.content().to_vec())))
                .map_err(git_error);
        }
        read_in_tree(&lock(&self.repo), root, path).map_err(git_error)
    }

    fn blob_id(&self, path: &str) -> Option<Oid> {
        // Known once the revision is listed, as every load lists it first.
        self.blobs.get().and_then(|blobs| blobs.get(path)).copied()
    }

    fn read_into(&self, path: &str, buf: &mut Vec<u8>) -> Result<bool, SourceError> {
        buf.clear();
        let Some(&oid) = self.blobs.get().and_then(|blobs| blobs.get(path)) else {
            return Ok(match self.read(path)? {
                Some(bytes) => {
                    *buf = bytes;
                    true
                }
                None => false,
            });
        };
        self.readers
            .with(|repo| {
                buf.extend_from_slice(repo.find_blob(oid)?.content());
                Ok(true)
            })
            .map_err(git_error)
    }
}

/// The tracked paths under `path` that a sparse checkout leaves out of the work tree: marked
/// skip-worktree in the index and absent from disk, relative to `path`, `/`-separated. A
/// skip-worktree file that is on disk anyway is read like any other, so it is not listed.
/// Empty outside a repository or in a bare one.
/// Where the directory `path` is in its repository's work tree, `/`-separated, empty at the
/// top or outside any repository: what turns a path relative to a project in a subdirectory
/// into one relative to the repository, as CI annotations name files.
pub fn place_in_repository(path: &Path) -> String {
    locate(path)
        .map(|located| located.prefix)
        .unwrap_or_default()
}

/// A path from the top of the work tree (as the index and trees name files) relative to
/// `place`, a snapshot's root in the repository; `None` when it lies outside `place`.
fn below_place<'p>(place: &str, in_repo: &'p str) -> Option<&'p str> {
    if place.is_empty() {
        return Some(in_repo);
    }
    in_repo.strip_prefix(place)?.strip_prefix('/')
}

/// The path from the top of the work tree of `path`, relative to `place` (a directory's place
/// in the repository, empty at the top): how the index, trees and CI annotations name it.
pub fn in_repository(place: &str, path: &str) -> String {
    if place.is_empty() {
        path.to_owned()
    } else {
        format!("{place}/{path}")
    }
}

/// The format version in an index file's header (`DIRC`, then the version, big-endian).
fn index_version(file: &Path) -> Option<u32> {
    use std::io::Read as _;
    let mut header = [0u8; 8];
    std::fs::File::open(file)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    let (signature, version) = header.split_at(4);
    (signature == b"DIRC").then(|| u32::from_be_bytes(version.try_into().unwrap_or_default()))
}

pub fn sparse_excluded(path: &Path) -> Result<Vec<String>, SourceError> {
    let Located { repo, prefix } = match locate(path) {
        Ok(located) => located,
        Err(SourceError::NotARepository { .. }) => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let Some(work_tree) = repo.workdir().map(Path::to_path_buf) else {
        return Ok(Vec::new());
    };
    // Skip-worktree is an extended flag, which an index of version 2 cannot hold: git writes
    // version 2 unless some entry needs more, so most repositories answer from the header.
    if index_version(&repo.path().join("index")) == Some(2) {
        return Ok(Vec::new());
    }
    let index = repo.index().map_err(git_error)?;
    let mut excluded = Vec::new();
    for entry in index.iter() {
        let skipped =
            entry.flags_extended & git2::IndexEntryExtendedFlag::SKIP_WORKTREE.bits() != 0;
        if !skipped {
            continue;
        }
        let Ok(name) = std::str::from_utf8(&entry.path) else {
            continue;
        };
        let Some(relative) = below_place(&prefix, name) else {
            continue;
        };
        if std::fs::symlink_metadata(work_tree.join(name)).is_err() {
            excluded.push(relative.to_owned());
        }
    }
    Ok(excluded)
}

/// Records renames in the index of the repository holding `path`, so that `git status` shows
/// them as renames rather than a deletion and an untracked file. Paths are relative to `path`,
/// `/`-separated, as sources list them. Only a rename whose old path is in the index is staged:
/// an untracked file stays the user's business. Does nothing outside a repository.
pub fn stage_renames(path: &Path, renames: &[(String, String)]) -> Result<(), SourceError> {
    edit_index(path, |index, in_repo| {
        let mut changed = false;
        for (from, to) in renames {
            let (from, to) = (in_repo(from), in_repo(to));
            if index.get_path(Path::new(&from), 0).is_none() {
                continue;
            }
            index.remove_path(Path::new(&from))?;
            index.add_path(Path::new(&to))?;
            changed = true;
        }
        Ok(changed)
    })
}

/// Adds new files to the index of the repository holding `path` (a merge migration migmerge
/// wrote), so that they go into the next commit like the renames [`stage_renames`] records.
/// Paths are relative to `path`, `/`-separated. A file is staged only when its directory's
/// `__init__.py` is in the index: a migrations package git does not track yet stays the user's
/// business. Does nothing outside a repository.
pub fn stage_added(path: &Path, added: &[String]) -> Result<(), SourceError> {
    if added.is_empty() {
        return Ok(());
    }
    edit_index(path, |index, in_repo| {
        let mut changed = false;
        for file in added {
            let file = in_repo(file);
            let package = match file.rsplit_once('/') {
                Some((dir, _)) => format!("{dir}/__init__.py"),
                None => "__init__.py".to_owned(),
            };
            if index.get_path(Path::new(&package), 0).is_none() {
                continue;
            }
            index.add_path(Path::new(&file))?;
            changed = true;
        }
        Ok(changed)
    })
}

/// Runs `edit` on the index of the repository holding `path`, with a function that turns a
/// `path`-relative name into a repository-relative one, and writes the index when `edit` says
/// it changed it. Does nothing outside a repository or in a bare one.
fn edit_index(
    path: &Path,
    edit: impl FnOnce(&mut git2::Index, &dyn Fn(&str) -> String) -> Result<bool, git2::Error>,
) -> Result<(), SourceError> {
    let Located { repo, prefix } = match locate(path) {
        Ok(located) => located,
        Err(SourceError::NotARepository { .. }) => return Ok(()),
        Err(err) => return Err(err),
    };
    if repo.workdir().is_none() {
        return Ok(());
    }
    let in_repo = |p: &str| in_repository(&prefix, p);
    let mut index = repo.index().map_err(git_error)?;
    if edit(&mut index, &in_repo).map_err(git_error)? {
        index.write().map_err(git_error)?;
    }
    Ok(())
}

/// The refs whose migrations count as published when the configuration names none: the
/// remote's default branch (what `origin/HEAD` points at), else `origin/main` and
/// `origin/master` where they exist, else the local `main` and `master` where they exist.
/// Empty outside a repository.
pub fn default_protected_refs(path: &Path) -> Vec<String> {
    let Ok(Located { repo, .. }) = locate(path) else {
        return Vec::new();
    };
    if let Ok(reference) = repo.find_reference("refs/remotes/origin/HEAD")
        && let Some(target) = reference.symbolic_target()
        && let Some(short) = target.strip_prefix("refs/remotes/")
        && repo.revparse_single(short).is_ok()
    {
        return vec![short.to_owned()];
    }
    let existing = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .filter(|name| repo.revparse_single(name).is_ok())
            .map(|name| (*name).to_owned())
            .collect()
    };
    let remote = existing(&["origin/main", "origin/master"]);
    if !remote.is_empty() {
        return remote;
    }
    existing(&["main", "master"])
}

/// The commit id (hex) of the merge base of revisions `a` and `b` in the repository holding
/// `path`: where a branch forked from the ref it will be merged into.
pub fn merge_base(path: &Path, a: &str, b: &str) -> Result<String, SourceError> {
    let Located { repo, .. } = locate(path)?;
    let a = resolve_commit(&repo, a)?.id();
    let b_commit = resolve_commit(&repo, b)?.id();
    repo.merge_base(a, b_commit)
        .map(|oid| oid.to_string())
        .map_err(|err| SourceError::BadRevision {
            rev: b.to_owned(),
            message: format!("no common ancestor with HEAD: {}", err.message()),
        })
}

/// The short name of the branch HEAD is on (`main`), `None` when HEAD is detached or `path` is
/// in no repository.
pub fn current_branch(path: &Path) -> Option<String> {
    let Located { repo, .. } = locate(path).ok()?;
    let head = repo.find_reference("HEAD").ok()?;
    let target = head.symbolic_target()?;
    target.strip_prefix("refs/heads/").map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::testrepo::TestRepo;
    use super::*;

    fn everything(_: &str) -> bool {
        true
    }

    /// The work tree and the revisions of one repository keep their parses in one place, from a
    /// linked worktree too: what the merge driver parses, the hook reads.
    #[test]
    fn a_repository_keeps_its_parses_in_its_common_git_directory() {
        let t = TestRepo::new();
        t.commit("main", &[], &[("app/migrations/__init__.py", Some(""))]);
        t.repo().set_head("refs/heads/main").unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let linked = elsewhere.path().join("linked");
        t.repo().worktree("linked", &linked, None).unwrap();
        let place = |dir: Option<PathBuf>| {
            let dir = dir.expect("a repository has a place for its parses");
            assert!(dir.ends_with(crate::git::STATE_DIR), "{}", dir.display());
            std::fs::canonicalize(dir.parent().unwrap()).unwrap()
        };
        let common = place(
            GitRevision::open(t.dir(), "main")
                .unwrap()
                .parse_cache_dir(),
        );
        assert_eq!(common, std::fs::canonicalize(t.dir().join(".git")).unwrap());
        for dir in [t.dir(), linked.as_path()] {
            let tree = crate::source::WorkTree::new(dir).unwrap();
            assert_eq!(place(tree.parse_cache_dir()), common, "{}", dir.display());
            let head = GitRevision::open(dir, "HEAD").unwrap();
            assert_eq!(place(head.parse_cache_dir()), common, "{}", dir.display());
        }
        // Outside any repository, nothing is kept.
        let plain = tempfile::tempdir().unwrap();
        let tree = crate::source::WorkTree::new(plain.path()).unwrap();
        assert_eq!(tree.parse_cache_dir(), None);
    }

    #[test]
    fn lists_and_reads_an_older_commit() {
        let t = TestRepo::new();
        let first = t.commit(
            "main",
            &[],
            &[
                ("app/migrations/__init__.py", Some("")),
                ("app/migrations/0001_initial.py", Some("# 1")),
                ("venv/pyvenv.cfg", Some("")),
                ("venv/lib/x/migrations/0001.py", Some("")),
                ("web/node_modules/p/migrations/0001.py", Some("")),
                (".config/app/migrations/0001.py", Some("")),
            ],
        );
        t.commit_on(
            "main",
            &[
                ("app/migrations/0002_more.py", Some("# 2")),
                ("app/migrations/0001_initial.py", Some("# 1 changed")),
            ],
        );
        t.symlink_and_submodule("main");

        let old = GitRevision::open(t.dir(), &first.to_string()).unwrap();
        let listed = old.list(&everything).unwrap();
        assert_eq!(
            listed,
            [
                ".config/app/migrations/0001.py",
                "app/migrations/0001_initial.py",
                "app/migrations/__init__.py",
            ]
        );
        assert_eq!(
            old.read("app/migrations/0001_initial.py").unwrap().unwrap(),
            b"# 1"
        );
        assert_eq!(old.read("app/migrations/0002_more.py").unwrap(), None);
        assert_eq!(old.read("app/migrations").unwrap(), None);
        assert_eq!(old.read("").unwrap(), None);
        assert!(old.describe().starts_with(&format!("revision {first} (")));

        let new = GitRevision::open(t.dir(), "main").unwrap();
        let wanted = |p: &str| p.starts_with("app/");
        assert_eq!(
            new.list(&wanted).unwrap(),
            [
                "app/migrations/0001_initial.py",
                "app/migrations/0002_more.py",
                "app/migrations/__init__.py",
            ]
        );
        assert_eq!(
            new.read("app/migrations/0001_initial.py").unwrap().unwrap(),
            b"# 1 changed"
        );
        assert_eq!(super::testrepo::assert_blob_ids_name_what_is_read(&new), 3);
        assert_eq!(new.blob_id("app/link.py"), None);
        // Symlinks and submodules are not files of the snapshot.
        assert_eq!(new.read("app/link.py").unwrap(), None);
        assert!(
            !new.list(&everything)
                .unwrap()
                .iter()
                .any(|p| p.contains("link") || p.contains("sub"))
        );
    }

    #[test]
    fn a_subdirectory_is_the_root() {
        let t = TestRepo::new();
        t.commit(
            "main",
            &[],
            &[
                ("backend/app/migrations/0001_initial.py", Some("# b")),
                ("other/app/migrations/0001_initial.py", Some("")),
            ],
        );
        let backend = t.dir().join("backend");
        std::fs::create_dir_all(backend.join("app")).unwrap();
        let rev = GitRevision::open(&backend.join("app/.."), "main").unwrap();
        assert_eq!(
            rev.list(&everything).unwrap(),
            ["app/migrations/0001_initial.py"]
        );
        assert_eq!(
            rev.read("app/migrations/0001_initial.py").unwrap().unwrap(),
            b"# b"
        );

        // A directory the revision does not have is an empty snapshot, not an error.
        let newer = t.dir().join("newer");
        std::fs::create_dir(&newer).unwrap();
        let rev = GitRevision::open(&newer, "main").unwrap();
        assert!(rev.list(&everything).unwrap().is_empty());
        assert_eq!(rev.read("x.py").unwrap(), None);
    }

    #[test]
    fn errors_are_values() {
        let t = TestRepo::new();
        t.commit("main", &[], &[("a.py", Some(""))]);
        let err = GitRevision::open(t.dir(), "no-such-branch").err().unwrap();
        assert!(
            matches!(&err, SourceError::BadRevision { rev, .. } if rev == "no-such-branch"),
            "{err}"
        );
        let blob = t.blob_id("main", "a.py");
        let err = GitRevision::open(t.dir(), &blob.to_string()).err().unwrap();
        assert!(matches!(err, SourceError::BadRevision { .. }), "{err}");

        let plain = tempfile::tempdir().unwrap();
        let err = GitRevision::open(plain.path(), "main").err().unwrap();
        assert!(matches!(err, SourceError::NotARepository { .. }), "{err}");
        let err = GitRevision::open(&plain.path().join("missing"), "main")
            .err()
            .unwrap();
        assert!(matches!(err, SourceError::Io { .. }), "{err}");
    }
}
