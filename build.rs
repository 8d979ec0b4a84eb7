//! Records the commit the binary is built from, for `migmerge --version`:
//! `migmerge 0.1.0 (abc1234 2026-12-01)`, the short hash and the commit's date.
//!
//! Read with `git` when the crate is built from a git checkout of its own (a clone, `cargo
//! install --path`, maturin building the wheel in a clone). Built from an sdist, a crates.io
//! download or a copy vendored into another repository, there is no commit of migmerge's to name:
//! the line says `unknown`, never another repository's commit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let commit = commit_of(&manifest_dir).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=MIGMERGE_BUILD_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
}

/// `abc1234 2026-12-01` for the checkout's HEAD, when `dir` is the top of a git work tree;
/// asks cargo to run this again when HEAD moves (a checkout, or a commit on the branch).
fn commit_of(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&top), dir) {
        return None;
    }
    // HEAD itself (a checkout), the branch it names (a commit), and packed-refs, where the
    // branch's commit lives after `git gc`. Each is found where this work tree keeps it: a linked
    // work tree has its own HEAD and shares the refs.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in &watched {
        // Only files that exist: cargo reruns the script on every build for a missing one.
        let path = git(
            dir,
            &["rev-parse", "--path-format=absolute", "--git-path", name],
        );
        if let Some(path) = path.filter(|path| Path::new(path).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let line = git(
        dir,
        &[
            "log",
            "-1",
            "--no-show-signature",
            "--format=%h %cs",
            "--abbrev=7",
        ],
    )?;
    Some(line).filter(|line| line.split(' ').count() == 2)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The trimmed standard output of a git command that succeeded; none without git.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // A build run from a git hook (pre-commit builds its hooks there) inherits variables
        // that point at the user's repository, not this one.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_COMMON_DIR")
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
