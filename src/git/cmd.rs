//! The git command line, run with an environment chosen on purpose.
//!
//! Hooks inherit `GIT_DIR`, `GIT_WORK_TREE` and `GIT_INDEX_FILE` from the git command that runs
//! them, and those may be relative or point at a lock file (`git commit -a` commits
//! `.git/index.lock`). So every command here is given the repository explicitly: absolute git
//! directory and work tree, found once, and an index file only when the caller names one.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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

#[cfg(test)]
mod tests {
    use super::*;

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
