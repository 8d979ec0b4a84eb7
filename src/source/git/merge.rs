//! The result of merging one revision into another, computed in memory: what `git merge <other>`
//! run on `<head>` would produce, with nothing written to the repository.
//!
//! libgit2's merge writes the blobs it merges (and, for criss-cross histories, virtual merge
//! bases) to the object database. An in-memory "mempack" backend, added with the highest
//! priority before merging, receives those writes instead of `.git/objects`, and lives as long
//! as this source's repository handle. No ref, index file or work tree file is touched.
//!
//! Conflicted paths are listed, with "ours" (the head side) when it has the file, else "theirs":
//! a migration file both branches changed is still one migration, and the conflict itself is
//! reported through [`Source::conflicted`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use git2::{ErrorCode, Index, IndexConflict, IndexEntry, Oid, Repository};

use super::super::prune::{is_pruned_path, venv_dirs};
use super::super::{ConflictedPath, PathFilter, Source, SourceError};
use super::{
    Located, ReaderPool, below_place, git_error, is_regular_file, locate, lock, resolve_commit,
};

/// Backends libgit2 ships use priorities 1 (loose) and 2 (packs); anything above wins writes.
const MEMPACK_PRIORITY: i32 = 1000;

/// Index entry flags keep the stage (0 merged, 1 base, 2 ours, 3 theirs) in these bits.
const STAGE_MASK: u16 = 0x3000;

/// The merge of two revisions, as files.
pub struct GitMerge {
    repo: Mutex<Repository>,
    /// Every file of the merge result under the root, conflicted ones included.
    files: BTreeMap<String, Oid>,
    /// Directories of `files` holding a `pyvenv.cfg`, which listing does not enter.
    venvs: BTreeSet<String>,
    conflicts: Vec<ConflictedPath>,
    /// Handles on the repository for reading blobs in parallel (see [`Source::read_into`]).
    readers: ReaderPool,
    head: String,
    other: String,
    parse_cache_dir: PathBuf,
}

impl GitMerge {
    /// The merge of `other` into `head` in the repository holding `path`, rooted at `path`'s
    /// place in it. Fails when the two revisions share no history, as `git merge` does.
    pub fn open(path: &Path, head: &str, other: &str) -> Result<GitMerge, SourceError> {
        let Located { repo, prefix } = locate(path)?;
        let index = merge_in_memory(&repo, head, other)?;
        let (files, conflicts) = merged_files(&index, &prefix)?;
        drop(index);
        // To read `.gitattributes` the merge loaded the repository's own index (`.git/index`),
        // and the handle keeps it while it lives: with 50,000 files, about 10 MB held through
        // the whole parse for nothing. An empty in-memory index takes its place in the handle
        // only; nothing is written.
        let mut empty = Index::new().map_err(git_error)?;
        repo.set_index(&mut empty).map_err(git_error)?;
        let venvs = venv_dirs(files.keys().map(String::as_str));
        Ok(GitMerge {
            readers: ReaderPool::new(&repo),
            parse_cache_dir: super::parse_cache_dir(&repo),
            repo: Mutex::new(repo),
            files,
            venvs,
            conflicts,
            head: head.to_owned(),
            other: other.to_owned(),
        })
    }
}

/// Merges the two revisions' commits into an in-memory index.
fn merge_in_memory(repo: &Repository, head: &str, other: &str) -> Result<Index, SourceError> {
    let ours = resolve_commit(repo, head)?;
    let theirs = resolve_commit(repo, other)?;
    require_common_history(repo, (head, ours.id()), (other, theirs.id()))?;
    keep_new_objects_in_memory(repo)?;
    // Fast-forwards need no special case: with the base equal to one side, the merge is the
    // other side's tree.
    repo.merge_commits(&ours, &theirs, None).map_err(git_error)
}

/// libgit2 would merge unrelated histories against an empty base; git refuses, and so do we,
/// because the result would be meaningless for migrations.
fn require_common_history(
    repo: &Repository,
    (head, ours): (&str, Oid),
    (other, theirs): (&str, Oid),
) -> Result<(), SourceError> {
    match repo.merge_base(ours, theirs) {
        Ok(_) => Ok(()),
        // In a shallow clone (CI's default checkout) the common ancestor exists but was not
        // fetched: say how to fetch it rather than call the histories unrelated.
        Err(err) if err.code() == ErrorCode::NotFound && repo.is_shallow() => {
            Err(SourceError::Git(format!(
                "`{head}` and `{other}` share no commit in this shallow clone: fetch the full \
                 history (`git fetch --unshallow`; in CI, `fetch-depth: 0` or `GIT_DEPTH: 0`)"
            )))
        }
        Err(err) if err.code() == ErrorCode::NotFound => Err(SourceError::Git(format!(
            "`{head}` and `{other}` have no common ancestor (unrelated histories): git would \
             refuse to merge them"
        ))),
        Err(err) => Err(git_error(err)),
    }
}

/// Routes every object the merge creates to memory. The backend stays in the repository's
/// object database, which the repository handle owns, after the local `Odb` handle is dropped.
fn keep_new_objects_in_memory(repo: &Repository) -> Result<(), SourceError> {
    let odb = repo.odb().map_err(git_error)?;
    odb.add_new_mempack_backend(MEMPACK_PRIORITY)
        .map_err(git_error)?;
    Ok(())
}

type Files = BTreeMap<String, Oid>;

/// The files of the merged index under `prefix` (re-rooted there), and its conflicts. Also
/// reads a real index ([`super::IndexSnapshot`]), where a stopped merge leaves the same stages.
pub(super) fn merged_files(
    index: &Index,
    prefix: &str,
) -> Result<(Files, Vec<ConflictedPath>), SourceError> {
    let mut files = Files::new();
    for entry in index.iter() {
        // Stages 1-3 of conflicted paths are read below, from the conflict iterator.
        let merged = entry.flags & STAGE_MASK == 0;
        if merged
            && is_regular_file(entry.mode)
            && let Some(path) = entry_path(&entry, prefix)
        {
            files.insert(path, entry.id);
        }
    }
    let mut conflicts = Vec::new();
    for conflict in index.conflicts().map_err(git_error)? {
        let conflict = conflict.map_err(git_error)?;
        let sides = [&conflict.our, &conflict.their, &conflict.ancestor];
        let Some(path) = sides
            .into_iter()
            .flatten()
            .next()
            .and_then(|e| entry_path(e, prefix))
        else {
            continue;
        };
        if let Some(id) = listed_side(&conflict) {
            files.insert(path.clone(), id);
        }
        conflicts.push(ConflictedPath {
            path,
            kind: conflict_kind(&conflict).to_owned(),
        });
    }
    conflicts.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, conflicts))
}

/// An entry's path relative to the root, `None` when it lies outside it or is not UTF-8.
fn entry_path(entry: &IndexEntry, prefix: &str) -> Option<String> {
    let path = std::str::from_utf8(&entry.path).ok()?;
    below_place(prefix, path).map(str::to_owned)
}

/// The content a conflicted path is read as: ours if it is a file there, else theirs.
fn listed_side(conflict: &IndexConflict) -> Option<Oid> {
    [&conflict.our, &conflict.their]
        .into_iter()
        .flatten()
        .find(|entry| is_regular_file(entry.mode))
        .map(|entry| entry.id)
}

/// Git's words (`git status`) for which stages a conflicted path has.
fn conflict_kind(conflict: &IndexConflict) -> &'static str {
    let base = conflict.ancestor.is_some();
    match (base, conflict.our.is_some(), conflict.their.is_some()) {
        (true, true, true) => "both modified",
        (false, true, true) => "both added",
        (true, false, true) => "deleted by us",
        (true, true, false) => "deleted by them",
        (false, true, false) => "added by us",
        (false, false, true) => "added by them",
        (_, false, false) => "both deleted",
    }
}

impl Source for GitMerge {
    fn describe(&self) -> String {
        format!("the merge of {} into {}", self.other, self.head)
    }

    fn list(&self, wanted: PathFilter<'_>) -> Result<Vec<String>, SourceError> {
        // `files` is a sorted map, so the listing comes out sorted.
        Ok(self
            .files
            .keys()
            .filter(|path| !is_pruned_path(path, &self.venvs) && wanted(path))
            .cloned()
            .collect())
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let mut buf = Vec::new();
        Ok(self.read_into(path, &mut buf)?.then_some(buf))
    }

    fn blob_id(&self, path: &str) -> Option<Oid> {
        // A conflicted path is read as the side it lists (see `listed_side`), whose blob this is.
        self.files.get(path).copied()
    }

    fn read_into(&self, path: &str, buf: &mut Vec<u8>) -> Result<bool, SourceError> {
        buf.clear();
        let Some(&id) = self.files.get(path) else {
            return Ok(false);
        };
        // Most blobs are in the repository, and any handle reads them, in parallel. Those the
        // merge wrote (files both sides changed) are only in the mempack of the handle that
        // merged, so what the others cannot find is looked up there.
        let shared = self.readers.with(|repo| match repo.find_blob(id) {
            Ok(blob) => {
                buf.extend_from_slice(blob.content());
                Ok(true)
            }
            Err(err) if err.code() == ErrorCode::NotFound => Ok(false),
            Err(err) => Err(err),
        });
        if shared.map_err(git_error)? {
            return Ok(true);
        }
        let repo = lock(&self.repo);
        let blob = repo.find_blob(id).map_err(git_error)?;
        buf.extend_from_slice(blob.content());
        Ok(true)
    }

    fn parse_cache_dir(&self) -> Option<PathBuf> {
        Some(self.parse_cache_dir.clone())
    }

    fn conflicted(&self) -> &[ConflictedPath] {
        &self.conflicts
    }
}

#[cfg(test)]
mod tests {
    use super::super::testrepo::TestRepo;
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    fn everything(_: &str) -> bool {
        true
    }

    const MAX: &str = "app/migrations/max_migration.txt";

    /// A base commit on `main`, and a `feature` branch from it.
    fn forked(t: &TestRepo, base: &[(&str, Option<&str>)]) -> Oid {
        let root = t.commit("main", &[], base);
        t.branch("feature", root);
        root
    }

    fn kinds(merge: &GitMerge) -> Vec<(&str, &str)> {
        merge
            .conflicted()
            .iter()
            .map(|c| (c.path.as_str(), c.kind.as_str()))
            .collect()
    }

    #[test]
    fn sibling_migrations_both_arrive_without_conflict() {
        let t = TestRepo::new();
        forked(&t, &[("app/migrations/0001_initial.py", Some("# 1"))]);
        t.commit_on("main", &[("app/migrations/0002_a.py", Some("# a"))]);
        t.commit_on("feature", &[("app/migrations/0002_b.py", Some("# b"))]);
        let merge = GitMerge::open(t.dir(), "main", "feature").unwrap();
        assert_eq!(
            merge.list(&everything).unwrap(),
            [
                "app/migrations/0001_initial.py",
                "app/migrations/0002_a.py",
                "app/migrations/0002_b.py",
            ]
        );
        assert!(merge.conflicted().is_empty());
        assert_eq!(
            merge.read("app/migrations/0002_b.py").unwrap().unwrap(),
            b"# b"
        );
        assert_eq!(merge.read("app/migrations/0003.py").unwrap(), None);
        assert_eq!(merge.describe(), "the merge of feature into main");
    }

    #[test]
    fn both_modified_and_both_added_are_reported_and_read_as_ours() {
        let t = TestRepo::new();
        forked(&t, &[(MAX, Some("0001_initial\n"))]);
        t.commit_on(
            "main",
            &[(MAX, Some("0002_a\n")), ("app/x.py", Some("ours"))],
        );
        t.commit_on(
            "feature",
            &[(MAX, Some("0002_b\n")), ("app/x.py", Some("theirs"))],
        );
        let merge = GitMerge::open(t.dir(), "main", "feature").unwrap();
        assert_eq!(
            kinds(&merge),
            [
                ("app/migrations/max_migration.txt", "both modified"),
                ("app/x.py", "both added")
            ]
        );
        assert_eq!(
            merge.list(&everything).unwrap(),
            ["app/migrations/max_migration.txt", "app/x.py"]
        );
        assert_eq!(merge.read(MAX).unwrap().unwrap(), b"0002_a\n");
        assert_eq!(merge.read("app/x.py").unwrap().unwrap(), b"ours");
        assert_eq!(
            super::super::testrepo::assert_blob_ids_name_what_is_read(&merge),
            2
        );
    }

    #[test]
    fn blobs_the_merge_wrote_are_read_too() {
        let t = TestRepo::new();
        forked(&t, &[("a.py", Some("one\ntwo\nthree\nfour\nfive\n"))]);
        t.commit_on("main", &[("a.py", Some("ONE\ntwo\nthree\nfour\nfive\n"))]);
        t.commit_on(
            "feature",
            &[("a.py", Some("one\ntwo\nthree\nfour\nFIVE\n"))],
        );
        let merge = GitMerge::open(t.dir(), "main", "feature").unwrap();
        assert!(merge.conflicted().is_empty());
        // The merged content exists only in the merging handle's memory, not in the
        // repository the parallel readers open.
        let mut buf = b"stale".to_vec();
        assert!(merge.read_into("a.py", &mut buf).unwrap());
        assert_eq!(buf, b"ONE\ntwo\nthree\nfour\nFIVE\n");
        assert_eq!(
            super::super::testrepo::assert_blob_ids_name_what_is_read(&merge),
            1
        );
        assert!(!merge.read_into("b.py", &mut buf).unwrap());
        assert!(buf.is_empty());
    }

    #[test]
    fn modify_delete_conflicts_keep_the_surviving_side() {
        let t = TestRepo::new();
        forked(&t, &[("a.py", Some("base")), ("b.py", Some("base"))]);
        t.commit_on("main", &[("a.py", None), ("b.py", Some("ours"))]);
        t.commit_on("feature", &[("a.py", Some("theirs")), ("b.py", None)]);
        let merge = GitMerge::open(t.dir(), "main", "feature").unwrap();
        assert_eq!(
            kinds(&merge),
            [("a.py", "deleted by us"), ("b.py", "deleted by them")]
        );
        assert_eq!(merge.read("a.py").unwrap().unwrap(), b"theirs");
        assert_eq!(merge.read("b.py").unwrap().unwrap(), b"ours");
    }

    #[test]
    fn fast_forwards_either_way() {
        let t = TestRepo::new();
        forked(&t, &[("app/migrations/0001_initial.py", Some(""))]);
        t.commit_on("feature", &[("app/migrations/0002_b.py", Some("# b"))]);
        for (head, other) in [("main", "feature"), ("feature", "main")] {
            let merge = GitMerge::open(t.dir(), head, other).unwrap();
            assert_eq!(
                merge.list(&everything).unwrap(),
                ["app/migrations/0001_initial.py", "app/migrations/0002_b.py"],
                "{head} <- {other}"
            );
            assert!(merge.conflicted().is_empty());
        }
    }

    #[test]
    fn unrelated_histories_and_bad_revisions_are_errors() {
        let t = TestRepo::new();
        t.commit("main", &[], &[("a.py", Some("a"))]);
        t.commit("other", &[], &[("b.py", Some("b"))]);
        let err = GitMerge::open(t.dir(), "main", "other").err().unwrap();
        assert!(
            matches!(&err, SourceError::Git(m) if m.contains("unrelated")),
            "{err}"
        );
        let err = GitMerge::open(t.dir(), "main", "nope").err().unwrap();
        assert!(
            matches!(&err, SourceError::BadRevision { rev, .. } if rev == "nope"),
            "{err}"
        );
        let plain = tempfile::tempdir().unwrap();
        let err = GitMerge::open(plain.path(), "main", "other").err().unwrap();
        assert!(matches!(err, SourceError::NotARepository { .. }), "{err}");
    }

    #[test]
    fn a_subdirectory_is_the_root() {
        let t = TestRepo::new();
        forked(&t, &[("backend/app/migrations/0001_initial.py", Some(""))]);
        t.commit_on(
            "main",
            &[("backend/app/migrations/max_migration.txt", Some("a"))],
        );
        t.commit_on(
            "feature",
            &[
                ("backend/app/migrations/max_migration.txt", Some("b")),
                ("backend/venv/pyvenv.cfg", Some("")),
                ("backend/venv/lib/m/migrations/0001.py", Some("")),
                ("docs/conflict.txt", Some("b")),
            ],
        );
        t.commit_on("main", &[("docs/conflict.txt", Some("a"))]);
        let backend = t.dir().join("backend");
        fs::create_dir(&backend).unwrap();
        let merge = GitMerge::open(&backend, "main", "feature").unwrap();
        assert_eq!(
            merge.list(&everything).unwrap(),
            [
                "app/migrations/0001_initial.py",
                "app/migrations/max_migration.txt"
            ]
        );
        // Conflicts outside the root are outside the snapshot.
        assert_eq!(
            kinds(&merge),
            [("app/migrations/max_migration.txt", "both added")]
        );
    }

    /// Every file under `.git` with its size and modification time, except the object store's
    /// packs (none here) — enough to see any write.
    fn snapshot_git_dir(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
        let mut seen = BTreeMap::new();
        let mut pending = vec![dir.join(".git")];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    pending.push(entry.path());
                } else {
                    seen.insert(entry.path(), (meta.len(), meta.modified().unwrap()));
                }
            }
        }
        seen
    }

    #[test]
    fn merging_writes_nothing_to_the_repository() {
        let t = TestRepo::new();
        let lines: Vec<String> = (1..=12).map(|n| format!("line {n}\n")).collect();
        let base = lines.concat();
        let ours = base.replacen("line 1\n", "line one\n", 1);
        let theirs = base.replacen("line 12\n", "line twelve\n", 1);
        forked(&t, &[("app/models.py", Some(&base)), (MAX, Some("0001\n"))]);
        t.commit_on(
            "main",
            &[("app/models.py", Some(&ours)), (MAX, Some("0002_a\n"))],
        );
        t.commit_on(
            "feature",
            &[("app/models.py", Some(&theirs)), (MAX, Some("0002_b\n"))],
        );
        // A real index and HEAD, as in a user's clone.
        t.repo().set_head("refs/heads/main").unwrap();
        let mut checkout = git2::build::CheckoutBuilder::new();
        t.repo().checkout_head(Some(checkout.force())).unwrap();
        assert!(t.dir().join(".git/index").exists());
        let before = snapshot_git_dir(t.dir());

        let merge = GitMerge::open(t.dir(), "main", "feature").unwrap();
        // The automatically merged blob is new and exists only in memory, yet reads back.
        let merged = merge.read("app/models.py").unwrap().unwrap();
        let expected = ours.replacen("line 12\n", "line twelve\n", 1);
        assert_eq!(String::from_utf8(merged).unwrap(), expected);
        assert_eq!(kinds(&merge), [(MAX, "both modified")]);
        drop(merge);

        assert_eq!(snapshot_git_dir(t.dir()), before);
        // The merged blob was never stored: only the merge's memory held it.
        let id = Oid::hash_object(git2::ObjectType::Blob, expected.as_bytes()).unwrap();
        let fresh = Repository::open(t.dir()).unwrap();
        assert!(!fresh.odb().unwrap().exists(id));
    }
}
