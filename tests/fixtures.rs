//! Every fixture story, checked three ways: migmerge on the merged work tree, migmerge's
//! in-memory `--against` before the merge, and Django's own `MigrationLoader` (the oracle) on
//! the same tree. All three must agree with the story's expectations and with each other. Where
//! the story's conflicts are all there is, Django also runs `migrate` once an empty merge
//! migration joins each conflict: whether it succeeds, and which branch it applies last, must
//! be what the story and migmerge say.
//! What `check` and `resolve --dry-run` print on the merged tree is pinned too, under each
//! story's `expected/` (see fixtures/README.md). A story about `lint` also names the findings
//! of `lint --all` (and of `lint --all --against` before a merge), pins what it prints, and may
//! have Django confirm the consequence a rule claims on the migrations it flags.
//!
//! Each story is its own test: `cargo test --test integration fixtures::<story>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_json::Value;

use crate::common::{
    compare_text_snapshot, django_pythons, git, git_ok, output_snapshot, project_root,
    run_migmerge, stderr, stdout, story_repo, tools_python,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    story: String,
    auth_user_model: Option<String>,
    /// The tree's own settings module (`proj.settings`): the oracle installs what it installs.
    #[serde(default)]
    #[allow(dead_code)]
    settings: Option<String>,
    expect: Expect,
    #[serde(default)]
    oracle: Oracle,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    conflicts: BTreeMap<String, Vec<String>>,
    problems: Vec<String>,
    #[serde(default)]
    overlap: BTreeMap<String, String>,
    /// The worst consequence per conflicting app: breaks | order | identical | caution | none.
    #[serde(default)]
    consequence: BTreeMap<String, String>,
    /// The kinds of note `check` prints (sorted, each once), when the story says.
    #[serde(default)]
    notes: Option<Vec<String>>,
    /// Whether `migrate` succeeds once the branches are joined by a merge migration: "error"
    /// where the overlap makes the combined schema impossible (resolution tests read it too).
    #[serde(default)]
    migrate_after_merge: Option<String>,
    /// Words the human report of `check` must hold.
    #[serde(default)]
    says: Vec<String>,
    /// `app.migration:rule` of each finding of `lint --all --format json`, sorted (`[]` when
    /// none), in a story about `lint`; its human report is then pinned as `expected/lint.txt`.
    #[serde(default)]
    lint: Option<Vec<String>>,
}

/// Where a Django version is known to disagree with the expectation (which follows the newest
/// release): `differs = { "5.2" = "why" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Oracle {
    #[serde(default)]
    differs: BTreeMap<String, String>,
    /// The consequence a lint rule claims, which Django must show on each migration the
    /// story's `lint` expectation flags with that rule, and must not on the app's others.
    #[serde(default)]
    lint_premise: Option<LintPremise>,
    /// `Model:N`: the rows that exist before each migration the premise migrates.
    #[serde(default)]
    lint_rows: Option<String>,
    /// Which Python is the oracle: the Django series of `MIGMERGE_DJANGO_PYTHONS` (default),
    /// or `"tools"`, `MIGMERGE_TOOLS_PYTHON`, for a story whose migrations import what only
    /// that one has (django-syzygy, django-safemigrate, psycopg).
    #[serde(default)]
    python: OraclePython,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum OraclePython {
    #[default]
    Django,
    Tools,
}

/// A consequence `lint` claims, as Django on SQLite shows it (tests/oracle/lint_consequences.py).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum LintPremise {
    /// `migrate` goes forward, and `migrate app <previous>` stops with `IrreversibleError`.
    Irreversible,
    /// With rows in the table, `migrate` fails: `NOT NULL constraint failed`.
    NotNullFails,
}

impl LintPremise {
    /// The rules that claim it.
    fn rules(self) -> &'static [&'static str] {
        match self {
            LintPremise::Irreversible => &["irreversible-run-python", "irreversible-run-sql"],
            LintPremise::NotNullFails => &["not-null-without-default"],
        }
    }

    /// Whether what Django did (`{"forward": .., "backward": ..}`) is what the premise says of a
    /// migration its rules flag (`flagged`), or of one they leave alone (which must migrate
    /// forward and back); `Err` says what Django did instead.
    fn judge(self, flagged: bool, answer: &Value) -> Result<(), String> {
        let said = |direction: &str| answer[direction].as_str().map(str::to_owned);
        let (forward, backward) = (said("forward"), said("backward"));
        let holds = match (self, flagged) {
            (_, false) => forward.is_none() && backward.is_none(),
            (LintPremise::Irreversible, true) => {
                forward.is_none()
                    && backward
                        .as_deref()
                        .is_some_and(|e| e.starts_with("IrreversibleError"))
            }
            (LintPremise::NotNullFails, true) => forward
                .as_deref()
                .is_some_and(|e| e.contains("NOT NULL constraint failed")),
        };
        if holds {
            Ok(())
        } else {
            Err(format!("forward: {forward:?}, backward: {backward:?}"))
        }
    }
}

/// What a `check --format json` said, reduced to what stories expect.
#[derive(Debug, PartialEq, Eq)]
struct Verdict {
    conflicts: BTreeMap<String, Vec<String>>,
    problems: BTreeSet<String>,
    overlap: BTreeMap<String, String>,
    consequence: BTreeMap<String, String>,
    notes: BTreeSet<String>,
}

fn load_fixture(dir: &Path) -> Fixture {
    let text = std::fs::read_to_string(dir.join("fixture.toml")).expect("read fixture.toml");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn check_json(args: &[&str], cwd: &Path) -> Result<Value, String> {
    let out = run_migmerge(args, cwd);
    match out.status.code() {
        Some(0 | 1) => serde_json::from_str(&stdout(&out))
            .map_err(|e| format!("migmerge {args:?}: bad JSON: {e}")),
        code => Err(format!(
            "migmerge {args:?} exited {code:?}: {}{}",
            stdout(&out),
            stderr(&out)
        )),
    }
}

fn verdict(json: &Value) -> Verdict {
    let mut conflicts = BTreeMap::new();
    let mut overlap = BTreeMap::new();
    let mut consequence = BTreeMap::new();
    for conflict in json["conflicts"].as_array().into_iter().flatten() {
        let app = conflict["app"].as_str().unwrap_or_default().to_owned();
        let leaves = conflict["leaves"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect();
        overlap.insert(
            app.clone(),
            conflict["severity"].as_str().unwrap_or_default().to_owned(),
        );
        consequence.insert(
            app.clone(),
            conflict["consequence"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        conflicts.insert(app, leaves);
    }
    let problems = json["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["kind"].as_str().map(str::to_owned))
        .collect();
    let notes = json["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["kind"].as_str().map(str::to_owned))
        .collect();
    Verdict {
        conflicts,
        problems,
        overlap,
        consequence,
        notes,
    }
}

fn expected_verdict(expect: &Expect, drop_git_conflict: bool) -> Verdict {
    Verdict {
        conflicts: expect.conflicts.clone(),
        problems: expect
            .problems
            .iter()
            .filter(|p| !(drop_git_conflict && *p == "git-conflict"))
            .cloned()
            .collect(),
        overlap: BTreeMap::new(),
        consequence: BTreeMap::new(),
        notes: expect.notes.iter().flatten().cloned().collect(),
    }
}

fn compare(what: &str, got: &Verdict, expect: &Expect, drop_git_conflict: bool) -> Vec<String> {
    let mut errors = Vec::new();
    let want = expected_verdict(expect, drop_git_conflict);
    if got.conflicts != want.conflicts {
        errors.push(format!(
            "{what}: conflicts {:?}, expected {:?}",
            got.conflicts, want.conflicts
        ));
    }
    if got.problems != want.problems {
        errors.push(format!(
            "{what}: problems {:?}, expected {:?}",
            got.problems, want.problems
        ));
    }
    if expect.notes.is_some() && got.notes != want.notes {
        errors.push(format!(
            "{what}: notes {:?}, expected {:?}",
            got.notes, want.notes
        ));
    }
    for (app, severity) in &expect.overlap {
        if got.overlap.get(app) != Some(severity) {
            errors.push(format!(
                "{what}: overlap of {app} is {:?}, expected {severity:?}",
                got.overlap.get(app)
            ));
        }
    }
    for (app, consequence) in &expect.consequence {
        if got.consequence.get(app) != Some(consequence) {
            errors.push(format!(
                "{what}: consequence of {app} is {:?}, expected {consequence:?}",
                got.consequence.get(app)
            ));
        }
    }
    errors
}

/// Django's `migrate` on a copy of `tree` where an empty merge migration joins the leaves of
/// each conflict, against the story's `migrate_after_merge` and against the branch migmerge
/// says such a merge applies last (`merge_applies_last` in `check`'s JSON).
fn migrate_after_merge(
    python: &Path,
    story: &Path,
    tree: &Path,
    expect: &Expect,
    differs: &BTreeMap<String, String>,
    check: &Value,
) -> Vec<String> {
    let holder = tempfile::tempdir().expect("tempdir");
    // The oracle reads the story's settings module and user model from the fixture.toml
    // beside the tree it is given, so the copy keeps one there.
    let temp_tree = holder.path().join("tree");
    crate::common::copy_tree(tree, &temp_tree);
    std::fs::copy(
        story.join("fixture.toml"),
        holder.path().join("fixture.toml"),
    )
    .expect("copy fixture.toml");
    let mut last_of = BTreeMap::new();
    for conflict in check["conflicts"].as_array().into_iter().flatten() {
        let app = conflict["app"].as_str().unwrap_or_default();
        let leaves: Vec<&str> = conflict["leaves"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        // The app's migrations directory, from any migration of its own on a branch.
        let Some(dir) = conflict["branches"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|b| b["migrations"].as_array().into_iter().flatten())
            .find(|m| m["app"] == app)
            .and_then(|m| {
                Path::new(m["path"].as_str()?)
                    .parent()
                    .map(Path::to_path_buf)
            })
        else {
            return vec![format!("no migration path for {app} in check's JSON")];
        };
        let dependencies: Vec<String> = leaves
            .iter()
            .map(|leaf| format!("(\"{app}\", \"{leaf}\")"))
            .collect();
        std::fs::write(
            temp_tree.join(dir).join("9999_merge_for_the_oracle.py"),
            format!(
                "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    dependencies = [{}]\n    operations = []\n",
                dependencies.join(", ")
            ),
        )
        .expect("write the merge migration");
        last_of.insert(
            app.to_owned(),
            (
                leaves,
                conflict["merge_applies_last"].as_str().map(str::to_owned),
            ),
        );
    }
    let out = Command::new(python)
        .arg(project_root().join("tests/oracle/django_graph.py"))
        .arg(&temp_tree)
        .args(["--plan", "--migrate"])
        .env("PYTHONHASHSEED", "0")
        .output()
        .expect("run the Django oracle");
    let json: Value = match serde_json::from_slice(&out.stdout) {
        Ok(json) => json,
        Err(e) => return vec![format!("oracle: bad output ({e})")],
    };
    let version = json["django"].as_str().unwrap_or("?");
    let series: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    if differs.contains_key(&series) {
        // The story says this series reads the tree otherwise: nothing here to compare.
        return Vec::new();
    }
    let who = format!("Django {version}");
    let mut errors = Vec::new();
    if !json["error"].is_null() {
        return vec![format!(
            "{who} cannot load the merged tree: {}",
            json["error"]
        )];
    }
    let migrate = if json["migrate"] == "ok" {
        "ok"
    } else {
        "error"
    };
    let wanted = expect.migrate_after_merge.as_deref().unwrap_or("ok");
    if migrate != wanted {
        errors.push(format!(
            "{who}: migrate after a merge migration: {}, expected {wanted}",
            json["migrate"]
        ));
    }
    let plan: Vec<(String, String)> = json["plan"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| Some((k[0].as_str()?.to_owned(), k[1].as_str()?.to_owned())))
        .collect();
    // Where reading left values unknown, migmerge's graph lacks the edges they hold, and the
    // plan order it derives is not a claim worth holding against Django's.
    let unknowns = expect.notes.iter().flatten().any(|kind| kind == "unknown");
    for (app, (leaves, claimed)) in last_of.into_iter().filter(|_| !unknowns) {
        let django_last = leaves
            .iter()
            .max_by_key(|leaf| {
                plan.iter()
                    .position(|(a, n)| *a == app && n == *leaf)
                    .unwrap_or(0)
            })
            .map(|leaf| (*leaf).to_owned());
        if django_last != claimed {
            errors.push(format!(
                "{who}: after a merge migration {app}'s last branch is {django_last:?}, migmerge says {claimed:?}"
            ));
        }
    }
    errors
}

/// Builds the story's tree. For three-sided stories, also checks `--against` before merging.
/// Returns the tree to check, the temp dir holding it, and whether git stopped on conflicts.
fn materialize(
    dir: &Path,
    fixture: &Fixture,
    errors: &mut Vec<String>,
) -> (PathBuf, Option<tempfile::TempDir>) {
    if dir.join("tree").is_dir() {
        return (dir.join("tree"), None);
    }
    let temp = tempfile::tempdir().expect("tempdir");
    let repo = temp.path();
    story_repo(dir, repo);
    match check_json(&["check", "--format", "json", "--against", "theirs"], repo) {
        Ok(json) => errors.extend(compare(
            "check --against theirs",
            &verdict(&json),
            &fixture.expect,
            false,
        )),
        Err(e) => errors.push(e),
    }
    if let Some(expected) = &fixture.expect.lint {
        errors.extend(compare_lint(
            &["lint", "--all", "--against", "theirs", "--format", "json"],
            repo,
            expected,
        ));
    }
    let merge = git(repo, &["merge", "--no-edit", "-q", "theirs"]);
    if !merge.status.success() {
        // Git stopped on a textual conflict: conclude it with our side, as a person might, so
        // the rest of the story can be checked on a loadable tree.
        let conflicted = git_ok(repo, &["diff", "--name-only", "--diff-filter=U"]);
        for path in conflicted.lines() {
            git_ok(repo, &["checkout", "--ours", "--", path]);
        }
        git_ok(repo, &["add", "-A"]);
        git_ok(repo, &["commit", "-q", "--no-edit"]);
    }
    (repo.to_path_buf(), Some(temp))
}

fn django_error_kind(error: &Value) -> String {
    let kind = error["type"].as_str().unwrap_or_default();
    let message = error["message"].as_str().unwrap_or_default();
    match kind {
        "NodeNotFoundError" => "dangling".to_owned(),
        "CircularDependencyError" => "cycle".to_owned(),
        "CommandError" if message.contains("Cyclical squash") => "squash-cycle".to_owned(),
        "ImproperlyConfigured" if message.contains("labels aren't unique") => {
            "duplicate-label".to_owned()
        }
        other => format!("unexpected Django error {other}: {message}"),
    }
}

fn key_list(value: &Value) -> BTreeSet<(String, String)> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| Some((pair[0].as_str()?.to_owned(), pair[1].as_str()?.to_owned())))
        .collect()
}

/// Compares Django's loader with migmerge's graph on one tree.
fn oracle(python: &Path, tree: &Path, fixture: &Fixture, graph: &Value) -> Vec<String> {
    let mut command = Command::new(python);
    command
        .arg(project_root().join("tests/oracle/django_graph.py"))
        .arg(tree)
        .env("PYTHONHASHSEED", "0");
    if let Some(model) = &fixture.auth_user_model {
        command.args(["--auth-user-model", model]);
    }
    let out = command.output().expect("run the Django oracle");
    let json: Value = match serde_json::from_slice(&out.stdout) {
        Ok(json) => json,
        Err(e) => {
            return vec![format!(
                "oracle {}: bad output ({e}): {}",
                python.display(),
                String::from_utf8_lossy(&out.stderr)
            )];
        }
    };
    let version = json["django"].as_str().unwrap_or("?").to_owned();
    let series: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    if fixture.oracle.differs.contains_key(&series) {
        return Vec::new();
    }
    let who = format!("Django {version}");
    let mut errors = Vec::new();

    if !json["error"].is_null() {
        let kind = django_error_kind(&json["error"]);
        if !fixture.expect.problems.contains(&kind) {
            errors.push(format!(
                "{who} fails with {kind}, expected problems {:?}",
                fixture.expect.problems
            ));
        }
        return errors;
    }
    let django_conflicts: BTreeMap<String, Vec<String>> =
        serde_json::from_value(json["conflicts"].clone()).unwrap_or_default();
    if django_conflicts != fixture.expect.conflicts {
        errors.push(format!(
            "{who}: conflicts {django_conflicts:?}, story expects {:?}",
            fixture.expect.conflicts
        ));
    }
    for kind in ["dangling", "cycle", "squash-cycle", "duplicate-label"] {
        if fixture.expect.problems.iter().any(|p| p == kind) {
            errors.push(format!(
                "{who} loads the tree, but the story expects {kind}"
            ));
        }
    }

    errors.extend(compare_apps(&who, &json, tree));

    // Node sets and leaves must be the same; so must every edge between local nodes.
    let django_nodes = key_list(&json["nodes"]);
    // A copy of an app that no settings module installs with the first is checked on its own
    // under `label@directory`; Django, set up with one settings module, never sees it.
    let own_copy = |n: &&Value| n["app"].as_str().is_some_and(|a| a.contains('@'));
    let ours_nodes: BTreeSet<(String, String)> = graph["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| !own_copy(n))
        .map(|n| {
            (
                n["app"].as_str().unwrap_or_default().to_owned(),
                n["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    if django_nodes != ours_nodes {
        let missing: Vec<_> = django_nodes.difference(&ours_nodes).collect();
        let extra: Vec<_> = ours_nodes.difference(&django_nodes).collect();
        errors.push(format!(
            "{who}: nodes differ; migmerge lacks {missing:?}, has extra {extra:?}"
        ));
    }
    // A migration whose references migmerge noted as unknown lacks the edges they make; the
    // parents of those edges then look like leaves. Both are what the notes announce.
    let noted: BTreeSet<&str> = graph["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["kind"] == "unknown")
        .filter_map(|n| n["file"].as_str())
        .collect();
    let noted_nodes: BTreeSet<(String, String)> = graph["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["path"].as_str().is_some_and(|p| noted.contains(p)))
        .filter_map(|n| {
            Some((
                n["app"].as_str()?.to_owned(),
                n["name"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let django_leaves: BTreeMap<String, Vec<String>> =
        serde_json::from_value(json["leaves"].clone()).unwrap_or_default();
    let mut ours_leaves: BTreeMap<String, Vec<String>> =
        serde_json::from_value(graph["leaves"].clone()).unwrap_or_default();
    ours_leaves.retain(|app, _| !app.contains('@'));
    let local = |app: &str| django_leaves.contains_key(app) || ours_leaves.contains_key(app);
    let django_edges: BTreeSet<((String, String), (String, String))> = json["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let child = (e[0][0].as_str()?.to_owned(), e[0][1].as_str()?.to_owned());
            let parent = (e[1][0].as_str()?.to_owned(), e[1][1].as_str()?.to_owned());
            local(&parent.0).then_some((child, parent))
        })
        .collect();
    let ours_edges: BTreeSet<((String, String), (String, String))> = graph["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| !own_copy(n))
        .flat_map(|n| {
            let child = (
                n["app"].as_str().unwrap_or_default().to_owned(),
                n["name"].as_str().unwrap_or_default().to_owned(),
            );
            n["parents"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |p| {
                    let parent = (
                        p["app"].as_str()?.to_owned(),
                        p["name"].as_str()?.to_owned(),
                    );
                    Some((child.clone(), parent))
                })
                .collect::<Vec<_>>()
        })
        .filter(|(_, parent)| local(&parent.0))
        .collect();
    let unseen: BTreeSet<_> = django_edges
        .difference(&ours_edges)
        .filter(|(child, _)| noted_nodes.contains(child))
        .cloned()
        .collect();
    for (_, (app, name)) in &unseen {
        if let Some(leaves) = ours_leaves.get_mut(app) {
            leaves.retain(|leaf| leaf != name);
        }
    }
    if django_leaves != ours_leaves {
        errors.push(format!(
            "{who}: leaves {django_leaves:?}, migmerge {ours_leaves:?} (leaves that only unknown references hide left out)"
        ));
    }
    let django_edges: BTreeSet<_> = django_edges.difference(&unseen).cloned().collect();
    if django_edges != ours_edges {
        let missing: Vec<_> = django_edges.difference(&ours_edges).collect();
        let extra: Vec<_> = ours_edges.difference(&django_edges).collect();
        errors.push(format!(
            "{who}: edges differ; migmerge lacks {missing:?}, has extra {extra:?}"
        ));
    }
    errors
}

/// `migmerge apps` against Django's app registry: the same labels, each on the same package.
/// Copies checked on their own (`label@directory`) are not Django's to see.
fn compare_apps(who: &str, django: &Value, tree: &Path) -> Vec<String> {
    let ours = match check_json(&["apps", "--format", "json"], tree) {
        Ok(json) => json,
        Err(e) => return vec![e],
    };
    let ours: BTreeMap<String, String> = ours["apps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|app| {
            let label = app["label"].as_str()?;
            let module = app["directory"].as_str()?.replace('/', ".");
            (!label.contains('@')).then(|| (label.to_owned(), module))
        })
        .collect();
    let django: BTreeMap<String, String> =
        serde_json::from_value(django["apps"].clone()).unwrap_or_default();
    if ours == django {
        Vec::new()
    } else {
        vec![format!("{who}: apps {django:?}, migmerge apps {ours:?}")]
    }
}

/// `app.migration:rule` of each finding of `migmerge ARGS` (a `lint --format json`), sorted.
fn lint_findings(args: &[&str], cwd: &Path) -> Result<Vec<String>, String> {
    let json = check_json(args, cwd)?;
    let mut found: Vec<String> = json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{}:{}",
                f["migration"].as_str().unwrap_or("?"),
                f["rule"].as_str().unwrap_or("?")
            )
        })
        .collect();
    found.sort();
    Ok(found)
}

fn compare_lint(args: &[&str], cwd: &Path, expected: &[String]) -> Vec<String> {
    match lint_findings(args, cwd) {
        Ok(found) if found == expected => Vec::new(),
        Ok(found) => vec![format!(
            "migmerge {}: findings {found:?}, expected {expected:?}",
            args.join(" ")
        )],
        Err(e) => vec![e],
    }
}

/// Django confirming `premise` on the story's tree: every migration with one parent in its own
/// app is migrated forward from that parent and back (with the premise's rows before it); the
/// ones `flagged` (`app.migration:rule` pairs) with the premise's rules must show the claimed
/// consequence, the others must migrate both ways.
fn confirm_lint_premise(
    python: &Path,
    tree: &Path,
    oracle: &Oracle,
    premise: LintPremise,
    graph: &Value,
    flagged: &[String],
) -> Vec<String> {
    let flagged: BTreeSet<&str> = flagged
        .iter()
        .filter_map(|pair| pair.split_once(':'))
        .filter(|(_, rule)| premise.rules().contains(rule))
        .map(|(migration, _)| migration)
        .collect();
    let mut errors = Vec::new();
    let mut judged = BTreeSet::new();
    for node in graph["nodes"].as_array().into_iter().flatten() {
        let (Some(app), Some(name)) = (node["app"].as_str(), node["name"].as_str()) else {
            continue;
        };
        let own_parents: Vec<&str> = node["parents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["app"] == app)
            .filter_map(|p| p["name"].as_str())
            .collect();
        let [previous] = own_parents[..] else {
            continue;
        };
        let answer = match crate::common::django_migrate_step(
            python,
            tree,
            app,
            (previous, name),
            oracle.lint_rows.as_deref(),
        ) {
            Ok(answer) => answer,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let version = answer["django"].as_str().unwrap_or("?");
        let series: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
        if oracle.differs.contains_key(&series) {
            continue;
        }
        let migration = format!("{app}.{name}");
        let is_flagged = flagged.contains(migration.as_str());
        judged.insert(migration.clone());
        if let Err(did) = premise.judge(is_flagged, &answer) {
            let claim = if is_flagged {
                format!("flagged, so {premise:?}")
            } else {
                "not flagged, so it migrates both ways".to_owned()
            };
            errors.push(format!("Django {version} on {migration} ({claim}): {did}"));
        }
    }
    for missed in flagged.iter().filter(|m| !judged.contains(**m)) {
        errors.push(format!(
            "{missed}: flagged, but not a migration the premise can migrate on its own"
        ));
    }
    errors
}

/// Checks one story (see the module's documentation) and compares what `check` and
/// `resolve --dry-run` print on its merged tree with the snapshots under `expected/`; fails
/// with everything that disagrees.
fn check_story(name: &str) {
    let dir = project_root().join("fixtures").join(name);
    let fixture = load_fixture(&dir);
    assert!(
        !fixture.story.trim().is_empty(),
        "{name}: a story says what happened"
    );
    let pythons = match fixture.oracle.python {
        OraclePython::Django => django_pythons(),
        OraclePython::Tools => tools_python().map(|python| vec![python]),
    };
    let mut errors = Vec::new();
    let (tree, _keep) = materialize(&dir, &fixture, &mut errors);
    if let Some(expected) = &fixture.expect.lint {
        errors.extend(compare_lint(
            &["lint", "--all", "--format", "json"],
            &tree,
            expected,
        ));
    }
    let git_stopped = fixture.expect.problems.iter().any(|p| p == "git-conflict");
    let check = check_json(&["check", "--format", "json"], &tree);
    match &check {
        Ok(json) => errors.extend(compare(
            "check",
            &verdict(json),
            &fixture.expect,
            git_stopped,
        )),
        Err(e) => errors.push(e.clone()),
    }
    let human = run_migmerge(&["check"], &tree);
    for words in &fixture.expect.says {
        if !stdout(&human).contains(words.as_str()) {
            errors.push(format!("check does not say {words:?}:\n{}", stdout(&human)));
        }
    }
    errors.extend(compare_snapshots(&dir, &fixture.expect, &tree, &human));
    let only_conflicts = !fixture.expect.conflicts.is_empty() && fixture.expect.problems.is_empty();
    if let (Some(pythons), Ok(json), true) = (&pythons, &check, only_conflicts) {
        for python in pythons {
            errors.extend(migrate_after_merge(
                python,
                &dir,
                &tree,
                &fixture.expect,
                &fixture.oracle.differs,
                json,
            ));
        }
    }
    let graph = check_json(&["graph", "--format", "json"], &tree);
    if let (Some(pythons), Ok(graph)) = (&pythons, &graph) {
        for python in pythons {
            errors.extend(oracle(python, &tree, &fixture, graph));
        }
        match (fixture.oracle.lint_premise, &fixture.expect.lint) {
            (Some(premise), Some(flagged)) => {
                for python in pythons {
                    errors.extend(confirm_lint_premise(
                        python,
                        &tree,
                        &fixture.oracle,
                        premise,
                        graph,
                        flagged,
                    ));
                }
            }
            (Some(_), None) => errors.push("lint_premise without [expect] lint".to_owned()),
            (None, _) => {}
        }
    }
    if let Err(e) = graph {
        errors.push(e);
    }
    assert!(
        errors.is_empty(),
        "{name} disagrees:\n  {}",
        errors.join("\n  ")
    );
}

/// The strategies whose dry run a story's snapshots pin: a merge migration for any conflict;
/// a renumbering where every conflict has two leaves (with more, `renumber` refuses, and
/// tests/resolve.rs pins that refusal).
fn snapshot_strategies(expect: &Expect) -> Vec<&'static str> {
    if expect.conflicts.is_empty() {
        return Vec::new();
    }
    let mut strategies = vec!["merge"];
    if expect.conflicts.values().all(|leaves| leaves.len() == 2) {
        strategies.push("renumber");
    }
    strategies
}

/// `expected/check.txt` against the human `check` report (`human`); in a story about `lint`,
/// `expected/lint.txt` against what `lint --all` prints; and, per strategy of
/// [`snapshot_strategies`], `expected/resolve-<strategy>.txt` against what
/// `resolve --dry-run --strategy <strategy>` prints on the same tree.
fn compare_snapshots(dir: &Path, expect: &Expect, tree: &Path, human: &Output) -> Vec<String> {
    let expected = dir.join("expected");
    let mut errors = Vec::new();
    // A `tree/` story sits inside this project's own repository, whose branches are not the
    // story's: its snapshots are taken on a copy outside any repository.
    let copy = tempfile::tempdir().expect("tempdir");
    let fresh;
    let (tree, human) = if tree.starts_with(dir) {
        crate::common::copy_tree(tree, copy.path());
        fresh = run_migmerge(&["check"], copy.path());
        (copy.path(), &fresh)
    } else {
        (tree, human)
    };
    let check = output_snapshot(human, tree);
    errors.extend(compare_text_snapshot(&expected.join("check.txt"), &check).err());
    if expect.lint.is_some() {
        let out = run_migmerge(&["lint", "--all"], tree);
        let got = output_snapshot(&out, tree);
        errors.extend(compare_text_snapshot(&expected.join("lint.txt"), &got).err());
    }
    for strategy in snapshot_strategies(expect) {
        let out = run_migmerge(&["resolve", "--dry-run", "--strategy", strategy], tree);
        let got = output_snapshot(&out, tree);
        let file = expected.join(format!("resolve-{strategy}.txt"));
        errors.extend(compare_text_snapshot(&file, &got).err());
    }
    errors
}

/// One test per story, named after its directory: `cargo test --test integration
/// fixtures::<story>` checks that story alone, `fixtures::overlap_` every story whose name
/// holds `overlap_`.
macro_rules! story_tests {
    ($($story:ident;)*) => {
        $(
            #[test]
            fn $story() {
                check_story(stringify!($story));
            }
        )*

        /// The stories [`story_tests`] lists, so that the list can be checked.
        const LISTED_STORIES: &[&str] = &[$(stringify!($story)),*];
    };
}

story_tests! {
    both_sides_wrote_same_merge_migration;
    chain_three_vs_two;
    computed_dependencies_read_statically;
    conflict_beside_unknown_dependencies;
    conflict_markers_in_models_py;
    conflicts_in_two_apps;
    cross_app_dependency_on_sibling;
    custom_app_label_via_apps_py;
    cycle_between_two_apps;
    dangling_after_rename_on_other_side;
    dangling_dependency_typo;
    default_app_config_in_init;
    demo_shop;
    dependents_in_two_other_apps;
    duplicate_app_label;
    first_and_latest_dependencies;
    helper_migrations_package_beside_conflict;
    installed_apps_names_config_class;
    label_through_imported_base_config;
    latest_dependency_resolves_before_squash_remap;
    lint_alter_field_rewrite;
    lint_concurrent_index_in_atomic;
    lint_drop_column;
    lint_drop_table;
    lint_irreversible_run_python;
    lint_irreversible_run_sql;
    lint_non_concurrent_index;
    lint_not_null_without_default;
    lint_opt_outs;
    lint_post_deploy_stage;
    lint_removed_on_other_branch;
    lint_rename_column;
    lint_rename_table;
    lint_run_python_with_schema_changes;
    lint_volatile_default;
    max_migration_out_of_step;
    merge_migration_present;
    merge_migration_then_new_siblings;
    migration_modules_in_settings_conditional;
    nested_squash;
    odd_python_syntax;
    overlap_disjoint_models;
    overlap_identical_add_field_both_sides;
    overlap_identical_alter_field_both_sides;
    overlap_remove_vs_alter_field;
    overlap_rename_field_vs_alter_field;
    overlap_rename_model_vs_add_field;
    overlap_runpython_one_side;
    overlap_same_end_state_different_steps;
    overlap_same_field_altered_both_sides;
    overlap_same_index_name_both_sides;
    overlap_same_migration_two_numbers;
    overlap_same_model_different_fields;
    overlap_separate_database_and_state_same_field;
    parallel_work_in_different_apps;
    renumber_module_level_dependencies;
    renumber_odd_formatting;
    run_before_same_app_and_cross_app;
    same_app_first_dependency_is_ignored;
    siblings_add_phone_vs_add_avatar;
    siblings_with_max_migration_txt;
    squash_beside_sibling_conflict;
    squash_cycle;
    squash_on_protected_side;
    squash_on_unpublished_side;
    squash_originals_deleted_other_app_depends_on_replaced;
    squash_with_originals_partially_deleted;
    squash_with_originals_present;
    swappable_dependency_in_moved_migration;
    swappable_model_set_in_settings;
    swappable_user_model_custom;
    swappable_user_model_default;
    three_way_siblings;
    two_copies_never_installed_together;
    two_squashes_of_same_range;
    unknown_dependency_in_one_app;
}

#[test]
fn every_fixture_directory_has_its_test() {
    let mut dirs: Vec<String> = std::fs::read_dir(project_root().join("fixtures"))
        .expect("fixtures directory")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("fixture.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut listed: Vec<String> = LISTED_STORIES.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    let untested: Vec<&String> = dirs.iter().filter(|d| !listed.contains(d)).collect();
    let gone: Vec<&String> = listed.iter().filter(|l| !dirs.contains(l)).collect();
    assert!(
        untested.is_empty() && gone.is_empty(),
        "story_tests! in tests/fixtures.rs must list every fixtures/<story>/fixture.toml: \
         add {untested:?}, remove {gone:?}"
    );
    assert!(
        dirs.len() >= 10,
        "expected the fixture corpus, found {}",
        dirs.len()
    );
}
