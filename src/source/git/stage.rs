//! Staging a written resolution, so that the index holds exactly what the work tree now holds
//! for the files the resolution touched: a plain `git commit` then records a whole graph.
//!
//! What git tracked stays tracked, and what it did not stays untracked: every changed tracked
//! file at its final content, a tracked file renamed as a rename (its old path leaves the index,
//! its new one enters), a new file added only when its directory holds tracked files, and a
//! draft the user never added (even one renamed along a moving chain) left out, under its new
//! name. Nothing else in the index moves.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use git2::Index;

use super::{Located, git_error, in_repository, locate};
use crate::edit::FileUpdate;
use crate::source::SourceError;

/// What [`stage_resolution`] did, by paths relative to the directory it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Staged {
    /// Paths whose final content is now staged (new names of renames included).
    pub staged: Vec<String>,
    /// Old names of renamed tracked files, now gone from the index.
    pub removed: Vec<String>,
    /// Paths the resolution wrote that git does not track, and still does not.
    pub untracked: Vec<String>,
}

/// Stages a resolution [`crate::edit::write_atomically`] has written under `path` (a directory
/// in a repository's work tree; `updates` are relative to it, as written). `index_file` is the
/// index to change, for a hook that git handed `GIT_INDEX_FILE`; `None` is the repository's
/// own. Each written file must still hold the bytes written, or nothing is staged. The index
/// is written once, at the end, through git's lock file, so it changes entirely or not at all.
/// Does nothing outside a repository or in a bare one.
pub fn stage_resolution(
    path: &Path,
    index_file: Option<&Path>,
    updates: &[FileUpdate],
) -> Result<Staged, SourceError> {
    let Located { repo, prefix } = match locate(path) {
        Ok(located) => located,
        Err(SourceError::NotARepository { .. }) => return Ok(Staged::default()),
        Err(err) => return Err(err),
    };
    if repo.workdir().is_none() || updates.is_empty() {
        return Ok(Staged::default());
    }
    let in_repo = |p: &str| PathBuf::from(in_repository(&prefix, p));
    // Compare-and-swap: what is staged is what migmerge wrote, not a later edit.
    for update in updates {
        let file = path.join(&update.after);
        let now = std::fs::read(&file).map_err(|source| SourceError::Io {
            path: file.clone(),
            source,
        })?;
        if now != update.new {
            return Err(SourceError::Io {
                path: file,
                source: std::io::Error::other(
                    "changed since migmerge wrote it; nothing was staged",
                ),
            });
        }
    }
    let mut index = match index_file {
        Some(file) => {
            let mut index = Index::open(file).map_err(git_error)?;
            repo.set_index(&mut index).map_err(git_error)?;
            index
        }
        None => repo.index().map_err(git_error)?,
    };
    let tracked = |index: &Index, p: &Path| (0..=3).any(|stage| index.get_path(p, stage).is_some());
    let tracked_dirs: HashSet<PathBuf> = index
        .iter()
        .filter_map(|entry| {
            let p = PathBuf::from(String::from_utf8_lossy(&entry.path).into_owned());
            p.parent().map(Path::to_path_buf)
        })
        .collect();

    // Decide everything from the index as it was, then change it: removals first, so that a
    // chain of renames shifting names by one re-adds a name it vacated.
    let mut staged = Staged::default();
    let mut removals = Vec::new();
    let mut additions = Vec::new();
    for update in updates {
        let after = in_repo(&update.after);
        let keep = match &update.before {
            Some(before) if update.is_rename() => {
                let before_path = in_repo(before);
                let was_tracked = tracked(&index, &before_path);
                if was_tracked {
                    removals.push(before_path);
                    staged.removed.push(before.clone());
                }
                was_tracked
            }
            Some(_) => tracked(&index, &after),
            None => after.parent().is_some_and(|dir| tracked_dirs.contains(dir)),
        };
        if keep {
            additions.push(after);
            staged.staged.push(update.after.clone());
        } else {
            staged.untracked.push(update.after.clone());
        }
    }
    for path in &removals {
        index.remove_path(path).map_err(git_error)?;
    }
    for path in &additions {
        // Reads the work tree file, records its stat data, and clears any conflict at the path
        // (kept as "resolve undo", as `git add` does).
        index.add_path(path).map_err(git_error)?;
    }
    index.write().map_err(git_error)?;
    Ok(staged)
}

/// Whether the index (`index_file`, else the repository's own) already holds a resolution
/// [`stage_resolution`] was staging: some file it writes is staged with its new content. The
/// index is written whole, so one such file means all of it. `false` when the index is gone
/// (a commit's lock file git removed) or outside a repository.
pub fn index_holds(
    path: &Path,
    index_file: Option<&Path>,
    updates: &[FileUpdate],
) -> Result<bool, SourceError> {
    let Located { repo, prefix } = match locate(path) {
        Ok(located) => located,
        Err(SourceError::NotARepository { .. }) => return Ok(false),
        Err(err) => return Err(err),
    };
    let index = match index_file {
        Some(file) if !file.exists() => return Ok(false),
        Some(file) => Index::open(file).map_err(git_error)?,
        None => repo.index().map_err(git_error)?,
    };
    for update in updates {
        let after = PathBuf::from(in_repository(&prefix, &update.after));
        let new = git2::Oid::hash_object(git2::ObjectType::Blob, &update.new).map_err(git_error)?;
        if index
            .get_path(&after, 0)
            .is_some_and(|entry| entry.id == new)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use crate::edit::testing::update;
    use std::process::Command;

    use super::*;

    /// A real repository made with the git command line (no user configuration), holding
    /// `files` in one commit.
    fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        for (path, text) in files {
            write(dir.path(), path, text);
        }
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-q", "-m", "base"]);
        dir
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "T")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "T")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Writes the updates as the edit engine would.
    fn apply(root: &Path, updates: &[FileUpdate]) {
        crate::edit::write_atomically(root, updates).unwrap();
    }

    /// `git status --porcelain` for the paths, untracked ones included.
    fn status(root: &Path) -> String {
        git(root, &["status", "--porcelain", "--untracked-files=all"])
    }

    /// A migration's text long enough for git to see a renamed copy with one line changed as a
    /// rename.
    fn body(line: &str) -> String {
        format!(
            "{}{line}\n",
            "from django.db import migrations\n# same line\n".repeat(8)
        )
    }

    #[test]
    fn renames_edits_and_new_files_are_staged_as_the_resolution() {
        let (avatar, after_phone) = (body("avatar"), body("avatar after phone"));
        let dir = repo(&[
            ("users/migrations/__init__.py", ""),
            ("users/migrations/0005_add_avatar.py", &avatar),
            ("users/migrations/max_migration.txt", "0005_add_avatar\n"),
            ("shop/migrations/__init__.py", ""),
            ("shop/migrations/0002_x.py", "dep 0005_add_avatar"),
        ]);
        let root = dir.path();
        let updates = [
            update(
                Some("users/migrations/0005_add_avatar.py"),
                "users/migrations/0006_add_avatar.py",
                Some(&avatar),
                &after_phone,
            ),
            update(
                Some("users/migrations/max_migration.txt"),
                "users/migrations/max_migration.txt",
                Some("0005_add_avatar\n"),
                "0006_add_avatar\n",
            ),
            update(
                Some("shop/migrations/0002_x.py"),
                "shop/migrations/0002_x.py",
                Some("dep 0005_add_avatar"),
                "dep 0006_add_avatar",
            ),
            update(None, "shop/migrations/0003_merge.py", None, "merge"),
        ];
        apply(root, &updates);
        let staged = stage_resolution(root, None, &updates).unwrap();
        assert!(staged.untracked.is_empty(), "{staged:?}");
        assert_eq!(staged.removed, ["users/migrations/0005_add_avatar.py"]);
        // Everything is staged, nothing left unstaged; the rename shows as one.
        let status = status(root);
        let mut lines: Vec<&str> = status.lines().collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            [
                "A  shop/migrations/0003_merge.py",
                "M  shop/migrations/0002_x.py",
                "M  users/migrations/max_migration.txt",
                "R  users/migrations/0005_add_avatar.py -> users/migrations/0006_add_avatar.py",
            ],
            "{status}"
        );
        // The index holds the final bytes.
        assert_eq!(
            git(root, &["show", ":users/migrations/0006_add_avatar.py"]),
            after_phone
        );
        assert_eq!(
            git(root, &["show", ":shop/migrations/0002_x.py"]),
            "dep 0006_add_avatar"
        );
    }

    #[test]
    fn drafts_stay_untracked_and_tracked_files_stay_in_the_index() {
        // 0005_a is tracked, 0006_b a draft never added; the chain moves by one.
        let (a, a2) = (body("a"), body("a2"));
        let dir = repo(&[
            ("users/migrations/__init__.py", ""),
            ("users/migrations/0005_a.py", &a),
        ]);
        let root = dir.path();
        write(root, "users/migrations/0006_b.py", "b");
        let updates = [
            update(
                Some("users/migrations/0006_b.py"),
                "users/migrations/0007_b.py",
                Some("b"),
                "b2",
            ),
            update(
                Some("users/migrations/0005_a.py"),
                "users/migrations/0006_a.py",
                Some(&a),
                &a2,
            ),
        ];
        apply(root, &updates);
        let staged = stage_resolution(root, None, &updates).unwrap();
        assert_eq!(staged.untracked, ["users/migrations/0007_b.py"]);
        assert_eq!(staged.staged, ["users/migrations/0006_a.py"]);
        let status = status(root);
        assert!(
            status.contains("R  users/migrations/0005_a.py -> users/migrations/0006_a.py"),
            "{status}"
        );
        assert!(status.contains("?? users/migrations/0007_b.py"), "{status}");
        assert!(!status.contains("0006_b"), "{status}");
    }

    #[test]
    fn a_draft_renamed_onto_a_vacated_tracked_name_stays_untracked() {
        // 0005_a (tracked) moves to 0006_a; the draft 0004_d moves onto 0005_a's old name.
        let dir = repo(&[
            ("users/migrations/__init__.py", ""),
            ("users/migrations/0005_a.py", "a"),
        ]);
        let root = dir.path();
        write(root, "users/migrations/0004_d.py", "d");
        let updates = [
            update(
                Some("users/migrations/0005_a.py"),
                "users/migrations/0006_a.py",
                Some("a"),
                "a",
            ),
            update(
                Some("users/migrations/0004_d.py"),
                "users/migrations/0005_a.py",
                Some("d"),
                "d",
            ),
        ];
        apply(root, &updates);
        let staged = stage_resolution(root, None, &updates).unwrap();
        assert_eq!(staged.untracked, ["users/migrations/0005_a.py"]);
        assert_eq!(
            git(root, &["ls-files", "users/migrations"]),
            "users/migrations/0006_a.py\nusers/migrations/__init__.py\n"
        );
    }

    #[test]
    fn a_new_file_in_an_untracked_directory_is_not_added() {
        let dir = repo(&[("users/migrations/__init__.py", "")]);
        let root = dir.path();
        write(root, "blog/migrations/__init__.py", "");
        let updates = [update(None, "blog/migrations/0002_merge.py", None, "m")];
        apply(root, &updates);
        let staged = stage_resolution(root, None, &updates).unwrap();
        assert_eq!(staged.untracked, ["blog/migrations/0002_merge.py"]);
        assert_eq!(git(root, &["diff", "--cached", "--name-only"]), "");
    }

    #[test]
    fn a_file_changed_after_the_write_stages_nothing() {
        let dir = repo(&[
            ("users/migrations/__init__.py", ""),
            ("users/migrations/0005_a.py", "a"),
        ]);
        let root = dir.path();
        let updates = [update(
            Some("users/migrations/0005_a.py"),
            "users/migrations/0005_a.py",
            Some("a"),
            "a2",
        )];
        apply(root, &updates);
        write(root, "users/migrations/0005_a.py", "edited by hand");
        let err = stage_resolution(root, None, &updates).unwrap_err();
        assert!(err.to_string().contains("nothing was staged"), "{err}");
        assert_eq!(git(root, &["diff", "--cached", "--name-only"]), "");
    }

    #[test]
    fn a_subdirectory_and_another_index_file_are_honoured() {
        let dir = repo(&[
            ("project/users/migrations/__init__.py", ""),
            ("project/users/migrations/max_migration.txt", "0001_a\n"),
        ]);
        let root = dir.path();
        let sub = root.join("project");
        let updates = [update(
            Some("users/migrations/max_migration.txt"),
            "users/migrations/max_migration.txt",
            Some("0001_a\n"),
            "0002_b\n",
        )];
        apply(&sub, &updates);
        let other = root.join(".git/other-index");
        std::fs::copy(root.join(".git/index"), &other).unwrap();
        stage_resolution(&sub, Some(&other), &updates).unwrap();
        // The repository's own index is untouched; the other one holds the change.
        assert_eq!(git(root, &["diff", "--cached", "--name-only"]), "");
        let out = Command::new("git")
            .args(["diff", "--cached", "--name-only"])
            .current_dir(root)
            .env("GIT_INDEX_FILE", &other)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "project/users/migrations/max_migration.txt\n"
        );
    }

    #[test]
    fn a_conflicted_path_is_resolved_by_staging_it() {
        let dir = repo(&[
            ("users/migrations/__init__.py", ""),
            ("users/migrations/max_migration.txt", "0001_a\n"),
        ]);
        let root = dir.path();
        let max = "users/migrations/max_migration.txt";
        git(root, &["checkout", "-q", "-b", "theirs"]);
        write(root, max, "0002_t\n");
        git(root, &["commit", "-q", "-am", "t"]);
        git(root, &["checkout", "-q", "main"]);
        write(root, max, "0002_o\n");
        git(root, &["commit", "-q", "-am", "o"]);
        let out = Command::new("git")
            .args(["merge", "-q", "theirs"])
            .current_dir(root)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let written = std::fs::read(root.join(max)).unwrap();
        let updates = [FileUpdate {
            before: Some(max.to_owned()),
            after: max.to_owned(),
            old: Some(written),
            new: b"0002_t\n".to_vec(),
        }];
        apply(root, &updates);
        stage_resolution(root, None, &updates).unwrap();
        assert_eq!(git(root, &["diff", "--name-only", "--diff-filter=U"]), "");
        assert_eq!(git(root, &["show", &format!(":{max}")]), "0002_t\n");
    }
}
