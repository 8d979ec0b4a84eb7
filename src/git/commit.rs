//! Putting a resolution into history with plumbing only: a tree made from a commit plus the
//! files migmerge wrote, a commit of that tree, and the branch moved with a compare-and-swap.
//!
//! Porcelain (`git commit`, `--amend`) is not usable from hooks: `post-merge` runs while
//! `MERGE_HEAD` still exists, so `--amend` is refused there, and `git commit` would run the
//! user's hooks again. Plumbing also never looks at the user's index or other work tree files:
//! the tree is built in a private index, from the commit and the named paths alone.

use std::path::Path;

use super::cmd::{Git, GitError};
use crate::project::MigrationsDirs;

/// A path under a migrations package in a state migmerge must not build on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyPath {
    pub path: String,
    /// `git status --porcelain` status letters.
    pub status: String,
}

/// Migration package files with changes that are not part of the operation: untracked files,
/// unstaged edits, unmerged paths, and (unless `staged_ok`) staged changes. Resolving on top of
/// them would commit or overwrite the user's own work. Only the files of `dirs` that can be
/// migration work count ([`MigrationsDirs::holds_work`]): not the bytecode Python leaves in
/// every package it imports, nor a merge tool's `.orig` backup.
pub fn dirty_migrations(
    git: &Git,
    staged_ok: bool,
    dirs: &MigrationsDirs,
) -> Result<Vec<DirtyPath>, GitError> {
    let pathspecs = dirs.pathspecs();
    let mut args = vec![
        "--no-optional-locks",
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--",
    ];
    args.extend(pathspecs.iter().map(String::as_str));
    let out = git.run(&args)?;
    let mut dirty = Vec::new();
    let mut entries = out.split('\0');
    while let Some(entry) = entries.next() {
        if entry.len() < 4 {
            continue;
        }
        let (x, y) = (&entry[0..1], &entry[1..2]);
        if x == "R" || x == "C" {
            // The rename's source follows as its own field.
            entries.next();
        }
        let bad =
            entry.starts_with("??") || x == "U" || y == "U" || y != " " || (!staged_ok && x != " ");
        if bad && dirs.holds_work(&entry[3..]) {
            dirty.push(DirtyPath {
                path: entry[3..].to_owned(),
                status: entry[..2].to_owned(),
            });
        }
    }
    Ok(dirty)
}

/// Stages `paths` (root-relative) from the work tree into `git`'s index: added, changed or,
/// when gone from the work tree, removed.
pub fn stage(git: &Git, paths: &[String]) -> Result<(), GitError> {
    if paths.is_empty() {
        return Ok(());
    }
    let mut args = vec!["update-index", "--add", "--remove", "--"];
    args.extend(paths.iter().map(String::as_str));
    git.run(&args)?;
    Ok(())
}

/// The tree of commit `base` with `paths` taken from the work tree, built in a throwaway index
/// so that nothing else the user has staged or changed can slip in.
pub fn tree_with(git: &Git, base: &str, paths: &[String]) -> Result<String, GitError> {
    match in_process::tree_with(git, base, paths) {
        Some(tree) => Ok(tree),
        None => tree_with_git(git, base, paths),
    }
}

/// [`tree_with`] by git's own commands.
fn tree_with_git(git: &Git, base: &str, paths: &[String]) -> Result<String, GitError> {
    let scratch = tempfile::Builder::new()
        .prefix("migmerge-index-")
        .tempdir_in(git.git_dir())?;
    let private = git.with_index(&scratch.path().join("index"));
    private.run(&["read-tree", base])?;
    stage(&private, paths)?;
    Ok(private.run(&["write-tree"])?.trim().to_owned())
}

pub use in_process::Original;

/// A commit hash as git abbreviates it in messages: its first seven digits.
pub fn short(hash: &str) -> &str {
    hash.get(..7).unwrap_or(hash)
}

/// What a rewritten copy of commit `rev` carries over: its message, author and parents.
pub fn original(git: &Git, rev: &str) -> Result<Original, GitError> {
    if let Some(original) = in_process::original(git, rev) {
        return Ok(original);
    }
    Ok(Original {
        message: git.run(&["log", "-1", "--format=%B", rev])?,
        author: author_of(git, rev)?,
        parents: parents(git, rev)?,
    })
}

/// HEAD's commit when it is a merge commit (it has a second parent); `None` otherwise.
pub fn merge_at_head(git: &Git) -> Result<Option<String>, GitError> {
    if let Some(answer) = in_process::merge_at_head(git) {
        return Ok(answer);
    }
    if !git.has_commit("HEAD^2") {
        return Ok(None);
    }
    git.rev("HEAD").map(Some)
}

/// Who wrote a commit and when, to carry over to its rewritten copy.
fn author_of(git: &Git, rev: &str) -> Result<[(String, String); 3], GitError> {
    let out = git.run(&["log", "-1", "--format=%an%x00%ae%x00%ad", "--date=raw", rev])?;
    let mut parts = out.trim_end_matches('\n').splitn(3, '\0');
    let mut next = || parts.next().unwrap_or("").to_owned();
    Ok([
        ("GIT_AUTHOR_NAME".to_owned(), next()),
        ("GIT_AUTHOR_EMAIL".to_owned(), next()),
        ("GIT_AUTHOR_DATE".to_owned(), format!("@{}", next())),
    ])
}

/// Whether a commit migmerge makes in place of (or on top of) `like` is signed: when
/// `commit.gpgSign` says so, as `git commit` would, or when `like` is signed itself (a `git
/// merge -S`, a signed rebase), so that a signed history stays signed. `git commit-tree` reads
/// neither on its own.
pub fn should_sign(git: &Git, like: &str) -> Result<bool, GitError> {
    if let Some(sign) = in_process::should_sign(git, like) {
        return Ok(sign);
    }
    if git.config_bool("commit.gpgsign")? == Some(true) {
        return Ok(true);
    }
    let object = git.run(&["cat-file", "commit", like])?;
    Ok(is_signed(&object))
}

/// Whether a raw commit object carries a signature header.
fn is_signed(object: &str) -> bool {
    object
        .split("\n\n")
        .next()
        .unwrap_or("")
        .lines()
        .any(|line| line.starts_with("gpgsig ") || line.starts_with("gpgsig-sha256 "))
}

/// A new commit of `tree` with `parents` and `message`; returns its hash. `sign`: signed with
/// the user's configured program and key (`gpg.program`, `gpg.format`, `user.signingKey`), as
/// `git commit -S` signs; otherwise explicitly unsigned. A signature that cannot be made is an
/// error, never an unsigned commit.
pub fn commit_tree(
    git: &Git,
    tree: &str,
    parents: &[String],
    message: &str,
    sign: bool,
) -> Result<String, GitError> {
    let mut args = vec![
        "commit-tree",
        if sign { "-S" } else { "--no-gpg-sign" },
        tree,
    ];
    for parent in parents {
        args.push("-p");
        args.push(parent);
    }
    args.extend(["-F", "-"]);
    Ok(git
        .run_with_input(&args, message.as_bytes())?
        .trim()
        .to_owned())
}

/// Moves HEAD's branch from `old` to `new`, refusing if it moved in between.
pub fn move_head(git: &Git, new: &str, old: &str, reason: &str) -> Result<(), GitError> {
    git.run(&["update-ref", "-m", reason, "HEAD", new, old])?;
    Ok(())
}

/// The parents of a commit, first parent first.
fn parents(git: &Git, rev: &str) -> Result<Vec<String>, GitError> {
    let out = git.run(&["rev-list", "--parents", "-n", "1", rev])?;
    Ok(out.split_whitespace().skip(1).map(str::to_owned).collect())
}

/// The same answers as the git commands above, read in-process with libgit2 where it gives
/// exactly git's answer: hooks run on every merge, and each git process they start costs about
/// a millisecond. `None` wherever libgit2 might answer differently (a commit in another
/// encoding, configuration passed on git's command line, a path with a filter driver that only
/// git runs), and the caller asks git.
mod in_process {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};
    use std::rc::Rc;

    use git2::{FileMode, Oid, Repository};

    use super::Git;

    /// What a commit's rewritten copy carries over.
    #[derive(Debug, Clone)]
    pub struct Original {
        pub message: String,
        pub author: [(String, String); 3],
        pub parents: Vec<String>,
    }

    thread_local! {
        /// The repository these reads last opened: a hook asks several questions of one
        /// repository, and each open reads its configuration files again.
        static OPENED: RefCell<Option<(PathBuf, Rc<Repository>)>> = const { RefCell::new(None) };
    }

    /// The repository of `git`, opened once per thread for the reads that only look (a commit,
    /// its signature, configuration); libgit2 finds objects and references written since by
    /// git's own commands.
    fn open(git: &Git) -> Option<Rc<Repository>> {
        OPENED.with(|opened| {
            let mut opened = opened.borrow_mut();
            if let Some((dir, repo)) = opened.as_ref()
                && dir == git.git_dir()
            {
                return Some(repo.clone());
            }
            let repo = Rc::new(Repository::open(git.git_dir()).ok()?);
            *opened = Some((git.git_dir().to_path_buf(), repo.clone()));
            Some(repo)
        })
    }

    fn commit<'r>(repo: &'r Repository, rev: &str) -> Option<git2::Commit<'r>> {
        repo.revparse_single(rev).ok()?.peel_to_commit().ok()
    }

    /// `Some(None)`: HEAD is no merge commit.
    pub fn merge_at_head(git: &Git) -> Option<Option<String>> {
        let repo = open(git)?;
        let head = commit(&repo, "HEAD")?;
        Some((head.parent_count() > 1).then(|| head.id().to_string()))
    }

    pub fn original(git: &Git, rev: &str) -> Option<Original> {
        let repo = open(git)?;
        let commit = commit(&repo, rev)?;
        // Only UTF-8 commits: git re-encodes others for display, and so would `git log`.
        if commit.message_encoding().is_some() {
            return None;
        }
        let message = String::from_utf8(commit.message_raw_bytes().to_vec()).ok()?;
        let author = commit.author();
        let when = author.when();
        let offset = when.offset_minutes();
        let sign = if offset < 0 { '-' } else { '+' };
        let date = format!(
            "@{} {sign}{:02}{:02}",
            when.seconds(),
            offset.abs() / 60,
            offset.abs() % 60
        );
        Some(Original {
            message,
            author: [
                ("GIT_AUTHOR_NAME".to_owned(), author.name()?.to_owned()),
                ("GIT_AUTHOR_EMAIL".to_owned(), author.email()?.to_owned()),
                ("GIT_AUTHOR_DATE".to_owned(), date),
            ],
            parents: commit.parent_ids().map(|id| id.to_string()).collect(),
        })
    }

    /// Configuration given on git's command line (`git -c ...`) reaches hooks in the
    /// environment, which libgit2 does not read.
    fn command_line_config() -> bool {
        ["GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"]
            .iter()
            .any(|key| std::env::var_os(key).is_some())
    }

    pub fn should_sign(git: &Git, like: &str) -> Option<bool> {
        if command_line_config() {
            return None;
        }
        let repo = open(git)?;
        if repo.config().ok()?.get_bool("commit.gpgsign").ok() == Some(true) {
            return Some(true);
        }
        let commit = commit(&repo, like)?;
        let signed = commit.header_field_bytes("gpgsig").is_ok()
            || commit.header_field_bytes("gpgsig-sha256").is_ok();
        Some(signed)
    }

    /// The tree of `base` with `paths` taken from the work tree through git's clean filters
    /// (line endings, `text` attributes): each file's blob written, and only the trees on the
    /// way to the paths made anew, so the cost follows the paths, not the size of the tree.
    pub fn tree_with(git: &Git, base: &str, paths: &[String]) -> Option<String> {
        if command_line_config() {
            return None;
        }
        let repo = open(git)?;
        let work_tree = repo.workdir()?.to_path_buf();
        if work_tree.canonicalize().ok()? != git.work_tree().canonicalize().ok()? {
            return None;
        }
        // A filter driver (`filter=lfs`) is a program that only git runs.
        let filtered = paths.iter().any(|path| {
            repo.get_attr(
                Path::new(path),
                "filter",
                git2::AttrCheckFlags::FILE_THEN_INDEX,
            )
            .map_or(true, |value| value.is_some())
        });
        if filtered {
            return None;
        }
        let base = commit(&repo, base)?.tree().ok()?;
        let trust_mode = repo
            .config()
            .ok()?
            .get_bool("core.filemode")
            .unwrap_or(true);
        let mut update = git2::build::TreeUpdateBuilder::new();
        for path in paths {
            let file = work_tree.join(path);
            match file.symlink_metadata() {
                Ok(meta) if meta.is_file() => {
                    // Read through the clean filters the path's attributes name, as `git add`.
                    let blob = repo.blob_path(&file).ok()?;
                    let kept = base.get_path(Path::new(path)).ok().map(|e| e.filemode());
                    update.upsert(path, blob, file_mode(&meta, trust_mode, kept));
                }
                // A symbolic link or a directory where a file was: git's commands decide.
                Ok(_) => return None,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    update.remove(path);
                }
                Err(_) => return None,
            }
        }
        let tree: Oid = update.create_updated(&repo, &base).ok()?;
        Some(tree.to_string())
    }

    /// The mode `git add` gives a regular file: executable or not as the file system says when
    /// `core.fileMode` trusts it, else the mode the path had (a new path is not executable).
    fn file_mode(meta: &std::fs::Metadata, trust_mode: bool, kept: Option<i32>) -> FileMode {
        let executable = if trust_mode {
            is_executable(meta)
        } else {
            kept == Some(i32::from(FileMode::BlobExecutable))
        };
        if executable {
            FileMode::BlobExecutable
        } else {
            FileMode::Blob
        }
    }

    #[cfg(unix)]
    fn is_executable(meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o100 != 0
    }

    #[cfg(not(unix))]
    fn is_executable(_meta: &std::fs::Metadata) -> bool {
        false
    }
}

/// The index file git told a hook to use, absolute (hooks run at the top of the work tree).
pub fn inherited_index(work_tree: &Path) -> Option<std::path::PathBuf> {
    let index = std::env::var_os("GIT_INDEX_FILE")?;
    let index = std::path::PathBuf::from(index);
    Some(if index.is_absolute() {
        index
    } else {
        work_tree.join(index)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_told_from_the_header_only() {
        let signed = "tree 1\nparent 2\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n -----END PGP \
                      SIGNATURE-----\n\nmessage\n";
        assert!(is_signed(signed));
        assert!(is_signed("tree 1\ngpgsig-sha256 x\n\nm\n"));
        assert!(!is_signed("tree 1\nparent 2\n\ngpgsig in the message\n"));
    }
}

#[cfg(test)]
mod in_process_tests {
    use std::path::Path;
    use std::process::Command;

    use super::{Git, in_process, tree_with_git};

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
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

    /// The tree built in-process is the one git's own commands build, whatever the line
    /// endings and attributes say.
    #[test]
    fn the_tree_built_in_process_is_gits() {
        let setups: [(&str, &[&str]); 5] = [
            ("", &[]),
            ("*.py text=auto\n", &[]),
            ("*.py text eol=crlf\n", &[]),
            ("", &["core.autocrlf", "true"]),
            ("", &["core.fileMode", "false"]),
        ];
        for (attributes, config) in setups {
            let dir = tempfile::tempdir().expect("temp dir");
            let root = dir.path();
            git(root, &["init", "-q"]);
            if let [key, value] = config {
                git(root, &["config", key, value]);
            }
            std::fs::write(root.join(".gitattributes"), attributes).unwrap();
            let migrations = root.join("app/migrations");
            std::fs::create_dir_all(&migrations).unwrap();
            std::fs::write(migrations.join("0001_a.py"), "a = 1\n").unwrap();
            std::fs::write(migrations.join("0002_b.py"), "b = 2\r\n").unwrap();
            git(root, &["add", "-A"]);
            git(root, &["commit", "-q", "-m", "base"]);
            // A rename with other line endings, an edit, a new file.
            std::fs::remove_file(migrations.join("0002_b.py")).unwrap();
            std::fs::write(migrations.join("0003_b.py"), "b = 3\r\nc = 4\n").unwrap();
            std::fs::write(migrations.join("0001_a.py"), "a = 2\r\n").unwrap();
            std::fs::write(migrations.join("max_migration.txt"), "0003_b\n").unwrap();
            // Executable bits, where the file system has them; a package new to the tree.
            #[cfg(unix)]
            for name in ["0001_a.py", "0003_b.py"] {
                use std::os::unix::fs::PermissionsExt;
                let file = migrations.join(name);
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            std::fs::create_dir_all(root.join("shop/migrations")).unwrap();
            std::fs::write(root.join("shop/migrations/0001_initial.py"), "s = 1\n").unwrap();
            let mut paths: Vec<String> =
                ["0001_a.py", "0002_b.py", "0003_b.py", "max_migration.txt"]
                    .iter()
                    .map(|name| format!("app/migrations/{name}"))
                    .collect();
            paths.push("shop/migrations/0001_initial.py".to_owned());
            let handle = Git::discover(root).expect("a repository");
            let built = in_process::tree_with(&handle, "HEAD", &paths).expect("built in-process");
            let by_git = tree_with_git(&handle, "HEAD", &paths).expect("built by git");
            assert_eq!(
                built, by_git,
                "attributes {attributes:?}, config {config:?}"
            );
        }
    }
}
