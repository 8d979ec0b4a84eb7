//! `migmerge resolve` on fixture stories merged with real git: each strategy must leave a tree
//! that `check` and Django's own loader accept, with every original migration still there, and
//! must be a no-op the second time. Plus the refusals: overlap under `auto`, no terminal
//! without `--yes`, and `--dry-run`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{
    assert_status, django_pythons, git_ok, project_root, run_migmerge, stderr, stdout, story_repo,
};

/// A fixture story in a repository, with `theirs` merged into `main` by git.
fn merged_story(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    story_repo(&project_root().join("fixtures").join(name), dir.path());
    git_ok(dir.path(), &["merge", "-q", "--no-edit", "theirs"]);
    dir
}

/// Every file of the work tree but git's and the test home's, with its bytes.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).expect("read dir") {
            let entry = entry.expect("dir entry");
            let name = entry.file_name();
            if name == ".git" || name == ".git-test-home" || name == "__pycache__" {
                continue;
            }
            let path = entry.path();
            if entry.file_type().expect("file type").is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root").to_path_buf();
                out.insert(rel, fs::read(&path).expect("read file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Django's view of a tree (see tests/oracle/django_graph.py).
fn django(python: &Path, tree: &Path, plan: bool) -> Value {
    let mut command = Command::new(python);
    command
        .arg(project_root().join("tests/oracle/django_graph.py"))
        .arg(tree)
        .env("PYTHONHASHSEED", "0");
    if plan {
        command.args(["--plan", "--migrate"]);
    }
    let out = command.output().expect("run the Django oracle");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle {}: bad output ({e}): {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn keys(value: &Value) -> Vec<(String, String)> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| Some((pair[0].as_str()?.to_owned(), pair[1].as_str()?.to_owned())))
        .collect()
}

/// Django's nodes of the tree at `root`, for each Django python (none without Django).
fn django_nodes(root: &Path) -> Vec<Vec<(String, String)>> {
    django_pythons()
        .iter()
        .flatten()
        .map(|python| {
            let json = django(python, root, false);
            assert!(
                json["error"].is_null(),
                "{}: Django cannot load the tree before resolving: {}",
                python.display(),
                json["error"]
            );
            keys(&json["nodes"])
        })
        .collect()
}

/// A migration name without its number: what a renumbering keeps.
fn suffix(name: &str) -> &str {
    name.trim_start_matches(|c: char| c.is_ascii_digit())
}

/// Runs `migmerge resolve --yes ARGS` in `root`, which must succeed and leave a tree that
/// `check` accepts, and that a second run leaves unchanged. Returns what the first run printed.
fn resolve_ok(root: &Path, who: &str, args: &[&str]) -> String {
    let mut full = vec!["resolve", "--yes"];
    full.extend_from_slice(args);
    let out = run_migmerge(&full, root);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{who}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let check = run_migmerge(&["check"], root);
    assert_eq!(
        check.status.code(),
        Some(0),
        "check after {who}:\n{}{}",
        stdout(&check),
        stderr(&check)
    );
    // Running it again changes nothing.
    let resolved = snapshot(root);
    let again = run_migmerge(&full, root);
    assert_eq!(again.status.code(), Some(0), "{who}: {}", stderr(&again));
    assert!(
        stdout(&again).contains("No migration conflicts"),
        "{who}: {}",
        stdout(&again)
    );
    assert_eq!(
        snapshot(root),
        resolved,
        "{who}: the second resolve changed files"
    );
    stdout(&out)
}

/// Django's verdict on a resolved tree, for each Django python: it loads with no conflict,
/// every migration of `before` (the same pythons' nodes before resolving) is still in the
/// graph under its name or, renumbered, under a new number with the same suffix, `gained`
/// merge migrations joined them, and `migrate` applies the whole plan on SQLite.
fn assert_django_accepts(root: &Path, who: &str, before: &[Vec<(String, String)>], gained: usize) {
    for (python, before) in django_pythons().iter().flatten().zip(before) {
        let json = django(python, root, true);
        let who = format!("{who}, {}", python.display());
        assert!(json["error"].is_null(), "{who}: {}", json["error"]);
        assert_eq!(json["conflicts"], serde_json::json!({}), "{who}");
        assert_eq!(json["migrate"], "ok", "{who}: {}", json["migrate"]);
        let nodes = keys(&json["nodes"]);
        assert_eq!(
            nodes.len(),
            before.len() + gained,
            "{who}: migrations lost or gained"
        );
        let now: BTreeSet<&(String, String)> = nodes.iter().collect();
        for (app, name) in before {
            let kept = now.contains(&(app.clone(), name.clone()))
                || now.iter().any(|(a, n)| {
                    a == app
                        && suffix(n) == suffix(name)
                        && !before.contains(&(a.clone(), n.clone()))
                });
            assert!(kept, "{who}: {app}.{name} is gone, not even renumbered");
        }
        let plan = keys(&json["plan"]);
        let unique: BTreeSet<&(String, String)> = plan.iter().collect();
        assert_eq!(
            unique.len(),
            plan.len(),
            "{who}: a migration is planned twice"
        );
        for node in &nodes {
            assert!(unique.contains(node), "{who}: {node:?} is not in the plan");
        }
    }
}

/// Resolves `story` with `strategy` and checks the result with migmerge and Django.
fn resolve_story(story: &str, strategy: &str) {
    let dir = merged_story(story);
    let root = dir.path();
    let before = django_nodes(root);
    let conflicts = run_migmerge(&["check", "--format", "json"], root);
    let apps = serde_json::from_slice::<Value>(&conflicts.stdout).expect("check JSON")["conflicts"]
        .as_array()
        .map_or(0, Vec::len);
    let who = format!("{story} --strategy {strategy}");
    let text = resolve_ok(root, &who, &["--strategy", strategy]);
    let status = git_ok(root, &["status", "--porcelain"]);
    match strategy {
        "merge" => {
            assert_eq!(text.matches(": wrote 0").count(), apps, "{text}");
            // Each new merge migration is staged, ready for the commit.
            for line in text.lines().filter(|l| l.contains(": wrote ")) {
                let file = line.rsplit(' ').next().unwrap_or_default();
                assert!(
                    status
                        .lines()
                        .any(|l| l.starts_with("A ") && l.ends_with(file)),
                    "{who}: {file} is not staged:\n{status}"
                );
            }
        }
        _ => {
            assert_eq!(text.matches(": renumbered ").count(), apps, "{text}");
            // The renamed files show as renames in git.
            assert!(status.lines().any(|l| l.starts_with("R ")), "{status}");
        }
    }
    let gained = if strategy == "merge" { apps } else { 0 };
    assert_django_accepts(root, &who, &before, gained);
}

macro_rules! story_tests {
    ($($name:ident: $story:literal, $strategy:literal;)*) => {
        $(
            #[test]
            fn $name() {
                resolve_story($story, $strategy);
            }
        )*
    };
}

story_tests! {
    siblings_merge: "siblings_add_phone_vs_add_avatar", "merge";
    siblings_renumber: "siblings_add_phone_vs_add_avatar", "renumber";
    chain_three_vs_two_merge: "chain_three_vs_two", "merge";
    chain_three_vs_two_renumber: "chain_three_vs_two", "renumber";
    cross_app_dependency_merge: "cross_app_dependency_on_sibling", "merge";
    cross_app_dependency_renumber: "cross_app_dependency_on_sibling", "renumber";
    demo_shop_merge: "demo_shop", "merge";
    demo_shop_renumber: "demo_shop", "renumber";
    overlap_conflict_explicit_merge: "overlap_same_field_altered_both_sides", "merge";
    overlap_conflict_explicit_renumber: "overlap_same_field_altered_both_sides", "renumber";
    swappable_in_moved_migration_merge: "swappable_dependency_in_moved_migration", "merge";
    swappable_in_moved_migration_renumber: "swappable_dependency_in_moved_migration", "renumber";
    dependents_in_two_other_apps_merge: "dependents_in_two_other_apps", "merge";
    dependents_in_two_other_apps_renumber: "dependents_in_two_other_apps", "renumber";
    squash_on_protected_side_merge: "squash_on_protected_side", "merge";
    squash_on_protected_side_renumber: "squash_on_protected_side", "renumber";
    conflicts_in_two_apps_merge: "conflicts_in_two_apps", "merge";
    conflicts_in_two_apps_renumber: "conflicts_in_two_apps", "renumber";
    odd_formatting_merge: "renumber_odd_formatting", "merge";
    odd_formatting_renumber: "renumber_odd_formatting", "renumber";
    squash_on_unpublished_side_merge: "squash_on_unpublished_side", "merge";
    module_level_dependencies_merge: "renumber_module_level_dependencies", "merge";
    module_level_dependencies_renumber: "renumber_module_level_dependencies", "renumber";
}

#[test]
fn renumber_moves_the_branch_that_came_in_with_the_merge() {
    let dir = merged_story("chain_three_vs_two");
    let out = run_migmerge(&["resolve", "--yes", "--strategy", "renumber"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("blog: renumbered 0003_tag -> 0006_tag, 0004_tag_color -> 0007_tag_color"),
        "{text}"
    );
    assert!(
        dir.path()
            .join("blog/migrations/0007_tag_color.py")
            .exists()
    );
    assert!(!dir.path().join("blog/migrations/0003_tag.py").exists());
}

#[test]
fn renumber_rewrites_other_apps_references() {
    let dir = merged_story("demo_shop");
    let out = run_migmerge(&["resolve", "--yes", "--strategy", "renumber"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let orders = fs::read_to_string(
        dir.path()
            .join("shop/orders/migrations/0002_order_placed_by.py"),
    )
    .unwrap();
    assert!(orders.contains("0005_customer_name_length"), "{orders}");
    assert!(!orders.contains("0004_customer_name_length"), "{orders}");
}

#[test]
fn after_a_merge_commit_on_main_only_what_main_held_before_it_is_published() {
    // HEAD is the merge commit on main: main is read where it stood before the merge (its
    // first parent), so the merged-in side is unpublished and moves.
    let dir = merged_story("siblings_add_phone_vs_add_avatar");
    let out = run_migmerge(&["resolve", "--yes"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "renumbering 0005_add_avatar after 0005_add_phone: its migrations are on no \
             protected ref (main); 0005_add_phone is (on main)"
        ),
        "{text}"
    );
    assert!(
        text.contains("users: renumbered 0005_add_avatar -> 0006_add_avatar"),
        "{text}"
    );
}

#[test]
fn auto_merges_when_both_sides_are_on_main() {
    // A commit after the merge: main's current position is what it held before the next
    // operation, both sides included.
    let dir = merged_story("siblings_add_phone_vs_add_avatar");
    fs::write(dir.path().join("README"), "after the merge\n").unwrap();
    git_ok(dir.path(), &["add", "README"]);
    git_ok(dir.path(), &["commit", "-q", "-m", "after the merge"]);
    let out = run_migmerge(&["resolve", "--yes"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("both sides are published (0005_add_avatar on main, 0005_add_phone on main)"),
        "{text}"
    );
    assert!(
        text.contains("users: wrote 0006_merge_0005_add_avatar_0005_add_phone.py"),
        "{text}"
    );
}

#[test]
fn auto_renumbers_the_only_unpublished_side() {
    // On the feature branch, main merged in: main's leaf is published, the branch's is not.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/siblings_add_phone_vs_add_avatar"),
        root,
    );
    git_ok(root, &["checkout", "-q", "theirs"]);
    git_ok(root, &["merge", "-q", "--no-edit", "main"]);
    let out = run_migmerge(&["resolve", "--yes"], root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "renumbering 0005_add_avatar after 0005_add_phone: its migrations are on no \
             protected ref (main); 0005_add_phone is (on main)"
        ),
        "{text}"
    );
    assert!(
        text.contains("users: renumbered 0005_add_avatar -> 0006_add_avatar (1 reference updated)"),
        "{text}"
    );
    assert_eq!(run_migmerge(&["check"], root).status.code(), Some(0));
}

#[test]
fn auto_does_not_decide_an_overlap_conflict() {
    let dir = merged_story("overlap_remove_vs_alter_field");
    let before = snapshot(dir.path());
    let out = run_migmerge(&["resolve", "--yes"], dir.path());
    assert_status(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("CONFLICT"), "{text}");
    assert!(text.contains("shop: not resolved"), "{text}");
    assert_eq!(snapshot(dir.path()), before, "auto wrote something");
}

#[test]
fn dry_run_writes_nothing() {
    let dir = merged_story("siblings_add_phone_vs_add_avatar");
    let before = snapshot(dir.path());
    for strategy in ["merge", "renumber"] {
        let out = run_migmerge(
            &["resolve", "--dry-run", "--strategy", strategy],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("+++ b/users/migrations/"), "{text}");
        assert!(text.contains("users: would "), "{text}");
    }
    assert_eq!(snapshot(dir.path()), before, "--dry-run wrote something");
    assert_eq!(git_ok(dir.path(), &["status", "--porcelain"]), "");
}

#[test]
fn json_prints_the_plan() {
    let dir = merged_story("siblings_add_phone_vs_add_avatar");
    let out = run_migmerge(
        &[
            "resolve",
            "--dry-run",
            "--strategy",
            "renumber",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let app = &json["apps"][0];
    assert_eq!(app["app"], "users");
    assert_eq!(app["strategy"], "renumber");
    assert_eq!(app["written"], false);
    assert_eq!(app["plan"]["changes"][0]["change"], "rename");
    assert_eq!(
        app["plan"]["changes"][0]["to"],
        "users/migrations/0006_add_avatar.py"
    );
}

#[test]
fn without_a_terminal_it_asks_for_yes() {
    let dir = merged_story("siblings_add_phone_vs_add_avatar");
    let before = snapshot(dir.path());
    let out = run_migmerge(&["resolve"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn three_leaves_refuse_renumber_and_auto_merges_them_all() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::copy_tree(
        &project_root().join("fixtures/three_way_siblings/tree"),
        dir.path(),
    );
    let before = snapshot(dir.path());
    let out = run_migmerge(&["resolve", "--yes", "--strategy", "renumber"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("--strategy merge"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(dir.path()), before);

    let out = run_migmerge(&["resolve", "--yes"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("shop: wrote 0004_merge_"),
        "{}",
        stdout(&out)
    );
    assert_eq!(run_migmerge(&["check"], dir.path()).status.code(), Some(0));
}

#[test]
fn nothing_to_resolve_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::copy_tree(
        &project_root().join("fixtures/siblings_add_phone_vs_add_avatar/base"),
        dir.path(),
    );
    let out = run_migmerge(&["resolve"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("No migration conflicts"));
}

// ---------------------------------------------------------------------------------------------
// Snapshots: the exact bytes a resolution writes, pinned under `fixtures/<story>/expected/`.

/// A file's bytes as text for a diff, with carriage returns shown, so that a change of line
/// endings is visible.
fn visible(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\r', "\\r")
}

/// Compares the resolved tree `root` with `fixtures/<story>/expected/<case>/` (see
/// fixtures/README.md; `case` is the strategy, or a name for a configured variant of it): each
/// file there must be in `root` with exactly its bytes; every other file of `root` must hold
/// what it held in `before` (the merged tree); and a file of `before` may be missing only as
/// the old name of a migration renamed into one of the expected files.
/// A mismatch fails with a unified diff per file. `UPDATE_EXPECTED=1` rewrites the expected
/// tree from `root` instead.
fn assert_expected(story: &str, case: &str, before: &BTreeMap<PathBuf, Vec<u8>>, root: &Path) {
    let expected_dir = project_root()
        .join("fixtures")
        .join(story)
        .join("expected")
        .join(case);
    let after = snapshot(root);
    let changed: BTreeMap<&PathBuf, &Vec<u8>> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(*bytes))
        .collect();
    if std::env::var_os("UPDATE_EXPECTED").is_some_and(|v| v == "1") {
        let _ = fs::remove_dir_all(&expected_dir);
        for (path, bytes) in &changed {
            let target = expected_dir.join(path);
            fs::create_dir_all(target.parent().expect("a parent")).expect("create dir");
            fs::write(target, bytes).expect("write expected file");
        }
        return;
    }
    assert!(
        expected_dir.is_dir(),
        "{} is missing: run with UPDATE_EXPECTED=1 to create it, then review it",
        expected_dir.display()
    );
    let expected = snapshot(&expected_dir);
    let mut report = Vec::new();
    for (path, want) in &expected {
        let got = after.get(path).map(Vec::as_slice).unwrap_or_default();
        if got != want.as_slice() {
            let (want, got) = (visible(want), visible(got));
            let diff = similar::TextDiff::from_lines(&want, &got)
                .unified_diff()
                .context_radius(3)
                .header(
                    &format!("expected/{case}/{}", path.display()),
                    &format!("resolved/{}", path.display()),
                )
                .to_string();
            let diff = if diff.is_empty() {
                "(the file is missing)\n".to_owned()
            } else {
                diff
            };
            report.push(format!("{}:\n{diff}", path.display()));
        }
    }
    for path in changed.keys() {
        if !expected.contains_key(*path) {
            report.push(format!(
                "{}: changed by the resolution, but not in expected/{case}",
                path.display()
            ));
        }
    }
    let created = expected.keys().filter(|p| !before.contains_key(*p)).count();
    let removed: Vec<&PathBuf> = before.keys().filter(|p| !after.contains_key(*p)).collect();
    let only_migrations = removed.iter().all(|p| {
        p.extension().is_some_and(|e| e == "py")
            && p.parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == "migrations")
    });
    if !only_migrations || removed.len() > created {
        report.push(format!(
            "removed {removed:?}, but only renamed migrations may go ({created} new file(s) expected)"
        ));
    }
    assert!(
        report.is_empty(),
        "{story}: the resolution does not write what expected/{case} holds \
         (UPDATE_EXPECTED=1 rewrites it):\n{}",
        report.join("\n")
    );
}

/// Renumbers `story` after the merge and compares the result with `expected/renumber`.
fn renumber_matches_expected(story: &str) {
    let dir = merged_story(story);
    let before = snapshot(dir.path());
    resolve_ok(
        dir.path(),
        &format!("{story} --strategy renumber"),
        &["--strategy", "renumber"],
    );
    assert_expected(story, "renumber", &before, dir.path());
}

#[test]
fn renumber_keeps_odd_formatting_byte_for_byte() {
    // CRLF, single quotes, comments inside the dependency lists, a trailing comma, a tuple:
    // only the names change.
    renumber_matches_expected("renumber_odd_formatting");
}

#[test]
fn renumber_rewrites_module_level_dependencies_where_they_are_written() {
    // A list extended under a setting and a name bound to a pair, both outside the class.
    renumber_matches_expected("renumber_module_level_dependencies");
}

#[test]
fn renumber_replaces_keeps_odd_formatting_byte_for_byte() {
    // The `replaces` line goes in with the file's quotes, indentation and line breaks.
    let story = "renumber_odd_formatting";
    let dir = merged_story(story);
    fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.migmerge]\nrenumber-replaces = true\n",
    )
    .unwrap();
    let before = snapshot(dir.path());
    resolve_ok(dir.path(), "renumber-replaces", &["--strategy", "renumber"]);
    assert_expected(story, "renumber-replaces", &before, dir.path());
}

#[test]
fn renumber_leaves_a_swappable_dependency_as_written() {
    renumber_matches_expected("swappable_dependency_in_moved_migration");
    let dir = merged_story("swappable_dependency_in_moved_migration");
    resolve_ok(dir.path(), "swappable", &["--strategy", "renumber"]);
    let moved = fs::read_to_string(dir.path().join("blog/migrations/0003_post_author.py")).unwrap();
    assert!(
        moved.contains(
            "        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n        (\"blog\", \"0002_post_slug\"),\n"
        ),
        "{moved}"
    );
}

#[test]
fn renumber_rewrites_dependents_in_two_other_apps() {
    renumber_matches_expected("dependents_in_two_other_apps");
    let dir = merged_story("dependents_in_two_other_apps");
    let text = resolve_ok(dir.path(), "dependents", &["--strategy", "renumber"]);
    assert!(
        text.contains(
            "users: renumbered 0003_customer_tier -> 0004_customer_tier, \
             0004_customer_tier_since -> 0005_customer_tier_since (4 references updated)"
        ),
        "{text}"
    );
    let read = |p: &str| fs::read_to_string(dir.path().join(p)).unwrap();
    let orders = read("orders/migrations/0002_order_tier_discount.py");
    assert!(
        orders.contains("(\"users\", \"0004_customer_tier\")"),
        "{orders}"
    );
    let billing = read("billing/migrations/0002_invoice_tier.py");
    assert!(
        billing.contains("(\"users\", \"0005_customer_tier_since\")"),
        "{billing}"
    );
}

#[test]
fn renumber_after_a_squashed_leaf_counts_its_last_number() {
    renumber_matches_expected("squash_on_protected_side");
}

// ---------------------------------------------------------------------------------------------
// Which side moves, from where the leaves are published.

#[test]
fn auto_renumbers_the_branch_not_the_squash_on_main() {
    // On the feature branch, main (with its squash) merged in: only the branch may move.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/squash_on_protected_side"),
        root,
    );
    git_ok(root, &["checkout", "-q", "theirs"]);
    git_ok(root, &["merge", "-q", "--no-edit", "main"]);
    let before = django_nodes(root);
    let text = resolve_ok(root, "squash on main, auto", &[]);
    assert!(
        text.contains(
            "renumbering 0002_product_sku after 0002_squashed_0006_product_weight: its \
             migrations are on no protected ref (main); 0002_squashed_0006_product_weight is \
             (on main)"
        ),
        "{text}"
    );
    assert!(
        text.contains("catalog: renumbered 0002_product_sku -> 0007_product_sku"),
        "{text}"
    );
    assert!(
        root.join("catalog/migrations/0002_squashed_0006_product_weight.py")
            .exists()
    );
    assert_django_accepts(root, "squash on main, auto", &before, 0);
}

#[test]
fn auto_merges_when_the_side_to_move_is_a_squash() {
    // The feature branch's squash is the unpublished leaf, but a squash may not be renamed:
    // `auto` falls back to a merge migration and renames nothing.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/squash_on_unpublished_side"),
        root,
    );
    // In progress: the squash is not on `main` yet, so it is the side `auto` would move.
    git_ok(root, &["merge", "-q", "--no-commit", "--no-ff", "theirs"]);
    let before = django_nodes(root);
    let text = resolve_ok(root, "squash on the branch, auto", &[]);
    assert!(
        text.contains(
            "writing a merge migration: 0002_squashed_0006_product_weight is the unpublished \
             side, but it cannot be renumbered"
        ) && text.contains("0002_squashed_0006_product_weight is a squashed migration"),
        "{text}"
    );
    let migrations = root.join("catalog/migrations");
    assert!(migrations.join("0002_product_sku.py").exists());
    assert!(
        migrations
            .join("0002_squashed_0006_product_weight.py")
            .exists()
    );
    let merges: Vec<_> = fs::read_dir(&migrations)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("0007_merge_"))
        .collect();
    assert_eq!(merges.len(), 1, "{text}");
    assert_django_accepts(root, "squash on the branch, auto", &before, 1);
}

#[test]
fn a_dependency_on_a_name_the_other_side_renumbered_follows_the_rename() {
    let dir = merged_story("dangling_after_rename_on_other_side");
    let root = dir.path();
    // What `check` promises is what `resolve` then does.
    let check = stdout(&run_migmerge(&["check"], root));
    assert!(
        check.contains(
            "`migmerge resolve` follows the migrations the other side of the merge renamed \
             (blog.0003_post_tags -> 0004_post_tags)"
        ),
        "{check}"
    );
    let text = resolve_ok(root, "rename on the other side", &[]);
    assert!(
        text.contains(
            "blog: followed the rename of blog.0003_post_tags -> 0004_post_tags (1 reference)"
        ),
        "{text}"
    );
    let index = fs::read_to_string(root.join("blog/migrations/0004_post_tags_index.py")).unwrap();
    assert!(index.contains("0004_post_tags\""), "{index}");
    assert!(!index.contains("0003_post_tags"), "{index}");
    for python in django_pythons().iter().flatten() {
        let json = django(python, root, true);
        assert!(
            json["error"].is_null(),
            "{}: {}",
            python.display(),
            json["error"]
        );
        assert_eq!(json["conflicts"], serde_json::json!({}));
        assert_eq!(json["migrate"], "ok", "{}", json["migrate"]);
    }
}

#[test]
fn a_dangling_dependency_with_no_rename_in_history_is_left_alone() {
    // A namesake exists (0004_post_tags), but no commit ever held 0002_post_tags: a typo to
    // fix by hand, not a rename to follow.
    let dir = merged_story("dangling_after_rename_on_other_side");
    let root = dir.path();
    let index = root.join("blog/migrations/0004_post_tags_index.py");
    let text = fs::read_to_string(&index).unwrap();
    fs::write(&index, text.replace("0003_post_tags", "0002_post_tags")).unwrap();
    git_ok(root, &["commit", "-q", "-am", "typo"]);
    let before = snapshot(root);
    // `check` promises nothing `resolve` would not do.
    let check = stdout(&run_migmerge(&["check"], root));
    assert!(!check.contains("migmerge resolve"), "{check}");
    let out = run_migmerge(&["resolve", "--yes"], root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("No migration conflicts to resolve"),
        "{}",
        stdout(&out)
    );
    assert_eq!(snapshot(root), before);
}

#[test]
fn following_renames_keeps_to_the_apps_asked_for() {
    let dir = merged_story("dangling_after_rename_on_other_side");
    let root = dir.path();
    let before = snapshot(root);
    let out = run_migmerge(&["resolve", "--yes", "--app", "shop"], root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(snapshot(root), before, "{}", stdout(&out));
    let text = resolve_ok(root, "--app blog", &["--app", "blog"]);
    assert!(
        text.contains("blog: followed the rename of blog.0003_post_tags -> 0004_post_tags"),
        "{text}"
    );
}

#[test]
fn renumber_refuses_to_rename_a_squash_and_names_the_way_out() {
    let dir = merged_story("squash_on_unpublished_side");
    let before = snapshot(dir.path());
    let out = run_migmerge(&["resolve", "--yes", "--strategy", "renumber"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("0002_squashed_0006_product_weight is a squashed migration")
            && err.contains("--strategy merge"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before, "a refusal writes nothing");
}

/// The siblings story merged on `main`, in a clone of a bare `origin`. `push_merge`: whether
/// `origin/main` gets the merge (both leaves published) or only ours.
fn story_with_origin(push_merge: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("work");
    fs::create_dir(&root).unwrap();
    story_repo(
        &project_root().join("fixtures/siblings_add_phone_vs_add_avatar"),
        &root,
    );
    git_ok(
        dir.path(),
        &["init", "-q", "--bare", "-b", "main", "origin.git"],
    );
    let origin = dir.path().join("origin.git");
    git_ok(
        &root,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    if !push_merge {
        git_ok(&root, &["push", "-q", "origin", "main"]);
    }
    git_ok(&root, &["merge", "-q", "--no-edit", "theirs"]);
    if push_merge {
        git_ok(&root, &["push", "-q", "origin", "main"]);
    }
    (dir, root)
}

#[test]
fn auto_merges_when_both_sides_are_on_origin_main() {
    let (_dir, root) = story_with_origin(true);
    let before = django_nodes(&root);
    let text = resolve_ok(&root, "both on origin/main", &[]);
    assert!(
        text.contains(
            "both sides are published (0005_add_avatar on origin/main, 0005_add_phone on \
             origin/main)"
        ),
        "{text}"
    );
    assert!(
        text.contains("users: wrote 0006_merge_0005_add_avatar_0005_add_phone.py"),
        "{text}"
    );
    assert_django_accepts(&root, "both on origin/main", &before, 1);
}

#[test]
fn with_a_remote_local_main_does_not_publish() {
    // origin/main has only ours: theirs, merged into local main but never pushed, still moves.
    let (_dir, root) = story_with_origin(false);
    let text = resolve_ok(&root, "ours on origin/main", &[]);
    assert!(
        text.contains(
            "renumbering 0005_add_avatar after 0005_add_phone: its migrations are on no \
             protected ref (origin/main)"
        ),
        "{text}"
    );
}

#[test]
fn auto_merges_when_configured_protected_refs_hold_both() {
    // `protected` names a release branch that holds both leaves; main is not protected then.
    let dir = merged_story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    fs::write(
        root.join("pyproject.toml"),
        "[tool.migmerge]\nprotected = [\"release\"]\n",
    )
    .unwrap();
    git_ok(root, &["add", "pyproject.toml"]);
    git_ok(root, &["commit", "-q", "-m", "config"]);
    git_ok(root, &["branch", "release"]);
    let text = resolve_ok(root, "protected release", &[]);
    assert!(
        text.contains(
            "both sides are published (0005_add_avatar on release, 0005_add_phone on release)"
        ),
        "{text}"
    );
    assert!(text.contains("users: wrote 0006_merge_"), "{text}");
}

#[test]
fn auto_still_does_not_decide_an_overlap_conflict_with_one_side_unpublished() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/overlap_remove_vs_alter_field"),
        root,
    );
    git_ok(root, &["checkout", "-q", "theirs"]);
    git_ok(root, &["merge", "-q", "--no-edit", "main"]);
    let before = snapshot(root);
    let out = run_migmerge(&["resolve", "--yes"], root);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("not resolved"), "{}", stdout(&out));
    assert_eq!(snapshot(root), before, "auto wrote something");
}

// ---------------------------------------------------------------------------------------------
// A merge stopped on a textual conflict outside the migrations.

#[test]
fn conflict_markers_in_models_py_do_not_stop_resolve() {
    for strategy in ["auto", "merge"] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        story_repo(
            &project_root().join("fixtures/conflict_markers_in_models_py"),
            root,
        );
        let merge = crate::common::git(root, &["merge", "-q", "--no-edit", "theirs"]);
        assert!(!merge.status.success(), "the story needs git to stop");
        let models = fs::read(root.join("users/models.py")).unwrap();
        assert!(String::from_utf8_lossy(&models).contains("<<<<<<<"));

        let who = format!("markers in models.py, --strategy {strategy}");
        let text = resolve_ok(root, &who, &["--strategy", strategy]);
        if strategy == "auto" {
            assert!(
                text.contains("users: renumbered 0002_profile_avatar -> 0003_profile_avatar"),
                "{text}"
            );
        } else {
            assert!(text.contains("users: wrote 0003_merge_"), "{text}");
        }
        // models.py is not migmerge's: still conflicted, byte for byte.
        assert_eq!(fs::read(root.join("users/models.py")).unwrap(), models);
        let status = git_ok(root, &["status", "--porcelain"]);
        assert!(status.contains("UU users/models.py"), "{status}");

        // The user settles models.py and concludes the merge; Django then agrees.
        fs::write(
            root.join("users/models.py"),
            "from django.db import models\n\n\nclass Profile(models.Model):\n    \
             display_name = models.CharField(max_length=100)\n    \
             phone = models.CharField(blank=True, max_length=32)\n    \
             avatar = models.ImageField(blank=True, upload_to=\"avatars/\")\n",
        )
        .unwrap();
        git_ok(root, &["add", "users/models.py"]);
        git_ok(root, &["commit", "-q", "--no-edit"]);
        assert_eq!(
            git_ok(root, &["status", "--porcelain"]),
            "",
            "all committed"
        );
        // Before: the two 0002 siblings and 0001.
        let before: Vec<Vec<(String, String)>> = django_pythons()
            .iter()
            .flatten()
            .map(|_| {
                ["0001_initial", "0002_profile_avatar", "0002_profile_phone"]
                    .iter()
                    .map(|n| ("users".to_owned(), (*n).to_owned()))
                    .collect()
            })
            .collect();
        let gained = usize::from(strategy == "merge");
        assert_django_accepts(root, &who, &before, gained);
    }
}

// ---------------------------------------------------------------------------------------------
// --dry-run plans each app on what the previous ones would leave.

#[test]
fn dry_run_prints_exactly_what_the_real_run_writes() {
    // theirs' billing.0003_invoice_currency depends on users.0003_address: renumbering billing
    // renames it, then renumbering users must edit it under its new name.
    let dir = merged_story("conflicts_in_two_apps");
    let root = dir.path();
    let before = snapshot(root);
    let args = ["--strategy", "renumber", "--format", "json"];
    let dry = run_migmerge(&[&["resolve", "--dry-run"][..], &args].concat(), root);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert_eq!(snapshot(root), before, "--dry-run wrote something");
    let text = run_migmerge(&["resolve", "--dry-run", "--strategy", "renumber"], root);
    assert!(
        stdout(&text).contains("+++ b/billing/migrations/0004_invoice_currency.py"),
        "{}",
        stdout(&text)
    );

    let real = run_migmerge(&[&["resolve", "--yes"][..], &args].concat(), root);
    assert_eq!(real.status.code(), Some(0), "{}", stderr(&real));
    let (dry, real): (Value, Value) = (
        serde_json::from_slice(&dry.stdout).unwrap(),
        serde_json::from_slice(&real.stdout).unwrap(),
    );
    let apps = real["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 2);
    for (planned, done) in dry["apps"].as_array().unwrap().iter().zip(apps) {
        assert_eq!(planned["app"], done["app"]);
        assert_eq!(planned["written"], false);
        assert_eq!(done["written"], true);
        assert_eq!(planned["plan"], done["plan"], "{}", planned["app"]);
    }
    let users = &apps[1];
    assert_eq!(users["app"], "users");
    let edited: Vec<&str> = users["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["path"].as_str())
        .collect();
    assert_eq!(edited, ["billing/migrations/0004_invoice_currency.py"]);
}

// ---------------------------------------------------------------------------------------------
// renumber-replaces: a branch already migrated on a shared database keeps working there.

#[test]
fn renumber_replaces_keeps_a_deployed_branch_applied() {
    let Some(pythons) = django_pythons() else {
        return;
    };
    let key = |app: &str, name: &str| (app.to_owned(), name.to_owned());
    for keep_old_names in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("work");
        fs::create_dir(&root).unwrap();
        story_repo(
            &project_root().join("fixtures/conflicts_in_two_apps"),
            &root,
        );
        // A shared staging database ran theirs' branch (users.0003_address creates a table),
        // then main. Another database ran theirs' branch only.
        let db = |name: &str, i: usize| dir.path().join(format!("{name}{i}.sqlite3"));
        for (i, python) in pythons.iter().enumerate() {
            for (branch, database) in [
                ("theirs", db("staging", i)),
                ("main", db("staging", i)),
                ("theirs", db("branch", i)),
            ] {
                git_ok(&root, &["checkout", "-q", branch]);
                let json = django_db(python, &root, &database);
                assert_eq!(json["migrate"], "ok", "{branch}: {}", json["migrate"]);
            }
        }
        git_ok(&root, &["checkout", "-q", "main"]);
        if keep_old_names {
            fs::write(
                root.join("pyproject.toml"),
                "[tool.migmerge]\nrenumber-replaces = true\n",
            )
            .unwrap();
            git_ok(&root, &["add", "pyproject.toml"]);
            git_ok(&root, &["commit", "-q", "-m", "config"]);
        }
        git_ok(&root, &["merge", "-q", "--no-edit", "theirs"]);
        let before = django_nodes(&root);
        let who = format!("renumber-replaces = {keep_old_names}");
        let text = resolve_ok(&root, &who, &["--strategy", "renumber"]);
        let moved = fs::read_to_string(root.join("users/migrations/0004_address.py")).unwrap();
        let replaces = "\n    replaces = [(\"users\", \"0003_address\")]\n\n    dependencies = [\n";
        assert_eq!(moved.contains(replaces), keep_old_names, "{who}:\n{moved}");
        assert_eq!(
            text.matches("updated, old names kept in `replaces`)")
                .count(),
            if keep_old_names { 2 } else { 0 },
            "{text}"
        );

        for (i, python) in pythons.iter().enumerate() {
            let who = format!("{who}, {}", python.display());
            // On staging, with the old names kept, nothing is left to run. Without them,
            // migrate runs theirs again under the new names, and creating the address table
            // again fails.
            let json = django_db(python, &root, &db("staging", i));
            let plan: BTreeSet<(String, String)> = keys(&json["plan"]).into_iter().collect();
            if keep_old_names {
                assert_eq!(plan, BTreeSet::new(), "{who}");
                assert_eq!(json["migrate"], "ok", "{who}: {}", json["migrate"]);
            } else {
                let again = BTreeSet::from([
                    key("billing", "0004_invoice_currency"),
                    key("users", "0004_address"),
                ]);
                assert_eq!(plan, again, "{who}");
                let error = json["migrate"]["message"].as_str().unwrap_or_default();
                assert!(
                    error.contains("already exists"),
                    "{who}: {}",
                    json["migrate"]
                );
            }
            // The limit the README states: a database that ran the moved branch alone now has
            // an applied leaf whose new dependencies (ours') are not, and Django's `migrate`
            // never runs what an applied migration depends on.
            if keep_old_names {
                let json = django_db(python, &root, &db("branch", i));
                assert_eq!(keys(&json["plan"]), [], "{who}: Django changed its mind");
            }
        }
        // A new database applies everything, as always.
        assert_django_accepts(&root, &who, &before, 0);
    }
}

/// The oracle's plan and `migrate` on the SQLite database `db`, kept between calls.
fn django_db(python: &Path, tree: &Path, db: &Path) -> Value {
    let out = Command::new(python)
        .arg(project_root().join("tests/oracle/django_graph.py"))
        .arg(tree)
        .args(["--plan", "--migrate", "--db"])
        .arg(db)
        .env("PYTHONHASHSEED", "0")
        .output()
        .expect("run the Django oracle");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle {}: bad output ({e}): {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(json["error"].is_null(), "{}", json["error"]);
    json
}

/// The stories the named tests above already resolve (with both strategies, or, where git stops
/// on another file, the way a person concludes that merge).
const RESOLVED_BY_NAME: &[&str] = &[
    "conflict_markers_in_models_py",
    "siblings_add_phone_vs_add_avatar",
    "chain_three_vs_two",
    "cross_app_dependency_on_sibling",
    "demo_shop",
    "overlap_same_field_altered_both_sides",
    "swappable_dependency_in_moved_migration",
    "dependents_in_two_other_apps",
    "squash_on_protected_side",
    "conflicts_in_two_apps",
    "renumber_odd_formatting",
    "squash_on_unpublished_side",
    "renumber_module_level_dependencies",
];

/// The strategies the sweep resolves a story with: none for the stories the named tests above
/// resolve, or without a leaf conflict that a merge migration can settle; else a merge migration
/// always, and a renumbering when the story has branches (not one `tree/`), every conflict has
/// two leaves and the branches do not change the same thing (then the order renumbering imposes
/// is not the question).
fn sweep_strategies(dir: &Path) -> Vec<&'static str> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    if RESOLVED_BY_NAME.contains(&name.as_str()) {
        return Vec::new();
    }
    let fixture: toml::Value =
        toml::from_str(&fs::read_to_string(dir.join("fixture.toml")).unwrap()).unwrap();
    let expect = &fixture["expect"];
    let conflicts = expect["conflicts"].as_table().cloned().unwrap_or_default();
    let clean_otherwise = expect["problems"].as_array().is_some_and(Vec::is_empty);
    let migrate_fails = expect.get("migrate_after_merge").is_some();
    // A story Django's newest series reads otherwise (a pre-3.2 `default_app_config`) has
    // no oracle to judge its resolution.
    let newest_differs = fixture
        .get("oracle")
        .and_then(|o| o.get("differs"))
        .and_then(toml::Value::as_table)
        .is_some_and(|d| d.contains_key("6.1"));
    if conflicts.is_empty() || !clean_otherwise || migrate_fails || newest_differs {
        return Vec::new();
    }
    let two_leaves = conflicts
        .values()
        .all(|leaves| leaves.as_array().is_some_and(|l| l.len() == 2));
    let same_thing = expect
        .get("overlap")
        .and_then(toml::Value::as_table)
        .is_some_and(|o| o.values().any(|s| s.as_str() == Some("conflict")));
    if !dir.join("tree").is_dir() && two_leaves && !same_thing {
        vec!["merge", "renumber"]
    } else {
        vec!["merge"]
    }
}

/// Resolves the story `name` with each strategy of [`sweep_strategies`]; Django must accept
/// each result.
fn sweep_story(name: &str) {
    let dir = project_root().join("fixtures").join(name);
    let strategies = sweep_strategies(&dir);
    assert!(
        !strategies.is_empty(),
        "{name} is not a story for the sweep"
    );
    if dir.join("tree").is_dir() {
        let fixture: toml::Value =
            toml::from_str(&fs::read_to_string(dir.join("fixture.toml")).unwrap()).unwrap();
        let apps = fixture["expect"]["conflicts"]
            .as_table()
            .map_or(0, toml::map::Map::len);
        let temp = tempfile::tempdir().unwrap();
        // The oracle finds a story's own settings module in the fixture.toml beside the tree.
        let tree = temp.path().join("tree");
        crate::common::copy_tree(&dir.join("tree"), &tree);
        if fixture.get("settings").is_some() {
            fs::copy(dir.join("fixture.toml"), temp.path().join("fixture.toml")).unwrap();
        }
        let before = django_nodes(&tree);
        let who = format!("{name} --strategy merge");
        resolve_ok(&tree, &who, &["--strategy", "merge"]);
        assert_django_accepts(&tree, &who, &before, apps);
        return;
    }
    for strategy in strategies {
        resolve_story(name, strategy);
    }
}

/// Every other conflicting story, resolved by [`sweep_story`], one test each:
/// `cargo test --test integration resolve::sweep::<story>`.
mod sweep {
    macro_rules! sweep_tests {
        ($($story:ident;)*) => {
            $(
                #[test]
                fn $story() {
                    super::sweep_story(stringify!($story));
                }
            )*

            /// The stories listed above, so that the list can be checked.
            pub(super) const SWEPT: &[&str] = &[$(stringify!($story)),*];
        };
    }

    sweep_tests! {
        conflict_beside_unknown_dependencies;
        custom_app_label_via_apps_py;
        helper_migrations_package_beside_conflict;
        installed_apps_names_config_class;
        label_through_imported_base_config;
        merge_migration_then_new_siblings;
        migration_modules_in_settings_conditional;
        odd_python_syntax;
        overlap_disjoint_models;
        overlap_identical_alter_field_both_sides;
        overlap_remove_vs_alter_field;
        overlap_rename_field_vs_alter_field;
        overlap_rename_model_vs_add_field;
        overlap_runpython_one_side;
        overlap_same_end_state_different_steps;
        overlap_same_migration_two_numbers;
        overlap_same_model_different_fields;
        overlap_separate_database_and_state_same_field;
        squash_beside_sibling_conflict;
        swappable_user_model_custom;
        three_way_siblings;
    }
}

#[test]
fn the_sweep_lists_every_story_it_applies_to() {
    let mut wanted: Vec<String> = fs::read_dir(project_root().join("fixtures"))
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("fixture.toml").is_file())
        .filter(|p| !sweep_strategies(p).is_empty())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    wanted.sort();
    let mut listed: Vec<String> = sweep::SWEPT.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(
        listed, wanted,
        "sweep_tests! in tests/resolve.rs must list exactly the stories sweep_strategies takes"
    );
    assert!(
        listed.len() >= 8,
        "the sweep should reach most conflicting stories, it lists {listed:?}"
    );
}
