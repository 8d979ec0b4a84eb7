//! `migmerge demo`: a throwaway repository where two branches add sibling migrations, merged
//! with real git, with migmerge's view at each step. Needs only git on the machine.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cli::{CheckArgs, CheckFormat, DemoArgs, InstallArgs, SourceArgs};
use crate::commands::{ExitStatus, Outcome, check, install};

/// A file of the demo project: path and content, from the `demo_shop` fixture story.
type DemoFile = (&'static str, &'static str);

macro_rules! story_file {
    ($side:literal, $path:literal) => {
        (
            $path,
            include_str!(concat!("../../fixtures/demo_shop/", $side, "/", $path)),
        )
    };
}

const BASE: &[DemoFile] = &[
    story_file!("base", "shop/__init__.py"),
    story_file!("base", "shop/users/__init__.py"),
    story_file!("base", "shop/users/models.py"),
    story_file!("base", "shop/users/migrations/__init__.py"),
    story_file!("base", "shop/users/migrations/0001_initial.py"),
    story_file!("base", "shop/users/migrations/0002_customer_created.py"),
    story_file!("base", "shop/orders/__init__.py"),
    story_file!("base", "shop/orders/migrations/__init__.py"),
    story_file!("base", "shop/orders/migrations/0001_initial.py"),
];

const MAIN_ADDS: &[DemoFile] = &[story_file!(
    "ours",
    "shop/users/migrations/0003_customer_phone.py"
)];

const FEATURE_ADDS: &[DemoFile] = &[
    story_file!("theirs", "shop/users/migrations/0003_customer_avatar.py"),
    story_file!(
        "theirs",
        "shop/users/migrations/0004_customer_name_length.py"
    ),
    story_file!("theirs", "shop/orders/migrations/0002_order_placed_by.py"),
];

const FEATURE: &str = "feature/avatar";

pub fn run(args: &DemoArgs) -> Result<Outcome> {
    let temp = tempfile::Builder::new()
        .prefix("migmerge-demo-")
        .tempdir()
        .context("cannot create a temporary directory for the demo")?;
    let repo = temp.path();
    let mut out = String::new();

    let _ = writeln!(
        out,
        "migmerge demo: a throwaway repository in {}\n",
        repo.display()
    );
    git(repo, &["init", "-q", "-b", "main"])?;
    write_files(repo, BASE)?;
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", "Shop with users and orders"])?;
    let _ = writeln!(
        out,
        "1. main holds a shop: users (0001, 0002) and orders (0001, depending on users)."
    );

    git(repo, &["checkout", "-q", "-b", FEATURE])?;
    write_files(repo, FEATURE_ADDS)?;
    git(repo, &["add", "-A"])?;
    git(
        repo,
        &[
            "commit",
            "-q",
            "-m",
            "Avatars, longer names, who placed an order",
        ],
    )?;
    let _ = writeln!(
        out,
        "2. {FEATURE} adds users 0003_customer_avatar and 0004_customer_name_length, and\n   orders 0002_order_placed_by, which depends on the latter."
    );

    git(repo, &["checkout", "-q", "main"])?;
    write_files(repo, MAIN_ADDS)?;
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", "Customer phone numbers"])?;
    let _ = writeln!(out, "3. Meanwhile main adds users 0003_customer_phone.\n");

    let _ = writeln!(
        out,
        "4. Before merging (as a merge queue would): migmerge check --against {FEATURE}\n"
    );
    let simulated = check_here(SourceArgs {
        path: repo.to_path_buf(),
        rev: None,
        against: Some(FEATURE.to_owned()),
        head: None,
        staged: false,
    })?;
    out.push_str(&indent(&simulated.stdout));

    let _ = writeln!(
        out,
        "\n5. migmerge install --local: the merge driver and the hooks, in this repository only:\n"
    );
    let installed = install::install(&InstallArgs {
        repo: repo.to_path_buf(),
        shared: false,
        local: true,
        print: false,
    })?;
    out.push_str(&indent(&installed.stdout));

    let merge = git_all(repo, &["merge", "--no-edit", FEATURE])?;
    let _ = writeln!(
        out,
        "\n6. git merge {FEATURE}: git sees only new files and merges them; then migmerge's\n   post-merge hook resolves the sibling migrations and says so in one line:\n"
    );
    out.push_str(&indent(&merge));
    if !merge.contains("migmerge: users: ") {
        bail!("the demo expected the post-merge hook to resolve the conflict");
    }

    let _ = writeln!(
        out,
        "\n7. The resolution is in the merge commit itself (git show --stat HEAD):\n"
    );
    let show = git(repo, &["show", "--stat", "--format=%s%n%n%b", "HEAD"])?;
    out.push_str(&indent(show.trim_end()));
    let status = git(repo, &["status", "--porcelain"])?;
    if !status.is_empty() {
        bail!("the demo expected a clean work tree after the merge, found:\n{status}");
    }

    let _ = writeln!(
        out,
        "\n8. The work tree is clean, and migmerge check (what `manage.py migrate` would see):\n"
    );
    let last = check_here(SourceArgs {
        path: repo.to_path_buf(),
        rev: None,
        against: None,
        head: None,
        staged: false,
    })?;
    out.push_str(&indent(&last.stdout));
    if simulated.status != ExitStatus::Failure || last.status != ExitStatus::Success {
        bail!("the demo expected a conflict before the merge and a clean graph after it");
    }
    let _ = writeln!(
        out,
        "\nWithout the hooks, `migmerge resolve` does the same by hand. Set up your own\nrepository with `migmerge install` (undo: `migmerge uninstall`)."
    );
    if args.keep {
        let kept = temp.keep();
        let _ = writeln!(out, "\nThe repository is kept in {}.", kept.display());
    }
    Ok(Outcome {
        stdout: out,
        status: ExitStatus::Success,
    })
}

fn check_here(source: SourceArgs) -> Result<Outcome> {
    check::run(&CheckArgs {
        source,
        format: CheckFormat::Human,
    })
}

fn write_files(root: &Path, files: &[DemoFile]) -> Result<()> {
    for (path, content) in files {
        let target = root.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, content)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(())
}

/// Runs git in the demo repository and returns its standard output.
fn git(repo: &Path, args: &[&str]) -> Result<String> {
    Ok(String::from_utf8_lossy(&run_git(repo, args)?.stdout).into_owned())
}

/// Runs git and returns everything it printed, its hooks' lines included (git sends those to
/// standard error).
fn git_all(repo: &Path, args: &[&str]) -> Result<String> {
    let output = run_git(repo, args)?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr))
}

/// Runs git in the demo repository, isolated from the user's configuration and from any
/// repository the demo was started in. This very binary comes first on PATH, so that the hook
/// shims and the merge driver run it even when it is not installed.
fn run_git(repo: &Path, args: &[&str]) -> Result<std::process::Output> {
    let mut path: Vec<std::path::PathBuf> = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .into_iter()
        .collect();
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=migmerge demo",
            "-c",
            "user.email=demo@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(repo)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("MIGMERGE")
        .env("PATH", std::env::join_paths(path)?)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .context("cannot run git: the demo needs git on PATH")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}
