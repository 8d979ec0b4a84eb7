//! `migmerge install` / `migmerge uninstall`: plan the setup changes, then print or apply them.

use std::fmt::Write as _;

use anyhow::{Context as _, Result};

use crate::cli::{InstallArgs, UninstallArgs};
use crate::commands::{ExitStatus, Outcome};
use crate::git::Git;
use crate::git::install::{self, Action};

pub fn install(args: &InstallArgs) -> Result<Outcome> {
    let git = Git::discover(&args.repo)
        .with_context(|| format!("{}: not a git repository", args.repo.display()))?;
    let binary = install::hook_binary();
    let actions = install::plan_install(&git, args.shared, binary.as_deref())?;
    report(&git, &actions, args.print, "install")
}

pub fn uninstall(args: &UninstallArgs) -> Result<Outcome> {
    let git = Git::discover(&args.repo)
        .with_context(|| format!("{}: not a git repository", args.repo.display()))?;
    let actions = install::plan_uninstall(&git)?;
    report(&git, &actions, args.print, "uninstall")
}

fn report(git: &Git, actions: &[Action], print: bool, what: &str) -> Result<Outcome> {
    let repo = git.work_tree().display();
    let mut out = String::new();
    if actions.is_empty() {
        let _ = writeln!(
            out,
            "migmerge {what}: {repo} is already {}; nothing to change.",
            if what == "install" {
                "set up"
            } else {
                "without migmerge"
            }
        );
    } else if print {
        let _ = writeln!(out, "migmerge {what} would, in {repo}:");
        for action in actions {
            let _ = writeln!(out, "  {action}");
        }
    } else {
        install::apply(git, actions)?;
        let _ = writeln!(out, "migmerge {what}, in {repo}:");
        for action in actions {
            let _ = writeln!(out, "  {action}");
        }
        if what == "install" {
            let staged = actions.iter().any(|a| matches!(a, Action::Stage { .. }));
            if staged {
                let _ = writeln!(
                    out,
                    ".gitattributes is staged: commit it so that everyone's max_migration.txt \
                     merges go through migmerge. Undo all of this with `migmerge uninstall`."
                );
            } else {
                let _ = writeln!(out, "Undo all of this with `migmerge uninstall`.");
            }
        }
    }
    Ok(Outcome {
        stdout: out,
        status: ExitStatus::Success,
    })
}
