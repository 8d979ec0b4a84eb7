//! The git command line, run with an environment chosen on purpose.
//!
//! Hooks inherit `GIT_DIR`, `GIT_WORK_TREE` and `GIT_INDEX_FILE` from the git command that runs
//! them, and those may be relative or point at a lock file (`git commit -a` commits
//! `.git/index.lock`). So every command here is given the repository explicitly: absolute git
//! directory and work tree, found once, and an index file only when the caller names one.

use std::cell::RefCell;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::rc::Rc;

/// Why a git command failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git (is it installed and on PATH?): {0}")]
    Spawn(#[source] std::io::Error),
    #[error("git {args} failed: {message}")]
    Failed { args: String, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One repository with a work tree, as the git command line sees it.
#[derive(Debug, Clone)]
pub struct Git {
    git_dir: PathBuf,
    work_tree: PathBuf,
    /// `None`: the repository's own index, whatever the environment says.
    index: Option<PathBuf>,
    /// Extra variables (author identity for rewritten commits).
    env: Vec<(String, String)>,
}

impl Git {
    /// The repository holding `dir`, found as git finds it (honouring an inherited `GIT_DIR`,
    /// which is how git tells a hook where the repository is).
    pub fn discover(dir: &Path) -> Result<Git, GitError> {
        match discovered_in_process(dir) {
            Some(git) => Ok(git),
            None => discovered_by_git(dir),
        }
    }

    /// The same repository, committing through another index file.
    pub fn with_index(&self, index: &Path) -> Git {
        Git {
            index: Some(index.to_path_buf()),
            ..self.clone()
        }
    }

    /// The index file this handle uses, when it is not the repository's own.
    pub fn index_file(&self) -> Option<&Path> {
        self.index.as_deref()
    }

    /// The same repository, with an extra environment variable for every command.
    pub fn with_env(&self, key: &str, value: &str) -> Git {
        let mut git = self.clone();
        git.env.push((key.to_owned(), value.to_owned()));
        git
    }

    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    pub fn work_tree(&self) -> &Path {
        &self.work_tree
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .args(args)
            .current_dir(&self.work_tree)
            .env("GIT_DIR", &self.git_dir)
            .env("GIT_WORK_TREE", &self.work_tree)
            .env_remove("GIT_PREFIX");
        match &self.index {
            Some(index) => command.env("GIT_INDEX_FILE", index),
            None => command.env_remove("GIT_INDEX_FILE"),
        };
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Runs git and returns its output, whatever the exit status.
    pub fn output(&self, args: &[&str]) -> Result<Output, GitError> {
        self.command(args).output().map_err(GitError::Spawn)
    }

    /// Runs git, which must succeed; returns its standard output.
    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        checked(&args.join(" "), self.output(args)?)
    }

    /// Runs git with `input` on its standard input, which must succeed.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> Result<String, GitError> {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(GitError::Spawn)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input)?;
        }
        checked(&args.join(" "), child.wait_with_output()?)
    }

    /// Whether `rev` names a commit.
    pub fn has_commit(&self, rev: &str) -> bool {
        let spec = format!("{rev}^{{commit}}");
        self.output(&["rev-parse", "-q", "--verify", &spec])
            .is_ok_and(|o| o.status.success())
    }

    /// The full hash of `rev`.
    pub fn rev(&self, rev: &str) -> Result<String, GitError> {
        let spec = format!("{rev}^{{commit}}");
        Ok(self
            .run(&["rev-parse", "--verify", &spec])?
            .trim()
            .to_owned())
    }

    /// A path inside the git directory as git resolves it (`hooks` honours `core.hooksPath`),
    /// absolute.
    pub fn git_path(&self, name: &str) -> Result<PathBuf, GitError> {
        let out = self.run(&["rev-parse", "--git-path", name])?;
        let path = PathBuf::from(out.trim_end_matches(['\n', '\r']));
        Ok(if path.is_absolute() {
            path
        } else {
            self.work_tree.join(path)
        })
    }

    /// A boolean configuration value as git reads it (every scope: system, global, the
    /// repository's own), `None` when unset.
    pub fn config_bool(&self, key: &str) -> Result<Option<bool>, GitError> {
        let out = self.output(&["config", "--type=bool", "--get", key])?;
        match out.status.code() {
            Some(0) => Ok(Some(String::from_utf8_lossy(&out.stdout).trim() == "true")),
            Some(1) => Ok(None),
            _ => Err(failed(&format!("config --type=bool --get {key}"), &out)),
        }
    }

    /// The repository opened in-process, once per thread: a hook asks several questions of one
    /// repository, and each open reads its configuration files again. Opened as git reads
    /// the environment (`GIT_CONFIG_GLOBAL`, `GIT_CONFIG_NOSYSTEM`, `GIT_OBJECT_DIRECTORY`,
    /// `GIT_NAMESPACE`: test suites and CI set the first two); its index is the one
    /// `GIT_INDEX_FILE` names, so callers read trees and objects, not the index. `None` when
    /// libgit2 cannot open it.
    pub fn repository(&self) -> Option<Rc<git2::Repository>> {
        OPENED.with(|opened| {
            let mut opened = opened.borrow_mut();
            if let Some((dir, repo)) = opened.as_ref()
                && dir == &self.git_dir
            {
                return Some(repo.clone());
            }
            let repo = Rc::new(open_as_git_reads(&self.git_dir)?);
            *opened = Some((self.git_dir.clone(), repo.clone()));
            Some(repo)
        })
    }

    /// The value of `key` in the environment this handle's commands get: its own variables
    /// first, then the process's.
    pub fn env_var(&self, key: &str) -> Option<std::ffi::OsString> {
        match self.env.iter().rev().find(|(k, _)| k == key) {
            Some((_, value)) => Some(value.into()),
            None => std::env::var_os(key),
        }
    }

    /// A configuration value of the repository's own file, `None` when unset.
    pub fn local_config(&self, key: &str) -> Result<Option<String>, GitError> {
        let out = self.output(&["config", "--local", "--get", key])?;
        match out.status.code() {
            Some(0) => Ok(Some(
                String::from_utf8_lossy(&out.stdout)
                    .trim_end_matches('\n')
                    .to_owned(),
            )),
            // 1: the key is not set.
            Some(1) => Ok(None),
            _ => Err(failed(&format!("config --get {key}"), &out)),
        }
    }
}

thread_local! {
    /// The repository [`Git::repository`] last opened, by git directory.
    static OPENED: RefCell<Option<(PathBuf, Rc<git2::Repository>)>> = const { RefCell::new(None) };
}

/// The repository at `git_dir` (no search), configuration files and object directories
/// taken from the environment as git takes them.
fn open_as_git_reads(git_dir: &Path) -> Option<git2::Repository> {
    git2::Repository::open_ext(
        git_dir,
        git2::RepositoryOpenFlags::NO_SEARCH | git2::RepositoryOpenFlags::FROM_ENV,
        std::iter::empty::<&std::ffi::OsStr>(),
    )
    .ok()
}

/// [`Git::discover`] as git answers it.
fn discovered_by_git(dir: &Path) -> Result<Git, GitError> {
    let out = Command::new("git")
        .args([
            "rev-parse",
            "--path-format=absolute",
            "--git-dir",
            "--show-toplevel",
        ])
        .current_dir(dir)
        .env_remove("GIT_INDEX_FILE")
        .output()
        .map_err(GitError::Spawn)?;
    let text = checked("rev-parse --git-dir --show-toplevel", out)?;
    let mut lines = text.lines();
    let (Some(git_dir), Some(work_tree)) = (lines.next(), lines.next()) else {
        return Err(GitError::Failed {
            args: "rev-parse".to_owned(),
            message: format!("{} has no work tree", dir.display()),
        });
    };
    Ok(Git {
        git_dir: PathBuf::from(git_dir),
        work_tree: PathBuf::from(work_tree),
        index: None,
        env: Vec::new(),
    })
}

/// Variables that point git at another repository, work tree or search path than the
/// directory's own `.git`: where any is set, only git itself says what it finds.
const DISCOVERY_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
];

/// Configuration given on git's command line (`git -c ...`) reaches hooks and drivers in the
/// environment, which libgit2 does not read: where it is set, in-process answers step aside.
pub fn command_line_config() -> bool {
    ["GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"]
        .iter()
        .any(|key| std::env::var_os(key).is_some())
}

/// What [`Git::discover`] finds, without starting git, in the common case where the answer is
/// plain: `dir` is the top of a work tree (it holds a `.git` directory, or a `.git` file
/// naming one, as git starts hooks and merge drivers there), the repository opens, is not bare
/// and sets no `core.worktree`, and nothing in the environment redirects git. The paths are
/// made absolute and free of symbolic links, as `--path-format=absolute` prints them. `None`
/// whenever git might answer otherwise, and git is asked.
fn discovered_in_process(dir: &Path) -> Option<Git> {
    if command_line_config()
        || DISCOVERY_ENV
            .iter()
            .any(|key| std::env::var_os(key).is_some())
    {
        return None;
    }
    let git_dir = dot_git_dir(dir)?.canonicalize().ok()?;
    let work_tree = dir.canonicalize().ok()?;
    // A `.git` that does not open as a repository is skipped by git's own search, which goes
    // on to the parent directories: git decides.
    let repo = open_as_git_reads(&git_dir)?;
    let config = repo.config().ok()?;
    if repo.is_bare() || config.get_entry("core.worktree").is_ok() {
        return None;
    }
    if repo.workdir()?.canonicalize().ok()? != work_tree {
        return None;
    }
    // Kept for the questions that follow (see `Git::repository`).
    OPENED.with(|opened| *opened.borrow_mut() = Some((git_dir.clone(), Rc::new(repo))));
    Some(Git {
        git_dir,
        work_tree,
        index: None,
        env: Vec::new(),
    })
}

/// The git directory of the repository a hook runs for, told without running git, from the
/// directory git started the hook in (the top of the work tree) and the `GIT_DIR` it exported,
/// if any: that `GIT_DIR` (relative to `dir`), else `dir/.git` when it is a directory, else the
/// directory a `.git` file points to (a linked worktree's or a submodule's). `None` when it
/// cannot be told that simply (no `.git` in `dir`: a hook run by hand in a subdirectory, a bare
/// repository); then only [`Git::discover`] knows.
pub fn hook_git_dir(dir: &Path, git_dir_env: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    if let Some(env) = git_dir_env.filter(|env| !env.is_empty()) {
        return Some(dir.join(env));
    }
    dot_git_dir(dir)
}

/// The git directory the `.git` in `dir` stands for: `dir/.git` when it is a directory, else
/// the directory a `.git` file points to (a linked worktree's, a submodule's, a separate git
/// directory's). `None` when `dir` holds no `.git`.
pub fn dot_git_dir(dir: &Path) -> Option<PathBuf> {
    let dot_git = dir.join(".git");
    let meta = std::fs::metadata(&dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git);
    }
    let link = std::fs::read_to_string(&dot_git).ok()?;
    let target = link.strip_prefix("gitdir:")?.trim();
    // A relative `gitdir:` is relative to the directory holding the `.git` file.
    (!target.is_empty()).then(|| dir.join(target))
}

/// The git directory of the repository holding `dir`, found as git finds it from a directory:
/// the nearest `.git` (directory, or file naming one) in `dir` or above it. `None` outside any
/// repository.
pub fn enclosing_git_dir(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    absolute.ancestors().find_map(dot_git_dir)
}

/// The common git directory of `git_dir`: the one a linked worktree's `commondir` file names,
/// else `git_dir` itself.
pub fn common_git_dir(git_dir: PathBuf) -> PathBuf {
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(text) if !text.trim().is_empty() => git_dir.join(text.trim()),
        _ => git_dir,
    }
}

fn checked(args: &str, out: Output) -> Result<String, GitError> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(args, &out))
    }
}

fn failed(args: &str, out: &Output) -> GitError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    GitError::Failed {
        args: args.to_owned(),
        message: stderr.trim().lines().last().unwrap_or("").to_owned(),
    }
}

/// What the tests of the in-process answers share: git itself, to set repositories up and to
/// compare with, and a clean environment to run in.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;
    use std::process::Command;

    /// git in `dir`, which must succeed: an identity on its command line (for the setup's
    /// commits), local submodules allowed.
    pub fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(["-c", "protocol.file.allow=always"])
            .args(args)
            .current_dir(dir)
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Whether the test named `test` (its full path) should run its body here: `true` in a
    /// copy of the test binary started without git's variables (`GIT_*`, `EMAIL`), as a user's
    /// shell has none; `false` in the test process itself, after that copy ran the test and
    /// passed.
    pub fn in_a_process_without_git_identity(test: &str) -> bool {
        const MARK: &str = "MIGMERGE_TEST_WITHOUT_GIT_IDENTITY";
        if std::env::var_os(MARK).is_some() {
            return true;
        }
        let mut child = Command::new(std::env::current_exe().unwrap());
        child.args(["--exact", test, "--test-threads=1"]);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GIT_") || key == "EMAIL" {
                child.env_remove(key);
            }
        }
        let out = child.env(MARK, "1").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::git;
    use super::*;

    /// Where the repository is found without git, it is where git finds it; elsewhere git is
    /// asked. Layouts: a work tree's top, the same reached through a symbolic link, a linked
    /// worktree, a subdirectory, a submodule, an empty `.git` directory inside a work tree,
    /// and a repository whose `core.worktree` points elsewhere.
    #[test]
    fn the_repository_found_in_process_is_the_one_git_finds() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("repo");
        std::fs::create_dir(&root).unwrap();
        git(&root, &["init", "-q"]);
        std::fs::create_dir_all(root.join("app/migrations")).unwrap();
        std::fs::write(root.join("app/migrations/__init__.py"), "").unwrap();
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "base"]);
        let linked = top.path().join("linked");
        git(&root, &["worktree", "add", "-q", linked.to_str().unwrap()]);
        let sub = top.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        git(&sub, &["init", "-q"]);
        git(&sub, &["commit", "-q", "--allow-empty", "-m", "sub"]);
        git(
            &root,
            &["submodule", "add", "-q", sub.to_str().unwrap(), "vendored"],
        );
        std::fs::create_dir_all(root.join("stray/.git")).unwrap();
        let elsewhere = top.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let relocated = top.path().join("relocated");
        std::fs::create_dir(&relocated).unwrap();
        git(&relocated, &["init", "-q"]);
        git(
            &relocated,
            &["config", "core.worktree", elsewhere.to_str().unwrap()],
        );
        let mut cases = vec![
            (root.clone(), true),
            (linked, true),
            (root.join("app/migrations"), false),
            (root.join("vendored"), false),
            (root.join("stray"), false),
            (relocated, false),
        ];
        #[cfg(unix)]
        {
            let link = top.path().join("link");
            std::os::unix::fs::symlink(&root, &link).unwrap();
            cases.push((link, true));
        }
        for (dir, plain) in cases {
            let by_git = discovered_by_git(&dir).expect("git finds a repository");
            match discovered_in_process(&dir) {
                Some(found) => {
                    assert!(
                        plain,
                        "{}: found in-process, but git should decide",
                        dir.display()
                    );
                    assert_eq!(found.git_dir, by_git.git_dir, "{}", dir.display());
                    assert_eq!(found.work_tree, by_git.work_tree, "{}", dir.display());
                }
                None => assert!(!plain, "{}: only git found it", dir.display()),
            }
        }
    }

    #[test]
    fn a_hooks_git_dir_is_found_without_git() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path();
        // Nothing to go by: only git can tell.
        assert_eq!(hook_git_dir(dir, None), None);
        assert_eq!(hook_git_dir(dir, Some("".as_ref())), None);
        // What git exported wins, relative to the hook's directory.
        assert_eq!(
            hook_git_dir(dir, Some(".git".as_ref())),
            Some(dir.join(".git"))
        );
        assert_eq!(
            hook_git_dir(dir, Some("/elsewhere/.git".as_ref())),
            Some(PathBuf::from("/elsewhere/.git"))
        );

        std::fs::write(dir.join(".git"), "gitdir: /main/.git/worktrees/wt\n").unwrap();
        assert_eq!(
            hook_git_dir(dir, None),
            Some(PathBuf::from("/main/.git/worktrees/wt"))
        );
        std::fs::write(dir.join(".git"), "gitdir: ../.git/modules/sub\n").unwrap();
        assert_eq!(
            hook_git_dir(dir, None),
            Some(dir.join("../.git/modules/sub"))
        );
        std::fs::write(dir.join(".git"), "not a link\n").unwrap();
        assert_eq!(hook_git_dir(dir, None), None);

        std::fs::remove_file(dir.join(".git")).unwrap();
        std::fs::create_dir(dir.join(".git")).unwrap();
        assert_eq!(hook_git_dir(dir, None), Some(dir.join(".git")));
    }
}
