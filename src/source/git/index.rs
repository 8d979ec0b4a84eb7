//! What the next commit would hold: the files staged in a repository's index, with their
//! contents read from the object database. The work tree is never read, so an untracked or
//! unstaged migration file does not count, which is what a pre-commit check needs.
//!
//! Git runs hooks with `GIT_INDEX_FILE` naming the index being committed, which is not always
//! `.git/index`: `git commit -a` and `git commit <paths>` stage into a temporary index. The caller
//! passes that file, so the snapshot is the commit's content rather than the default index's.
//!
//! A merge stopped on conflicts leaves stages 1-3 for the conflicted paths: they are read like
//! [`GitMerge`](super::GitMerge) reads its conflicts (ours when it has the file, else theirs)
//! and reported through [`Source::conflicted`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use git2::{Index, IndexEntryExtendedFlag, Oid};

use super::super::prune::{is_pruned_path, venv_dirs};
use super::super::{ConflictedPath, PathFilter, Source, SourceError};
use super::merge::merged_files;
use super::{Located, ReaderPool, below_place, git_error, locate};

/// The staged files of a repository, rooted at a directory inside its work tree.
pub struct IndexSnapshot {
    /// Blobs are read on every core, each thread through a handle of its own.
    readers: ReaderPool,
    /// Every staged regular file under the root, conflicted ones included.
    files: BTreeMap<String, Oid>,
    /// Directories of `files` holding a `pyvenv.cfg`, which listing does not enter.
    venvs: BTreeSet<String>,
    conflicts: Vec<ConflictedPath>,
    parse_cache_dir: PathBuf,
}

impl IndexSnapshot {
    /// The index of the repository holding `path`, rooted at `path`'s place in it.
    /// `index_file`: read this index file instead of the repository's own (what git passes to
    /// hooks in `GIT_INDEX_FILE`; a relative path is relative to the current directory, as git
    /// means it).
    pub fn open(path: &Path, index_file: Option<&Path>) -> Result<IndexSnapshot, SourceError> {
        let Located { repo, prefix } = locate(path)?;
        if repo.is_bare() {
            return Err(SourceError::Git(format!(
                "{}: a bare repository has no index to read staged files from",
                path.display()
            )));
        }
        let index = match index_file {
            Some(file) => Index::open(file),
            None => repo.index(),
        }
        .map_err(git_error)?;
        let (mut files, conflicts) = merged_files(&index, &prefix)?;
        // `git add -N` records a path with an empty blob, but the commit leaves it out.
        for entry in index.iter() {
            let extended = IndexEntryExtendedFlag::from_bits_truncate(entry.flags_extended);
            if extended.is_intent_to_add()
                && let Ok(full) = std::str::from_utf8(&entry.path)
                && let Some(relative) = below_place(&prefix, full)
            {
                files.remove(relative);
            }
        }
        let venvs = venv_dirs(files.keys().map(String::as_str));
        Ok(IndexSnapshot {
            readers: ReaderPool::new(&repo),
            parse_cache_dir: super::parse_cache_dir(&repo),
            files,
            venvs,
            conflicts,
        })
    }
}

impl Source for IndexSnapshot {
    fn describe(&self) -> String {
        "the staged files (git index)".to_owned()
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
        let Some(id) = self.files.get(path) else {
            return Ok(None);
        };
        let content = self
            .readers
            .with(|repo| Ok(repo.find_blob(*id)?.content().to_vec()))
            .map_err(git_error)?;
        Ok(Some(content))
    }

    fn blob_id(&self, path: &str) -> Option<Oid> {
        self.files.get(path).copied()
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
    use git2::{IndexEntry, Repository};
    use std::fs;

    fn everything(_: &str) -> bool {
        true
    }

    /// An index entry for `path` with `mode`, at `stage` (0 for a staged file).
    fn entry(path: &str, mode: u32, stage: u16, extended: u16) -> IndexEntry {
        IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode,
            uid: 0,
            gid: 0,
            file_size: 0,
            id: Oid::zero(),
            // The stage lives in bits 12-13; the extended bit says `flags_extended` is in use.
            flags: (stage << 12) | if extended == 0 { 0 } else { 0x4000 },
            flags_extended: extended,
            path: path.as_bytes().to_vec(),
        }
    }

    /// Stages `files` (path, content) in `index`, and writes it. The blobs are written first,
    /// because an index opened from a file alone has no repository to write them to.
    fn stage(t: &TestRepo, index: &mut Index, files: &[(&str, &str)]) {
        for (path, content) in files {
            let mut e = entry(path, 0o100644, 0, 0);
            e.id = t.repo().blob(content.as_bytes()).unwrap();
            index.add(&e).unwrap();
        }
        index.write().unwrap();
    }

    #[test]
    fn reads_what_is_staged_not_the_work_tree_nor_head() {
        let t = TestRepo::new();
        t.commit(
            "main",
            &[],
            &[("app/migrations/0001_initial.py", Some("# committed"))],
        );
        let mut index = t.repo().index().unwrap();
        stage(
            &t,
            &mut index,
            &[
                ("app/migrations/0001_initial.py", "# staged"),
                ("app/migrations/0002_staged.py", "# 2"),
                ("venv/pyvenv.cfg", ""),
                ("venv/lib/x/migrations/0001.py", ""),
                ("web/node_modules/p/migrations/0001.py", ""),
            ],
        );
        // On disk but never staged: not part of the next commit.
        fs::create_dir_all(t.dir().join("app/migrations")).unwrap();
        fs::write(t.dir().join("app/migrations/0002_untracked.py"), "# u").unwrap();
        fs::write(t.dir().join("app/migrations/0001_initial.py"), "# disk").unwrap();

        let staged = IndexSnapshot::open(t.dir(), None).unwrap();
        assert_eq!(
            staged.list(&everything).unwrap(),
            [
                "app/migrations/0001_initial.py",
                "app/migrations/0002_staged.py",
            ]
        );
        assert_eq!(
            staged.read("app/migrations/0001_initial.py").unwrap(),
            Some(b"# staged".to_vec())
        );
        assert_eq!(
            staged.read("app/migrations/0002_untracked.py").unwrap(),
            None
        );
        assert!(staged.conflicted().is_empty());
        assert_eq!(staged.describe(), "the staged files (git index)");
        assert_eq!(
            super::super::testrepo::assert_blob_ids_name_what_is_read(&staged),
            2
        );
    }

    #[test]
    fn a_subdirectory_is_the_root_and_links_are_not_files() {
        let t = TestRepo::new();
        let mut index = t.repo().index().unwrap();
        stage(
            &t,
            &mut index,
            &[
                ("backend/app/migrations/0001_initial.py", "# b"),
                ("other/app/migrations/0001_initial.py", ""),
            ],
        );
        index
            .add_frombuffer(
                &entry("backend/app/link.py", 0o120000, 0, 0),
                b"migrations/0001_initial.py",
            )
            .unwrap();
        index.write().unwrap();
        let backend = t.dir().join("backend");
        fs::create_dir(&backend).unwrap();
        let staged = IndexSnapshot::open(&backend, None).unwrap();
        assert_eq!(
            staged.list(&everything).unwrap(),
            ["app/migrations/0001_initial.py"]
        );
        assert_eq!(staged.read("app/link.py").unwrap(), None);
    }

    #[test]
    fn another_index_file_is_read_when_given() {
        let t = TestRepo::new();
        let mut own = t.repo().index().unwrap();
        stage(&t, &mut own, &[("app/migrations/0001_initial.py", "# own")]);
        // What `git commit -a` hands its hooks: a temporary index beside the real one.
        let temporary = t.dir().join(".git/index.lock");
        let mut other = Index::open(&temporary).unwrap();
        stage(
            &t,
            &mut other,
            &[
                ("app/migrations/0001_initial.py", "# all"),
                ("app/migrations/0002_more.py", "# 2"),
            ],
        );
        let staged = IndexSnapshot::open(t.dir(), Some(&temporary)).unwrap();
        assert_eq!(
            staged.list(&everything).unwrap(),
            [
                "app/migrations/0001_initial.py",
                "app/migrations/0002_more.py"
            ]
        );
        assert_eq!(
            staged.read("app/migrations/0001_initial.py").unwrap(),
            Some(b"# all".to_vec())
        );
    }

    #[test]
    fn intent_to_add_is_not_staged() {
        let t = TestRepo::new();
        let mut index = t.repo().index().unwrap();
        stage(&t, &mut index, &[("app/migrations/0001_initial.py", "# 1")]);
        let ita = IndexEntryExtendedFlag::INTENT_TO_ADD.bits();
        index
            .add_frombuffer(
                &entry("app/migrations/0002_later.py", 0o100644, 0, ita),
                b"",
            )
            .unwrap();
        index.write().unwrap();
        let reread = Index::open(&t.dir().join(".git/index")).unwrap();
        assert!(
            reread
                .iter()
                .any(|e| e.flags_extended & ita != 0 && e.path == b"app/migrations/0002_later.py"),
            "the test index must hold an intent-to-add entry"
        );
        let staged = IndexSnapshot::open(t.dir(), None).unwrap();
        assert_eq!(
            staged.list(&everything).unwrap(),
            ["app/migrations/0001_initial.py"]
        );
    }

    #[test]
    fn unmerged_paths_are_reported_and_read_as_ours() {
        let t = TestRepo::new();
        let mut index = t.repo().index().unwrap();
        let max = "app/migrations/max_migration.txt";
        for (stage_number, content) in [(1, "0001\n"), (2, "0002_a\n"), (3, "0002_b\n")] {
            let id = t.repo().blob(content.as_bytes()).unwrap();
            let mut e = entry(max, 0o100644, stage_number, 0);
            e.id = id;
            index.add(&e).unwrap();
        }
        index.write().unwrap();
        let staged = IndexSnapshot::open(t.dir(), None).unwrap();
        assert_eq!(
            staged
                .conflicted()
                .iter()
                .map(|c| (c.path.as_str(), c.kind.as_str()))
                .collect::<Vec<_>>(),
            [(max, "both modified")]
        );
        assert_eq!(staged.read(max).unwrap(), Some(b"0002_a\n".to_vec()));
    }

    #[test]
    fn errors_are_values() {
        let plain = tempfile::tempdir().unwrap();
        let err = IndexSnapshot::open(plain.path(), None).err().unwrap();
        assert!(matches!(err, SourceError::NotARepository { .. }), "{err}");
        let err = IndexSnapshot::open(&plain.path().join("missing"), None)
            .err()
            .unwrap();
        assert!(matches!(err, SourceError::Io { .. }), "{err}");

        let bare = tempfile::tempdir().unwrap();
        Repository::init_bare(bare.path()).unwrap();
        let err = IndexSnapshot::open(bare.path(), None).err().unwrap();
        assert!(
            matches!(&err, SourceError::Git(m) if m.contains("bare")),
            "{err}"
        );

        // A fresh repository has no index file yet: nothing is staged.
        let t = TestRepo::new();
        let staged = IndexSnapshot::open(t.dir(), None).unwrap();
        assert!(staged.list(&everything).unwrap().is_empty());
    }
}
