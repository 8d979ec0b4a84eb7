//! `kill -9` in the middle of a write: `migmerge resolve` and the `post-merge` hook are
//! stopped with SIGKILL at every halting point of their write (the journal written, each temp
//! file, each rename, each removal, the hook's commit steps; see `MIGMERGE_TEST_HALT_AT`), and
//! after each the next migmerge command must leave the tree with the whole resolution or none
//! of it: no file lost or half-written, no temp file left, the journal gone.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{assert_status, migmerge, run_migmerge, stderr, stdout};
use crate::git_flows::{git_ok, story};

/// Every file of the work tree (outside `.git` and the test home), with its bytes.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if dir == root && (name == ".git" || name == ".git-test-home") {
                continue;
            }
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Waits until `child` halts (its id in `halt_file`: returned) or ends (`None`).
fn halted(child: &mut Child, halt_file: &Path) -> Option<u32> {
    let start = Instant::now();
    loop {
        if let Ok(text) = fs::read_to_string(halt_file) {
            return Some(text.trim().parse().expect("a process id"));
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "neither halted nor ended"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// No file in `after` holds anything but what it held in `before` or in `resolved`.
fn assert_no_half_written_file(
    after: &BTreeMap<String, Vec<u8>>,
    before: &BTreeMap<String, Vec<u8>>,
    resolved: &BTreeMap<String, Vec<u8>>,
    step: usize,
) {
    for (path, bytes) in after {
        let file = path.rsplit('/').next().unwrap();
        if file.starts_with(".migmerge-") && file.ends_with(".tmp") {
            continue;
        }
        let known = before.get(path) == Some(bytes) || resolved.get(path) == Some(bytes);
        assert!(
            known,
            "step {step}: {path} holds neither its old nor its new bytes"
        );
    }
}

fn assert_clean_of_temp_files(now: &BTreeMap<String, Vec<u8>>, step: usize) {
    let temps: Vec<&String> = now.keys().filter(|p| p.contains(".migmerge-")).collect();
    assert!(temps.is_empty(), "step {step}: temp files left: {temps:?}");
}

const JOURNAL: &str = ".git/migmerge/write-journal.json";

/// The cross-app story merged by plain git (migmerge off): users has two leaves, and the
/// renumbering also edits orders' dependency, so a write renames one file and edits another.
fn merged_by_git() -> tempfile::TempDir {
    let dir = story("cross_app_dependency_on_sibling");
    let root = dir.path();
    git_ok(root, &["checkout", "-q", "-b", "feature", "main"]);
    git_ok(root, &["branch", "-f", "main", "theirs"]);
    crate::git_flows::git_env(
        root,
        &["merge", "--no-edit", "main"],
        &[("MIGMERGE", "0".as_ref())],
    );
    dir
}

fn resolve_halting_at(root: &Path, step: usize, halt_file: &Path) -> Child {
    migmerge()
        .args(["resolve", "--yes"])
        .current_dir(root)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MIGMERGE_TEST_HALT_AT", step.to_string())
        .env("MIGMERGE_TEST_HALT_FILE", halt_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run migmerge")
}

#[test]
fn resolve_killed_at_any_point_of_its_write_is_settled_by_the_next_run() {
    // The tree a complete run leaves, for comparison.
    let reference = merged_by_git();
    let out = run_migmerge(&["resolve", "--yes"], reference.path());
    assert_status(&out, 0);
    let resolved = tree(reference.path());

    let (mut killed, mut kept, mut rolled_back) = (0, 0, 0);
    for step in 0.. {
        let dir = merged_by_git();
        let root = dir.path();
        let before = tree(root);
        let halt_file = root.join(".git/halted");
        let mut child = resolve_halting_at(root, step, &halt_file);
        let Some(pid) = halted(&mut child, &halt_file) else {
            // Past the last halting point: the run completed.
            assert!(child.wait().unwrap().success(), "step {step}");
            assert_eq!(tree(root), resolved, "step {step}");
            assert!(!root.join(JOURNAL).exists());
            break;
        };
        kill9(pid);
        child.wait().unwrap();
        killed += 1;
        assert_no_half_written_file(&tree(root), &before, &resolved, step);
        assert!(
            root.join(JOURNAL).exists(),
            "step {step}: no journal to recover from"
        );

        // The next command settles it and says so: all of the resolution (once it was staged,
        // it is kept), or none of it, the tree as before the run.
        let out = run_migmerge(&["check"], root);
        assert!(
            stderr(&out).contains("an interrupted"),
            "step {step}: {}",
            stderr(&out)
        );
        let now = tree(root);
        assert_clean_of_temp_files(&now, step);
        assert!(!root.join(JOURNAL).exists(), "step {step}");
        // The index agrees with the work tree either way: nothing unstaged, nothing untracked.
        let status = git_ok(root, &["status", "--porcelain", "--untracked-files=all"]);
        assert!(
            status.lines().all(|l| l.as_bytes().get(1) == Some(&b' ')),
            "step {step}: {status}"
        );
        if now == resolved {
            kept += 1;
            assert_eq!(out.status.code(), Some(0), "step {step}: {}", stdout(&out));
        } else {
            rolled_back += 1;
            assert_eq!(now, before, "step {step}");
            assert_eq!(status, "", "step {step}");
            assert_eq!(
                out.status.code(),
                Some(1),
                "step {step}: the conflict is back"
            );
            // And a new run resolves from there as if nothing had happened.
            let out = run_migmerge(&["resolve", "--yes"], root);
            assert_eq!(out.status.code(), Some(0), "step {step}: {}", stderr(&out));
            assert_eq!(tree(root), resolved, "step {step}");
        }
    }
    // The journal, a temp file per file, two renames' worth of moves and a removal at least.
    assert!(killed >= 5, "only {killed} halting points");
    assert!(
        kept >= 1 && rolled_back >= 5,
        "kept {kept}, rolled back {rolled_back}"
    );
}

#[test]
fn post_merge_killed_at_any_point_leaves_gits_merge_or_the_whole_resolution() {
    let mut killed = 0;
    let mut saw_rolled_back = false;
    let mut saw_committed = false;
    for step in 0.. {
        let dir = story("cross_app_dependency_on_sibling");
        let root = dir.path();
        git_ok(root, &["checkout", "-q", "-b", "feature", "main"]);
        git_ok(root, &["branch", "-f", "main", "theirs"]);
        let halt_file: PathBuf = root.join(".git/halted");
        let mut git = crate::common::clean_git(root, &crate::git_flows::path_var(true))
            .args(["merge", "--no-edit", "main"])
            .env("MIGMERGE_TEST_HALT_AT", step.to_string())
            .env("MIGMERGE_TEST_HALT_FILE", &halt_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run git");
        let Some(pid) = halted(&mut git, &halt_file) else {
            assert!(git.wait().unwrap().success());
            let out = run_migmerge(&["check"], root);
            assert_eq!(out.status.code(), Some(0), "step {step}: {}", stdout(&out));
            break;
        };
        kill9(pid);
        // git goes on after its hook died: the merge is made either way.
        assert!(git.wait().unwrap().success(), "step {step}");
        killed += 1;

        let out = run_migmerge(&["check"], root);
        let said = stderr(&out);
        assert!(said.contains("interrupted"), "step {step}: {said}");
        let now = tree(root);
        assert_clean_of_temp_files(&now, step);
        assert!(!root.join(JOURNAL).exists(), "step {step}");
        // Whichever way it went, the work tree and the index are HEAD's: nothing half-done.
        assert_eq!(
            git_ok(root, &["status", "--porcelain", "--untracked-files=all"]),
            "",
            "step {step}: {said}"
        );
        let parents = git_ok(root, &["rev-list", "--parents", "-n", "1", "HEAD"]);
        assert_eq!(parents.split_whitespace().count(), 3, "step {step}");
        let message = git_ok(root, &["log", "-1", "--format=%B"]);
        if message.contains("migmerge: users: renumbered") {
            // The resolution reached history before the kill: all of it is there.
            saw_committed = true;
            assert_eq!(out.status.code(), Some(0), "step {step}: {}", stdout(&out));
            let orders =
                fs::read_to_string(root.join("orders/migrations/0002_order_contact_phone.py"))
                    .unwrap();
            assert!(orders.contains("0005_customer_phone"), "step {step}");
        } else {
            // None of it: git's own merge, with both leaves.
            saw_rolled_back = true;
            assert_eq!(out.status.code(), Some(1), "step {step}");
            assert!(
                root.join("users/migrations/0004_customer_phone.py")
                    .exists()
            );
        }
    }
    assert!(killed >= 5, "only {killed} halting points");
    assert!(
        saw_rolled_back && saw_committed,
        "both outcomes are reached by some kill"
    );
}
