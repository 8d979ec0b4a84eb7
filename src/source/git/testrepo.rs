//! Throwaway repositories for the git sources' tests, built with plumbing only: commits are made
//! from trees written directly, with a fixed signature and clock, so nothing depends on the
//! user's git configuration or on a work tree.

use std::cell::Cell;
use std::path::Path;

use git2::build::TreeUpdateBuilder;
use git2::{FileMode, Oid, Repository, Signature, Time};

/// Every listed file's blob id, where `source` gives one, is the id of the bytes it reads
/// for that file (what lets a parse kept by the id stand for a read); returns how many
/// files had one.
pub(super) fn assert_blob_ids_name_what_is_read(source: &dyn crate::source::Source) -> usize {
    let mut named = 0;
    for path in source.list(&|_| true).unwrap() {
        let Some(id) = source.blob_id(&path) else {
            continue;
        };
        let bytes = source.read(&path).unwrap().unwrap();
        let mut buf = Vec::new();
        assert!(source.read_into(&path, &mut buf).unwrap());
        assert_eq!(buf, bytes, "{path}");
        assert_eq!(
            id,
            Oid::hash_object(git2::ObjectType::Blob, &bytes).unwrap(),
            "{path}"
        );
        named += 1;
    }
    assert_eq!(source.blob_id("no/such/file.py"), None);
    named
}

pub(super) struct TestRepo {
    repo: Repository,
    dir: tempfile::TempDir,
    clock: Cell<i64>,
}

impl TestRepo {
    pub(super) fn new() -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        TestRepo {
            repo,
            dir,
            clock: Cell::new(1_700_000_000),
        }
    }

    /// The work tree's directory.
    pub(super) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(super) fn repo(&self) -> &Repository {
        &self.repo
    }

    /// Commits `changes` (path, new content or `None` to delete) on top of the first parent's
    /// tree, and points `branch` at the new commit.
    pub(super) fn commit(
        &self,
        branch: &str,
        parents: &[Oid],
        changes: &[(&str, Option<&str>)],
    ) -> Oid {
        let mut update = TreeUpdateBuilder::new();
        for (path, content) in changes {
            match content {
                Some(text) => {
                    let blob = self.repo.blob(text.as_bytes()).unwrap();
                    update.upsert(*path, blob, FileMode::Blob);
                }
                None => {
                    update.remove(*path);
                }
            }
        }
        self.commit_update(branch, parents, &mut update)
    }

    /// Commits `changes` on top of `branch`'s tip.
    pub(super) fn commit_on(&self, branch: &str, changes: &[(&str, Option<&str>)]) -> Oid {
        let tip = self.tip(branch);
        self.commit(branch, &[tip], changes)
    }

    /// Points a new or existing branch at `commit`.
    pub(super) fn branch(&self, name: &str, commit: Oid) {
        self.repo
            .reference(&format!("refs/heads/{name}"), commit, true, "test")
            .unwrap();
    }

    pub(super) fn tip(&self, branch: &str) -> Oid {
        self.repo
            .refname_to_id(&format!("refs/heads/{branch}"))
            .unwrap()
    }

    /// Adds a symlink `app/link.py` and a submodule entry `sub` on `branch`.
    pub(super) fn symlink_and_submodule(&self, branch: &str) {
        let target = self.repo.blob(b"migrations/0001_initial.py").unwrap();
        let mut update = TreeUpdateBuilder::new();
        update.upsert("app/link.py", target, FileMode::Link);
        update.upsert("sub", self.tip(branch), FileMode::Commit);
        let tip = self.tip(branch);
        self.commit_update(branch, &[tip], &mut update);
    }

    /// The blob recorded at `path` on `branch`.
    pub(super) fn blob_id(&self, branch: &str, path: &str) -> Oid {
        let commit = self.repo.find_commit(self.tip(branch)).unwrap();
        commit
            .tree()
            .unwrap()
            .get_path(Path::new(path))
            .unwrap()
            .id()
    }

    fn commit_update(&self, branch: &str, parents: &[Oid], update: &mut TreeUpdateBuilder) -> Oid {
        let parents: Vec<_> = parents
            .iter()
            .map(|id| self.repo.find_commit(*id).unwrap())
            .collect();
        let base = match parents.first() {
            Some(parent) => parent.tree().unwrap(),
            None => {
                let empty = self.repo.treebuilder(None).unwrap().write().unwrap();
                self.repo.find_tree(empty).unwrap()
            }
        };
        let tree_id = update.create_updated(&self.repo, &base).unwrap();
        let tree = self.repo.find_tree(tree_id).unwrap();
        let when = self.clock.get() + 60;
        self.clock.set(when);
        let who = Signature::new("Test", "test@example.com", &Time::new(when, 0)).unwrap();
        let parent_refs: Vec<_> = parents.iter().collect();
        let id = self
            .repo
            .commit(None, &who, &who, "test", &tree, &parent_refs)
            .unwrap();
        self.branch(branch, id);
        id
    }
}
