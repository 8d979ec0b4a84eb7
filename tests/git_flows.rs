//! The transparent git flows: migmerge installed with `migmerge install` in real repositories,
//! then plain `git merge`, `pull`, `rebase` and `commit`. After each flow that should resolve,
//! the work tree is clean, `migmerge check` passes, and Django's own loader sees no conflict and
//! migrates on SQLite. Flows that must not resolve (an overlap conflict, a broken incoming
//! migration, dirty migration files) must change nothing and say why.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{
    assert_status, django_pythons, project_root, run_migmerge, stderr, stdout, story_repo,
};

/// The directory of the binary under test, for the shims and the driver to find it.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_migmerge"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

/// PATH with the binary under test first (`with_bin`), or PATH as the tests got it, which
/// holds no migmerge.
pub(crate) fn path_var(with_bin: bool) -> OsString {
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&inherited)
        .filter(|d| !d.join("migmerge").exists())
        .collect();
    if with_bin {
        dirs.insert(0, bin_dir());
    }
    std::env::join_paths(dirs).expect("PATH")
}

/// git in a clean environment (no user or system configuration), as `common::git`, with
/// migmerge on PATH or not.
pub(crate) fn git_with(cwd: &Path, args: &[&str], with_bin: bool) -> Output {
    crate::common::clean_git(cwd, &path_var(with_bin))
        .args(args)
        .output()
        .expect("run git")
}

/// git with migmerge on PATH; returns stdout and stderr together.
pub(crate) fn git(cwd: &Path, args: &[&str]) -> (bool, String) {
    let out = git_with(cwd, args, true);
    (out.status.success(), stdout(&out) + &stderr(&out))
}

pub(crate) fn git_ok(cwd: &Path, args: &[&str]) -> String {
    let (ok, text) = git(cwd, args);
    assert!(ok, "git {} failed:\n{text}", args.join(" "));
    text
}

/// `migmerge install` with the binary under test on PATH, as a user who installed it runs it.
pub(crate) fn install(dir: &Path, extra: &[&str]) -> String {
    let out = crate::common::migmerge()
        .args(["install", "--repo", "."])
        .args(extra)
        .current_dir(dir)
        .env_clear()
        .env("PATH", path_var(true))
        .output()
        .expect("run migmerge");
    assert_status(&out, 0);
    stdout(&out)
}

/// A fixture story (see `common::story_repo`) with migmerge installed, `.gitattributes`
/// committed on both branches.
pub(crate) fn story(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    story_repo(&project_root().join("fixtures").join(name), root);
    install_with_attributes(root);
    dir
}

/// `migmerge install`, with the attributes line committed on `theirs` and `main`.
fn install_with_attributes(root: &Path) {
    install(root, &[]);
    for branch in ["theirs", "main"] {
        git_ok(root, &["checkout", "-q", branch]);
        fs::write(
            root.join(".gitattributes"),
            "**/migrations/max_migration.txt merge=migmerge\n",
        )
        .unwrap();
        git_ok(root, &["add", ".gitattributes"]);
        git_ok(root, &["commit", "-q", "-m", "migmerge attributes"]);
    }
}

pub(crate) fn head(dir: &Path) -> String {
    git_ok(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

pub(crate) fn exists(dir: &Path, path: &str) -> bool {
    dir.join(path).exists()
}

/// Django's view of the tree (see tests/oracle/django_graph.py), with a migrate on SQLite.
pub(crate) fn django(python: &Path, tree: &Path) -> Value {
    let out = Command::new(python)
        .arg(project_root().join("tests/oracle/django_graph.py"))
        .arg(tree)
        .args(["--plan", "--migrate"])
        .env("PYTHONHASHSEED", "0")
        .output()
        .expect("run the Django oracle");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle {}: bad output ({e}): {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The end state every successful flow must reach.
pub(crate) fn assert_resolved(dir: &Path, what: &str) {
    let status = git_ok(dir, &["status", "--porcelain"]);
    assert_eq!(status, "", "{what}: the work tree is not clean");
    let check = run_migmerge(&["check"], dir);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{what}: check:\n{}{}",
        stdout(&check),
        stderr(&check)
    );
    for python in django_pythons().iter().flatten() {
        let json = django(python, dir);
        let who = format!("{what}, {}", python.display());
        assert!(json["error"].is_null(), "{who}: {}", json["error"]);
        assert_eq!(json["conflicts"], serde_json::json!({}), "{who}");
        assert_eq!(json["migrate"], "ok", "{who}: {}", json["migrate"]);
    }
}

/// The one line migmerge printed.
pub(crate) fn migmerge_lines(text: &str) -> Vec<&str> {
    // `git rebase` ends its progress lines with `\r`, not `\n`.
    text.split(['\n', '\r'])
        .filter(|l| l.starts_with("migmerge: "))
        .collect()
}

#[test]
fn merge_feature_into_main_puts_the_renumbering_in_the_merge_commit() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    let lines = migmerge_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("users: renumbered 0005_add_avatar -> 0006_add_avatar")
            && lines[0].contains("in merge commit"),
        "{text}"
    );
    // The merge commit itself holds the resolution: two parents, the renamed file.
    let parents = git_ok(root, &["rev-list", "--parents", "-n", "1", "HEAD"]);
    assert_eq!(parents.split_whitespace().count(), 3, "{parents}");
    let files = git_ok(root, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        files.contains("users/migrations/0006_add_avatar.py"),
        "{files}"
    );
    assert!(!files.contains("0005_add_avatar"), "{files}");
    let message = git_ok(root, &["log", "-1", "--format=%B"]);
    assert!(message.starts_with("Merge branch 'theirs'"), "{message}");
    assert!(message.contains("migmerge: users: renumbered"), "{message}");
    // The record says how to undo, and the undo works.
    let record: Value =
        serde_json::from_str(&fs::read_to_string(root.join(".git/migmerge/last.json")).unwrap())
            .unwrap();
    assert!(
        record["undo"]
            .as_str()
            .unwrap()
            .starts_with("git reset --keep ")
    );
    assert_resolved(root, "feature into main");

    let undo: Vec<&str> = record["undo"]
        .as_str()
        .unwrap()
        .split(' ')
        .skip(1)
        .collect();
    git_ok(root, &undo);
    assert!(exists(root, "users/migrations/0005_add_avatar.py"));
    assert!(!exists(root, "users/migrations/0006_add_avatar.py"));
}

/// The hooks keep what they parse in the git directory for the runs after them; `check`, which
/// promises to write nothing, only reads. A resolution made from the kept parses, or past a
/// damaged cache, is the one made without them.
#[test]
fn the_hooks_keep_their_parses_and_resolve_alike_with_them() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    let cache = ".git/migmerge/parse-cache";
    run_migmerge(&["check"], root);
    assert!(!exists(root, cache), "check wrote its parses");
    let before = head(root);
    git_ok(root, &["merge", "--no-edit", "theirs"]);
    let resolved = git_ok(root, &["rev-parse", "HEAD^{tree}"]);
    assert!(exists(root, cache), "the hooks kept nothing");
    for damage in [None, Some(&b"migmerge-parse\x001 not a cache"[..])] {
        if let Some(bytes) = damage {
            fs::write(root.join(cache), bytes).unwrap();
        }
        git_ok(root, &["reset", "--hard", &before]);
        git_ok(root, &["merge", "--no-edit", "theirs"]);
        assert_eq!(
            git_ok(root, &["rev-parse", "HEAD^{tree}"]),
            resolved,
            "damaged: {}",
            damage.is_some()
        );
    }
    assert_resolved(root, "merged with the kept parses");
}

#[test]
fn a_file_changed_after_the_hooks_stamped_it_is_read_again() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    // Files are stamped once their times are a few seconds old (see `source::SETTLED`).
    std::thread::sleep(std::time::Duration::from_secs(4));
    git_ok(root, &["merge", "--no-edit", "theirs"]);
    let stamped = root.join("users/migrations/0002_profile_bio.py");
    let kept = fs::read(root.join(".git/migmerge/parse-cache")).unwrap();
    let named = stamped.to_str().unwrap().as_bytes();
    assert!(
        kept.windows(named.len()).any(|w| w == named),
        "the hooks kept no stamp of {}",
        stamped.display()
    );
    assert_eq!(run_migmerge(&["check"], root).status.code(), Some(0));
    // Bytes of the same length, so that only the file's times and contents tell.
    let text = fs::read_to_string(&stamped).unwrap();
    let broken = text.replace("\"0001_initial\"", "\"0001_initiaX\"");
    assert_ne!(broken, text);
    fs::write(&stamped, broken).unwrap();
    let check = run_migmerge(&["check"], root);
    let out = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{out}");
    assert!(out.contains("0001_initiaX"), "{out}");
}

#[test]
fn a_merge_follows_a_migration_the_other_side_renamed() {
    // Ours renumbered 0003_post_tags to 0004_post_tags; theirs built on the old name.
    let dir = story("dangling_after_rename_on_other_side");
    let root = dir.path();
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    let lines = migmerge_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("blog: followed the rename of blog.0003_post_tags -> 0004_post_tags")
            && lines[0].contains("in merge commit"),
        "{text}"
    );
    let index = git_ok(
        root,
        &["show", "HEAD:blog/migrations/0004_post_tags_index.py"],
    );
    assert!(index.contains("\"0004_post_tags\""), "{index}");
    assert_resolved(root, "rename followed in the merge");
}

#[test]
fn merge_main_into_feature_renumbers_the_feature() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    git_ok(root, &["checkout", "-q", "theirs"]);
    let text = git_ok(root, &["merge", "--no-edit", "main"]);
    assert!(
        text.contains("migmerge: users: renumbered 0005_add_avatar -> 0006_add_avatar"),
        "{text}"
    );
    assert!(exists(root, "users/migrations/0006_add_avatar.py"));
    assert_resolved(root, "main into feature");
}

#[test]
fn merge_no_commit_then_commit_holds_the_resolution() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    let text = git_ok(root, &["merge", "--no-commit", "--no-ff", "theirs"]);
    assert!(migmerge_lines(&text).is_empty(), "{text}");
    let text = git_ok(root, &["commit", "--no-edit"]);
    assert!(
        text.contains("migmerge: users: renumbered 0005_add_avatar -> 0006_add_avatar"),
        "{text}"
    );
    let files = git_ok(root, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        files.contains("users/migrations/0006_add_avatar.py"),
        "{files}"
    );
    let message = git_ok(root, &["log", "-1", "--format=%B"]);
    assert!(message.contains("migmerge: users: renumbered"), "{message}");
    assert_resolved(root, "merge --no-commit, then commit");
}

#[test]
fn merge_with_commit_a_after_other_conflicts() {
    // The merge stops on a textual conflict elsewhere; the user fixes it and commits with -a,
    // so the pre-commit hook sees git's temporary index.
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    git_ok(root, &["checkout", "-q", "theirs"]);
    fs::write(root.join("NOTES"), "theirs\n").unwrap();
    git_ok(root, &["add", "NOTES"]);
    git_ok(root, &["commit", "-q", "-m", "notes"]);
    git_ok(root, &["checkout", "-q", "main"]);
    fs::write(root.join("NOTES"), "ours\n").unwrap();
    git_ok(root, &["add", "NOTES"]);
    git_ok(root, &["commit", "-q", "-m", "notes"]);
    let (ok, text) = git(root, &["merge", "--no-edit", "theirs"]);
    assert!(!ok, "{text}");
    fs::write(root.join("NOTES"), "both\n").unwrap();
    let text = git_ok(root, &["commit", "-a", "--no-edit"]);
    assert!(text.contains("migmerge: users: renumbered"), "{text}");
    let files = git_ok(root, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        files.contains("users/migrations/0006_add_avatar.py"),
        "{files}"
    );
    assert_resolved(root, "merge stopped on NOTES, then commit -a");
}

/// A branch `feature` off the story's base, one commit per migration of the story's theirs
/// side that is not in base (in name order).
fn split_feature(root: &Path, story: &str, migrations: &[&str]) {
    let fixture = project_root().join("fixtures").join(story).join("theirs");
    git_ok(root, &["checkout", "-q", "-b", "feature", "main~2"]);
    git_ok(root, &["cherry-pick", "main~1"]); // the attributes commit
    for path in migrations {
        let target = root.join(path);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(fixture.join(path), &target).unwrap();
        git_ok(root, &["add", path]);
        git_ok(root, &["commit", "-q", "-m", &format!("add {path}")]);
    }
}

#[test]
fn rebase_of_a_two_commit_branch_renumbers_in_a_follow_up_commit() {
    let dir = story("chain_three_vs_two");
    let root = dir.path();
    split_feature(
        root,
        "chain_three_vs_two",
        &[
            "blog/migrations/0003_tag.py",
            "blog/migrations/0004_tag_color.py",
        ],
    );
    let text = git_ok(root, &["rebase", "main"]);
    let lines = migmerge_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("renumbered 0003_tag -> 0006_tag, 0004_tag_color -> 0007_tag_color"),
        "{text}"
    );
    let log = git_ok(root, &["log", "--format=%s", "-4"]);
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(
        subjects[..3],
        [
            "Renumber migrations after rebase",
            "add blog/migrations/0004_tag_color.py",
            "add blog/migrations/0003_tag.py"
        ],
        "{log}"
    );
    assert_eq!(
        git_ok(root, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "feature"
    );
    assert_resolved(root, "rebase of a 2-commit branch");
}

#[test]
fn chains_and_cross_app_dependents_follow_the_renumbering() {
    let dir = story("demo_shop");
    let root = dir.path();
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(
        text.contains(
            "users: renumbered 0003_customer_avatar -> 0004_customer_avatar, \
             0004_customer_name_length -> 0005_customer_name_length"
        ),
        "{text}"
    );
    let orders =
        fs::read_to_string(root.join("shop/orders/migrations/0002_order_placed_by.py")).unwrap();
    assert!(orders.contains("0005_customer_name_length"), "{orders}");
    assert_resolved(root, "chain with a cross-app dependent");
}

#[test]
fn cross_app_dependent_on_our_side_after_rebase() {
    let dir = story("cross_app_dependency_on_sibling");
    let root = dir.path();
    // A feature branch with ours' commit (users 0004 + orders 0002 depending on it), not on
    // main, rebased onto theirs.
    git_ok(root, &["checkout", "-q", "-b", "feature", "main"]);
    git_ok(root, &["branch", "-f", "main", "main~2"]);
    let text = git_ok(root, &["rebase", "theirs"]);
    assert!(
        text.contains("migmerge: users: renumbered 0004_customer_phone -> 0005_customer_phone"),
        "{text}"
    );
    let orders =
        fs::read_to_string(root.join("orders/migrations/0002_order_contact_phone.py")).unwrap();
    assert!(orders.contains("0005_customer_phone"), "{orders}");
    assert_resolved(root, "rebase with a cross-app dependent");
}

#[test]
fn three_branches_merged_one_after_another() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    git_ok(root, &["checkout", "-q", "-b", "third", "theirs~1"]);
    fs::write(
        root.join("users/migrations/0005_profile_nickname.py"),
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    \
         dependencies = [(\"users\", \"0004_alter_profile_display_name\")]\n\n    operations = [\n        \
         migrations.AddField(\"profile\", \"nickname\", models.CharField(max_length=30, default=\"\")),\n    ]\n",
    )
    .unwrap();
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-q", "-m", "nickname"]);
    git_ok(root, &["checkout", "-q", "main"]);
    let first = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(
        first.contains("0005_add_avatar -> 0006_add_avatar"),
        "{first}"
    );
    let second = git_ok(root, &["merge", "--no-edit", "third"]);
    assert!(
        second.contains("0005_profile_nickname -> 0007_profile_nickname"),
        "{second}"
    );
    assert_resolved(root, "three branches");
}

/// A bare `origin` holding the story's main (ours), and a clone whose main has the story's
/// theirs commit instead, not pushed.
pub(crate) fn origin_and_clone(story: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream = dir.path().join("upstream");
    fs::create_dir(&upstream).unwrap();
    story_repo(&project_root().join("fixtures").join(story), &upstream);
    git_ok(
        dir.path(),
        &["clone", "-q", "--bare", "upstream", "origin.git"],
    );
    git_ok(dir.path(), &["clone", "-q", "origin.git", "local"]);
    let local = dir.path().join("local");
    fs::write(local.join(".git/info/exclude"), ".git-test-home/\n").unwrap();
    git_ok(&local, &["reset", "-q", "--hard", "HEAD~1"]);
    git_ok(&local, &["cherry-pick", "origin/theirs"]);
    install(&local, &["--local"]);
    (dir, local)
}

#[test]
fn pull_merges_and_renumbers_the_unpushed_side() {
    let (_dir, local) = origin_and_clone("siblings_add_phone_vs_add_avatar");
    let text = git_ok(&local, &["pull", "--no-rebase", "--no-edit"]);
    assert!(
        text.contains("migmerge: users: renumbered 0005_add_avatar -> 0006_add_avatar"),
        "{text}"
    );
    // What origin has is published and keeps its name.
    assert!(local.join("users/migrations/0005_add_phone.py").exists());
    assert_resolved(&local, "pull");
}

#[test]
fn pull_rebase_renumbers_the_rebased_commits() {
    let (_dir, local) = origin_and_clone("siblings_add_phone_vs_add_avatar");
    let text = git_ok(&local, &["pull", "--rebase"]);
    assert!(
        text.contains("migmerge: users: renumbered 0005_add_avatar -> 0006_add_avatar"),
        "{text}"
    );
    let subject = git_ok(&local, &["log", "-1", "--format=%s"]);
    assert_eq!(subject.trim(), "Renumber migrations after rebase");
    assert_resolved(&local, "pull --rebase");
}

/// git with migmerge on PATH and extra environment variables; stdout and stderr together.
pub(crate) fn git_env(cwd: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> (bool, String) {
    let out = crate::common::clean_git(cwd, &path_var(true))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run git");
    (out.status.success(), stdout(&out) + &stderr(&out))
}

/// A branch `plain` off `main~1` that changes no migration, so that merging it into `main`
/// makes a merge commit.
fn plain_branch(root: &Path) {
    git_ok(root, &["checkout", "-q", "-b", "plain", "main~1"]);
    fs::write(root.join("users/views.py"), "# Needs no migration.\n").unwrap();
    git_ok(root, &["add", "users/views.py"]);
    git_ok(root, &["commit", "-q", "-m", "A plain change"]);
    git_ok(root, &["checkout", "-q", "main"]);
}

#[test]
fn a_merge_that_changes_no_migration_is_left_alone_without_running_git() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    plain_branch(root);
    // `main` gets unresolved siblings with migmerge off: a conflict this merge does not bring.
    let (ok, text) = git_env(
        root,
        &["merge", "--no-edit", "theirs"],
        &[("MIGMERGE", "0".as_ref())],
    );
    assert!(ok, "{text}");
    assert_ne!(run_migmerge(&["check"], root).status.code(), Some(0));
    let before = head(root);

    let trace = root.join(".git/trace");
    let (ok, text) = git_env(
        root,
        &["merge", "--no-edit", "plain"],
        &[("GIT_TRACE", trace.as_os_str())],
    );
    assert!(ok, "{text}");
    assert!(!text.contains("migmerge"), "{text}");
    // The merge commit is git's own, never rewritten, and nothing was recorded.
    assert_eq!(git_ok(root, &["rev-parse", "HEAD^1"]).trim(), before);
    let moves = git_ok(root, &["reflog", "-1", "--format=%gs"]);
    assert!(moves.starts_with("merge plain: Merge made"), "{moves}");
    assert!(!exists(root, ".git/migmerge/last.json"));
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "");
    assert_ne!(run_migmerge(&["check"], root).status.code(), Some(0));
    // The hooks ran no git command to find that out (git itself may run a few of its own).
    let trace = fs::read_to_string(&trace).unwrap();
    assert!(trace.contains("post-merge"), "{trace}");
    for command in ["rev-parse", "status", "log", "symbolic-ref"] {
        assert!(
            !trace.contains(&format!("built-in: git {command}")),
            "git {command} ran:\n{trace}"
        );
    }
}

/// The story `name` with `users`'s migrations in `db/users_schema`, a directory only the
/// configuration (`migration-modules`) makes a migrations package, with migmerge installed.
fn relocated_story(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let fixture = project_root().join("fixtures").join(name);
    let commit_side = |side: &str| {
        crate::common::clear_work_tree(root);
        fs::write(root.join(".gitignore"), ".git-test-home/\n__pycache__/\n").unwrap();
        fs::write(
            root.join("pyproject.toml"),
            "[tool.migmerge]\nmigration-modules = { users = \"db/users_schema\" }\n",
        )
        .unwrap();
        crate::common::copy_tree(&fixture.join(side), root);
        fs::create_dir(root.join("db")).unwrap();
        fs::rename(root.join("users/migrations"), root.join("db/users_schema")).unwrap();
        git_ok(root, &["add", "-A"]);
        git_ok(root, &["commit", "-q", "-m", side]);
    };
    git_ok(root, &["init", "-q", "-b", "main"]);
    commit_side("base");
    git_ok(root, &["checkout", "-q", "-b", "theirs"]);
    commit_side("theirs");
    git_ok(root, &["checkout", "-q", "main"]);
    commit_side("ours");
    install_with_attributes(root);
    dir
}

#[test]
fn a_merge_into_a_configured_migrations_directory_is_resolved() {
    let dir = relocated_story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    // What the merge brings is in no directory named `migrations` (both sides committed the
    // same attributes file).
    let changed = git_ok(root, &["diff", "--name-only", "main...theirs"]);
    let changed: Vec<&str> = changed.lines().filter(|p| *p != ".gitattributes").collect();
    assert_eq!(changed, ["db/users_schema/0005_add_avatar.py"]);
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(
        text.contains("migmerge: users: renumbered 0005_add_avatar -> 0006_add_avatar")
            && text.contains("in merge commit"),
        "{text}"
    );
    let files = git_ok(root, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        files.contains("db/users_schema/0006_add_avatar.py"),
        "{files}"
    );
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "");
    let check = run_migmerge(&["check"], root);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
}

#[test]
fn a_squash_merge_stages_the_resolution_and_a_plain_one_nothing() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    plain_branch(root);
    let text = git_ok(root, &["merge", "--squash", "plain"]);
    assert!(!text.contains("migmerge"), "{text}");
    git_ok(root, &["reset", "-q", "--hard"]);

    let text = git_ok(root, &["merge", "--squash", "theirs"]);
    assert!(
        text.contains("migmerge: users: renumbered 0005_add_avatar -> 0006_add_avatar")
            && text.contains("staged for this commit"),
        "{text}"
    );
    let staged = git_ok(root, &["diff", "--cached", "--name-only"]);
    assert_eq!(staged, "users/migrations/0006_add_avatar.py\n");
    git_ok(root, &["commit", "--no-edit"]);
    let message = git_ok(root, &["log", "-1", "--format=%B"]);
    assert!(message.contains("migmerge: users: renumbered"), "{message}");
    assert_resolved(root, "squash merge");
}

#[test]
fn max_migration_txt_merge_never_stops() {
    let dir = story("siblings_with_max_migration_txt");
    let root = dir.path();
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(text.contains("migmerge: users: renumbered"), "{text}");
    let max = fs::read_to_string(root.join("users/migrations/max_migration.txt")).unwrap();
    assert_eq!(max.trim(), "0006_add_avatar");
    assert_resolved(root, "max_migration.txt merge");
}

#[test]
fn max_migration_txt_rebase_never_stops() {
    let dir = story("siblings_with_max_migration_txt");
    let root = dir.path();
    git_ok(root, &["checkout", "-q", "theirs"]);
    let text = git_ok(root, &["rebase", "main"]);
    assert!(text.contains("migmerge: users: renumbered"), "{text}");
    let max = fs::read_to_string(root.join("users/migrations/max_migration.txt")).unwrap();
    assert_eq!(max.trim(), "0006_add_avatar");
    assert_resolved(root, "max_migration.txt rebase");
}

#[test]
fn overlap_conflict_is_reported_not_decided() {
    let dir = story("overlap_remove_vs_alter_field");
    let root = dir.path();
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    let merge = head(root);
    let lines = migmerge_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("NOT RESOLVED: shop: both branches change the same thing")
            && lines[0].contains("migmerge resolve")
            && lines[0].contains("holds conflicting migrations"),
        "{text}"
    );
    // Nothing written, nothing rewritten.
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "");
    let message = git_ok(root, &["log", "-1", "--format=%B", &merge]);
    assert!(!message.contains("migmerge"), "{message}");
    assert!(exists(
        root,
        "shop/migrations/0004_widen_product_legacy_code.py"
    ));
}

#[test]
fn overlap_conflict_in_max_migration_txt_stops_the_merge_with_markers() {
    // An overlap that breaks migrate, in a project that keeps max_migration.txt.
    let dir = story("overlap_remove_vs_alter_field");
    let root = dir.path();
    for (branch, leaf) in [
        ("theirs", "0004_widen_product_legacy_code"),
        ("main", "0004_remove_product_legacy_code"),
    ] {
        git_ok(root, &["checkout", "-q", branch]);
        fs::write(
            root.join("shop/migrations/max_migration.txt"),
            format!("{leaf}\n"),
        )
        .unwrap();
        git_ok(root, &["add", "-A"]);
        git_ok(root, &["commit", "-q", "-m", "max"]);
    }
    let (ok, text) = git(root, &["merge", "--no-edit", "theirs"]);
    assert!(!ok, "the merge must stop: {text}");
    assert!(
        text.contains("both branches change the same thing"),
        "{text}"
    );
    let max = fs::read_to_string(root.join("shop/migrations/max_migration.txt")).unwrap();
    assert!(
        max.contains("<<<<<<< HEAD\n0004_remove_product_legacy_code\n=======\n"),
        "{max}"
    );
    assert!(
        max.contains("0004_widen_product_legacy_code\n>>>>>>> theirs"),
        "{max}"
    );
}

#[test]
fn syntax_error_on_the_incoming_side_rewrites_nothing() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    git_ok(root, &["checkout", "-q", "theirs"]);
    let broken = root.join("users/migrations/0005_add_avatar.py");
    let text = fs::read_to_string(&broken).unwrap();
    fs::write(&broken, text.replace("operations = [", "operations = [[")).unwrap();
    git_ok(root, &["commit", "-q", "-a", "-m", "broken"]);
    git_ok(root, &["checkout", "-q", "main"]);
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    let lines = migmerge_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("nothing changed") && lines[0].contains("0005_add_avatar.py"),
        "{text}"
    );
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "");
    let message = git_ok(root, &["log", "-1", "--format=%B"]);
    assert!(!message.contains("migmerge"), "{message}");
}

/// The post-merge shim names the binary that installed it (its first line), found on PATH
/// under the name PATH gives it: git runs it whatever the merge's own PATH holds.
#[cfg(unix)]
#[test]
fn post_merge_runs_the_binary_it_names_whatever_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/siblings_add_phone_vs_add_avatar"),
        root,
    );
    let bin = tempfile::tempdir().unwrap();
    let link = bin.path().join("migmerge");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_migmerge"), &link).unwrap();
    let mut path = vec![bin.path().to_path_buf()];
    path.extend(std::env::split_paths(&path_var(false)));
    let out = crate::common::migmerge()
        .args(["install", "--repo", "."])
        .current_dir(root)
        .env("PATH", std::env::join_paths(path).unwrap())
        .output()
        .unwrap();
    assert_status(&out, 0);
    let shim = fs::read_to_string(root.join(".git/hooks/post-merge")).unwrap();
    assert!(
        shim.starts_with(&format!("#!{} run-hook\n", link.display())),
        "{shim}"
    );
    // Without migmerge on the merge's PATH, the hook still resolves.
    let out = git_with(root, &["merge", "--no-edit", "theirs"], false);
    let text = stdout(&out) + &stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("migmerge: users: renumbered"), "{text}");
}

#[test]
fn a_binary_that_path_does_not_find_gets_the_shell_shim() {
    // Run from a build directory or a throwaway environment, the installing binary may be gone
    // by the next merge: the post-merge hook looks for migmerge on PATH at each run instead.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/siblings_add_phone_vs_add_avatar"),
        root,
    );
    let out = crate::common::migmerge()
        .args(["install", "--repo", "."])
        .current_dir(root)
        .env_clear()
        .env("PATH", path_var(false))
        .output()
        .unwrap();
    assert_status(&out, 0);
    let shim = fs::read_to_string(root.join(".git/hooks/post-merge")).unwrap();
    assert!(shim.starts_with("#!/bin/sh"), "{shim}");
    let out = git_with(root, &["merge", "--no-edit", "theirs"], true);
    let text = stdout(&out) + &stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("migmerge: users: renumbered"), "{text}");
}

#[cfg(unix)]
#[test]
fn missing_binary_loses_nothing() {
    // The binary the post-merge shim names is gone: git says it cannot run the hook, and the
    // merge is git's own, with the hook that was there before kept aside.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/siblings_add_phone_vs_add_avatar"),
        root,
    );
    let mine = "#!/bin/sh\nexit 0\n";
    let hook = root.join(".git/hooks/post-merge");
    fs::write(&hook, mine).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let bin = tempfile::tempdir().unwrap();
    let link = bin.path().join("migmerge");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_migmerge"), &link).unwrap();
    let mut path = vec![bin.path().to_path_buf()];
    path.extend(std::env::split_paths(&path_var(false)));
    let out = Command::new(&link)
        .args(["install", "--repo", "."])
        .current_dir(root)
        .env("PATH", std::env::join_paths(path).unwrap())
        .output()
        .unwrap();
    assert_status(&out, 0);
    fs::remove_file(&link).unwrap();
    let out = git_with(root, &["merge", "--no-edit", "theirs"], false);
    let text = stdout(&out) + &stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("post-merge"), "{text}");
    assert!(exists(root, "users/migrations/0005_add_avatar.py"));
    assert!(exists(root, "users/migrations/0005_add_phone.py"));
    assert_eq!(
        fs::read_to_string(root.join(".git/hooks/post-merge.migmerge-chained")).unwrap(),
        mine
    );
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "");

    // max_migration.txt: the driver falls back to git merge-file: both names, with markers.
    let dir = story("siblings_with_max_migration_txt");
    let root = dir.path();
    let out = git_with(root, &["merge", "--no-edit", "theirs"], false);
    assert!(!out.status.success(), "{}", stderr(&out));
    let max = fs::read_to_string(root.join("users/migrations/max_migration.txt")).unwrap();
    assert!(
        max.contains("<<<<<<< ")
            && max.contains("0005_add_phone")
            && max.contains("0005_add_avatar"),
        "{max}"
    );
}

#[test]
fn kill_switch_turns_everything_off() {
    let dir = story("siblings_with_max_migration_txt");
    let root = dir.path();
    let mut command = Command::new("git");
    let out = command
        .args(["merge", "--no-edit", "theirs"])
        .current_dir(root)
        .env_clear()
        .env("PATH", path_var(true))
        .env("HOME", root.join(".git-test-home"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "a")
        .env("GIT_AUTHOR_EMAIL", "a@example.com")
        .env("GIT_COMMITTER_NAME", "a")
        .env("GIT_COMMITTER_EMAIL", "a@example.com")
        .env("MIGMERGE", "0")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "git's own conflict, as without migmerge"
    );
    let max = fs::read_to_string(root.join("users/migrations/max_migration.txt")).unwrap();
    assert!(max.contains("<<<<<<< "), "{max}");
}

#[test]
fn unrelated_dirty_files_are_untouched() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    fs::write(root.join("scratch.txt"), "mine\n").unwrap();
    fs::write(
        root.join(".gitignore"),
        ".git-test-home/\n__pycache__/\n*.log\n",
    )
    .unwrap();
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(text.contains("migmerge: users: renumbered"), "{text}");
    let status = git_ok(root, &["status", "--porcelain"]);
    assert_eq!(status, " M .gitignore\n?? scratch.txt\n");
    assert_eq!(
        fs::read_to_string(root.join("scratch.txt")).unwrap(),
        "mine\n"
    );
    let files = git_ok(root, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(!files.contains("scratch.txt"), "{files}");
    let committed = git_ok(root, &["show", "HEAD:.gitignore"]);
    assert!(!committed.contains("*.log"), "{committed}");
}

#[test]
fn dirty_migration_files_make_the_hook_refuse() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    fs::write(root.join("users/migrations/0099_draft.py"), "# draft\n").unwrap();
    let before_merge = head(root);
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(
        text.contains("migration files have changes of their own"),
        "{text}"
    );
    assert!(text.contains("0099_draft.py"), "{text}");
    let parents = git_ok(root, &["rev-list", "--parents", "-n", "1", "HEAD"]);
    assert!(parents.contains(&before_merge));
    assert!(exists(root, "users/migrations/0005_add_avatar.py"));
    assert_eq!(
        fs::read_to_string(root.join("users/migrations/0099_draft.py")).unwrap(),
        "# draft\n"
    );
}

#[test]
fn install_is_idempotent_and_uninstall_restores_an_existing_hook() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/siblings_add_phone_vs_add_avatar"),
        root,
    );
    let mine = "#!/bin/sh\necho \"my hook ran\" > \"$(git rev-parse --git-dir)/my-hook-ran\"\n";
    let hook = root.join(".git/hooks/post-merge");
    fs::write(&hook, mine).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let printed = install(root, &["--local", "--print"]);
    assert!(printed.contains("would"), "{printed}");
    assert_eq!(
        fs::read_to_string(&hook).unwrap(),
        mine,
        "--print changed the hook"
    );

    install(root, &["--local"]);
    let config = fs::read_to_string(root.join(".git/config")).unwrap();
    let hooks: Vec<String> = ["post-merge", "post-merge.migmerge-chained", "pre-commit"]
        .iter()
        .map(|h| fs::read_to_string(root.join(".git/hooks").join(h)).unwrap())
        .collect();
    let again = install(root, &["--local"]);
    assert!(again.contains("nothing to change"), "{again}");
    assert_eq!(
        fs::read_to_string(root.join(".git/config")).unwrap(),
        config
    );
    assert_eq!(
        fs::read_to_string(root.join(".git/hooks/post-merge.migmerge-chained")).unwrap(),
        mine
    );
    assert_eq!(
        fs::read_to_string(root.join(".git/hooks/post-merge")).unwrap(),
        hooks[0]
    );

    // Both hooks run.
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(text.contains("migmerge: users:"), "{text}");
    assert!(root.join(".git/my-hook-ran").exists());

    let out = run_migmerge(&["uninstall", "--repo", "."], root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&hook).unwrap(), mine);
    assert!(!root.join(".git/hooks/post-merge.migmerge-chained").exists());
    assert!(!root.join(".git/hooks/pre-commit").exists());
    let config = fs::read_to_string(root.join(".git/config")).unwrap();
    assert!(!config.contains("migmerge"), "{config}");
    let attributes = fs::read_to_string(root.join(".git/info/attributes")).unwrap_or_default();
    assert!(!attributes.contains("migmerge"), "{attributes}");
    let again = run_migmerge(&["uninstall", "--repo", "."], root);
    assert!(
        stdout(&again).contains("nothing to change"),
        "{}",
        stdout(&again)
    );
}

#[test]
fn a_refusing_pre_commit_hook_still_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/siblings_add_phone_vs_add_avatar"),
        root,
    );
    let hook = root.join(".git/hooks/pre-commit");
    fs::write(&hook, "#!/bin/sh\necho no >&2\nexit 3\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    }
    install(root, &["--local"]);
    fs::write(root.join("x.txt"), "x\n").unwrap();
    git_ok(root, &["add", "x.txt"]);
    let (ok, text) = git(root, &["commit", "-m", "x"]);
    assert!(!ok, "{text}");
}

/// `git commit --amend` runs post-rewrite too: the hook kept aside gets it, with its list, and
/// migmerge does not start (so nothing is printed, with or without it on PATH).
#[cfg(unix)]
#[test]
fn an_amend_goes_to_the_kept_post_rewrite_hook_only() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    let kept = root.join(".git/hooks/post-rewrite.migmerge-chained");
    fs::write(
        &kept,
        "#!/bin/sh\n{ echo \"$1\"; cat; } >> \"$(git rev-parse --git-dir)/kept-saw\"\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&kept, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let before = head(root);
    for with_bin in [true, false] {
        let out = git_with(root, &["commit", "-q", "--amend", "--no-edit"], with_bin);
        let text = stdout(&out) + &stderr(&out);
        assert!(out.status.success(), "{text}");
        assert!(!text.contains("migmerge"), "{text}");
    }
    let saw = fs::read_to_string(root.join(".git/kept-saw")).unwrap();
    assert!(saw.starts_with(&format!("amend\n{before} ")), "{saw}");
    assert_eq!(saw.matches("amend\n").count(), 2, "{saw}");
}

#[test]
fn core_hooks_path_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/siblings_add_phone_vs_add_avatar"),
        root,
    );
    git_ok(root, &["config", "core.hooksPath", ".githooks"]);
    fs::write(root.join(".git/info/exclude"), ".githooks/\n").unwrap();
    install(root, &["--local"]);
    // A hooks directory outside the git directory may be committed or shared: its shims name
    // no binary of this machine, they find migmerge on PATH.
    let shim = fs::read_to_string(root.join(".githooks/post-merge")).unwrap();
    assert!(shim.starts_with("#!/bin/sh\n"), "{shim}");
    assert!(!root.join(".git/hooks/post-merge").exists());
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(text.contains("migmerge: users: "), "{text}");
    assert_resolved(root, "core.hooksPath");
}

#[test]
fn demo_shows_the_merge_resolving_itself() {
    let out = run_migmerge(&["demo"], &project_root());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("migmerge install --local"), "{text}");
    assert!(
        text.contains(
            "   migmerge: users: renumbered 0003_customer_avatar -> 0004_customer_avatar"
        ),
        "{text}"
    );
    assert!(text.contains("No migration conflicts"), "{text}");
}

#[test]
fn a_merge_concluded_by_hand_with_an_overlap_that_breaks_is_refused_until_resolved() {
    let dir = story("overlap_remove_vs_alter_field");
    let root = dir.path();
    git_ok(root, &["merge", "--no-commit", "--no-ff", "theirs"]);
    let (ok, text) = git(root, &["commit", "--no-edit"]);
    assert!(!ok, "the commit must be refused:\n{text}");
    assert!(
        text.contains("commit refused") && text.contains("migmerge resolve"),
        "{text}"
    );
    assert!(
        text.contains("MIGMERGE=0 git commit") && text.contains("--no-verify"),
        "{text}"
    );
    // Nothing was committed; the merge is still in progress.
    assert!(exists(root, ".git/MERGE_HEAD"));
    // The way out it names works.
    let off = [("MIGMERGE", OsStr::new("0"))];
    let (ok, text) = git_env(root, &["commit", "--no-edit"], &off);
    assert!(ok, "{text}");
    assert!(!exists(root, ".git/MERGE_HEAD"));
}

#[test]
fn an_untracked_draft_migration_leaves_max_migration_txt_to_git_so_the_merge_stops() {
    // The hooks refuse to build on a draft git does not track; the driver must not decide
    // half of the resolution either, or the merge would commit two leaves.
    let dir = story("siblings_with_max_migration_txt");
    let root = dir.path();
    fs::write(
        root.join("users/migrations/0099_draft.py"),
        "# a draft, never added\n",
    )
    .unwrap();
    let (ok, text) = git(root, &["merge", "--no-edit", "theirs"]);
    assert!(
        !ok,
        "the merge must stop as it would without migmerge:\n{text}"
    );
    assert!(
        text.contains("the hooks will not resolve this merge"),
        "{text}"
    );
    assert!(text.contains("users/migrations/0099_draft.py"), "{text}");
    let max = fs::read_to_string(root.join("users/migrations/max_migration.txt")).unwrap();
    assert!(max.contains("<<<<<<<"), "{max}");
}

/// Leaves in the `users` migrations package what a working copy gathers beside the migrations
/// (Python's bytecode cache, a merge tool's backup, Finder's `.DS_Store`), after `main` stops
/// ignoring bytecode (as a repository without a Python `.gitignore`).
fn leave_leftovers(root: &Path) -> Vec<&'static str> {
    fs::write(root.join(".gitignore"), ".git-test-home/\n").unwrap();
    git_ok(root, &["commit", "-q", "-am", "ignore no bytecode"]);
    let leftovers = vec![
        "users/migrations/__pycache__/0001_initial.cpython-312.pyc",
        "users/migrations/0004_profile.py.orig",
        "users/migrations/.DS_Store",
    ];
    for path in &leftovers {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"\x00left over").unwrap();
    }
    leftovers
}

/// Merges `theirs` beside the leftovers of [`leave_leftovers`] in the story repository at
/// `root`; checks that they are left as they were, untracked and out of the merge commit, then
/// removes them, so that the tree is as every resolved merge leaves it. Returns what the merge
/// printed.
fn merge_beside_leftovers(root: &Path) -> String {
    let leftovers = leave_leftovers(root);
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    let files = git_ok(root, &["ls-tree", "-r", "--name-only", "HEAD"]);
    for path in leftovers {
        assert!(exists(root, path), "{path}");
        assert!(!files.contains(path), "{files}");
        fs::remove_file(root.join(path)).unwrap();
    }
    text
}

#[test]
fn leftovers_git_does_not_ignore_are_not_changes_of_ones_own() {
    // None of these is loaded as a migration or written by a resolution: untracked, they are
    // no draft the hooks must refuse to build on.
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    let text = merge_beside_leftovers(root);
    assert!(text.contains("migmerge: users: renumbered"), "{text}");
    assert_resolved(root, "the merge beside leftovers");
    // A sourceless module beside the sources is one Django loads: still refused.
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    leave_leftovers(root);
    fs::write(
        root.join("users/migrations/0099_draft.pyc"),
        b"\x00bytecode",
    )
    .unwrap();
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(
        text.contains(
            "migration files have changes of their own (?? users/migrations/0099_draft.pyc)"
        ),
        "{text}"
    );
}

#[test]
fn leftovers_leave_max_migration_txt_to_the_driver() {
    // The driver judges untracked files as the hooks do: leftovers do not stop the merge.
    let dir = story("siblings_with_max_migration_txt");
    let root = dir.path();
    let text = merge_beside_leftovers(root);
    assert!(text.contains("migmerge: users: "), "{text}");
    assert_resolved(root, "the merge beside leftovers");
}

#[test]
fn a_draft_in_a_migrations_directory_migration_modules_renames_makes_the_hook_refuse() {
    // `MIGRATION_MODULES` moves dojo's migrations to `dojo/db_migrations`: a draft there is as
    // much the user's work as one in a directory named `migrations`, and would be renumbered
    // along with the migration it depends on.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let tree = project_root().join("fixtures/migration_modules_in_settings_conditional/tree");
    let migrations = root.join("dojo/db_migrations");
    git_ok(root, &["init", "-q", "-b", "main"]);
    fs::write(root.join(".gitignore"), ".git-test-home/\n__pycache__/\n").unwrap();
    crate::common::copy_tree(&tree, root);
    let cve = fs::read_to_string(migrations.join("0002_finding_cve.py")).unwrap();
    let epss = fs::read_to_string(migrations.join("0002_finding_epss.py")).unwrap();
    fs::remove_file(migrations.join("0002_finding_cve.py")).unwrap();
    fs::remove_file(migrations.join("0002_finding_epss.py")).unwrap();
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-q", "-m", "base"]);
    git_ok(root, &["checkout", "-q", "-b", "theirs"]);
    fs::write(migrations.join("0002_finding_cve.py"), &cve).unwrap();
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-q", "-m", "cve"]);
    git_ok(root, &["checkout", "-q", "main"]);
    fs::write(migrations.join("0002_finding_epss.py"), &epss).unwrap();
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-q", "-m", "epss"]);
    install(root, &[]);
    let draft = migrations.join("0003_draft.py");
    let draft_text = cve
        .replace("0001_initial", "0002_finding_cve")
        .replace("\"cve\"", "\"cve_note\"");
    fs::write(&draft, &draft_text).unwrap();
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(
        text.contains(
            "migration files have changes of their own (?? dojo/db_migrations/0003_draft.py)"
        ),
        "{text}"
    );
    assert_eq!(fs::read_to_string(&draft).unwrap(), draft_text);
    assert!(migrations.join("0002_finding_cve.py").exists());
    // Without the draft, the same merge is resolved there like anywhere else.
    fs::remove_file(&draft).unwrap();
    git_ok(root, &["reset", "-q", "--hard", "HEAD^"]);
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(text.contains("migmerge: dojo: "), "{text}");
    assert_resolved(root, "the merge into a relocated migrations directory");
}

#[test]
fn the_same_commits_merged_again_are_judged_on_the_work_tree_of_that_merge() {
    // The driver keeps what it worked out for a merge in the git directory, for the other
    // max_migration.txt files of the same merge; a later merge of the same commits, after the
    // work tree changed, must not inherit its verdict either way.
    let dir = story("siblings_with_max_migration_txt");
    let root = dir.path();
    let draft = root.join("users/migrations/0099_draft.py");
    // Merged without committing (the driver decides, the hooks do not run), then abandoned.
    git_ok(root, &["merge", "--no-commit", "--no-ff", "theirs"]);
    let max = fs::read_to_string(root.join("users/migrations/max_migration.txt")).unwrap();
    assert!(!max.contains("<<<<<<<"), "{max}");
    git_ok(root, &["merge", "--abort"]);
    // A draft appears: this merge must stop as git would.
    fs::write(&draft, "# a draft, never added\n").unwrap();
    let (ok, text) = git(root, &["merge", "--no-edit", "theirs"]);
    assert!(!ok, "the merge must stop:\n{text}");
    assert!(text.contains("users/migrations/0099_draft.py"), "{text}");
    git_ok(root, &["merge", "--abort"]);
    // The draft is gone again: this merge is resolved.
    fs::remove_file(&draft).unwrap();
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(text.contains("migmerge: users: "), "{text}");
    assert_resolved(root, "the third merge");
}
