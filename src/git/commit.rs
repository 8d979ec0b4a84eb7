//! Putting a resolution into history with plumbing only: a tree made from a commit plus the
//! files migmerge wrote, a commit of that tree, and the branch moved with a compare-and-swap.
//!
//! Porcelain (`git commit`, `--amend`) is not usable from hooks: `post-merge` runs while
//! `MERGE_HEAD` still exists, so `--amend` is refused there, and `git commit` would run the
//! user's hooks again. Plumbing also never looks at the user's index or other work tree files:
//! the tree is built in a private index, from the commit and the named paths alone.

use std::path::Path;

use super::cmd::{Git, GitError};

/// A path under a migrations package in a state migmerge must not build on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyPath {
    pub path: String,
    /// `git status --porcelain` status letters.
    pub status: String,
}

/// Migration package files with changes that are not part of the operation: untracked files,
/// unstaged edits, unmerged paths, and (unless `staged_ok`) staged changes. Resolving on top of
/// them would commit or overwrite the user's own work.
pub fn dirty_migrations(git: &Git, staged_ok: bool) -> Result<Vec<DirtyPath>, GitError> {
    let out = git.run(&[
        "--no-optional-locks",
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--",
        ":(glob)**/migrations/**",
    ])?;
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
        if bad {
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
    let scratch = tempfile::Builder::new()
        .prefix("migmerge-index-")
        .tempdir_in(git.git_dir())?;
    let private = git.with_index(&scratch.path().join("index"));
    private.run(&["read-tree", base])?;
    stage(&private, paths)?;
    Ok(private.run(&["write-tree"])?.trim().to_owned())
}

/// Who wrote a commit and when, to carry over to its rewritten copy.
pub fn author_of(git: &Git, rev: &str) -> Result<[(String, String); 3], GitError> {
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
pub fn parents(git: &Git, rev: &str) -> Result<Vec<String>, GitError> {
    let out = git.run(&["rev-list", "--parents", "-n", "1", rev])?;
    Ok(out.split_whitespace().skip(1).map(str::to_owned).collect())
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
