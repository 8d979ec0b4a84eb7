//! The files on disk under a directory, as the user sees them now.
//!
//! Choices worth knowing:
//! - Ignore rules are applied as git applies them: `.gitignore` files (including those of parent
//!   directories up to the repository's root when the root is a subdirectory of a repository),
//!   `.git/info/exclude` and the global `core.excludesFile`. Outside any repository git applies no
//!   `.gitignore`, and neither does this listing; `.ignore` files apply everywhere.
//! - Hidden directories are entered (see [`super::prune`] for why); version-control internals,
//!   `node_modules`, `__pycache__`, `site-packages` and virtualenvs (directories holding a
//!   `pyvenv.cfg`) are not, nor are symlinked directories, which could loop or leave the project.
//! - A symlink to a file is listed, because Python imports through it; a git revision cannot
//!   follow it and lists nothing there.
//! - Paths that are not UTF-8 are skipped: no Python module or Django app can be named by one.

use std::io;
use std::path::{Path, PathBuf};

use ignore::{DirEntry, WalkBuilder};

use super::prune::{VENV_MARKER, is_skipped_dir, require_dir};
use super::{PathFilter, Source, SourceError, Stamp};

/// The room a file read starts with: most migrations fit, and a larger file grows it as it
/// reads (8 KiB at a time, doubling).
const READ_ROOM: usize = 16 * 1024;

/// The files under a directory on disk.
#[derive(Debug, Clone)]
pub struct WorkTree {
    root: PathBuf,
    /// `root` made absolute, for the files' stamps (see [`Source::stamp`]); `None` when the
    /// current directory cannot be read, and the files have no stamp.
    absolute_root: Option<PathBuf>,
}

impl WorkTree {
    /// A work tree rooted at `root`, which must be an existing directory, and not a bare
    /// repository or a git directory.
    pub fn new(root: &Path) -> Result<WorkTree, SourceError> {
        require_dir(root)?;
        if super::git::without_work_tree(root) {
            return Err(SourceError::NoWorkTree {
                path: root.to_path_buf(),
            });
        }
        Ok(WorkTree {
            root: root.to_path_buf(),
            absolute_root: std::path::absolute(root).ok(),
        })
    }

    /// The directory the listed paths are relative to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn walker(&self) -> WalkBuilder {
        let mut builder = WalkBuilder::new(&self.root);
        builder
            .hidden(false)
            .parents(true)
            .ignore(true)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(true)
            .require_git(true)
            .follow_links(false)
            .filter_entry(|entry| !is_pruned_dir(entry));
        builder
    }

    /// The root-relative, `/`-separated path of an entry worth listing: a file, or a symlink to
    /// one. `None` for the root, directories, other kinds of file and non-UTF-8 names.
    fn listable(&self, entry: &DirEntry) -> Option<String> {
        let file_type = entry.file_type()?;
        let is_file = file_type.is_file()
            || (file_type.is_symlink()
                && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()));
        if entry.depth() == 0 || !is_file {
            return None;
        }
        relative_path(entry.path().strip_prefix(&self.root).ok()?)
    }

    /// The on-disk path of a root-relative path, if it can name a file of this snapshot at all
    /// (no empty, `.` or `..` component: listed paths never have one, and `..` would leave root).
    fn resolve(&self, path: &str) -> Option<PathBuf> {
        resolve_under(&self.root, path)
    }
}

/// [`WorkTree::resolve`] under `root`.
fn resolve_under(root: &Path, path: &str) -> Option<PathBuf> {
    let mut full = root.to_path_buf();
    for part in path.split('/') {
        if matches!(part, "" | "." | "..") {
            return None;
        }
        full.push(part);
    }
    Some(full)
}

/// The stamp of the file at the absolute path `file`, through symlinks (as it is read), taken
/// at `now` (since the Unix epoch); `None` where it cannot be taken (no such file; not Unix,
/// whose times and inodes it needs).
fn stamp_of(file: &Path, now: std::time::Duration) -> Option<Stamp> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(file).ok()?;
        if !meta.is_file() {
            return None;
        }
        // Times before 1970 are no stamp (and no file a migration run wrote).
        let (mtime, ctime) = (
            u64::try_from(meta.mtime()).ok()?,
            u64::try_from(meta.ctime()).ok()?,
        );
        let settled_before = now.as_secs().checked_sub(super::SETTLED.as_secs())?;
        Some(Stamp {
            file: file.as_os_str().as_bytes().to_vec(),
            status: [
                mtime,
                u64::try_from(meta.mtime_nsec()).ok()?,
                ctime,
                u64::try_from(meta.ctime_nsec()).ok()?,
                meta.size(),
                meta.ino(),
                meta.dev(),
                u64::from(meta.mode()),
            ],
            settled: mtime < settled_before && ctime < settled_before,
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (file, now);
        None
    }
}

/// Whether the walk must not enter this directory. The root is always entered: the user chose it.
fn is_pruned_dir(entry: &DirEntry) -> bool {
    if entry.depth() == 0 || !entry.file_type().is_some_and(|t| t.is_dir()) {
        return false;
    }
    match entry.file_name().to_str() {
        Some(name) => is_skipped_dir(name) || entry.path().join(VENV_MARKER).exists(),
        // Nothing under a non-UTF-8 directory name could be listed anyway.
        None => true,
    }
}

/// Joins the components of a relative path with `/`, whatever the platform's separator.
fn relative_path(path: &Path) -> Option<String> {
    // On Unix a walked path is already names joined by `/`: one copy, not a split and a join
    // per file. Anything unusual (`.`, empty components) takes the general way below.
    #[cfg(unix)]
    if let Some(text) = path.to_str()
        && !text.is_empty()
        && text.split('/').all(|part| !part.is_empty() && part != ".")
    {
        return Some(text.to_owned());
    }
    let parts: Option<Vec<&str>> = path.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// Turns a walk failure into a value naming the path that could not be read.
fn walk_error(root: &Path, err: ignore::Error) -> SourceError {
    let path = match &err {
        ignore::Error::WithPath { path, .. } => path.clone(),
        _ => root.to_path_buf(),
    };
    let source = match err.io_error() {
        Some(io_err) => io::Error::new(io_err.kind(), err.to_string()),
        None => io::Error::other(err.to_string()),
    };
    SourceError::Io { path, source }
}

impl Source for WorkTree {
    fn describe(&self) -> String {
        format!("the work tree at {}", self.root.display())
    }

    fn list(&self, wanted: PathFilter<'_>) -> Result<Vec<String>, SourceError> {
        // One thread walks: the walk is cheap next to parsing, and `ignore`'s parallel walker
        // polls for work with 1 ms sleeps near its end, which a small project pays in full.
        let mut paths = Vec::new();
        for result in self.walker().build() {
            match result {
                Ok(entry) => {
                    if let Some(path) = self.listable(&entry).filter(|p| wanted(p)) {
                        paths.push(path);
                    }
                    // An unparsable line in an ignore file (`entry.error()`) is skipped, as git
                    // skips it; the walk goes on.
                }
                // An unreadable directory may hold migrations: a partial listing would give a
                // wrong answer, so the whole listing fails and names the directory.
                Err(err) => return Err(walk_error(&self.root, err)),
            }
        }
        paths.sort_unstable();
        Ok(paths)
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let mut buf = Vec::new();
        Ok(self.read_into(path, &mut buf)?.then_some(buf))
    }

    fn stamp(&self, path: &str) -> Option<Stamp> {
        // The time is taken before the file is looked at: a write after the stamp has times
        // after it.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        stamp_of(&resolve_under(self.absolute_root.as_deref()?, path)?, now)
    }

    fn parse_cache_dir(&self) -> Option<PathBuf> {
        // In the common git directory, where the revisions of the same repository (and the
        // other worktrees) keep their parses.
        let git_dir = crate::git::cmd::enclosing_git_dir(&self.root)?;
        Some(crate::git::cmd::common_git_dir(git_dir).join(crate::git::STATE_DIR))
    }

    fn read_into(&self, path: &str, buf: &mut Vec<u8>) -> Result<bool, SourceError> {
        buf.clear();
        let Some(full) = self.resolve(path) else {
            return Ok(false);
        };
        // `File::read_to_end` asks the file's size first (a `statx` per file); through `Take`
        // the read goes straight into the buffer's spare room. Without room it starts with a
        // 32-byte probe and doubles from there (six reads for a 2 KiB migration, where a
        // buffer given room first takes two: the bytes, then the end of the file).
        buf.reserve(READ_ROOM);
        let read = std::fs::File::open(&full)
            .and_then(|file| io::Read::read_to_end(&mut io::Read::take(file, u64::MAX), buf));
        match read {
            Ok(_) => Ok(true),
            // "No such file" in any of its forms: gone, a directory, or under a file.
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::NotFound
                        | io::ErrorKind::IsADirectory
                        | io::ErrorKind::NotADirectory
                ) =>
            {
                buf.clear();
                Ok(false)
            }
            Err(err) => Err(SourceError::Io {
                path: full,
                source: err,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_stamp_settles_and_any_write_changes_it() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "app/migrations/0001_initial.py", "# one");
        let tree = WorkTree::new(dir.path()).unwrap();
        let path = "app/migrations/0001_initial.py";
        let taken = tree.stamp(path).unwrap();
        // Just written: its times are too recent for the stamp to be kept.
        assert!(!taken.settled);
        assert!(taken.file.ends_with(b"app/migrations/0001_initial.py"));
        assert!(
            Path::new(std::ffi::OsStr::new(
                std::str::from_utf8(&taken.file).unwrap()
            ))
            .is_absolute()
        );
        let file = dir.path().join(path);
        let later = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            + crate::source::SETTLED * 2;
        let settled = stamp_of(&file, later).unwrap();
        assert!(settled.settled);
        assert_eq!(settled.status, taken.status);
        // The same bytes written again, and other bytes of the same length: a new status. A
        // write comes at least a clock tick after the stamp (a settled one, more than
        // `SETTLED` after the file's times); here a pause stands for that.
        let tick = std::time::Duration::from_millis(30);
        std::thread::sleep(tick);
        fs::write(&file, "# one").unwrap();
        let rewritten = stamp_of(&file, later).unwrap();
        assert_ne!(rewritten.status, taken.status);
        std::thread::sleep(tick);
        fs::write(&file, "# two").unwrap();
        assert_ne!(stamp_of(&file, later).unwrap().status, rewritten.status);
        // No file, a directory, a path leaving the root: no stamp.
        assert_eq!(tree.stamp("app/migrations/0002_none.py"), None);
        assert_eq!(tree.stamp("app/migrations"), None);
        assert_eq!(tree.stamp("../x.py"), None);
    }

    fn everything(_: &str) -> bool {
        true
    }

    /// A project with the usual clutter around two apps.
    fn project(root: &Path) {
        write(root, "manage.py", "");
        write(root, ".gitignore", "build/\n*.log\n");
        write(root, "app/migrations/__init__.py", "");
        write(root, "app/migrations/0001_initial.py", "# one");
        write(root, "shop/orders/migrations/0001_initial.py", "");
        write(root, "build/app/migrations/0001_initial.py", "");
        write(root, "debug.log", "");
        write(root, "venv/pyvenv.cfg", "home = /usr/bin");
        write(
            root,
            "venv/lib/django/contrib/auth/migrations/0001_initial.py",
            "",
        );
        write(root, ".venv/pyvenv.cfg", "");
        write(root, ".venv/lib/x.py", "");
        write(root, "frontend/node_modules/pkg/migrations/0001.py", "");
        write(root, "app/__pycache__/models.cpython-312.pyc", "");
        write(root, "lib/site-packages/x/migrations/0001.py", "");
        write(root, ".config/app/migrations/0001_initial.py", "");
        write(root, ".ignore", "scratch/\n");
        write(root, "scratch/0001.py", "");
        write(root, ".hg/store/x.py", "");
        write(root, ".git/HEAD", "ref: refs/heads/main\n");
        write(root, ".git/info/exclude", "local-only/\n");
        write(root, "local-only/x.py", "");
    }

    #[test]
    fn lists_what_git_would_track_minus_clutter() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        let tree = WorkTree::new(dir.path()).unwrap();
        let listed = tree.list(&everything).unwrap();
        assert_eq!(
            listed,
            [
                ".config/app/migrations/0001_initial.py",
                ".gitignore",
                ".ignore",
                "app/migrations/0001_initial.py",
                "app/migrations/__init__.py",
                "manage.py",
                "shop/orders/migrations/0001_initial.py",
            ]
        );
        let wanted = |p: &str| p.contains("/migrations/");
        assert_eq!(tree.list(&wanted).unwrap().len(), 4);
    }

    #[test]
    fn a_subdirectory_of_a_repo_keeps_the_repo_rules() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        write(dir.path(), "app/.gitignore", "/migrations/0002_*\n");
        write(dir.path(), "app/migrations/0002_local.py", "");
        let tree = WorkTree::new(&dir.path().join("app")).unwrap();
        let listed = tree.list(&everything).unwrap();
        assert_eq!(
            listed,
            [
                ".gitignore",
                "migrations/0001_initial.py",
                "migrations/__init__.py"
            ]
        );
        let build = WorkTree::new(&dir.path().join("build")).unwrap();
        // The root is the user's choice even when git ignores it.
        assert_eq!(build.list(&everything).unwrap().len(), 1);
    }

    #[test]
    fn outside_a_repo_gitignore_does_not_apply() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        fs::remove_dir_all(dir.path().join(".git")).unwrap();
        let listed = WorkTree::new(dir.path())
            .unwrap()
            .list(&everything)
            .unwrap();
        assert!(listed.contains(&"build/app/migrations/0001_initial.py".to_owned()));
        assert!(listed.contains(&"local-only/x.py".to_owned()));
        // `.ignore` and the built-in prunes still apply.
        assert!(!listed.iter().any(|p| p.starts_with("scratch/")));
        assert!(!listed.iter().any(|p| p.starts_with("venv/")));
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_directories_are_not_entered() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "app/migrations/0001_initial.py", "");
        std::os::unix::fs::symlink(dir.path(), dir.path().join("app/loop")).unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("app/migrations/0001_initial.py"),
            dir.path().join("app/linked.py"),
        )
        .unwrap();
        let listed = WorkTree::new(dir.path())
            .unwrap()
            .list(&everything)
            .unwrap();
        assert_eq!(listed, ["app/linked.py", "app/migrations/0001_initial.py"]);
    }

    #[test]
    fn reads_files_and_reports_absent_ones() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        let tree = WorkTree::new(dir.path()).unwrap();
        let read = |p: &str| tree.read(p).unwrap();
        assert_eq!(read("app/migrations/0001_initial.py").unwrap(), b"# one");
        assert_eq!(read("app/migrations/0002_missing.py"), None);
        assert_eq!(read("app/migrations"), None);
        assert_eq!(read("manage.py/x"), None);
        assert_eq!(read("../etc/passwd"), None);
        assert_eq!(read(""), None);
        assert!(tree.describe().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn root_must_be_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = WorkTree::new(&dir.path().join("missing")).unwrap_err();
        assert!(
            matches!(&err, SourceError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
            "{err}"
        );
        write(dir.path(), "file", "");
        assert!(WorkTree::new(&dir.path().join("file")).is_err());
    }
}
