//! `migmerge lint` on real trees and repositories: the scope a branch adds, the opt-outs and
//! configuration, every output format, and Django confirming the consequences rules claim.

use std::fs;
use std::path::Path;

use crate::common::{
    assert_status, django_migrate_step, django_pythons, git_ok, project_root, run_migmerge, stderr,
    stdout,
};

const INITIAL: &str = r#"from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.AutoField(primary_key=True)),
                ("title", models.CharField(max_length=200, default="")),
                ("pages", models.IntegerField(default=0)),
            ],
        ),
    ]
"#;

/// An app `shop` with INITIAL as 0001 and `body` as the operations of 0002.
fn tree(dir: &Path, head: &str, operations: &str) {
    let migrations = dir.join("shop/migrations");
    fs::create_dir_all(&migrations).unwrap();
    fs::write(dir.join("shop/__init__.py"), "").unwrap();
    fs::write(migrations.join("__init__.py"), "").unwrap();
    fs::write(migrations.join("0001_initial.py"), INITIAL).unwrap();
    write_second(dir, head, operations);
}

fn write_second(dir: &Path, head: &str, operations: &str) {
    let source = format!(
        "import uuid\n\nfrom django.db import migrations, models\n{head}\n\ndef forwards(apps, schema_editor):\n    pass\n\n\nclass Migration(migrations.Migration):\n    dependencies = [(\"shop\", \"0001_initial\")]\n    operations = [\n{operations}\n    ]\n"
    );
    fs::write(dir.join("shop/migrations/0002_change.py"), source).unwrap();
}

/// The `(rule, severity, line)` of each finding of `lint --all --format json`, and the exit
/// code.
fn lint_all(dir: &Path) -> (Vec<(String, String, u64)>, i32) {
    let out = run_migmerge(&["lint", "--all", "--format", "json"], dir);
    let value: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    let findings = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    (findings, out.status.code().unwrap())
}

fn rules_of(dir: &Path) -> Vec<String> {
    lint_all(dir).0.into_iter().map(|(rule, ..)| rule).collect()
}

/// What Django's `migrate` does with 0002 after 0001 (see tests/oracle/lint_consequences.py).
fn django_migrates(python: &Path, dir: &Path, rows: Option<&str>) -> serde_json::Value {
    django_migrates_to(python, dir, ("0001_initial", "0002_change"), rows)
}

/// What Django's `migrate` does with `shop`'s migration `steps.1` after `steps.0`.
fn django_migrates_to(
    python: &Path,
    dir: &Path,
    steps: (&str, &str),
    rows: Option<&str>,
) -> serde_json::Value {
    django_migrate_step(python, dir, "shop", steps, rows).unwrap_or_else(|e| panic!("{e}"))
}

/// volatile-default's claim, beside its safe variant: a unique field added with a callable
/// default fails on a table with two rows, and the nullable one does not. (The irreversible
/// and NOT NULL premises are confirmed on the fixture stories `lint_irreversible_*` and
/// `lint_not_null_without_default`.)
#[test]
fn django_confirms_a_volatile_unique_default_fails_on_a_table_with_rows() {
    let Some(pythons) = django_pythons() else {
        return;
    };
    let rule = "volatile-default";
    let bad = tempfile::tempdir().unwrap();
    tree(
        bad.path(),
        "",
        "        migrations.AddField(\"book\", \"token\", models.UUIDField(default=uuid.uuid4, unique=True)),",
    );
    let good = tempfile::tempdir().unwrap();
    tree(
        good.path(),
        "",
        "        migrations.AddField(\"book\", \"token\", models.UUIDField(null=True, unique=True)),",
    );
    assert!(
        rules_of(bad.path()).contains(&rule.to_owned()),
        "{rule} not reported"
    );
    assert!(
        !rules_of(good.path()).contains(&rule.to_owned()),
        "{rule} reported on its safe variant"
    );
    for python in &pythons {
        let refused = django_migrates(python, bad.path(), Some("Book:2"));
        assert!(
            refused["forward"].is_string(),
            "Django accepted the migration the rule reports: {refused}"
        );
        let accepted = django_migrates(python, good.path(), Some("Book:2"));
        assert!(
            accepted["forward"].is_null() && accepted["backward"].is_null(),
            "Django refused the safe variant: {accepted}"
        );
    }
}

#[test]
fn the_default_scope_is_what_the_branch_adds_since_the_protected_ref() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // An old irreversible migration already on main is not the branch's business.
    tree(root, "", "        migrations.RunPython(forwards),");
    git_ok(root, &["init", "-q", "-b", "main"]);
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-qm", "main"]);
    git_ok(root, &["checkout", "-qb", "feature"]);
    fs::write(
        root.join("shop/migrations/0003_drop.py"),
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    dependencies = [(\"shop\", \"0002_change\")]\n    operations = [\n        migrations.RemoveField(\"book\", \"pages\"),\n    ]\n",
    )
    .unwrap();
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-qm", "drop"]);

    let out = run_migmerge(&["lint"], root);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().next().unwrap(),
        "shop/migrations/0003_drop.py:7: drop-column error RemoveField drops column pages of book, which the running code still selects; stop using the field in one release, drop it in the next"
    );
    assert!(!stdout(&out).contains("0002_change"), "{}", stdout(&out));

    let all = rules_of(root);
    assert!(
        all.contains(&"irreversible-run-python".to_owned()),
        "{all:?}"
    );
    assert!(all.contains(&"drop-column".to_owned()), "{all:?}");

    // Since the branch's own commit: nothing new, nothing changed.
    let out = run_migmerge(&["lint", "--since", "HEAD"], root);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("No findings in 0 migrations"),
        "{}",
        stdout(&out)
    );

    // A change to an old migration brings it into scope.
    write_second(root, "", "        migrations.RunSQL(\"SELECT 1\"),");
    let out = run_migmerge(&["lint", "--since", "HEAD"], root);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("0002_change.py:13: irreversible-run-sql"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn without_a_protected_ref_the_default_scope_refuses_and_names_the_ways_out() {
    let dir = tempfile::tempdir().unwrap();
    tree(
        dir.path(),
        "",
        "        migrations.RemoveField(\"book\", \"pages\"),",
    );
    let out = run_migmerge(&["lint"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("--since") && err.contains("--all"), "{err}");
}

#[test]
fn configuration_switches_off_and_re_grades_rules() {
    let dir = tempfile::tempdir().unwrap();
    tree(
        dir.path(),
        "",
        "        migrations.RemoveField(\"book\", \"pages\"),\n        migrations.RenameModel(\"Book\", \"Volume\"),",
    );
    assert_eq!(rules_of(dir.path()), ["drop-column", "rename-table"]);
    fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.migmerge]\nlint = { drop-column = \"off\", rename-table = \"info\" }\n",
    )
    .unwrap();
    let (findings, code) = lint_all(dir.path());
    assert_eq!(
        findings,
        [("rename-table".to_owned(), "info".to_owned(), 14)]
    );
    // Info alone passes.
    assert_eq!(code, 0);
    fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.migmerge]\nlint = { drop-colum = \"off\" }\n",
    )
    .unwrap();
    let out = run_migmerge(&["lint", "--all"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("lint.drop-colum"), "{}", stderr(&out));
}

#[test]
fn database_postgresql_turns_on_the_lock_rules() {
    let dir = tempfile::tempdir().unwrap();
    tree(
        dir.path(),
        "",
        "        migrations.AddIndex(\"book\", models.Index(fields=[\"title\"], name=\"book_title_idx\")),",
    );
    assert!(rules_of(dir.path()).is_empty());
    fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.migmerge]\ndatabase = \"postgresql\"\n",
    )
    .unwrap();
    assert_eq!(rules_of(dir.path()), ["non-concurrent-index"]);
}

#[test]
fn post_deploy_drops_are_information_under_staged_deploy_tooling() {
    let dir = tempfile::tempdir().unwrap();
    tree(
        dir.path(),
        "from syzygy import Stage",
        "        migrations.RemoveField(\"book\", \"pages\"),",
    );
    let (findings, code) = lint_all(dir.path());
    assert_eq!(
        findings,
        [("drop-column".to_owned(), "info".to_owned(), 13)]
    );
    assert_eq!(code, 0);
}

#[test]
fn github_and_sarif_output() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), "", "        migrations.RunPython(forwards),");
    let out = run_migmerge(&["lint", "--all", "--format", "github"], dir.path());
    assert!(
        stdout(&out).starts_with(
            "::warning file=shop/migrations/0002_change.py,line=13,title=migmerge lint%3A irreversible-run-python::RunPython without reverse_code"
        ),
        "{}",
        stdout(&out)
    );
    let out = run_migmerge(&["lint", "--all", "--format", "sarif"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "migmerge");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "irreversible-run-python");
    assert_eq!(result["level"], "warning");
    let index = result["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "irreversible-run-python");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "shop/migrations/0002_change.py"
    );
    assert_eq!(location["region"]["startLine"], 13);
    assert!(
        result["message"]["text"]
            .as_str()
            .unwrap()
            .contains("reverse_code")
    );
}

#[test]
fn docs_explain_every_rule() {
    let docs = fs::read_to_string(project_root().join("docs/lint.md")).unwrap();
    for rule in migmerge::lint::Rule::ALL {
        let heading = format!("\n## {}\n", rule.code());
        assert!(
            docs.contains(&heading),
            "docs/lint.md has no section {heading:?}"
        );
    }
}

#[test]
fn against_a_branch_that_removes_what_this_branch_alters() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tree(
        root,
        "",
        "        migrations.AddField(\"book\", \"isbn\", models.CharField(max_length=13, null=True)),",
    );
    git_ok(root, &["init", "-q", "-b", "main"]);
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-qm", "base"]);
    git_ok(root, &["checkout", "-qb", "feature"]);
    let third = |name: &str, op: &str| {
        fs::write(
            root.join(format!("shop/migrations/{name}.py")),
            format!("from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    dependencies = [(\"shop\", \"0002_change\")]\n    operations = [\n        {op},\n    ]\n"),
        )
        .unwrap();
    };
    third(
        "0003_longer_title",
        "migrations.AlterField(\"book\", \"title\", models.CharField(max_length=300, default=\"\"))",
    );
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-qm", "longer title"]);
    git_ok(root, &["checkout", "-q", "main"]);
    third(
        "0003_remove_title",
        "migrations.RemoveField(\"book\", \"title\")",
    );
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-qm", "remove title"]);
    git_ok(root, &["checkout", "-q", "feature"]);

    // Alone, the branch's own migration is safe.
    let out = run_migmerge(&["lint"], root);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = run_migmerge(&["lint", "--against", "main", "--format", "json"], root);
    assert_status(&out, 1);
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let findings = value["findings"].as_array().unwrap();
    let merge: Vec<_> = findings
        .iter()
        .filter(|f| f["rule"] == "removed-on-other-branch")
        .collect();
    assert_eq!(merge.len(), 1, "{findings:?}");
    assert_eq!(merge[0]["file"], "shop/migrations/0003_longer_title.py");
    assert_eq!(merge[0]["line"], 7);
    let message = merge[0]["message"].as_str().unwrap();
    assert!(message.contains("0003_remove_title"), "{message}");
}

#[test]
fn a_blank_string_field_is_filled_by_django_and_the_finding_says_so() {
    let Some(pythons) = django_pythons() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    tree(
        dir.path(),
        "",
        "        migrations.AddField(\"book\", \"isbn\", models.CharField(max_length=13, blank=True)),",
    );
    let out = run_migmerge(&["lint", "--all", "--format", "json"], dir.path());
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let finding = &value["findings"][0];
    assert_eq!(finding["rule"], "not-null-without-default");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains("Django fills the existing rows"),
        "{message}"
    );
    for python in &pythons {
        let migrated = django_migrates(python, dir.path(), Some("Book:2"));
        assert!(migrated["forward"].is_null(), "{migrated}");
    }
}

/// A migration of `shop` on `parent` with `operations` (and `head` before the class).
fn shop_migration(head: &str, parent: &str, operations: &str) -> String {
    format!(
        "import uuid\n\nfrom django.db import migrations, models\n{head}\n\ndef forwards(apps, schema_editor):\n    pass\n\n\nclass Migration(migrations.Migration):\n    dependencies = [(\"shop\", \"{parent}\")]\n    operations = [\n{operations}\n    ]\n"
    )
}

const PUBLISHED_INITIAL: &str = r#"from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.AutoField(primary_key=True)),
                ("title", models.CharField(max_length=200, default="")),
                ("pages", models.IntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="Author",
            fields=[
                ("id", models.AutoField(primary_key=True)),
                ("name", models.CharField(max_length=100, default="")),
            ],
        ),
        migrations.CreateModel(name="Shelf", fields=[("id", models.AutoField(primary_key=True))]),
        migrations.CreateModel(name="Tag", fields=[("id", models.AutoField(primary_key=True))]),
    ]
"#;

/// The branch's migrations after the published ones: (name, operations, the rules the default
/// scope must report on it, how it reaches git: "commit", "stage" or "untracked").
const BRANCH: &[(&str, &str, &[&str], &str)] = &[
    (
        "0004_fill",
        "        migrations.RunPython(forwards),",
        &["irreversible-run-python"],
        "commit",
    ),
    (
        "0005_sql",
        "        migrations.RunSQL(\"UPDATE shop_book SET title = ''\"),",
        &["irreversible-run-sql"],
        "commit",
    ),
    (
        "0006_drop_title",
        // No reason: the opt-out does not count.
        "        migrations.RemoveField(\"book\", \"title\"),  # migmerge: allow drop-column",
        &["drop-column"],
        "commit",
    ),
    (
        "0007_drop_tag",
        "        # migmerge: allow drop-table -- Tag never reached a release\n        migrations.DeleteModel(\"Tag\"),",
        &[],
        "commit",
    ),
    (
        "0008_rename_name",
        "        migrations.RenameField(\"author\", \"name\", \"full_name\"),",
        &["rename-column"],
        "commit",
    ),
    (
        "0009_rename_shelf",
        "        migrations.RenameModel(\"Shelf\", \"Rack\"),",
        &["rename-table"],
        "commit",
    ),
    (
        "0010_born",
        "        migrations.AddField(\"author\", \"born\", models.IntegerField()),",
        &["not-null-without-default"],
        "commit",
    ),
    (
        "0011_token",
        "        migrations.AddField(\"book\", \"token\", models.UUIDField(default=uuid.uuid4, unique=True)),",
        &["volatile-default", "non-concurrent-index"],
        "stage",
    ),
    (
        "0012_index",
        "        migrations.AddIndex(\"book\", models.Index(fields=[\"token\"], name=\"book_token_idx\")),",
        &["non-concurrent-index"],
        "stage",
    ),
    (
        "0013_shorter_name",
        "        migrations.AlterField(\"author\", \"full_name\", models.CharField(max_length=50, default=\"\")),",
        &["alter-field-rewrite"],
        "untracked",
    ),
    (
        "0014_bio",
        "        migrations.AddField(\"author\", \"bio\", models.TextField(null=True)),\n        migrations.RunPython(forwards, migrations.RunPython.noop),",
        &["run-python-with-schema-changes"],
        "untracked",
    ),
];

/// `(file, rule)` of each finding of `lint ARGS --format json` in `dir`, and the exit code.
fn findings_of(dir: &Path, args: &[&str]) -> (Vec<(String, String)>, i32) {
    let mut argv = vec!["lint"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--format", "json"]);
    let out = run_migmerge(&argv, dir);
    let value: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    let found = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let file = f["file"].as_str().unwrap();
            let name = file.rsplit('/').next().unwrap().trim_end_matches(".py");
            (name.to_owned(), f["rule"].as_str().unwrap().to_owned())
        })
        .collect();
    (found, out.status.code().unwrap())
}

/// A repository whose Django project lives in `backend/`, with unsafe migrations already
/// pushed to `origin/main`, and a branch adding one unsafe migration of each kind: committed,
/// staged, or not yet known to git at all. The default scope reports exactly the branch's, the
/// reasoned opt-out silences its finding, `--all` adds the published ones, and GitHub
/// annotations carry each finding; Django confirms that what the rules call irreversible or
/// failing is.
#[test]
fn a_branch_adding_each_kind_of_unsafe_migration_beside_published_ones() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let project = repo.join("backend");
    let migrations = project.join("shop/migrations");
    fs::create_dir_all(&migrations).unwrap();
    fs::write(project.join("shop/__init__.py"), "").unwrap();
    fs::write(migrations.join("__init__.py"), "").unwrap();
    fs::write(migrations.join("0001_initial.py"), PUBLISHED_INITIAL).unwrap();
    // Unsafe, but deployed long ago: not the branch's business.
    fs::write(
        migrations.join("0002_backfill.py"),
        shop_migration(
            "",
            "0001_initial",
            "        migrations.RunPython(forwards),",
        ),
    )
    .unwrap();
    fs::write(
        migrations.join("0003_drop_pages.py"),
        shop_migration(
            "",
            "0002_backfill",
            "        migrations.RemoveField(\"book\", \"pages\"),",
        ),
    )
    .unwrap();
    git_ok(dir.path(), &["init", "-q", "--bare", "origin.git"]);
    git_ok(&repo, &["init", "-q", "-b", "main"]);
    git_ok(&repo, &["add", "-A"]);
    git_ok(&repo, &["commit", "-qm", "published"]);
    git_ok(&repo, &["remote", "add", "origin", "../origin.git"]);
    git_ok(&repo, &["push", "-q", "-u", "origin", "main"]);
    git_ok(&repo, &["remote", "set-head", "origin", "main"]);

    git_ok(&repo, &["checkout", "-qb", "feature"]);
    fs::write(
        project.join("pyproject.toml"),
        "[tool.migmerge]\ndatabase = \"postgresql\"\n",
    )
    .unwrap();
    let mut parent = "0003_drop_pages";
    for (name, operations, _, how) in BRANCH {
        fs::write(
            migrations.join(format!("{name}.py")),
            shop_migration("", parent, operations),
        )
        .unwrap();
        match *how {
            "commit" => {
                git_ok(&repo, &["add", "-A"]);
                git_ok(&repo, &["commit", "-qm", name]);
            }
            "stage" => {
                git_ok(&repo, &["add", "-A"]);
            }
            _ => {}
        }
        parent = name;
    }
    let status = git_ok(&repo, &["status", "--porcelain"]);
    assert!(
        status.contains("A  backend/shop/migrations/0011_token.py")
            && status.contains("?? backend/shop/migrations/0013_shorter_name.py"),
        "{status}"
    );

    let expected: Vec<(String, String)> = BRANCH
        .iter()
        .flat_map(|(name, _, rules, _)| {
            rules
                .iter()
                .map(move |rule| ((*name).to_owned(), (*rule).to_owned()))
        })
        .collect();
    let (found, code) = findings_of(&project, &[]);
    assert_eq!(found, expected);
    assert_eq!(code, 1);
    assert_eq!(
        findings_of(&project, &["--since", "origin/main"]).0,
        expected
    );
    // Since the last commit: what is staged or not yet added.
    let (found, _) = findings_of(&project, &["--since", "HEAD"]);
    let uncommitted: Vec<(String, String)> = expected
        .iter()
        .filter(|(name, _)| name.as_str() >= "0011")
        .cloned()
        .collect();
    assert_eq!(found, uncommitted);
    // Every migration: the published ones too.
    let (found, _) = findings_of(&project, &["--all"]);
    let mut everything = vec![
        (
            "0002_backfill".to_owned(),
            "irreversible-run-python".to_owned(),
        ),
        ("0003_drop_pages".to_owned(), "drop-column".to_owned()),
    ];
    everything.extend(expected.iter().cloned());
    assert_eq!(found, everything);

    // GitHub reads an annotation's file from the top of the repository, where `backend/` is.
    let out = run_migmerge(&["lint", "--format", "github"], &project);
    assert_eq!(out.status.code(), Some(1));
    let annotations: Vec<String> = stdout(&out)
        .lines()
        .filter(|line| line.starts_with("::error") || line.starts_with("::warning"))
        .map(str::to_owned)
        .collect();
    assert_eq!(annotations.len(), expected.len(), "{}", stdout(&out));
    assert!(
        annotations.contains(
            &"::error file=backend/shop/migrations/0006_drop_title.py,line=13,title=migmerge lint%3A drop-column::RemoveField drops column title of book, which the running code still selects; stop using the field in one release, drop it in the next (shop.0006_drop_title)".to_owned()
        ),
        "{annotations:#?}"
    );
    assert!(
        annotations.iter().any(|a| a.starts_with(
            "::warning file=backend/shop/migrations/0004_fill.py,line=13,title=migmerge lint%3A irreversible-run-python::"
        )),
        "{annotations:#?}"
    );
    assert!(
        !stdout(&out).contains("0007_drop_tag") && !stdout(&out).contains("0002_backfill"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(
            "::notice::shop/migrations/0006_drop_title.py:13: opt-out of drop-column has no reason and does not count"
        ),
        "{}",
        stdout(&out)
    );

    let Some(pythons) = django_pythons() else {
        return;
    };
    // (previous, target, rows, the direction Django refuses)
    let premises = [
        ("0001_initial", "0002_backfill", None, "backward"),
        ("0003_drop_pages", "0004_fill", None, "backward"),
        ("0004_fill", "0005_sql", None, "backward"),
        (
            "0009_rename_shelf",
            "0010_born",
            Some("Author:2"),
            "forward",
        ),
        ("0010_born", "0011_token", Some("Book:2"), "forward"),
    ];
    for python in &pythons {
        for (previous, target, rows, fails) in premises {
            let answer = django_migrates_to(python, &project, (previous, target), rows);
            assert!(
                answer[fails].is_string() && answer[fails] != "skipped",
                "{target}: Django did not refuse it {fails}: {answer}"
            );
        }
    }
}
