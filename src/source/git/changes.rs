//! What a merge that just ended changed, read in-process so that `post-merge` can tell, without
//! starting git, whether the merge concerns migrations at all.
//!
//! A merge commit is compared with its first parent: the difference is everything the merge
//! brought into the branch, the other side's changes and whatever the merge commit itself
//! resolved. A `--squash` merge makes no commit and leaves its result in the index, so `HEAD` is
//! compared with the index. Nothing is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use git2::{Diff, Oid, Repository};

use super::super::SourceError;
use super::{Located, git_error, is_tree, locate, read_in_tree, resolve_commit};

/// The paths a merge changed, and the tree it started from.
pub struct MergeChanges {
    repo: Repository,
    /// The tree before the merge: the first parent's, or `HEAD`'s for a squash.
    before: Oid,
    work_tree: PathBuf,
    changed: Changed,
}

/// What differs between two snapshots.
#[derive(Default)]
struct Changed {
    paths: Vec<String>,
    /// Whether a submodule was added, removed or moved to another commit.
    submodule: bool,
}

/// The mode of a submodule's entry in a tree or index.
const GITLINK: u32 = 0o160000;

impl MergeChanges {
    /// The merge that just ended in the repository holding `path`, or `None` when `HEAD` is not a
    /// merge commit (a fast-forward brings in commits, but merges nothing of its own).
    /// `squash`: the merge was `--squash`, which makes no commit and stages its result.
    pub fn of_last_merge(path: &Path, squash: bool) -> Result<Option<MergeChanges>, SourceError> {
        let Located { repo, .. } = locate(path)?;
        let work_tree = repo
            .workdir()
            .ok_or_else(|| SourceError::Git("a bare repository has no merge to look at".into()))?
            .to_path_buf();
        let Some((before, changed)) = compare(&repo, squash)? else {
            return Ok(None);
        };
        Ok(Some(MergeChanges {
            repo,
            before,
            work_tree,
            changed,
        }))
    }

    /// Every path the merge added, removed or changed (both names of a rename), relative to the
    /// top of the work tree, `/`-separated, sorted.
    pub fn paths(&self) -> &[String] {
        &self.changed.paths
    }

    /// Whether the merge changed a submodule: its files are in the work tree, but not in the
    /// trees compared, so what changed inside it is unknown here.
    pub fn changes_a_submodule(&self) -> bool {
        self.changed.submodule
    }

    /// The top of the repository's work tree.
    pub fn work_tree(&self) -> &Path {
        &self.work_tree
    }

    /// The bytes of the regular file at the root-relative `path` before the merge, `None` if
    /// there was none.
    pub fn read_before(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        read_in_tree(&self.repo, self.before, path).map_err(git_error)
    }
}

/// The tree before the merge and the paths changed since, `None` for a `HEAD` that is not a
/// merge commit (unless `squash`).
fn compare(repo: &Repository, squash: bool) -> Result<Option<(Oid, Changed)>, SourceError> {
    let head = resolve_commit(repo, "HEAD")?;
    let tree = head.tree().map_err(git_error)?;
    if squash {
        let index = repo.index().map_err(git_error)?;
        let diff = repo
            .diff_tree_to_index(Some(&tree), Some(&index), None)
            .map_err(git_error)?;
        return Ok(Some((tree.id(), diff_changes(&diff))));
    }
    if head.parent_count() < 2 {
        return Ok(None);
    }
    let first = head.parent(0).and_then(|p| p.tree()).map_err(git_error)?;
    let changed = changed_between(repo, first.id(), tree.id()).map_err(git_error)?;
    Ok(Some((first.id(), changed)))
}

/// Both sides' paths of every change in `diff`. A name that is not UTF-8 is kept with its bytes
/// replaced, so that its directories still say where it is.
fn diff_changes(diff: &Diff<'_>) -> Changed {
    let mut paths = BTreeSet::new();
    let mut submodule = false;
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            submodule |= u32::from(file.mode()) == GITLINK;
            if let Some(path) = file.path_bytes() {
                paths.insert(String::from_utf8_lossy(path).into_owned());
            }
        }
    }
    Changed {
        paths: paths.into_iter().collect(),
        submodule,
    }
}

/// A tree's entries by name: id and mode.
type Entries = BTreeMap<Vec<u8>, (Oid, u32)>;

/// The paths of the files (and symlinks, submodules) that differ between two trees, entering
/// only the subtrees whose ids differ. libgit2's tree diff walks every entry of both trees;
/// this costs what the merge changed, not what the repository holds.
fn changed_between(repo: &Repository, old: Oid, new: Oid) -> Result<Changed, git2::Error> {
    let mut paths = BTreeSet::new();
    let mut submodule = false;
    let mut pending = vec![(String::new(), Some(old), Some(new))];
    while let Some((dir, old, new)) = pending.pop() {
        if old == new {
            continue;
        }
        let (old, new) = (entries(repo, old)?, entries(repo, new)?);
        let names: BTreeSet<&Vec<u8>> = old.keys().chain(new.keys()).collect();
        for name in names {
            let (before, after) = (old.get(name), new.get(name));
            if before == after {
                continue;
            }
            let name = String::from_utf8_lossy(name);
            let path = if dir.is_empty() {
                name.into_owned()
            } else {
                format!("{dir}/{name}")
            };
            // A directory replaced by a file (or the reverse) is both a changed file and a
            // directory whose every file changed.
            if is_file(before) || is_file(after) {
                submodule |= is_gitlink(before) || is_gitlink(after);
                paths.insert(path.clone());
            }
            if subtree(before).is_some() || subtree(after).is_some() {
                pending.push((path, subtree(before), subtree(after)));
            }
        }
    }
    Ok(Changed {
        paths: paths.into_iter().collect(),
        submodule,
    })
}

/// The tree an entry names, if it is a directory.
fn subtree(entry: Option<&(Oid, u32)>) -> Option<Oid> {
    entry.filter(|(_, mode)| is_tree(*mode)).map(|(id, _)| *id)
}

/// Whether an entry is there and is not a directory: a file, a symlink or a submodule.
fn is_file(entry: Option<&(Oid, u32)>) -> bool {
    entry.is_some_and(|(_, mode)| !is_tree(*mode))
}

fn is_gitlink(entry: Option<&(Oid, u32)>) -> bool {
    entry.is_some_and(|(_, mode)| *mode == GITLINK)
}

/// The entries of the tree `id`; none for `None` (the directory is absent on that side).
fn entries(repo: &Repository, id: Option<Oid>) -> Result<Entries, git2::Error> {
    let Some(id) = id else {
        return Ok(Entries::new());
    };
    let tree = repo.find_tree(id)?;
    Ok(tree
        .iter()
        .map(|e| (e.name_bytes().to_vec(), (e.id(), e.filemode() as u32)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::testrepo::TestRepo;
    use super::*;

    /// Points `HEAD` at `branch`, as a checkout would (the work tree does not matter here).
    fn head_at(t: &TestRepo, branch: &str) {
        t.repo().set_head(&format!("refs/heads/{branch}")).unwrap();
    }

    #[test]
    fn a_merge_commit_is_compared_with_its_first_parent() {
        let t = TestRepo::new();
        let base = t.commit(
            "main",
            &[],
            &[
                ("pyproject.toml", Some("[tool.migmerge]\n")),
                ("shop/models.py", Some("# base")),
                ("users/migrations/0001_initial.py", Some("# 1")),
            ],
        );
        let ours = t.commit_on("main", &[("users/migrations/0002_ours.py", Some("# ours"))]);
        let theirs = t.commit(
            "theirs",
            &[base],
            &[
                ("shop/models.py", Some("# theirs")),
                ("pyproject.toml", None),
            ],
        );
        t.commit(
            "main",
            &[ours, theirs],
            &[
                ("shop/models.py", Some("# theirs")),
                ("pyproject.toml", None),
            ],
        );
        head_at(&t, "main");
        let changes = MergeChanges::of_last_merge(t.dir(), false)
            .unwrap()
            .unwrap();
        // Our own migration is not the merge's doing.
        assert_eq!(changes.paths(), ["pyproject.toml", "shop/models.py"]);
        assert_eq!(
            changes.read_before("pyproject.toml").unwrap().unwrap(),
            b"[tool.migmerge]\n"
        );
        assert_eq!(changes.read_before("shop/nothing.py").unwrap(), None);
        assert_eq!(
            changes.work_tree().canonicalize().unwrap(),
            t.dir().canonicalize().unwrap()
        );
    }

    #[test]
    fn the_walk_lists_every_changed_file_at_any_depth() {
        let t = TestRepo::new();
        let old = t.commit(
            "main",
            &[],
            &[
                ("a/b/c/same.py", Some("same")),
                ("a/b/c/edited.py", Some("1")),
                ("a/gone/x.py", Some("x")),
                ("a/gone/y/z.py", Some("z")),
                ("becomes_dir", Some("file")),
                ("same/deep/tree.py", Some("same")),
            ],
        );
        let new = t.commit_on(
            "main",
            &[
                ("a/b/c/edited.py", Some("2")),
                ("a/gone/x.py", None),
                ("a/gone/y/z.py", None),
                ("a/new/n.py", Some("n")),
                ("becomes_dir", None),
            ],
        );
        // The tree builder cannot swap a file for a directory in one step.
        let new = t.commit("main", &[new], &[("becomes_dir/f.py", Some("f"))]);
        let tree = |id| t.repo().find_commit(id).unwrap().tree().unwrap().id();
        let changed = changed_between(t.repo(), tree(old), tree(new)).unwrap();
        assert!(!changed.submodule);
        assert_eq!(
            changed.paths,
            [
                "a/b/c/edited.py",
                "a/gone/x.py",
                "a/gone/y/z.py",
                "a/new/n.py",
                "becomes_dir",
                "becomes_dir/f.py",
            ]
        );
        assert!(
            changed_between(t.repo(), tree(new), tree(new))
                .unwrap()
                .paths
                .is_empty()
        );

        // A submodule's files are not in the trees: that it changed is all there is to know.
        t.symlink_and_submodule("main");
        let changed = changed_between(t.repo(), tree(new), tree(t.tip("main"))).unwrap();
        assert_eq!(changed.paths, ["app/link.py", "sub"]);
        assert!(changed.submodule);
    }

    #[test]
    fn a_fast_forward_has_nothing_to_compare() {
        let t = TestRepo::new();
        t.commit("main", &[], &[("a.py", Some(""))]);
        t.commit_on("main", &[("users/migrations/0001_initial.py", Some(""))]);
        head_at(&t, "main");
        assert!(
            MergeChanges::of_last_merge(t.dir(), false)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_squash_compares_head_with_the_index() {
        let t = TestRepo::new();
        t.commit(
            "main",
            &[],
            &[("users/migrations/0001_initial.py", Some("# 1"))],
        );
        head_at(&t, "main");
        let repo = t.repo();
        let mut index = repo.index().unwrap();
        let tree = repo.find_commit(t.tip("main")).unwrap().tree().unwrap();
        index.read_tree(&tree).unwrap();
        let blob = repo.blob(b"# 2").unwrap();
        let mut entry = index
            .get_path(Path::new("users/migrations/0001_initial.py"), 0)
            .unwrap();
        entry.id = blob;
        entry.path = b"users/migrations/0002_theirs.py".to_vec();
        index.add(&entry).unwrap();
        index.write().unwrap();

        let changes = MergeChanges::of_last_merge(t.dir(), true).unwrap().unwrap();
        assert_eq!(changes.paths(), ["users/migrations/0002_theirs.py"]);
        // Not squashed, the same HEAD is no merge commit at all.
        assert!(
            MergeChanges::of_last_merge(t.dir(), false)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn outside_a_repository_is_an_error() {
        let plain = tempfile::tempdir().unwrap();
        assert!(matches!(
            MergeChanges::of_last_merge(plain.path(), false),
            Err(SourceError::NotARepository { .. })
        ));
    }
}
