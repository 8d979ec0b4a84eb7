//! The publication rule, in real repositories with migmerge installed: whatever the strategy
//! (`auto` or a configured `renumber`) and the flow (merge either way, `--no-commit` then
//! `commit`, rebase, pull), a migration that a protected ref held before the operation keeps
//! its name, and a database migrated at the published side beforehand, as production is,
//! still migrates once the resolution is in.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{django_pythons, project_root};
use crate::git_flows::{assert_resolved, exists, git_env, git_ok, migmerge_lines, story};

const STORY: &str = "siblings_add_phone_vs_add_avatar";
const PHONE: &str = "users/migrations/0005_add_phone.py";
const AVATAR: &str = "users/migrations/0005_add_avatar.py";
const AVATAR_MOVED: &str = "users/migrations/0006_add_avatar.py";

/// The story with `[tool.migmerge]` set to `settings` on both branches; HEAD is `main`.
fn configured(settings: &str) -> tempfile::TempDir {
    let dir = story(STORY);
    let root = dir.path();
    for branch in ["theirs", "main"] {
        git_ok(root, &["checkout", "-q", branch]);
        fs::write(
            root.join("pyproject.toml"),
            format!("[tool.migmerge]\n{settings}\n"),
        )
        .unwrap();
        git_ok(root, &["add", "pyproject.toml"]);
        git_ok(root, &["commit", "-q", "-m", "migmerge settings"]);
    }
    dir
}

/// SQLite databases (one per Django under test) migrated at `rev`, as production is before
/// the operation.
struct Production {
    _dir: tempfile::TempDir,
    databases: Vec<(PathBuf, PathBuf)>,
}

fn oracle(python: &Path, tree: &Path, db: &Path) -> Value {
    let out = Command::new(python)
        .arg(project_root().join("tests/oracle/django_graph.py"))
        .arg(tree)
        .args(["--migrate", "--db"])
        .arg(db)
        .env("PYTHONHASHSEED", "0")
        .output()
        .expect("run the Django oracle");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle: bad output ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

impl Production {
    fn migrated_at(root: &Path, rev: &str) -> Production {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        fs::create_dir(&tree).unwrap();
        let tar = dir.path().join("published.tar");
        let out = Command::new("git")
            .current_dir(root)
            .args(["archive", "--format=tar", "-o"])
            .arg(&tar)
            .arg(rev)
            .output()
            .unwrap();
        assert!(out.status.success(), "git archive {rev}");
        let out = Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&tree)
            .output()
            .unwrap();
        assert!(out.status.success(), "tar");
        let mut databases = Vec::new();
        for (i, python) in django_pythons().into_iter().flatten().enumerate() {
            let db = dir.path().join(format!("production-{i}.sqlite3"));
            let json = oracle(&python, &tree, &db);
            assert_eq!(
                json["migrate"], "ok",
                "production at {rev}: {}",
                json["migrate"]
            );
            databases.push((python, db));
        }
        Production {
            _dir: dir,
            databases,
        }
    }

    /// `migrate` on the resolved tree with the production databases.
    fn assert_still_migrates(&self, root: &Path, what: &str) {
        for (python, db) in &self.databases {
            let json = oracle(python, root, db);
            assert!(json["error"].is_null(), "{what}: {}", json["error"]);
            assert_eq!(
                json["migrate"], "ok",
                "{what}: a database migrated at the published side fails: {}",
                json["migrate"]
            );
        }
    }
}

/// main's migration kept its name; the feature's moved after it.
fn assert_feature_renumbered(root: &Path, what: &str) {
    assert!(exists(root, PHONE), "{what}: main's migration was renamed");
    assert!(
        exists(root, AVATAR_MOVED),
        "{what}: the feature did not move"
    );
    assert!(!exists(root, AVATAR), "{what}");
}

/// Under `auto` and a configured `renumber`: production migrated at main, then `flow` (git
/// commands from main; the last one's output is what migmerge said), then the feature alone
/// moved, the tree resolved and production still migrating.
fn renames_only_the_feature(flow: &str, steps: &[&[&str]], said: &str) {
    for settings in ["strategy = \"auto\"", "strategy = \"renumber\""] {
        let dir = configured(settings);
        let root = dir.path();
        let production = Production::migrated_at(root, "main");
        let mut text = String::new();
        for step in steps {
            text = git_ok(root, step);
        }
        let what = format!("{settings}, {flow}");
        assert!(text.contains(said), "{what}: {text}");
        assert_feature_renumbered(root, &what);
        assert_resolved(root, &what);
        production.assert_still_migrates(root, &what);
    }
}

#[test]
fn merging_main_into_a_feature_renames_only_the_feature_under_every_strategy() {
    renames_only_the_feature(
        "main into feature",
        &[
            &["checkout", "-q", "theirs"],
            &["merge", "--no-edit", "main"],
        ],
        "users: renumbered 0005_add_avatar -> 0006_add_avatar",
    );
}

#[test]
fn merging_a_feature_into_main_renames_only_the_feature_under_every_strategy() {
    renames_only_the_feature(
        "feature into main",
        &[&["merge", "--no-edit", "theirs"]],
        "users: renumbered 0005_add_avatar",
    );
}

#[test]
fn a_merge_concluded_by_hand_renames_only_the_feature() {
    renames_only_the_feature(
        "merge --no-commit then commit",
        &[
            &["checkout", "-q", "theirs"],
            &["merge", "--no-commit", "--no-ff", "main"],
            &["commit", "--no-edit"],
        ],
        "users: renumbered 0005_add_avatar",
    );
}

#[test]
fn a_rebase_onto_main_renames_only_the_rebased_commits() {
    renames_only_the_feature(
        "rebase",
        &[&["checkout", "-q", "theirs"], &["rebase", "main"]],
        "users: renumbered 0005_add_avatar",
    );
}

#[test]
fn main_with_two_leaves_is_joined_by_a_merge_migration_and_nothing_is_renamed() {
    // Two pull requests merged on the forge left main with two leaves; the feature builds on
    // one of them. Renumbering the feature would move main's 0005_add_phone too.
    for settings in ["strategy = \"auto\"", "strategy = \"renumber\""] {
        let dir = configured(settings);
        let root = dir.path();
        git_ok(root, &["checkout", "-q", "-b", "feature", "main"]);
        fs::write(
            root.join("users/migrations/0006_profile_nickname.py"),
            "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    dependencies = [(\"users\", \"0005_add_phone\")]\n\n    operations = [\n        migrations.AddField(\"profile\", \"nickname\", models.CharField(max_length=30, default=\"\")),\n    ]\n",
        )
        .unwrap();
        git_ok(root, &["add", "-A"]);
        git_ok(root, &["commit", "-q", "-m", "nickname"]);
        git_ok(root, &["checkout", "-q", "main"]);
        let off = [("MIGMERGE", std::ffi::OsStr::new("0"))];
        let (ok, text) = git_env(root, &["merge", "--no-edit", "theirs"], &off);
        assert!(ok, "{text}");
        git_ok(root, &["checkout", "-q", "feature"]);
        let text = git_ok(root, &["merge", "--no-edit", "main"]);
        let what = format!("{settings}, main with two leaves");
        // The reason names main's migration on the feature's side, published on main.
        let why = if settings.contains("renumber") {
            "0005_add_phone is published (on main)"
        } else {
            "0005_add_phone on main"
        };
        let lines = migmerge_lines(&text);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("wrote 0007_merge_") && l.contains(why)),
            "{what}: {text}"
        );
        assert!(exists(root, PHONE) && exists(root, AVATAR), "{what}");
        assert!(
            exists(root, "users/migrations/0006_profile_nickname.py"),
            "{what}"
        );
        assert_resolved(root, &what);
    }
}

#[test]
fn a_second_protected_ref_is_honoured() {
    for settings in [
        "protected = [\"main\", \"release\"]",
        "protected = [\"main\", \"release\"]\nstrategy = \"renumber\"",
    ] {
        let dir = configured(settings);
        let root = dir.path();
        // The feature's migration is already on the release branch.
        git_ok(root, &["branch", "release", "theirs"]);
        let production = Production::migrated_at(root, "release");
        let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
        let what = settings.replace('\n', "; ");
        assert!(
            text.contains("wrote 0006_merge_0005_add_avatar_0005_add_phone.py"),
            "{what}: {text}"
        );
        assert!(text.contains("on release"), "{what}: {text}");
        assert!(exists(root, PHONE) && exists(root, AVATAR), "{what}");
        assert_resolved(root, &what);
        production.assert_still_migrates(root, &what);
    }
}

#[test]
fn resolve_with_renumber_refuses_when_every_side_is_published_and_says_where() {
    let dir = configured("protected = [\"main\", \"release\"]");
    let root = dir.path();
    git_ok(root, &["branch", "release", "theirs"]);
    let off = [("MIGMERGE", std::ffi::OsStr::new("0"))];
    let (ok, text) = git_env(root, &["merge", "--no-edit", "theirs"], &off);
    assert!(ok, "{text}");
    let before = git_ok(root, &["status", "--porcelain"]);
    let out = crate::common::run_migmerge(&["resolve", "--yes", "--strategy", "renumber"], root);
    assert_eq!(out.status.code(), Some(2));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("0005_add_avatar is published (on release)")
            && err.contains("0005_add_phone is published (on main)")
            && err.contains("--strategy merge"),
        "{err}"
    );
    assert_eq!(git_ok(root, &["status", "--porcelain"]), before);
}

#[test]
fn resolve_by_hand_with_renumber_after_merging_main_into_a_feature_moves_only_the_feature() {
    // No remote, no configuration: local main is protected. The merge commit on the feature
    // brought main's migration in; renumbering must still leave it alone.
    let dir = story(STORY);
    let root = dir.path();
    let production = Production::migrated_at(root, "main");
    git_ok(root, &["checkout", "-q", "theirs"]);
    let off = [("MIGMERGE", std::ffi::OsStr::new("0"))];
    let (ok, text) = git_env(root, &["merge", "--no-edit", "main"], &off);
    assert!(ok, "{text}");
    let out = crate::common::run_migmerge(&["resolve", "--yes", "--strategy", "renumber"], root);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::common::stderr(&out)
    );
    let text = crate::common::stdout(&out);
    assert!(
        text.contains("0005_add_phone cannot move: 0005_add_phone is published (on main)"),
        "{text}"
    );
    assert_feature_renumbered(root, "resolve --strategy renumber by hand");
    git_ok(root, &["commit", "-q", "-m", "resolved"]);
    assert_resolved(root, "resolve --strategy renumber by hand");
    production.assert_still_migrates(root, "resolve --strategy renumber by hand");
}
