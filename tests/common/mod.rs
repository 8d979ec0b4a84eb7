//! Helpers shared by the integration tests: the binary, real git in a clean environment, and
//! fixture stories turned into real repositories.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The migmerge binary cargo built for these tests.
pub fn migmerge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_migmerge"))
}

/// Runs migmerge and returns its output.
pub fn run_migmerge(args: &[&str], cwd: &Path) -> Output {
    migmerge()
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("run migmerge")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that a process exited with `code`, showing what it printed when it did not.
#[track_caller]
pub fn assert_status(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}{}",
        stdout(output),
        stderr(output)
    );
}

/// The repository's root (where Cargo.toml is).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `git` with no user or system configuration, a fixed identity and dates.
pub fn git(cwd: &Path, args: &[&str]) -> Output {
    clean_git(cwd, &std::env::var_os("PATH").unwrap_or_default())
        .args(args)
        .output()
        .expect("run git")
}

/// A `git` command for `cwd` with no user or system configuration, a fixed identity and dates,
/// and `path` as PATH (which decides whether hooks find migmerge).
pub fn clean_git(cwd: &Path, path: &std::ffi::OsStr) -> Command {
    clean_command("git", cwd, path)
}

/// `program` in the environment of [`clean_git`] (a program that runs git, like pre-commit).
pub fn clean_command(
    program: impl AsRef<std::ffi::OsStr>,
    cwd: &Path,
    path: &std::ffi::OsStr,
) -> Command {
    let home = cwd.join(".git-test-home");
    let _ = fs::create_dir_all(&home);
    let mut command = Command::new(program);
    command
        .current_dir(cwd)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z");
    command
}

/// `git` that must succeed.
pub fn git_ok(cwd: &Path, args: &[&str]) -> String {
    let out = git(cwd, args);
    assert!(
        out.status.success(),
        "git {} failed in {}:\n{}{}",
        args.join(" "),
        cwd.display(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create dir");
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Removes everything in a work tree except `.git` and the test home.
pub fn clear_work_tree(dir: &Path) {
    for entry in fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        if name == ".git" || name == ".git-test-home" {
            continue;
        }
        if entry.file_type().expect("file type").is_dir() {
            fs::remove_dir_all(entry.path()).expect("remove dir");
        } else {
            fs::remove_file(entry.path()).expect("remove file");
        }
    }
}

/// A repository holding a fixture story: `main` carries `base/` then `ours/`, branch `theirs`
/// carries `base/` then `theirs/`. HEAD is `main`, nothing merged yet.
pub fn story_repo(fixture: &Path, dir: &Path) {
    git_ok(dir, &["init", "-q", "-b", "main"]);
    fs::write(dir.join(".gitignore"), ".git-test-home/\n__pycache__/\n").expect("write");
    copy_tree(&fixture.join("base"), dir);
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "-m", "base"]);
    git_ok(dir, &["checkout", "-q", "-b", "theirs"]);
    replace_tree(dir, &fixture.join("theirs"));
    git_ok(dir, &["commit", "-q", "-m", "theirs"]);
    git_ok(dir, &["checkout", "-q", "main"]);
    replace_tree(dir, &fixture.join("ours"));
    git_ok(dir, &["commit", "-q", "-m", "ours"]);
}

fn replace_tree(dir: &Path, from: &Path) {
    clear_work_tree(dir);
    fs::write(dir.join(".gitignore"), ".git-test-home/\n__pycache__/\n").expect("write");
    copy_tree(from, dir);
    git_ok(dir, &["add", "-A"]);
}

/// The Python interpreters with Django that the oracle tests use: `MIGMERGE_DJANGO_PYTHONS`,
/// a `:`-separated list. Unset, the oracle tests fail, unless `MIGMERGE_SKIP_DJANGO=1` says
/// they are skipped on purpose.
pub fn django_pythons() -> Option<Vec<PathBuf>> {
    match std::env::var("MIGMERGE_DJANGO_PYTHONS") {
        Ok(list) if !list.trim().is_empty() => Some(
            list.split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect(),
        ),
        _ => {
            assert!(
                std::env::var("MIGMERGE_SKIP_DJANGO").as_deref() == Ok("1"),
                "Django is the oracle of these tests: set MIGMERGE_DJANGO_PYTHONS to Python \
                 interpreters with Django installed (scripts/test.sh does), or \
                 MIGMERGE_SKIP_DJANGO=1 to skip them knowingly"
            );
            None
        }
    }
}

/// What Django's `migrate` does, on SQLite, with migration `steps.1` of `app` in `tree` after
/// `steps.0` (see tests/oracle/lint_consequences.py): `forward` and `backward` are `null` when
/// they worked, else Django's error; with `rows` (`Model:N`), N rows exist before `steps.1`.
/// `Err` when the oracle could not get that far (what it printed).
pub fn django_migrate_step(
    python: &Path,
    tree: &Path,
    app: &str,
    steps: (&str, &str),
    rows: Option<&str>,
) -> Result<serde_json::Value, String> {
    let mut command = Command::new(python);
    command
        .arg(project_root().join("tests/oracle/lint_consequences.py"))
        .arg(tree)
        .args([app, steps.0, steps.1]);
    if let Some(rows) = rows {
        command.args(["--rows", rows]);
    }
    let out = command.output().expect("run the lint oracle");
    if !out.status.success() {
        return Err(format!(
            "lint oracle ({}) on {app} {} -> {}: {}{}",
            python.display(),
            steps.0,
            steps.1,
            stdout(&out),
            stderr(&out)
        ));
    }
    serde_json::from_str(&stdout(&out)).map_err(|e| format!("lint oracle: bad JSON ({e})"))
}

/// The Python interpreter with the deploy tooling migmerge works beside (Django,
/// django-syzygy, django-safemigrate and pre-commit, and psycopg for the migrations that import
/// django.contrib.postgres): `MIGMERGE_TOOLS_PYTHON`, else the
/// virtualenv scripts/test.sh makes in `target/tools-venv`. Neither there, the tests that run
/// those tools fail, unless `MIGMERGE_SKIP_TOOLS=1` says they are skipped on purpose.
pub fn tools_python() -> Option<PathBuf> {
    if let Ok(python) = std::env::var("MIGMERGE_TOOLS_PYTHON")
        && !python.trim().is_empty()
    {
        return Some(PathBuf::from(python));
    }
    let made = project_root().join("target/tools-venv/bin/python");
    if made.exists() {
        return Some(made);
    }
    assert!(
        std::env::var("MIGMERGE_SKIP_TOOLS").as_deref() == Ok("1"),
        "these tests run pre-commit, django-syzygy and django-safemigrate: set \
         MIGMERGE_TOOLS_PYTHON to a Python that has them (scripts/test.sh makes one in \
         target/tools-venv), or MIGMERGE_SKIP_TOOLS=1 to skip them knowingly"
    );
    None
}

/// Whether `UPDATE_EXPECTED=1` asks the snapshot tests to rewrite what they compare with.
pub fn update_expected() -> bool {
    std::env::var_os("UPDATE_EXPECTED").is_some_and(|v| v == "1")
}

/// What a run of migmerge printed, as a snapshot: stdout, then stderr when there is any, then
/// the exit code; with `root` (the tree it ran in) written `<tree>`, and the version and time
/// a generated migration's header carries written as fixed tokens, so that the snapshot only
/// changes when the output does.
pub fn output_snapshot(output: &Output, root: &Path) -> String {
    let mut text = stdout(output);
    let errors = stderr(output);
    if !errors.is_empty() {
        text.push_str("[stderr]\n");
        text.push_str(&errors);
    }
    match output.status.code() {
        Some(code) => text.push_str(&format!("[exit {code}]\n")),
        None => text.push_str("[killed by a signal]\n"),
    }
    normalise_output(&text, root)
}

fn normalise_output(text: &str, root: &Path) -> String {
    let mut text = text.replace(&root.display().to_string(), "<tree>");
    // macOS reaches temp directories through a symlink; either spelling is the tree.
    if let Ok(real) = root.canonicalize() {
        text = text.replace(&real.display().to_string(), "<tree>");
    }
    const HEADER: &str = "# Generated by migmerge ";
    text.lines()
        .map(|line| match line.find(HEADER) {
            Some(at) => format!("{}{HEADER}<version> on <timestamp>", &line[..at]),
            None => merge_name_without_time(line),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}

/// A merge migration named after the time it was written (`0004_merge_20261201_2330`, Django's
/// name when the leaves are too many to spell out) written `0004_merge_<timestamp>`.
fn merge_name_without_time(line: &str) -> String {
    const MERGE: &str = "_merge_";
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(MERGE) {
        let (head, tail) = rest.split_at(at + MERGE.len());
        out.push_str(head);
        let bytes = tail.as_bytes();
        let timed = bytes.len() >= 13
            && bytes[..8].iter().all(u8::is_ascii_digit)
            && bytes[8] == b'_'
            && bytes[9..13].iter().all(u8::is_ascii_digit);
        if timed {
            out.push_str("<timestamp>");
            rest = &tail[13..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Compares `got` with the snapshot file `expected`: a mismatch is returned as a unified diff
/// (`\r` shown as such); `UPDATE_EXPECTED=1` writes `got` there instead.
pub fn compare_text_snapshot(expected: &Path, got: &str) -> Result<(), String> {
    if update_expected() {
        fs::create_dir_all(expected.parent().expect("a parent")).expect("create dir");
        fs::write(expected, got).expect("write the snapshot");
        return Ok(());
    }
    let Ok(want) = fs::read_to_string(expected) else {
        return Err(format!(
            "{} is missing: run with UPDATE_EXPECTED=1 to create it, then review it",
            expected.display()
        ));
    };
    if want == got {
        return Ok(());
    }
    let (want, got) = (want.replace('\r', "\\r"), got.replace('\r', "\\r"));
    let shown = expected
        .strip_prefix(project_root())
        .unwrap_or(expected)
        .display()
        .to_string();
    let diff = similar::TextDiff::from_lines(&want, &got)
        .unified_diff()
        .context_radius(3)
        .header(&shown, "output")
        .to_string();
    Err(format!(
        "the output differs from {shown} (UPDATE_EXPECTED=1 rewrites it):\n{diff}"
    ))
}
