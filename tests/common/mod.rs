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

/// The Python interpreter with the deploy tooling migmerge works beside (Django,
/// django-syzygy, django-safemigrate and pre-commit): `MIGMERGE_TOOLS_PYTHON`, else the
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
