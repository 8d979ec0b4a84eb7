//! The command line contract: exit codes, error messages naming file and line, the sources
//! (`--rev`, `--against`) on real git repositories.

use std::fs;
use std::path::Path;

use crate::common::{assert_status, git_ok, run_migmerge, stderr, stdout};

const INITIAL: &str = "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    initial = True\n\n    dependencies = []\n\n    operations = [\n        migrations.CreateModel(\n            name=\"User\",\n            fields=[(\"id\", models.AutoField(primary_key=True))],\n        ),\n    ]\n";

fn child(parent: &str, field: &str) -> String {
    format!(
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    dependencies = [\n        (\"users\", \"{parent}\"),\n    ]\n\n    operations = [\n        migrations.AddField(\n            model_name=\"user\",\n            name=\"{field}\",\n            field=models.CharField(max_length=20, null=True),\n        ),\n    ]\n"
    )
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn app(root: &Path) {
    write(root, "users/__init__.py", "");
    write(root, "users/migrations/__init__.py", "");
    write(root, "users/migrations/0001_initial.py", INITIAL);
}

#[test]
fn clean_tree_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path());
    write(
        dir.path(),
        "users/migrations/0002_add_phone.py",
        &child("0001_initial", "phone"),
    );
    let out = run_migmerge(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("No migration conflicts"));
    assert!(
        stdout(&out).contains("(2 migrations in 1 app)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_tree_without_migrations_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "manage.py", "");
    let out = run_migmerge(&["check"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(2),
        "a gate must not pass on nothing"
    );
    assert!(
        stderr(&out).contains("no Django migrations package"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn siblings_exit_one_and_name_app_leaves_and_next_step() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path());
    write(
        dir.path(),
        "users/migrations/0002_add_phone.py",
        &child("0001_initial", "phone"),
    );
    write(
        dir.path(),
        "users/migrations/0002_add_avatar.py",
        &child("0001_initial", "avatar"),
    );
    let out = run_migmerge(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("users: 2 leaves: 0002_add_avatar, 0002_add_phone"),
        "{text}"
    );
    assert!(text.contains("Add field phone to user"), "{text}");
    assert!(text.contains("migmerge resolve"), "{text}");

    let out = run_migmerge(&["check", "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["conflicts"][0]["app"], "users");
    assert_eq!(
        json["conflicts"][0]["leaves"],
        serde_json::json!(["0002_add_avatar", "0002_add_phone"])
    );
    assert_eq!(json["conflicts"][0]["severity"], "caution");
    assert_eq!(json["problems"], serde_json::json!([]));

    let out = run_migmerge(&["check", "--format", "github"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("::error file=users/migrations/"),
        "{}",
        stdout(&out)
    );
}

/// GitHub reads an annotation's file from the top of the repository: a project in a
/// subdirectory has its files named from there.
#[test]
fn annotations_name_files_from_the_top_of_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("backend");
    std::fs::create_dir_all(&project).unwrap();
    app(&project);
    for field in ["phone", "avatar"] {
        write(
            &project,
            &format!("users/migrations/0002_add_{field}.py"),
            &child("0001_initial", field),
        );
    }
    crate::common::git_ok(dir.path(), &["init", "-q"]);
    let out = run_migmerge(&["check", "--format", "github"], &project);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("::error file=backend/users/migrations/"),
        "{}",
        stdout(&out)
    );
    // Asked from the top, with the project named: the same names.
    let out = run_migmerge(&["check", "--format", "github", "backend"], dir.path());
    assert!(
        stdout(&out).starts_with("::error file=backend/users/migrations/"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn syntax_error_exits_two_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path());
    write(
        dir.path(),
        "users/migrations/0002_broken.py",
        "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    dependencies = [(\"users\", \"0001_initial\")\n    operations = []\n",
    );
    let out = run_migmerge(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("users/migrations/0002_broken.py:"), "{err}");
    let line: u32 = err
        .split("0002_broken.py:")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .expect("a line number after the file name");
    assert!((4..=5).contains(&line), "{err}");
}

#[test]
fn could_not_run_prints_json_and_annotations_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path());
    write(
        dir.path(),
        "users/migrations/0002_broken.py",
        "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    dependencies = [(\"users\", \"0001_initial\"\n",
    );
    let out = run_migmerge(&["check", "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    let error = &json["error"];
    assert_eq!(error["file"], "users/migrations/0002_broken.py", "{json}");
    assert_eq!(error["line"], 5, "{json}");
    assert!(
        error["message"].as_str().unwrap().contains("syntax error"),
        "{json}"
    );
    // People still read the error where they always did.
    assert!(
        stderr(&out).contains("0002_broken.py:5:"),
        "{}",
        stderr(&out)
    );

    let out = run_migmerge(&["check", "--format", "github"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let annotation = stdout(&out);
    assert!(
        annotation.starts_with("::error file=users/migrations/0002_broken.py,line=5,"),
        "{annotation}"
    );
    assert_eq!(annotation.lines().count(), 1, "{annotation}");

    // Human output stays on stderr alone.
    let out = run_migmerge(&["check"], dir.path());
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(2), ""));

    // Bad arguments too, whichever way the format is spelled.
    for args in [
        &["check", "--format", "json", "--no-such-flag"][..],
        &["check", "--no-such-flag", "--format=json"],
    ] {
        let out = run_migmerge(args, dir.path());
        assert_eq!(out.status.code(), Some(2));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("--no-such-flag"), "{json}");
        assert!(stderr(&out).contains("--no-such-flag"), "{}", stderr(&out));
    }
    let out = run_migmerge(&["check", "--format", "github", "--rev"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).starts_with("::error title="),
        "{}",
        stdout(&out)
    );
    let out = run_migmerge(&["graph", "--format", "json", "--no-such-flag"], dir.path());
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(2), ""));

    // Without a file to blame, the object has the message only.
    let out = run_migmerge(&["check", "--format", "json", "no/such/dir"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert!(json["error"]["message"].is_string(), "{json}");
    assert!(json["error"].get("file").is_none(), "{json}");
}

#[test]
fn conflict_markers_exit_two_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path());
    write(
        dir.path(),
        "users/migrations/0002_x.py",
        "from django.db import migrations\n\nclass Migration(migrations.Migration):\n<<<<<<< HEAD\n    dependencies = [(\"users\", \"0001_initial\")]\n=======\n    dependencies = []\n>>>>>>> theirs\n",
    );
    let out = run_migmerge(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("users/migrations/0002_x.py:4"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("conflict marker"), "{}", stderr(&out));
}

#[test]
fn dangling_dependency_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path());
    write(
        dir.path(),
        "users/migrations/0003_x.py",
        &child("0002_gone", "x"),
    );
    let out = run_migmerge(&["check", "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["problems"][0]["kind"], "dangling");
    assert_eq!(json["problems"][0]["file"], "users/migrations/0003_x.py");
    assert_eq!(json["problems"][0]["line"], 6);
    // No namesake and no history: nothing `resolve` would follow, so nothing is promised.
    let human = stdout(&run_migmerge(&["check"], dir.path()));
    assert!(human.contains("Next: fix the problems above"), "{human}");
    assert!(!human.contains("migmerge resolve"), "{human}");
}

#[test]
fn bad_arguments_and_missing_paths_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_migmerge(&["check", "--format", "yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = run_migmerge(&["check", "does-not-exist"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = run_migmerge(&["check", "--rev", "HEAD"], dir.path());
    assert_eq!(out.status.code(), Some(2), "not a repository");
    assert!(
        stderr(&out).contains("not a git repository"),
        "{}",
        stderr(&out)
    );
}

/// A repository where `main` and `feature` each add a sibling after a common base.
fn forked_repo(dir: &Path) {
    git_ok(dir, &["init", "-q", "-b", "main"]);
    app(dir);
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "-m", "initial"]);
    git_ok(dir, &["checkout", "-q", "-b", "feature"]);
    write(
        dir,
        "users/migrations/0002_add_avatar.py",
        &child("0001_initial", "avatar"),
    );
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "-m", "avatar"]);
    git_ok(dir, &["checkout", "-q", "main"]);
    write(
        dir,
        "users/migrations/0002_add_phone.py",
        &child("0001_initial", "phone"),
    );
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "-m", "phone"]);
}

#[test]
fn against_simulates_the_merge_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    forked_repo(dir.path());
    let before = git_ok(dir.path(), &["count-objects"]);
    let status_before = git_ok(dir.path(), &["status", "--porcelain"]);

    let out = run_migmerge(
        &["check", "--against", "feature", "--format", "json"],
        dir.path(),
    );
    assert_status(&out, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json["conflicts"][0]["leaves"],
        serde_json::json!(["0002_add_avatar", "0002_add_phone"])
    );
    // HEAD's branch is listed first.
    assert_eq!(
        json["conflicts"][0]["branches"][0]["leaf"],
        "0002_add_phone"
    );

    // The work tree alone has no conflict, and nothing was written to the repository.
    assert_eq!(run_migmerge(&["check"], dir.path()).status.code(), Some(0));
    assert_eq!(git_ok(dir.path(), &["count-objects"]), before);
    assert_eq!(
        git_ok(dir.path(), &["status", "--porcelain"]),
        status_before
    );

    // The same through --head, from the other side.
    let out = run_migmerge(
        &[
            "check",
            "--against",
            "main",
            "--head",
            "feature",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json["conflicts"][0]["branches"][0]["leaf"],
        "0002_add_avatar"
    );
}

#[test]
fn rev_reads_git_objects_not_the_work_tree() {
    let dir = tempfile::tempdir().unwrap();
    forked_repo(dir.path());
    git_ok(dir.path(), &["merge", "-q", "--no-edit", "feature"]);
    // After the real merge, the tree and HEAD have both leaves.
    assert_eq!(run_migmerge(&["check"], dir.path()).status.code(), Some(1));
    assert_eq!(
        run_migmerge(&["check", "--rev", "HEAD"], dir.path())
            .status
            .code(),
        Some(1)
    );
    // The commit before the merge did not.
    assert_eq!(
        run_migmerge(&["check", "--rev", "HEAD~1"], dir.path())
            .status
            .code(),
        Some(0)
    );
    // A work tree edit that breaks a file does not affect --rev.
    write(
        dir.path(),
        "users/migrations/0002_add_phone.py",
        "class (:\n",
    );
    assert_eq!(run_migmerge(&["check"], dir.path()).status.code(), Some(2));
    assert_eq!(
        run_migmerge(&["check", "--rev", "HEAD"], dir.path())
            .status
            .code(),
        Some(1)
    );
    let out = run_migmerge(&["check", "--rev", "no-such-branch"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no-such-branch"), "{}", stderr(&out));
}

#[test]
fn graph_formats() {
    let dir = tempfile::tempdir().unwrap();
    app(dir.path());
    write(
        dir.path(),
        "users/migrations/0002_add_phone.py",
        &child("0001_initial", "phone"),
    );
    let text = stdout(&run_migmerge(&["graph"], dir.path()));
    assert!(
        text.contains("0002_add_phone <- 0001_initial  [leaf]"),
        "{text}"
    );
    let dot = stdout(&run_migmerge(&["graph", "--format", "dot"], dir.path()));
    assert!(
        dot.contains("\"users.0002_add_phone\" -> \"users.0001_initial\""),
        "{dot}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&run_migmerge(
        &["graph", "--format", "json"],
        dir.path(),
    )))
    .unwrap();
    assert_eq!(
        json["leaves"]["users"],
        serde_json::json!(["0002_add_phone"])
    );
    let out = run_migmerge(&["graph", "--app", "nope"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

/// `check --staged`, the pre-commit check: the index is what counts, not untracked or unstaged
/// files, and git's `GIT_INDEX_FILE` (a temporary index under `git commit -a`) is honoured.
#[test]
fn staged_reads_the_index_not_the_work_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git_ok(root, &["init", "-q", "-b", "main"]);
    app(root);
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-q", "-m", "initial"]);
    write(
        root,
        "users/migrations/0002_add_phone.py",
        &child("0001_initial", "phone"),
    );
    write(
        root,
        "users/migrations/0002_add_avatar.py",
        &child("0001_initial", "avatar"),
    );
    git_ok(root, &["add", "users/migrations/0002_add_phone.py"]);

    // The work tree has siblings; what would be committed does not.
    assert_eq!(run_migmerge(&["check"], root).status.code(), Some(1));
    let out = run_migmerge(&["check", "--staged"], root);
    assert_status(&out, 0);

    git_ok(root, &["add", "users/migrations/0002_add_avatar.py"]);
    let out = run_migmerge(&["check", "--staged"], root);
    assert_status(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("users: 2 leaves: 0002_add_avatar, 0002_add_phone"),
        "{text}"
    );
    assert!(text.contains("staged files"), "{text}");

    // A staged edit is read from the index even when the work tree copy differs.
    write(root, "users/migrations/0002_add_avatar.py", "class (:\n");
    assert_eq!(run_migmerge(&["check"], root).status.code(), Some(2));
    assert_eq!(
        run_migmerge(&["check", "--staged"], root).status.code(),
        Some(1)
    );

    // Another index, as git names it for hooks: HEAD's tree only, so no conflict.
    let other_index = root.join(".git/other-index");
    let out = std::process::Command::new("git")
        .args(["read-tree", "HEAD"])
        .current_dir(root)
        .env("GIT_INDEX_FILE", &other_index)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = crate::common::migmerge()
        .args(["check", "--staged"])
        .current_dir(root)
        .env("GIT_INDEX_FILE", ".git/other-index")
        .output()
        .unwrap();
    assert_status(&out, 0);

    let out = run_migmerge(&["check", "--staged", "--rev", "HEAD"], root);
    assert_eq!(out.status.code(), Some(2), "--staged with --rev");
    let plain = tempfile::tempdir().unwrap();
    let out = run_migmerge(&["check", "--staged"], plain.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a git repository"),
        "{}",
        stderr(&out)
    );
}

/// The subcommands a user can call, straight from the clap definitions.
fn visible_subcommands() -> Vec<String> {
    use clap::CommandFactory;
    migmerge::cli::Cli::command()
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| sub.get_name().to_owned())
        .collect()
}

/// Whether `word` occurs in `text` as a whole word (not inside `merge-driver` or `command`).
fn has_word(text: &str, word: &str) -> bool {
    let is_word_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

#[test]
fn completions_offer_every_subcommand() {
    let subcommands = visible_subcommands();
    assert!(subcommands.len() >= 8, "{subcommands:?}");
    let empty = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run_migmerge(&["completions", shell], empty.path());
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for sub in &subcommands {
            assert!(has_word(&script, sub), "{shell} completion lacks {sub}");
        }
        // Options come from the same definitions (fish spells them `-l staged`).
        assert!(
            script.contains("--staged") || script.contains("-l staged"),
            "{shell} completion lacks --staged"
        );
    }
    // The bash script at least parses.
    let script = stdout(&run_migmerge(&["completions", "bash"], empty.path()));
    let file = empty.path().join("migmerge.bash");
    fs::write(&file, script).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{}", stderr(&syntax));

    let out = run_migmerge(&["completions", "tcsh"], empty.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_page_documents_every_subcommand_option_and_exit_status() {
    use clap::CommandFactory;
    let empty = tempfile::tempdir().unwrap();
    let out = run_migmerge(&["man"], empty.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains("\n.TH migmerge 1 "), "{page}");
    // Roff escapes hyphens and backslashes; compare with the plain text.
    let plain = page.replace("\\-", "-").replace("\\e", "\\");
    for sub in visible_subcommands() {
        let heading = format!(".SH \"MIGMERGE {}\"", sub.to_uppercase());
        assert!(plain.contains(&heading), "the man page lacks {heading}");
    }
    let command = migmerge::cli::Cli::command();
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        for arg in sub.get_arguments().filter(|arg| !arg.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                assert!(
                    plain.contains(&format!("--{long}")),
                    "the man page lacks {} --{long}",
                    sub.get_name()
                );
            }
        }
        if let Some(notes) = sub.get_after_help() {
            let notes = notes.to_string();
            if notes.starts_with("Exit status") {
                assert!(
                    plain.contains(&notes),
                    "the man page lacks the exit status of {}",
                    sub.get_name()
                );
            }
        }
    }
    assert!(plain.contains(".SH \"EXIT STATUS\""), "{page}");
    assert!(plain.contains("2: could not run"), "{page}");
    // Commands git runs are not for people.
    assert!(!plain.contains("MIGMERGE HOOK"));
    assert!(!plain.contains("MIGMERGE MERGE-DRIVER"));
}

/// `--version` names the commit the binary was built from, as git tells it for this checkout
/// (build.rs), and `unknown` where the sources are not a git checkout of their own.
#[test]
fn version_names_the_commit_it_was_built_from() {
    let root = crate::common::project_root();
    let git_says = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let own_checkout = git_says(&["rev-parse", "--show-toplevel"])
        .is_some_and(|top| Path::new(&top).canonicalize().ok() == root.canonicalize().ok());
    let commit = if own_checkout {
        git_says(&["log", "-1", "--format=%h %cs", "--abbrev=7"]).unwrap()
    } else {
        "unknown".to_owned()
    };
    let out = run_migmerge(&["--version"], &root);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("migmerge {} ({commit})\n", env!("CARGO_PKG_VERSION"))
    );
    if own_checkout {
        // The short hash, then the commit's date as YYYY-MM-DD.
        let (hash, date) = commit.split_once(' ').unwrap();
        assert!(
            hash.len() >= 7 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{commit}"
        );
        assert!(date.len() == 10 && date.as_bytes()[4] == b'-', "{commit}");
    }
}

/// `check --staged` reads one branch, the index: a leaf already committed and a sibling only
/// staged are labelled so, not as the two sides of a merge.
#[test]
fn staged_labels_the_committed_and_the_staged_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git_ok(root, &["init", "-q", "-b", "main"]);
    app(root);
    write(
        root,
        "users/migrations/0002_add_phone.py",
        &child("0001_initial", "phone"),
    );
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-q", "-m", "phone"]);
    write(
        root,
        "users/migrations/0002_add_avatar.py",
        &child("0001_initial", "avatar"),
    );
    git_ok(root, &["add", "-A"]);
    let out = run_migmerge(&["check", "--staged"], root);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("committed: 0002_add_phone"), "{text}");
    assert!(text.contains("staged: 0002_add_avatar"), "{text}");
    assert!(
        !text.contains("ours:") && !text.contains("theirs:"),
        "{text}"
    );
    let out = run_migmerge(&["check", "--staged", "--format", "json"], root);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sides: Vec<&str> = json["conflicts"][0]["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["side"].as_str().unwrap())
        .collect();
    assert_eq!(sides, ["committed", "staged"]);
    // The work tree check of the same files still names no sides: no merge is under way.
    let out = run_migmerge(&["check", "--rev", "HEAD"], root);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
