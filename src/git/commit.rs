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
    if !sign && let Some(made) = in_process::commit_tree(git, tree, parents, message) {
        return Ok(made);
    }
    commit_tree_git(git, tree, parents, message, sign)
}

/// [`commit_tree`] by `git commit-tree`.
fn commit_tree_git(
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
    if let Some(moved) = in_process::move_head(git, new, old, reason) {
        return moved;
    }
    move_head_git(git, new, old, reason)
}

/// [`move_head`] by `git update-ref`.
fn move_head_git(git: &Git, new: &str, old: &str, reason: &str) -> Result<(), GitError> {
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
    use std::path::Path;

    use git2::{FileMode, Oid, Repository};

    use super::Git;
    use crate::git::cmd::command_line_config;

    /// What a commit's rewritten copy carries over.
    #[derive(Debug, Clone)]
    pub struct Original {
        pub message: String,
        pub author: [(String, String); 3],
        pub parents: Vec<String>,
    }

    fn commit<'r>(repo: &'r Repository, rev: &str) -> Option<git2::Commit<'r>> {
        repo.revparse_single(rev).ok()?.peel_to_commit().ok()
    }

    /// `Some(None)`: HEAD is no merge commit.
    pub fn merge_at_head(git: &Git) -> Option<Option<String>> {
        let repo = git.repository()?;
        let head = commit(&repo, "HEAD")?;
        Some((head.parent_count() > 1).then(|| head.id().to_string()))
    }

    pub fn original(git: &Git, rev: &str) -> Option<Original> {
        let repo = git.repository()?;
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

    pub fn should_sign(git: &Git, like: &str) -> Option<bool> {
        if command_line_config() {
            return None;
        }
        let repo = git.repository()?;
        if repo.config().ok()?.get_bool("commit.gpgsign").ok() == Some(true) {
            return Some(true);
        }
        let commit = commit(&repo, like)?;
        let signed = commit.header_field_bytes("gpgsig").is_ok()
            || commit.header_field_bytes("gpgsig-sha256").is_ok();
        Some(signed)
    }

    /// Who git names as a commit's author or committer.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Role {
        Author,
        Committer,
    }

    impl Role {
        /// The word in git's variables (`GIT_AUTHOR_NAME`) and configuration (`author.name`).
        fn word(self) -> &'static str {
            match self {
                Role::Author => "AUTHOR",
                Role::Committer => "COMMITTER",
            }
        }
    }

    /// A name and an e-mail address as git finds them for `role`, and the date its variable
    /// sets (`None`: now).
    struct Ident {
        name: String,
        email: String,
        date: Option<git2::Time>,
        /// Both came from `user.name` and `user.email`, where libgit2 finds them too.
        from_user_config: bool,
    }

    /// The characters git strips from both ends of a name or an address (ident.c's `crud`).
    fn is_crud(c: char) -> bool {
        c <= ' ' || ".,:;<>\"\\'".contains(c)
    }

    /// A name or an address that git writes as it is given.
    fn verbatim(value: &str) -> bool {
        !value.is_empty()
            && !value.starts_with(is_crud)
            && !value.ends_with(is_crud)
            && !value.contains(['<', '>', '\n', '\0'])
    }

    /// What git's `ident.c` finds for `role`: the variables (the handle's own first), then
    /// `author.*`/`committer.*`, then `user.*`, then `EMAIL` for the address. `None` wherever
    /// git would go further (a name guessed from the system), would rewrite what it found, or
    /// a date is written in a form other than the `@<seconds> <offset>` migmerge itself sets.
    fn ident(git: &Git, config: &git2::Config, role: Role) -> Option<Ident> {
        let var = |key: String| match git.env_var(&key) {
            None => Some(None),
            Some(value) => value.into_string().ok().map(Some),
        };
        let word = role.word();
        let setting = |key: &str| config.get_string(key).ok();
        // The first of the variable, `<role>.<field>` and `user.<field>` that is set, and
        // whether it was `user.<field>`; `Some(None)` when none is.
        let find = |field: &str| -> Option<Option<(String, bool)>> {
            if let Some(value) = var(format!("GIT_{word}_{}", field.to_uppercase()))? {
                return Some(Some((value, false)));
            }
            if let Some(value) = setting(&format!("{}.{field}", word.to_lowercase())) {
                return Some(Some((value, false)));
            }
            Some(setting(&format!("user.{field}")).map(|value| (value, true)))
        };
        let (name, user_name) = find("name")??;
        let (email, user_email) = match find("email")? {
            Some(found) => found,
            None => (var("EMAIL".to_owned())??, false),
        };
        if !verbatim(&name) || !verbatim(&email) {
            return None;
        }
        let date = match var(format!("GIT_{word}_DATE"))? {
            Some(date) => Some(raw_date(&date)?),
            None => None,
        };
        Some(Ident {
            name,
            email,
            date,
            from_user_config: user_name && user_email,
        })
    }

    /// A date in one of the two forms whose reading by git is not in doubt: `@<seconds>
    /// <offset>`, the form [`super::original`] carries over, and ISO 8601's
    /// `YYYY-MM-DDTHH:MM:SS<offset>` (a space allowed before the offset), which scripts and CI
    /// set; the offset is `+hhmm` or `-hhmm`.
    fn raw_date(date: &str) -> Option<git2::Time> {
        if let Some(raw) = date.strip_prefix('@') {
            let (seconds, offset) = raw.split_once(' ')?;
            let offset = offset_minutes(offset)?;
            return Some(git2::Time::new(seconds.parse().ok()?, offset));
        }
        let bytes = date.as_bytes();
        let digits = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = date.get(range)?;
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if bytes.len() < 24 || separators.iter().any(|&(i, c)| bytes[i] != c) {
            return None;
        }
        let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        let valid = (1970..=9999).contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return None;
        }
        let offset = offset_minutes(date[19..].strip_prefix(' ').unwrap_or(&date[19..]))?;
        let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
        Some(git2::Time::new(local - i64::from(offset) * 60, offset))
    }

    fn days_in_month(year: i64, month: i64) -> i64 {
        match month {
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
    fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// `+hhmm` or `-hhmm`, in minutes east of UTC.
    fn offset_minutes(offset: &str) -> Option<i32> {
        let (sign, digits) = match offset.as_bytes().first()? {
            b'+' => (1, &offset[1..]),
            b'-' => (-1, &offset[1..]),
            _ => return None,
        };
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hours: i32 = digits[..2].parse().ok()?;
        let minutes: i32 = digits[2..].parse().ok()?;
        if minutes >= 60 {
            return None;
        }
        Some(sign * (hours * 60 + minutes))
    }

    fn signature(ident: &Ident) -> Option<git2::Signature<'static>> {
        match &ident.date {
            Some(time) => git2::Signature::new(&ident.name, &ident.email, time).ok(),
            None => git2::Signature::now(&ident.name, &ident.email).ok(),
        }
    }

    /// An unsigned commit as `git commit-tree --no-gpg-sign` writes it: the same object, byte
    /// for byte (the committer's date aside, which is the time it is made). `None` where git
    /// might write another (a commit encoding configured, an identity git would guess or
    /// rewrite), and git makes it.
    pub fn commit_tree(git: &Git, tree: &str, parents: &[String], message: &str) -> Option<String> {
        if command_line_config() {
            return None;
        }
        let repo = git.repository()?;
        let config = repo.config().ok()?;
        if config.get_entry("i18n.commitEncoding").is_ok() {
            return None;
        }
        let author = signature(&ident(git, &config, Role::Author)?)?;
        let committer = signature(&ident(git, &config, Role::Committer)?)?;
        let tree = repo.find_tree(Oid::from_str(tree).ok()?).ok()?;
        let parents = parents
            .iter()
            .map(|parent| repo.find_commit(Oid::from_str(parent).ok()?).ok())
            .collect::<Option<Vec<_>>>()?;
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let made = repo
            .commit(None, &author, &committer, message, &tree, &parents)
            .ok()?;
        Some(made.to_string())
    }

    /// `git update-ref -m <reason> HEAD <new> <old>`: HEAD's branch (or a detached HEAD)
    /// moved from `old` to `new` under its lock, and the move logged for the branch and for
    /// HEAD. `None` where git's own command might do more or otherwise: a
    /// `reference-transaction` hook to run, hooks or refs kept elsewhere (`core.hooksPath`,
    /// a linked worktree, a reference storage other than files, a namespace), or a reflog
    /// identity libgit2 would not write as git does (git logs its committer, libgit2
    /// `user.name`).
    pub fn move_head(
        git: &Git,
        new: &str,
        old: &str,
        reason: &str,
    ) -> Option<Result<(), super::GitError>> {
        if command_line_config() || std::env::var_os("GIT_NAMESPACE").is_some() {
            return None;
        }
        let repo = git.repository()?;
        let config = repo.config().ok()?;
        let elsewhere = ["core.hooksPath", "extensions.refStorage"]
            .iter()
            .any(|key| config.get_entry(key).is_ok());
        if elsewhere || repo.is_worktree() {
            return None;
        }
        if git.git_dir().join("hooks/reference-transaction").exists() {
            return None;
        }
        let committer = ident(git, &config, Role::Committer)?;
        if !committer.from_user_config || committer.date.is_some() {
            return None;
        }
        let head = repo.find_reference("HEAD").ok()?;
        let name = match head.symbolic_target() {
            Some(branch) => branch.to_owned(),
            None if head.symbolic_target_bytes().is_none() => "HEAD".to_owned(),
            None => return None,
        };
        let (new, old) = (Oid::from_str(new).ok()?, Oid::from_str(old).ok()?);
        match repo.reference_matching(&name, new, true, old, reason) {
            Ok(_) => Some(Ok(())),
            // The branch moved since it was read: what git's compare-and-swap refuses too.
            Err(err) if err.code() == git2::ErrorCode::Modified => {
                Some(Err(super::GitError::Failed {
                    args: format!("update-ref -m {reason} HEAD {new} {old}"),
                    message: format!("cannot lock ref 'HEAD': {}", err.message()),
                }))
            }
            // Nothing was written (the update is atomic): git tries, and says why it cannot.
            Err(_) => None,
        }
    }

    /// The tree of `base` with `paths` taken from the work tree through git's clean filters
    /// (line endings, `text` attributes): each file's blob written, and only the trees on the
    /// way to the paths made anew, so the cost follows the paths, not the size of the tree.
    pub fn tree_with(git: &Git, base: &str, paths: &[String]) -> Option<String> {
        if command_line_config() {
            return None;
        }
        let repo = git.repository()?;
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

    use super::{Git, commit_tree_git, in_process, move_head_git, tree_with_git};
    use crate::git::cmd::test_support::{git, in_a_process_without_git_identity};

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

    /// A repository with two commits on `main` and one on `side`; returns their hashes.
    fn history(root: &Path) -> [String; 3] {
        git(root, &["init", "-q", "-b", "main"]);
        git(root, &["config", "user.name", "Ada Lovelace"]);
        git(root, &["config", "user.email", "ada@example.com"]);
        std::fs::write(root.join("a.py"), "a = 1\n").unwrap();
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", "base"]);
        git(root, &["checkout", "-q", "-b", "side"]);
        std::fs::write(root.join("b.py"), "b = 1\n").unwrap();
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", "side"]);
        git(root, &["checkout", "-q", "main"]);
        std::fs::write(root.join("a.py"), "a = 2\n").unwrap();
        git(root, &["commit", "-q", "-am", "main"]);
        let rev = |r: &str| {
            let out = Command::new("git")
                .args(["rev-parse", r])
                .current_dir(root)
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        [rev("main^"), rev("main"), rev("side")]
    }

    /// With the dates fixed, the commit made in-process is git's own object (the same hash);
    /// where git would guess or rewrite an identity, git makes it. Run without git's identity
    /// variables (CI exports them), so that the identity read from the configuration is tested.
    #[test]
    fn the_commit_made_in_process_is_gits() {
        if !in_a_process_without_git_identity(
            "git::commit::in_process_tests::the_commit_made_in_process_is_gits",
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let [_, main, side] = history(root);
        let handle = Git::discover(root).unwrap();
        let tree = handle.run(&["rev-parse", "main^{tree}"]).unwrap();
        let tree = tree.trim();
        let parents = [main.clone(), side.clone()];
        let fixed = |git: &Git, date: &str| {
            git.with_env("GIT_AUTHOR_NAME", "Grace Hopper")
                .with_env("GIT_AUTHOR_EMAIL", "grace@example.com")
                .with_env("GIT_AUTHOR_DATE", "@1700000000 -0530")
                .with_env("GIT_COMMITTER_NAME", "Ada Lovelace")
                .with_env("GIT_COMMITTER_EMAIL", "ada@example.com")
                .with_env("GIT_COMMITTER_DATE", date)
        };
        let messages = [
            "Merge branch 'side'\n\nmigmerge: app: renumbered\n",
            "no final newline",
            "  spaced \n\n\n",
        ];
        let dates = [
            "@1717668000 +0000",
            "2024-06-06T10:00:00+0000",
            "2024-02-29T23:59:59 -0800",
            "2000-01-01T00:00:00+1345",
        ];
        for message in messages {
            for date in dates {
                let handle = fixed(&handle, date);
                let made = in_process::commit_tree(&handle, tree, &parents, message)
                    .unwrap_or_else(|| panic!("made in-process ({date})"));
                let by_git = commit_tree_git(&handle, tree, &parents, message, false).unwrap();
                assert_eq!(made, by_git, "message {message:?}, date {date:?}");
            }
        }
        // The author from `author.*`, the committer from `user.*`.
        git(root, &["config", "author.name", "Grace Hopper"]);
        git(root, &["config", "author.email", "grace@example.com"]);
        let configured = handle
            .with_env("GIT_AUTHOR_DATE", "@1700000000 +0100")
            .with_env("GIT_COMMITTER_DATE", "@1700000000 +0100");
        let made = in_process::commit_tree(&configured, tree, &parents, "m\n")
            .expect("the configuration's identity is read in-process");
        let by_git = commit_tree_git(&configured, tree, &parents, "m\n", false).unwrap();
        assert_eq!(made, by_git, "identity from the configuration");
        // Dates git reads with its own rules, names it would trim: git's to make.
        for (key, value) in [
            ("GIT_COMMITTER_DATE", "yesterday"),
            ("GIT_COMMITTER_DATE", "2024-06-06 10:00"),
            ("GIT_COMMITTER_DATE", "2024-02-30T10:00:00+0000"),
            ("GIT_AUTHOR_NAME", " Grace "),
            ("GIT_AUTHOR_NAME", "Grace."),
            ("GIT_AUTHOR_EMAIL", "<grace@example.com>"),
        ] {
            let odd = fixed(&handle, "@1717668000 +0000").with_env(key, value);
            assert_eq!(
                in_process::commit_tree(&odd, tree, &parents, "m\n"),
                None,
                "{key}={value:?}"
            );
        }
        // A configured commit encoding adds a header libgit2 does not write.
        git(root, &["config", "i18n.commitEncoding", "ISO-8859-1"]);
        let encoded = fixed(&handle, "@1717668000 +0000");
        assert_eq!(
            in_process::commit_tree(&encoded, tree, &parents, "m\n"),
            None
        );
    }

    /// Run without git's identity variables (CI exports them), so that the in-process move is
    /// the one tested: the branch moves under compare-and-swap and both reflogs say what git's
    /// `update-ref` writes in them.
    #[test]
    fn moving_head_in_process_logs_what_git_logs() {
        if !in_a_process_without_git_identity(
            "git::commit::in_process_tests::moving_head_in_process_logs_what_git_logs",
        ) {
            return;
        }
        let reflogs = |root: &Path| {
            ["HEAD", "main"]
                .iter()
                .map(|r| {
                    let out = Command::new("git")
                        .args(["reflog", "show", "--format=%H %gn <%ge> %gs", r])
                        .current_dir(root)
                        .output()
                        .unwrap();
                    String::from_utf8(out.stdout).unwrap()
                })
                .collect::<Vec<_>>()
        };
        let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let [base, main, side] = history(ours.path());
        let [base_git, main_git, side_git] = history(theirs.path());
        let (handle, handle_git) = (
            Git::discover(ours.path()).unwrap(),
            Git::discover(theirs.path()).unwrap(),
        );
        // Moving from a commit the branch is not at is refused, and changes nothing.
        let moved = in_process::move_head(&handle, &base, &base, "migmerge: test")
            .expect("decided in-process");
        assert!(moved.is_err());
        assert!(move_head_git(&handle_git, &base_git, &base_git, "migmerge: test").is_err());
        in_process::move_head(&handle, &base, &main, "migmerge: resolve migrations")
            .expect("decided in-process")
            .expect("moved");
        move_head_git(
            &handle_git,
            &base_git,
            &main_git,
            "migmerge: resolve migrations",
        )
        .unwrap();
        // The two histories have the same commits but for their dates: compare by position.
        let strip = |logs: Vec<String>, hashes: &[(&str, &str)]| {
            logs.into_iter()
                .map(|log| {
                    hashes
                        .iter()
                        .fold(log, |log, (hash, name)| log.replace(hash, name))
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(
                reflogs(ours.path()),
                &[(&base, "base"), (&main, "main"), (&side, "side")]
            ),
            strip(
                reflogs(theirs.path()),
                &[
                    (&base_git, "base"),
                    (&main_git, "main"),
                    (&side_git, "side")
                ]
            ),
        );
        // A `reference-transaction` hook is git's to run.
        std::fs::write(ours.path().join(".git/hooks/reference-transaction"), "").unwrap();
        assert!(in_process::move_head(&handle, &main, &base, "m").is_none());
    }
}
