//! `migmerge hook <name>`: what the shims in `hooks/` run.
//!
//! - `post-merge`: after `git merge` / `git pull` made a merge commit, resolve the sibling
//!   migrations in the work tree and put the resolution into that merge commit (rewritten with
//!   plumbing: same parents, message and author, new tree; the branch moved by compare-and-swap).
//! - `pre-commit`: when a merge is concluded by hand (`MERGE_HEAD` exists), resolve and stage,
//!   so that the merge commit holds the resolution.
//! - `post-rewrite`: after `git rebase` / `pull --rebase`, renumber the rebased branch's
//!   migrations after the upstream's leaf, in a follow-up commit. The rebase is over by then,
//!   so it never stops on migmerge's account.
//! - `prepare-commit-msg`: add the line `pre-commit` left to the commit message.
//!
//! "Published" is decided from the refs as they were before the operation: the branch that was
//! merged into (or rebased) is read at its old position (`HEAD^1`, `ORIG_HEAD`), and a rebase's
//! upstream counts as published. Every hook prints one line when it does something, records it
//! in `.git/migmerge/`, touches only migration files, refuses when those have unrelated changes,
//! and leaves an overlap `conflict` to `migmerge resolve`. Hooks always exit 0: git has already
//! done its part, and a hook must never make it fail.
//!
//! Most invocations have nothing to do, and git waits for its hooks, so each hook first rules
//! those out without starting git: `post-merge` compares the merge commit's tree with its first
//! parent's (or `HEAD` with the index, after `--squash`) in-process and returns at once when the
//! merge changed nothing in a migrations directory (the configured ones included), no `apps.py`,
//! no submodule and no migmerge setting; `pre-commit` returns when no `MERGE_HEAD` exists, and
//! `prepare-commit-msg` when no note is waiting. Only what cannot be told that way (a repository
//! named by `GIT_DIR`/`GIT_WORK_TREE` for `post-merge`, an unreadable object) goes the full way.
//! The shims in `hooks/` make the last two checks themselves, before starting migmerge.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::cli::{HookArgs, ResolveArgs, ResolveFormat};
use crate::commands::{ExitStatus, Outcome, check, resolve};
use crate::config::{self, Config, MIGMERGE_TOML, PYPROJECT};
use crate::git::commit::{self, DirtyPath};
use crate::git::record::{self, Record};
use crate::git::{Git, cmd};
use crate::overlap::Severity;
use crate::project;
use crate::source::{self, MergeChanges, Source as _, WorkTree};

pub fn run(args: &HookArgs) -> Result<Outcome> {
    let line = if std::env::var("MIGMERGE").as_deref() == Ok("0") {
        None
    } else {
        match dispatch(args) {
            Ok(line) => line,
            Err(err) => Some(format!("migmerge: {}: nothing changed: {err:#}", args.name)),
        }
    };
    Ok(Outcome {
        stdout: line.map(|l| l + "\n").unwrap_or_default(),
        status: ExitStatus::Success,
    })
}

fn dispatch(args: &HookArgs) -> Result<Option<String>> {
    let cwd = std::env::current_dir().context("no current directory")?;
    let first = args.args.first().map(String::as_str);
    // Each hook first rules out, without starting git, the invocations with nothing to do (most
    // of them): git waits for its hooks, and finding the repository costs a git process.
    match args.name.as_str() {
        "post-merge" => {
            let squash = first == Some("1");
            if !merge_may_concern_migrations(&cwd, squash) {
                return Ok(None);
            }
            post_merge(&Git::discover(&cwd)?, squash)
        }
        "pre-commit" => {
            // Only a commit that concludes a merge can need resolving.
            if git_dir_lacks(&cwd, |dir| !dir.join("MERGE_HEAD").exists()) {
                return Ok(None);
            }
            pre_commit(&Git::discover(&cwd)?)
        }
        "post-rewrite" => {
            let mut input = String::new();
            // Hooks get the rewritten commits on stdin; a closed stdin is an empty list.
            let _ = std::io::stdin().read_to_string(&mut input);
            post_rewrite(&Git::discover(&cwd)?, first, &input)
        }
        "prepare-commit-msg" => {
            let Some(file) = args.args.first() else {
                return Ok(None);
            };
            // Only a commit that `pre-commit` resolved has a note waiting.
            if git_dir_lacks(&cwd, |dir| !record::has_note(dir)) {
                return Ok(None);
            }
            prepare_commit_msg(&Git::discover(&cwd)?, file)
        }
        // Hooks migmerge does not know (a newer shim, an older binary) do nothing.
        _ => Ok(None),
    }
}

/// Whether `lacks` is true of the git directory, when that directory is known without running
/// git (see [`cmd::hook_git_dir`]); `false` when it is not known.
fn git_dir_lacks(cwd: &Path, lacks: impl FnOnce(&Path) -> bool) -> bool {
    cmd::hook_git_dir(cwd, std::env::var_os("GIT_DIR").as_deref()).is_some_and(|dir| lacks(&dir))
}

/// Variables with which git points a hook at a repository other than the one found from the
/// current directory (`git --git-dir=... --work-tree=... merge` exports them).
const REPOSITORY_ENV: &[&str] = &["GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR"];

/// Whether the merge that just ended may need resolving: `false` only when it certainly does
/// not, because `HEAD` is no merge commit (a fast-forward) or because the merge changed nothing
/// the project loader reads. Told in-process, from the trees (and the index, for `--squash`);
/// whatever cannot be told that way (a repository named by the environment, an unreadable
/// object or configuration) is left to the full path, which says what is wrong.
///
/// Migrations the branch already had before the merge are not looked at: a conflict there is
/// not the merge's doing, and `migmerge check` reports it.
fn merge_may_concern_migrations(cwd: &Path, squash: bool) -> bool {
    if REPOSITORY_ENV
        .iter()
        .any(|key| std::env::var_os(key).is_some())
    {
        return true;
    }
    match MergeChanges::of_last_merge(cwd, squash) {
        Ok(None) => false,
        Ok(Some(changes)) => changes_concern_migrations(&changes).unwrap_or(true),
        Err(_) => true,
    }
}

/// Whether any of `changes` may change what the project loader finds: a file in or at a
/// migrations directory (the configured ones included), an `apps.py`, `migmerge.toml`, a
/// `pyproject.toml` whose `[tool.migmerge]` table changed, or a submodule (the loader reads the
/// work tree, submodules' files included). The configuration is read from the work tree, as the
/// full path reads it.
fn changes_concern_migrations(changes: &MergeChanges) -> Result<bool> {
    if changes.changes_a_submodule() {
        return Ok(true);
    }
    let tree = WorkTree::new(changes.work_tree())?;
    let pyproject = tree.read(PYPROJECT)?;
    let config = Config::load(pyproject.as_deref(), tree.read(MIGMERGE_TOML)?.as_deref())?;
    let custom_dirs = project::custom_migrations_dirs(&config);
    for path in changes.paths() {
        let concerns = match path.as_str() {
            MIGMERGE_TOML => true,
            PYPROJECT => !config::same_pyproject_settings(
                changes.read_before(PYPROJECT)?.as_deref(),
                pyproject.as_deref(),
            ),
            _ => project::may_change_migrations(path, &custom_dirs),
        };
        if concerns {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What resolving the work tree came to.
enum Attempt {
    /// No conflicting app.
    Nothing,
    /// Nothing was written; the line says why and what to do.
    Refused(String),
    Resolved(Resolution),
}

struct Resolution {
    /// Per-app summaries, `; `-joined.
    summary: String,
    /// Every path written, created or removed, root-relative.
    paths: Vec<String>,
    /// Whether every app was renumbered (for the follow-up commit's subject).
    all_renumbered: bool,
}

/// Resolves the work tree's conflicting apps with the configured strategy (auto by default),
/// counting as published what `protected` holds (empty: the configuration's refs, read now).
/// `index` is the index the result will be committed from, for the dirtiness check.
fn resolve_work_tree(
    git: &Git,
    index: &Git,
    staged_ok: bool,
    protected: impl FnOnce(&[String]) -> Vec<String>,
) -> Result<Attempt> {
    let root = git.work_tree().to_path_buf();
    let worktree = WorkTree::new(&root)?;
    let dirty = commit::dirty_migrations(index, staged_ok)?;
    let refuse_dirty = |dirty: &[DirtyPath]| {
        Attempt::Refused(format!(
            "migmerge: not resolved: migration files have changes of their own ({}). Nothing \
             was changed: commit or stash them, then run `migmerge resolve`.",
            describe_dirty(dirty)
        ))
    };
    let (project, graph) = match check::load(&worktree) {
        Ok(loaded) => loaded,
        // A file of the user's own may be what does not parse: say that first.
        Err(_) if !dirty.is_empty() => return Ok(refuse_dirty(&dirty)),
        Err(err) => return Err(err).context("cannot read the migrations"),
    };
    // A reference to a missing migration that has a namesake may be one the other side
    // renamed, which resolve follows once git history confirms it; any other is left to
    // `migmerge check` to report, without loading the tree a second time.
    let may_follow = || {
        let namesakes = crate::plan::follow_renames(&project, &graph, |_| true, |_| None, |_| true);
        !namesakes.renames.is_empty()
    };
    if graph.conflicts().is_empty() && !may_follow() {
        return Ok(Attempt::Nothing);
    }
    let report = check::analyze(&project, &graph, worktree.describe(), |_| Vec::new());
    let overlapping: Vec<String> = report
        .conflicts
        .iter()
        .filter(|c| c.severity == Severity::Conflict)
        .map(|c| {
            let what: Vec<String> = c
                .overlap
                .iter()
                .filter(|i| i.severity == Severity::Conflict)
                .map(|i| format!("{} vs {}", i.ours, i.theirs))
                .collect();
            format!("{} ({})", c.app, what.join("; "))
        })
        .collect();
    if !overlapping.is_empty() {
        return Ok(Attempt::Refused(format!(
            "migmerge: not resolved: both branches change the same thing in {}. Nothing was \
             changed: run `migmerge resolve` to see both sides and choose.",
            overlapping.join(", ")
        )));
    }
    if !dirty.is_empty() {
        return Ok(refuse_dirty(&dirty));
    }
    let defaults = project
        .config
        .protected
        .clone()
        .unwrap_or_else(|| source::default_protected_refs(&root));
    let out = resolve::run(&ResolveArgs {
        path: root,
        strategy: None,
        app: Vec::new(),
        yes: true,
        dry_run: false,
        format: ResolveFormat::Json,
        protected: protected(&defaults),
    })?;
    let json: Value = serde_json::from_str(&out.stdout).context("resolve's JSON")?;
    let mut summaries = Vec::new();
    let mut paths = Vec::new();
    let mut all_renumbered = true;
    for app in json["apps"].as_array().into_iter().flatten() {
        let summary = app["summary"].as_str().unwrap_or_default();
        // The hook stages the files itself, in the index git is committing.
        let summary = summary
            .split(" (but the git index was not updated")
            .next()
            .unwrap_or(summary);
        summaries.push(summary.to_owned());
        // Following a rename renames nothing itself: it goes with renumbering.
        all_renumbered &= matches!(app["strategy"].as_str(), Some("renumber" | "follow-rename"));
        for change in app["plan"]["changes"].as_array().into_iter().flatten() {
            for key in ["from", "to", "path"] {
                if let Some(p) = change[key].as_str()
                    && !paths.iter().any(|q| q == p)
                {
                    paths.push(p.to_owned());
                }
            }
        }
    }
    if summaries.is_empty() {
        // Nothing to follow and no conflict: a dangling reference resolve cannot settle.
        return Ok(Attempt::Nothing);
    }
    if paths.is_empty() {
        return Ok(Attempt::Refused(format!(
            "migmerge: not resolved: {}",
            summaries.join("; ")
        )));
    }
    Ok(Attempt::Resolved(Resolution {
        summary: summaries.join("; "),
        paths,
        all_renumbered,
    }))
}

fn describe_dirty(dirty: &[DirtyPath]) -> String {
    let mut shown: Vec<String> = dirty
        .iter()
        .take(3)
        .map(|d| format!("{} {}", d.status.trim(), d.path))
        .collect();
    if dirty.len() > 3 {
        shown.push(format!("and {} more", dirty.len() - 3));
    }
    shown.join(", ")
}

/// The protected refs with the current branch read at `before` (its position before the
/// operation moved it), plus `extra`.
fn as_before(git: &Git, refs: &[String], before: Option<&str>, extra: Option<&str>) -> Vec<String> {
    let branch = git
        .run(&["symbolic-ref", "-q", "--short", "HEAD"])
        .map(|b| b.trim().to_owned())
        .unwrap_or_default();
    let mut out: Vec<String> = refs
        .iter()
        .map(|r| {
            let same = !branch.is_empty()
                && (*r == branch
                    || *r == format!("heads/{branch}")
                    || *r == format!("refs/heads/{branch}"));
            match (same, before) {
                (true, Some(before)) => before.to_owned(),
                _ => r.clone(),
            }
        })
        .collect();
    out.extend(extra.map(str::to_owned));
    if out.is_empty() {
        // Resolve reads an empty list as "use the configuration": a rev nothing resolves to
        // says "nothing is published" instead.
        out.push("refs/migmerge/none".to_owned());
    }
    out
}

fn short(hash: &str) -> &str {
    hash.get(..7).unwrap_or(hash)
}

fn post_merge(git: &Git, squash: bool) -> Result<Option<String>> {
    if squash {
        // A squash merge makes no commit: stage the resolution for the commit the user makes.
        return stage_resolution(git, git, "post-merge");
    }
    // A fast-forward brings no sibling migrations of its own making.
    if !git.has_commit("HEAD^2") {
        return Ok(None);
    }
    let old = git.rev("HEAD")?;
    let first = git.rev("HEAD^1")?;
    let resolution = match resolve_work_tree(git, git, false, |refs| {
        as_before(git, refs, Some(&first), None)
    })? {
        Attempt::Nothing => return Ok(None),
        Attempt::Refused(line) => return Ok(Some(line)),
        Attempt::Resolved(r) => r,
    };
    let note = format!("migmerge: {}", resolution.summary);
    let tree = commit::tree_with(git, &old, &resolution.paths)?;
    let message = git.run(&["log", "-1", "--format=%B", &old])?;
    let message = record::add_note(message.trim_end(), &note);
    let mut author = git.clone();
    for (key, value) in commit::author_of(git, &old)? {
        author = author.with_env(&key, &value);
    }
    let new = commit::commit_tree(&author, &tree, &commit::parents(git, &old)?, &message)?;
    commit::move_head(git, &new, &old, "migmerge: resolve migrations in the merge")?;
    commit::stage(git, &resolution.paths)?;
    let undo = format!("git reset --keep {old}");
    let line = format!(
        "{note}; in merge commit {} (undo: git reset --keep {})",
        short(&new),
        short(&old)
    );
    keep_record(
        git,
        "post-merge",
        &line,
        &resolution.paths,
        Some(&old),
        Some(&new),
        &undo,
    );
    Ok(Some(line))
}

fn pre_commit(git: &Git) -> Result<Option<String>> {
    if !git.has_commit("MERGE_HEAD") {
        return Ok(None);
    }
    let index = match commit::inherited_index(git.work_tree()) {
        Some(path) => git.with_index(&path),
        None => git.clone(),
    };
    stage_resolution(git, &index, "pre-commit")
}

/// Resolves in the work tree and stages the result in `index`, for the commit being made; the
/// refs have not moved yet, so they are read as they are.
fn stage_resolution(git: &Git, index: &Git, hook: &str) -> Result<Option<String>> {
    let before = index.run(&["write-tree"]).map(|t| t.trim().to_owned()).ok();
    let resolution = match resolve_work_tree(git, index, true, |refs| refs.to_vec())? {
        Attempt::Nothing => return Ok(None),
        Attempt::Refused(line) => return Ok(Some(line)),
        Attempt::Resolved(r) => r,
    };
    commit::stage(index, &resolution.paths)?;
    let note = format!("migmerge: {}", resolution.summary);
    let _ = record::leave_note(git.git_dir(), &note);
    let undo = match &before {
        Some(tree) => format!(
            "git restore --source={tree} --staged --worktree -- {}",
            resolution.paths.join(" ")
        ),
        None => "git restore --staged --worktree -- <the paths above>".to_owned(),
    };
    let line = format!("{note}; staged for this commit");
    keep_record(git, hook, &line, &resolution.paths, None, None, &undo);
    Ok(Some(line))
}

fn post_rewrite(git: &Git, kind: Option<&str>, input: &str) -> Result<Option<String>> {
    if kind != Some("rebase") {
        return Ok(None);
    }
    // The upstream the commits were replayed onto: the parent of the first rewritten commit.
    let onto = input
        .lines()
        .find_map(|l| l.split_whitespace().nth(1))
        .and_then(|first| git.rev(&format!("{first}^")).ok());
    let before = git.rev("ORIG_HEAD").ok();
    let old = git.rev("HEAD")?;
    let resolution = match resolve_work_tree(git, git, false, |refs| {
        as_before(git, refs, before.as_deref(), onto.as_deref())
    })? {
        Attempt::Nothing => return Ok(None),
        Attempt::Refused(line) => return Ok(Some(line)),
        Attempt::Resolved(r) => r,
    };
    let note = format!("migmerge: {}", resolution.summary);
    let subject = if resolution.all_renumbered {
        "Renumber migrations after rebase"
    } else {
        "Resolve migration conflicts after rebase"
    };
    let tree = commit::tree_with(git, &old, &resolution.paths)?;
    let new = commit::commit_tree(
        git,
        &tree,
        std::slice::from_ref(&old),
        &format!("{subject}\n\n{note}\n"),
    )?;
    commit::move_head(git, &new, &old, "migmerge: resolve migrations after rebase")?;
    commit::stage(git, &resolution.paths)?;
    let undo = format!("git reset --keep {old}");
    let line = format!(
        "{note}; in a new commit {} \"{subject}\" (undo: git reset --keep {})",
        short(&new),
        short(&old)
    );
    keep_record(
        git,
        "post-rewrite",
        &line,
        &resolution.paths,
        Some(&old),
        Some(&new),
        &undo,
    );
    Ok(Some(line))
}

fn prepare_commit_msg(git: &Git, file: &str) -> Result<Option<String>> {
    let Some(note) = record::take_note(git.git_dir()) else {
        return Ok(None);
    };
    let path = {
        let p = PathBuf::from(file);
        if p.is_absolute() {
            p
        } else {
            git.work_tree().join(p)
        }
    };
    let message = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, record::add_note(&message, &note))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
fn keep_record(
    git: &Git,
    hook: &str,
    summary: &str,
    paths: &[String],
    head_before: Option<&str>,
    head_after: Option<&str>,
    undo: &str,
) {
    let record = Record {
        hook,
        time: record::now(),
        summary,
        paths,
        head_before,
        head_after,
        undo,
    };
    // The resolution is done and printed; a record that cannot be written is not worth
    // failing for.
    let _ = record::write(git.git_dir(), &record);
}
