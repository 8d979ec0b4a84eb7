//! Never worse than git: the merge driver against labels, paths and files git merges fine on its
//! own, a driver that crashes, and the setups git supports.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use migmerge::git::install::{ATTRIBUTES_LINE, DRIVER_COMMAND};

use crate::common::{assert_status, clean_git, stderr, stdout};

/// PATH with `first` ahead of what the tests got, minus any other migmerge.
fn path_with(first: &Path) -> std::ffi::OsString {
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(first.to_path_buf())
        .chain(std::env::split_paths(&inherited).filter(|d| !d.join("migmerge").exists()));
    std::env::join_paths(dirs).expect("PATH")
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_migmerge"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

/// git with the binary under test on PATH.
fn git(cwd: &Path, args: &[&str]) -> Output {
    git_on(cwd, args, &bin_dir())
}

fn git_on(cwd: &Path, args: &[&str], bin: &Path) -> Output {
    clean_git(cwd, &path_with(bin))
        .args(args)
        .output()
        .expect("run git")
}

fn git_ok(cwd: &Path, args: &[&str]) -> String {
    let out = git(cwd, args);
    assert!(
        out.status.success(),
        "git {} failed:\n{}{}",
        args.join(" "),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn write(root: &Path, path: &str, text: impl AsRef<[u8]>) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

fn migration(depends_on: &str) -> String {
    format!(
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    \
         dependencies = [{depends_on}]\n    operations = []\n"
    )
}

/// A repository with only the merge driver set up (no hooks), as `migmerge install` registers
/// it, and a `base` commit made of `files`.
fn driver_repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    git_ok(root, &["init", "-q", "-b", "main"]);
    git_ok(root, &["config", "merge.migmerge.driver", DRIVER_COMMAND]);
    write(root, ".git/info/attributes", format!("{ATTRIBUTES_LINE}\n"));
    write(root, ".gitignore", ".git-test-home/\n");
    for (path, text) in files {
        write(root, path, text);
    }
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-q", "-m", "base"]);
    dir
}

/// Commits `files` on a new branch `theirs` (with `subject`), then other `files` on `main`.
fn two_sides(root: &Path, subject: &str, theirs: &[(&str, &str)], ours: &[(&str, &str)]) {
    git_ok(root, &["checkout", "-q", "-b", "theirs"]);
    for (path, text) in theirs {
        write(root, path, text);
    }
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-q", "-m", subject]);
    git_ok(root, &["checkout", "-q", "main"]);
    for (path, text) in ours {
        write(root, path, text);
    }
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-q", "-m", "ours"]);
}

/// An app `app` (directory `dir`) with `0001_initial`, whose max_migration.txt names it.
fn app(dir: &str) -> Vec<(String, String)> {
    vec![
        (format!("{dir}/__init__.py"), String::new()),
        (format!("{dir}/migrations/__init__.py"), String::new()),
        (format!("{dir}/migrations/0001_initial.py"), migration("")),
        (
            format!("{dir}/migrations/max_migration.txt"),
            "0001_initial\n".to_owned(),
        ),
    ]
}

fn refs(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect()
}

/// Each side adds a sibling of `0001_initial` in `dir` and names it in max_migration.txt.
fn sibling_sides(root: &Path, dir: &str, subject: &str) {
    let dep = format!("('{}', '0001_initial')", dir.trim_start_matches('-'));
    let max = format!("{dir}/migrations/max_migration.txt");
    let zebra = format!("{dir}/migrations/0002_zebra.py");
    let phone = format!("{dir}/migrations/0002_add_phone.py");
    two_sides(
        root,
        subject,
        &[(&zebra, &migration(&dep)), (&max, "0002_zebra\n")],
        &[(&phone, &migration(&dep)), (&max, "0002_add_phone\n")],
    );
}

#[test]
fn a_patch_subject_that_looks_like_an_option_is_a_label_under_git_am() {
    for subject in ["--help", "-hotfix the login form"] {
        let dir = driver_repo(&refs(&app("users")));
        let root = dir.path();
        sibling_sides(root, "users", subject);
        let patch = git_ok(root, &["format-patch", "-1", "--stdout", "theirs"]);
        let out = clean_git(root, &path_with(&bin_dir()))
            .args(["am", "-3", "-q"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(patch.as_bytes())?;
                child.wait_with_output()
            })
            .expect("git am");
        let text = stdout(&out) + &stderr(&out);
        assert!(!text.contains("Usage:"), "{subject}: {text}");
        // Theirs is not dropped: the driver keeps the highest name, which is theirs.
        let max = fs::read_to_string(root.join("users/migrations/max_migration.txt")).unwrap();
        assert_eq!(max, "0002_zebra\n", "{subject}: {text}");
        assert!(out.status.success(), "{subject}: {text}");
    }
}

#[test]
fn an_app_directory_that_looks_like_an_option_is_merged() {
    let dir = driver_repo(&refs(&app("-x")));
    let root = dir.path();
    sibling_sides(root, "-x", "theirs");
    let out = git(root, &["merge", "--no-edit", "theirs"]);
    let text = stdout(&out) + &stderr(&out);
    assert!(out.status.success(), "{text}");
    let max = fs::read_to_string(root.join("-x/migrations/max_migration.txt")).unwrap();
    assert_eq!(max, "0002_zebra\n", "{text}");
}

#[test]
fn a_notes_file_is_merged_as_git_merges_it() {
    let notes = "-x/migrations/max_migration.txt";
    let base = "0001_first\n0002_second\n0003_third\n0004_fourth\n";
    let dir = driver_repo(&[(notes, base)]);
    let root = dir.path();
    two_sides(
        root,
        "theirs",
        &[(notes, "0001_first\n0002_second\n0003_third\n0004_changed\n")],
        &[(
            notes,
            "0001_changed\n0002_second\n0003_third\n0004_fourth\n",
        )],
    );
    let out = git(root, &["merge", "--no-edit", "theirs"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let merged = fs::read_to_string(root.join(notes)).unwrap();
    assert_eq!(
        merged,
        "0001_changed\n0002_second\n0003_third\n0004_changed\n"
    );
}

#[test]
fn one_name_outside_a_migrations_package_gets_gits_conflict() {
    // A `migrations/` directory without `__init__.py`: not Django's, so git's merge stands.
    let notes = "docs/migrations/max_migration.txt";
    let dir = driver_repo(&[(notes, "0001_initial\n")]);
    let root = dir.path();
    two_sides(
        root,
        "theirs",
        &[(notes, "0002_zebra\n")],
        &[(notes, "0002_add_phone\n")],
    );
    let out = git(root, &["merge", "--no-edit", "theirs"]);
    assert!(!out.status.success(), "git stops, as without a driver");
    let merged = fs::read_to_string(root.join(notes)).unwrap();
    assert!(
        merged.starts_with("<<<<<<< HEAD\n0002_add_phone\n=======\n0002_zebra\n>>>>>>> theirs"),
        "{merged}"
    );
}

#[test]
fn line_endings_and_a_missing_final_newline_are_kept() {
    for (ours, theirs, expected) in [
        ("0002_add_phone\r\n", "0002_zebra\r\n", "0002_zebra\r\n"),
        ("0002_add_phone", "0002_zebra", "0002_zebra"),
    ] {
        let mut files = app("users");
        files[3].1 = ours.replace("0002_add_phone", "0001_initial");
        let dir = driver_repo(&refs(&files));
        let root = dir.path();
        let dep = "('users', '0001_initial')";
        let max = "users/migrations/max_migration.txt";
        two_sides(
            root,
            "theirs",
            &[
                ("users/migrations/0002_zebra.py", &migration(dep)),
                (max, theirs),
            ],
            &[
                ("users/migrations/0002_add_phone.py", &migration(dep)),
                (max, ours),
            ],
        );
        let out = git(root, &["merge", "--no-edit", "theirs"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(fs::read_to_string(root.join(max)).unwrap(), expected);
    }
}

#[test]
fn a_large_file_is_merged_in_git_merge_files_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let lines: String = (0..100_000).map(|i| format!("0{i:05}_line\n")).collect();
    fs::write(root.join("base"), &lines).unwrap();
    fs::write(root.join("ours"), format!("0000_top\n{lines}")).unwrap();
    fs::write(root.join("theirs"), format!("{lines}9999_bottom\n")).unwrap();
    let started = std::time::Instant::now();
    let out = crate::common::run_migmerge(
        &[
            "merge-driver",
            "--",
            "base",
            "ours",
            "theirs",
            "7",
            "base",
            "ours",
            "theirs",
            "app/migrations/max_migration.txt",
        ],
        root,
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    let merged = fs::read_to_string(root.join("ours")).unwrap();
    assert_eq!(merged, format!("0000_top\n{lines}9999_bottom\n"));
}

#[test]
fn a_crashing_driver_leaves_gits_own_merge() {
    let dir = driver_repo(&refs(&app("users")));
    let root = dir.path();
    sibling_sides(root, "users", "theirs");
    // A migmerge that dies of a signal, as a stack overflow or an abort does.
    let fake = tempfile::tempdir().expect("temp dir");
    write(fake.path(), "migmerge", "#!/bin/sh\nkill -ABRT $$\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(
            fake.path().join("migmerge"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let out = git_on(root, &["merge", "--no-edit", "theirs"], fake.path());
    assert!(!out.status.success(), "git stops on the conflict");
    let max = fs::read_to_string(root.join("users/migrations/max_migration.txt")).unwrap();
    assert_eq!(
        max,
        "<<<<<<< HEAD\n0002_add_phone\n=======\n0002_zebra\n>>>>>>> theirs\n"
    );
}

/// A migration module with `statement` at the top level and `value` as a dependency list
/// operand and inside an operation.
fn deep_migration(statement: &str) -> String {
    format!(
        "from django.db import migrations\n{statement}\n\nclass Migration(migrations.Migration):\n    \
         dependencies = []\n    operations = []\n"
    )
}

/// Every recursive form of Python, `n` deep, as a top-level statement.
fn deep_forms(n: usize) -> Vec<(&'static str, String)> {
    let join = |sep: &str| vec!["1"; n].join(sep);
    vec![
        ("attribute chain", format!("x = a{}", ".b".repeat(n))),
        ("binary operators", format!("x = {}", join("+"))),
        ("power", format!("x = {}", join("**"))),
        ("calls", format!("x = f{}", "()".repeat(n))),
        ("subscripts", format!("x = x{}", "[0]".repeat(n))),
        ("not", format!("x = {}y", "not ".repeat(n))),
        ("minus", format!("x = {}1", "-".repeat(n))),
        ("lambdas", format!("x = {}0", "lambda: ".repeat(n))),
        ("ternaries", format!("x = {}", join(" if c else "))),
        (
            "brackets",
            format!("x = {}1{}", "(".repeat(n), ")".repeat(n)),
        ),
        (
            "elif",
            format!("if a:\n    pass\n{}", "elif a:\n    pass\n".repeat(n)),
        ),
    ]
}

#[test]
fn no_nesting_reaches_a_stack_overflow() {
    // The test harness's thread has the default 2 MiB stack.
    for n in [50_000, 100_000] {
        for (form, statement) in deep_forms(n) {
            let source = deep_migration(&statement);
            match migmerge::migration::parse(source.as_bytes()) {
                // A long `if/elif` is flat: Python and migmerge read it.
                Ok(_) => assert_eq!(form, "elif", "{form} {n}"),
                Err(err) => {
                    assert_eq!(err.line, 2, "{form} {n}: {err:?}");
                    assert!(err.message.contains("nested too deeply"), "{form}: {err:?}");
                }
            }
        }
    }
}

#[test]
fn deep_but_bounded_nesting_is_read() {
    // Deeper than what runs on the caller's stack, within the bound: parsed on the big stack.
    for (form, statement) in deep_forms(450) {
        if form == "brackets" {
            continue;
        }
        let source = deep_migration(&statement);
        let parsed = migmerge::migration::parse(source.as_bytes());
        assert!(parsed.is_ok(), "{form}: {parsed:?}");
    }
}

#[test]
fn commands_refuse_a_file_too_deep_to_read_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    write(root, "app/__init__.py", "");
    write(root, "app/migrations/__init__.py", "");
    let statement = format!("x = a{}", ".b".repeat(100_000));
    write(
        root,
        "app/migrations/0001_initial.py",
        deep_migration(&statement),
    );
    for args in [
        &["check", "."][..],
        &["graph"],
        &["resolve", ".", "--yes", "--dry-run"],
    ] {
        let out = crate::common::run_migmerge(args, root);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("app/migrations/0001_initial.py:2:")
                && stderr(&out).contains("nested too deeply"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// `chattr +i` on a directory, undone on drop; `None` where it cannot be set (not root, or a
/// filesystem without the attribute).
struct Immutable(PathBuf);

impl Immutable {
    fn set(dir: &Path) -> Option<Immutable> {
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| Immutable(dir.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .output();
    }
}

/// Every file under `root` but `.git`, with its bytes.
fn tree_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else {
                let bytes = fs::read(&path).expect("read");
                out.push((path, bytes));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort();
    out
}

#[test]
fn resolve_into_a_directory_it_cannot_write_changes_nothing() {
    // The merge brings users.0004_customer_phone, which orders depends on, and renumbering it
    // rewrites that dependency; orders' migrations directory cannot be written. No branch is
    // protected.
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let fixture = crate::common::project_root().join("fixtures/cross_app_dependency_on_sibling");
    crate::common::story_repo(&fixture, root);
    git_ok(root, &["branch", "-m", "main", "feature"]);
    git_ok(root, &["branch", "-m", "theirs", "other"]);
    git_ok(root, &["checkout", "-q", "other"]);
    git_ok(root, &["merge", "-q", "--no-edit", "feature"]);
    let before = tree_files(root);
    let Some(locked) = Immutable::set(&root.join("orders/migrations")) else {
        return;
    };
    let out =
        crate::common::run_migmerge(&["resolve", ".", "--yes", "--strategy", "renumber"], root);
    drop(locked);
    assert_status(&out, 2);
    assert!(
        stderr(&out).contains("orders/migrations/"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tree_files(root), before);
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "");
}

/// The siblings story, merged with no hooks, its incoming migration rewritten by `rewrite`
/// (in bytes) on its branch first.
fn merged_siblings(rewrite: impl Fn(&[u8]) -> Vec<u8>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let fixture = crate::common::project_root().join("fixtures/siblings_add_phone_vs_add_avatar");
    crate::common::story_repo(&fixture, root);
    git_ok(root, &["checkout", "-q", "theirs"]);
    let avatar = root.join("users/migrations/0005_add_avatar.py");
    let bytes = rewrite(&fs::read(&avatar).expect("read"));
    fs::write(&avatar, bytes).expect("write");
    git_ok(root, &["commit", "-q", "-am", "rewritten"]);
    git_ok(root, &["checkout", "-q", "main"]);
    git_ok(root, &["merge", "-q", "--no-edit", "theirs"]);
    (dir, avatar)
}

/// Latin-1 bytes: a coding declaration and a comment with `é` (0xE9) and `¤` (0xA4, a byte a
/// UTF-8 reader takes for a continuation) before the dependencies.
fn as_latin1(utf8: &[u8]) -> Vec<u8> {
    let mut out = b"# -*- coding: latin-1 -*-\n# Caf\xe9 \xa4\n".to_vec();
    out.extend_from_slice(utf8);
    let at = out
        .windows(14)
        .position(|w| w == b"dependencies =")
        .expect("dependencies");
    out.splice(at..at, b"# \xe9t\xe9\n    ".iter().copied());
    out
}

#[test]
fn a_latin1_migration_is_read_and_renumbered_in_latin1() {
    let (dir, avatar) = merged_siblings(as_latin1);
    let root = dir.path();
    let before = fs::read(&avatar).expect("read");
    let out = crate::common::run_migmerge(&["check", "."], root);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out =
        crate::common::run_migmerge(&["resolve", ".", "--yes", "--strategy", "renumber"], root);
    assert_status(&out, 0);
    let renamed = root.join("users/migrations/0006_add_avatar.py");
    let after = fs::read(renamed).expect("renamed");
    // Byte for byte the old file, but for the parent's name, in the file's own encoding.
    let old_parent: &[u8] = b"0004_alter_profile_display_name";
    let at = before
        .windows(old_parent.len())
        .position(|w| w == old_parent)
        .expect("parent");
    let mut expected = before.clone();
    expected.splice(at..at + old_parent.len(), b"0005_add_phone".iter().copied());
    assert_eq!(after, expected);
    let out = crate::common::run_migmerge(&["check", "."], root);
    assert_status(&out, 0);
}

#[test]
fn an_encoding_python_refuses_or_migmerge_does_not_read_is_a_clear_error() {
    for (declaration, expected) in [
        (&b"# coding: euc-jp\n"[..], "`euc-jp`"),
        (b"\xef\xbb\xbf# coding: latin-1\n", "byte order mark"),
    ] {
        let (dir, _) = merged_siblings(|utf8| [declaration, utf8].concat());
        let out = crate::common::run_migmerge(&["check", "."], dir.path());
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("users/migrations/0005_add_avatar.py:1:")
                && stderr(&out).contains(expected),
            "{}",
            stderr(&out)
        );
    }
}

fn install(root: &Path, extra: &[&str]) -> String {
    let mut args = vec!["install", "--repo", "."];
    args.extend(extra);
    let out = crate::common::run_migmerge(&args, root);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn install_keeps_the_attributes_local_so_a_merge_bringing_gitattributes_goes_through() {
    let dir = driver_repo(&refs(&app("users")));
    let root = dir.path();
    fs::remove_file(root.join(".git/info/attributes")).unwrap();
    // The incoming branch adds a .gitattributes of its own.
    git_ok(root, &["checkout", "-q", "-b", "theirs"]);
    write(root, ".gitattributes", "*.py text eol=lf\n");
    git_ok(root, &["add", ".gitattributes"]);
    git_ok(root, &["commit", "-q", "-m", "attributes"]);
    git_ok(root, &["checkout", "-q", "main"]);
    let said = install(root, &[]);
    assert!(!said.contains("staged"), "{said}");
    assert!(!root.join(".gitattributes").exists());
    let local = fs::read_to_string(root.join(".git/info/attributes")).unwrap();
    assert_eq!(local, format!("{ATTRIBUTES_LINE}\n"));
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "");
    git_ok(root, &["merge", "-q", "--no-edit", "theirs"]);
    // And the driver is still in charge of max_migration.txt.
    let attr = git_ok(
        root,
        &["check-attr", "merge", "users/migrations/max_migration.txt"],
    );
    assert!(attr.ends_with("merge: migmerge\n"), "{attr}");
    // `--local` names the default; a second run changes nothing.
    assert!(install(root, &["--local"]).contains("nothing to change"));
}

#[test]
fn install_shared_writes_and_stages_gitattributes() {
    let dir = driver_repo(&refs(&app("users")));
    let root = dir.path();
    fs::remove_file(root.join(".git/info/attributes")).unwrap();
    let said = install(root, &["--shared"]);
    assert!(
        said.contains(".gitattributes is staged: commit it"),
        "{said}"
    );
    assert_eq!(
        fs::read_to_string(root.join(".gitattributes")).unwrap(),
        format!("{ATTRIBUTES_LINE}\n")
    );
    assert_eq!(
        git_ok(root, &["status", "--porcelain"]),
        "A  .gitattributes\n"
    );
    assert!(!root.join(".git/info/attributes").exists());
    assert!(install(root, &["--shared"]).contains("nothing to change"));
    // A committed .gitattributes routes the file for everyone: no local line is added.
    git_ok(root, &["commit", "-q", "-m", "attributes"]);
    assert!(install(root, &[]).contains("nothing to change"));
    let out = crate::common::run_migmerge(&["install", "--shared", "--local"], root);
    assert_eq!(out.status.code(), Some(2));
}

/// The siblings story in a work tree whose git directory lives elsewhere
/// (`git init --separate-git-dir`).
fn separate_git_dir_story() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    let git_dir = dir.path().join("elsewhere.git");
    git_ok(
        &work,
        &[
            "init",
            "-q",
            "-b",
            "main",
            "--separate-git-dir",
            git_dir.to_str().unwrap(),
        ],
    );
    let fixture = crate::common::project_root().join("fixtures/siblings_add_phone_vs_add_avatar");
    crate::common::story_repo(&fixture, &work);
    assert!(work.join(".git").is_file());
    (dir, work)
}

#[test]
fn a_separate_git_dir_is_read_like_any_repository() {
    let (_dir, work) = separate_git_dir_story();
    let out = crate::common::run_migmerge(&["check", ".", "--rev", "theirs"], &work);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("5 migrations in 1 app"),
        "{}",
        stdout(&out)
    );
    let out = crate::common::run_migmerge(&["check", ".", "--against", "theirs"], &work);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0005_add_avatar, 0005_add_phone"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_merge_in_a_separate_git_dir_resolves_and_stages() {
    let (_dir, work) = separate_git_dir_story();
    install(&work, &[]);
    let out = git(&work, &["merge", "--no-edit", "theirs"]);
    let text = stdout(&out) + &stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("migmerge: users: renumbered"), "{text}");
    assert_eq!(git_ok(&work, &["status", "--porcelain"]), "", "{text}");
    let out = crate::common::run_migmerge(&["check", "."], &work);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_bare_repository_is_refused_clearly_without_a_revision() {
    let (dir, work) = separate_git_dir_story();
    let bare = dir.path().join("bare.git");
    git_ok(
        dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    for args in [
        &["check"][..],
        &["check", "."],
        &["graph"],
        &["resolve", "--yes"],
        &["resolve", "--yes", "--dry-run"],
    ] {
        let out = crate::common::run_migmerge(args, &bare);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("a bare repository or a git directory"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // Inside a work tree's git directory, the same.
    let out = crate::common::run_migmerge(&["check", "."], &dir.path().join("elsewhere.git"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A revision needs no work tree.
    let out = crate::common::run_migmerge(&["check", "--rev", "main"], &bare);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// The whole pipeline on generated projects: parse and load, plan a renumbering or a merge,
/// preview the edits, then re-parse and load what would be written.
mod pipeline {
    use std::collections::BTreeMap;

    use migmerge::edit::{FileChange, FileUpdate, Plan};
    use migmerge::graph::Graph;
    use migmerge::plan::{Layout, Overlay, Timestamp};
    use migmerge::source::{PathFilter, Source, SourceError};
    use proptest::prelude::*;

    /// A project in memory.
    #[derive(Debug, Clone, Default)]
    struct Files(BTreeMap<String, Vec<u8>>);

    impl Source for Files {
        fn describe(&self) -> String {
            "generated project".to_owned()
        }

        fn list(&self, wanted: PathFilter<'_>) -> Result<Vec<String>, SourceError> {
            Ok(self.0.keys().filter(|p| wanted(p)).cloned().collect())
        }

        fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
            Ok(self.0.get(path).cloned())
        }
    }

    /// How one file is written: what real migrations vary in.
    #[derive(Debug, Clone)]
    struct Style {
        double_quotes: bool,
        tuples: bool,
        trailing_comma: bool,
        multiline: bool,
        crlf: bool,
        /// 0: UTF-8; 1: UTF-8 with a byte order mark and `é`; 2: Latin-1 with `é`; 3: cp1252
        /// with `€`.
        encoding: u8,
        comment_inside: bool,
    }

    fn style() -> impl Strategy<Value = Style> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0u8..4,
            any::<bool>(),
        )
            .prop_map(
                |(
                    double_quotes,
                    tuples,
                    trailing_comma,
                    multiline,
                    crlf,
                    encoding,
                    comment_inside,
                )| {
                    Style {
                        double_quotes,
                        tuples,
                        trailing_comma,
                        multiline,
                        crlf,
                        encoding,
                        comment_inside,
                    }
                },
            )
    }

    fn module(deps: &[(String, String)], style: &Style) -> Vec<u8> {
        let q = if style.double_quotes { '"' } else { '\'' };
        let (open, close) = if style.tuples { ('(', ')') } else { ('[', ']') };
        let entries: Vec<String> = deps
            .iter()
            .map(|(app, name)| format!("({q}{app}{q}, {q}{name}{q})"))
            .collect();
        let comment = if style.comment_inside {
            "  # parent"
        } else {
            ""
        };
        let body = if entries.is_empty() {
            format!("{open}{close}")
        } else if style.multiline {
            // A one-element tuple needs its comma.
            let sep = if style.trailing_comma || (style.tuples && entries.len() == 1) {
                ","
            } else {
                ""
            };
            let lines: Vec<String> = entries.iter().map(|e| format!("        {e}")).collect();
            format!("{open}{comment}\n{}{sep}\n    {close}", lines.join(",\n"))
        } else {
            let sep = if style.trailing_comma || (style.tuples && entries.len() == 1) {
                ","
            } else {
                ""
            };
            format!("{open}{}{sep}{close}", entries.join(", "))
        };
        let (head, note): (&[u8], &[u8]) = match style.encoding {
            1 => (b"\xef\xbb\xbf", "# caf\u{e9}\n".as_bytes()),
            2 => (b"# -*- coding: latin-1 -*-\n", b"# caf\xe9 \xa4\n"),
            3 => (b"# coding: cp1252\n", b"# \x80 \x96\n"),
            _ => (b"", b""),
        };
        let text = format!(
            "# Generated by Django 5.2 on 2025-01-01 00:00\n\nfrom django.db import migrations\n\n\n\
             class Migration(migrations.Migration):\n\n    dependencies = {body}\n\n    \
             operations = []\n"
        );
        let text = if style.crlf {
            text.replace('\n', "\r\n")
        } else {
            text
        };
        let mut out = head.to_vec();
        out.extend_from_slice(note);
        out.extend_from_slice(text.as_bytes());
        out
    }

    /// A generated project: `users` with a base chain and two branches from its last base
    /// migration, and `shop`, whose migrations may depend on the second branch.
    #[derive(Debug, Clone)]
    struct Project {
        files: Files,
        stay: String,
        moving: String,
    }

    fn project() -> impl Strategy<Value = Project> {
        (
            1usize..4,
            1usize..4,
            1usize..4,
            proptest::collection::vec(style(), 12),
            proptest::collection::vec(proptest::option::of(0usize..3), 0..3),
            any::<bool>(),
        )
            .prop_map(|(base, ours, theirs, styles, shop_deps, max_file)| {
                let mut files = Files::default();
                let mut style = styles.iter().cycle();
                let mut add = |path: String, deps: Vec<(String, String)>| {
                    let bytes = module(&deps, style.next().expect("styles"));
                    files.0.insert(path, bytes);
                };
                let name = |n: usize, suffix: &str| format!("{n:04}_{suffix}");
                let users = |n: &str| ("users".to_owned(), n.to_owned());
                let mut previous: Option<String> = None;
                for i in 1..=base {
                    let n = name(i, &format!("base{i}"));
                    add(
                        format!("users/migrations/{n}.py"),
                        previous.iter().map(|p| users(p)).collect(),
                    );
                    previous = Some(n);
                }
                let fork = previous.expect("a base migration");
                let mut branch = |len: usize, side: &str| {
                    let mut parent = fork.clone();
                    let mut names = Vec::new();
                    for k in 1..=len {
                        let n = name(base + k, &format!("{side}{k}"));
                        add(format!("users/migrations/{n}.py"), vec![users(&parent)]);
                        parent = n.clone();
                        names.push(n);
                    }
                    names
                };
                let ours = branch(ours, "ours");
                let theirs = branch(theirs, "theirs");
                for (i, dep) in shop_deps.iter().enumerate() {
                    let mut deps = Vec::new();
                    if i > 0 {
                        deps.push(("shop".to_owned(), name(i, "shop")));
                    }
                    if let Some(k) = dep {
                        deps.push(users(&theirs[k % theirs.len()]));
                    }
                    add(format!("shop/migrations/{}.py", name(i + 1, "shop")), deps);
                }
                files
                    .0
                    .insert("users/migrations/__init__.py".to_owned(), Vec::new());
                if !shop_deps.is_empty() {
                    files
                        .0
                        .insert("shop/migrations/__init__.py".to_owned(), Vec::new());
                }
                let stay = ours.last().expect("ours").clone();
                let moving = theirs.last().expect("theirs").clone();
                if max_file {
                    files.0.insert(
                        "users/migrations/max_migration.txt".to_owned(),
                        format!("{stay}\n").into_bytes(),
                    );
                }
                Project {
                    files,
                    stay,
                    moving,
                }
            })
    }

    /// The ranges of the old bytes each change edits.
    fn edited_ranges(plan: &Plan) -> BTreeMap<&str, Vec<std::ops::Range<usize>>> {
        let mut out = BTreeMap::new();
        for change in &plan.changes {
            if let FileChange::Edit { path, edits }
            | FileChange::Rename {
                from: path, edits, ..
            } = change
            {
                let mut ranges: Vec<_> = edits.iter().map(|e| e.range.range()).collect();
                ranges.sort_by_key(|r| r.start);
                out.insert(path.as_str(), ranges);
            }
        }
        out
    }

    /// Every byte of `old` outside `ranges` is in `new`, in order, with only the edits'
    /// replacements between.
    fn kept_outside(old: &[u8], new: &[u8], ranges: &[std::ops::Range<usize>]) -> bool {
        let mut kept = Vec::new();
        let mut at = 0;
        for range in ranges {
            kept.push(&old[at..range.start]);
            at = range.end;
        }
        kept.push(&old[at..]);
        let (Some(first), Some(last)) = (kept.first(), kept.last()) else {
            return false;
        };
        if !new.starts_with(first) || !new.ends_with(last) {
            return false;
        }
        let mut pos = first.len();
        for piece in &kept[1..kept.len() - 1] {
            match new[pos..]
                .windows(piece.len().max(1))
                .position(|w| piece.is_empty() || w == *piece)
            {
                Some(found) => pos += found + piece.len(),
                None => return false,
            }
        }
        pos + last.len() <= new.len()
    }

    fn check_updates(files: &Files, plan: &Plan, updates: &[FileUpdate]) -> Result<(), String> {
        let ranges = edited_ranges(plan);
        for update in updates {
            let (Some(before), Some(old)) = (&update.before, &update.old) else {
                continue;
            };
            if before.ends_with(".py") {
                let empty = Vec::new();
                let r = ranges.get(before.as_str()).unwrap_or(&empty);
                if !kept_outside(old, &update.new, r) {
                    return Err(format!("{before}: bytes outside the edits changed"));
                }
                migmerge::migration::parse(&update.new)
                    .map_err(|e| format!("{}: does not parse: {e}", update.after))?;
            }
        }
        let overlay = Overlay::new(files, updates);
        let project = migmerge::project::load(&overlay).map_err(|e| e.to_string())?;
        same_as_updated(files, updates, &project)?;
        let graph = Graph::build(&project);
        if !graph.problems.is_empty() {
            return Err(format!("problems: {:?}", graph.problems));
        }
        let leaves = graph.leaves();
        if leaves.get("users").map(Vec::len) != Some(1) {
            return Err(format!("users leaves: {:?}", leaves.get("users")));
        }
        Ok(())
    }

    /// What a load says of the migrations and apps, in order, for comparing two loads.
    fn facts(project: &migmerge::project::Project) -> Vec<String> {
        let apps = project
            .apps
            .iter()
            .map(|a| format!("app {} {} {:?}", a.label, a.migrations_dir, a.max_migration));
        let migrations = project.migrations.iter().map(|f| {
            let m = &f.migration;
            format!(
                "{} {} {} {:?} {:?} {:?} {:?}",
                f.app, f.name, f.path, m.dependencies, m.replaces, m.run_before, m.initial
            )
        });
        apps.chain(migrations).collect()
    }

    /// The project the tree loads before the updates, brought up to date with them file by
    /// file, says what loading the updated tree says: the incremental path resolutions verify
    /// on agrees with a full load.
    fn same_as_updated(
        files: &Files,
        updates: &[FileUpdate],
        loaded: &migmerge::project::Project,
    ) -> Result<(), String> {
        let before = migmerge::project::load(files).map_err(|e| e.to_string())?;
        let Some(updated) = before.with_updates(updates) else {
            return Err("the updates were not applied file by file".to_owned());
        };
        let updated = updated.map_err(|e| e.to_string())?;
        let (full, incremental) = (facts(loaded), facts(&updated));
        if full != incremental {
            return Err(format!(
                "file-by-file update differs from a load:\n{full:#?}\n{incremental:#?}"
            ));
        }
        let (full, incremental) = (Graph::build(loaded), Graph::build(&updated));
        if full.leaves() != incremental.leaves() || full.problems != incremental.problems {
            return Err("the graphs of the two loads differ".to_owned());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn renumbering_or_merging_a_generated_project_keeps_every_other_byte(
            generated in project(),
            merge in any::<bool>(),
        ) {
            let files = &generated.files;
            let project = migmerge::project::load(files).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let graph = Graph::build(&project);
            prop_assert_eq!(graph.conflicts().len(), 1);
            let read = |p: &str| files.0.get(p).cloned();
            let plan = if merge {
                let sources: Vec<&[u8]> = files.0.values().map(Vec::as_slice).collect();
                let leaves = [generated.stay.as_str(), generated.moving.as_str()];
                migmerge::plan::merge_plan(
                    &project,
                    "users",
                    &leaves,
                    None,
                    Timestamp::from_unix(1_767_225_600),
                    Layout::guess(sources),
                )
                .map(|p| p.plan)
                .map_err(|e| e.to_string())
            } else {
                migmerge::plan::renumber(
                    &project,
                    &graph,
                    "users",
                    &generated.stay,
                    &generated.moving,
                    read,
                )
                .map(|r| r.plan)
                .map_err(|e| e.to_string())
            };
            let plan = plan.map_err(TestCaseError::fail)?;
            let updates = migmerge::edit::preview(&plan, read)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            check_updates(files, &plan, &updates).map_err(TestCaseError::fail)?;
        }
    }
}

/// Runs the driver as the installed line does, in `root`, on files `base`, `ours`, `theirs`.
fn run_driver(root: &Path, path: &str) -> Output {
    crate::common::run_migmerge(
        &[
            "merge-driver",
            "--",
            "base",
            "ours",
            "theirs",
            "7",
            "base",
            "ours",
            "theirs",
            path,
        ],
        root,
    )
}

#[test]
fn the_same_name_on_both_sides_is_left_as_git_leaves_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    write(root, "app/migrations/__init__.py", "");
    let path = "app/migrations/max_migration.txt";
    // Identical sides: "ours" stays byte for byte.
    write(root, "base", "0001_a\n");
    write(root, "ours", "  0002_b\r\n\r\n");
    write(root, "theirs", "  0002_b\r\n\r\n");
    let out = run_driver(root, path);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(fs::read(root.join("ours")).unwrap(), b"  0002_b\r\n\r\n");
    // The same name with other line endings: git's merge, and git's conflict.
    write(root, "ours", "0002_b\n");
    write(root, "theirs", "0002_b\r\n");
    let out = run_driver(root, path);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let merged = fs::read_to_string(root.join("ours")).unwrap();
    assert!(
        merged.starts_with("<<<<<<< ours\n0002_b\n======="),
        "{merged}"
    );
    // Different names in a package: one name, in "ours"'s layout.
    write(root, "ours", "0002_b\r\n");
    write(root, "theirs", "0003_c\n");
    let out = run_driver(root, path);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(fs::read(root.join("ours")).unwrap(), b"0003_c\r\n");
}
