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
//! - `prepare-commit-msg`: installed by earlier versions only; adds a line an earlier
//!   `pre-commit` left. `pre-commit` now writes its line into `MERGE_MSG` itself.
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
//! merge changed nothing in a migrations directory (the configured ones included), no module
//! named as migrations are (which may lie in a directory `MIGRATION_MODULES` names), no
//! `apps.py` or settings module, no submodule and no migmerge setting; `pre-commit` returns when
//! no `MERGE_HEAD` exists, `post-rewrite` when the rewrite is an amend, and
//! `prepare-commit-msg` when no note is waiting. Only what cannot be told that way (a repository named by `GIT_DIR`/`GIT_WORK_TREE`
//! for `post-merge`, an unreadable object) goes the full way. The shims in `hooks/` make the
//! `pre-commit` and `post-rewrite` checks themselves, before starting migmerge.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::cli::{HookArgs, RunHookArgs};
use crate::commands::{ExitStatus, Outcome};
use crate::config::{self, Config, MIGMERGE_TOML, PYPROJECT};
use crate::edit::{Journal, journal};
use crate::git::commit::{self, DirtyPath, short};
use crate::git::record::{self, Record};
use crate::git::{Git, cmd, hooks, recover};
use crate::project::{self, MigrationsDirs};
use crate::resolution::{self, Action, Operation, Options, Session, WhenUnmovable};
use crate::source::{self, MergeChanges, WorkTree};

pub fn run(args: &HookArgs) -> Result<Outcome> {
    // Hooks write in the git directory anyway (records, journals): they keep their parses.
    crate::project::parse_cache::keep_new_parses();
    let verdict = if std::env::var("MIGMERGE").as_deref() == Ok("0") {
        Verdict {
            line: None,
            refuse: false,
        }
    } else {
        match dispatch(args) {
            Ok(verdict) => verdict,
            Err(err) => Verdict {
                line: Some(format!("migmerge: {}: nothing changed: {err:#}", args.name)),
                refuse: false,
            },
        }
    };
    // Only `pre-commit` ever refuses (a commit that would record conflicting migrations);
    // every other hook runs after git did its part, and must never make it fail.
    Ok(Outcome {
        stdout: verdict.line.map(|l| l + "\n").unwrap_or_default(),
        status: if verdict.refuse {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        },
    })
}

/// `migmerge run-hook <file> <args>`: what git runs for a direct shim (see
/// [`hooks::DIRECT`]), doing what the shell shim would: the hook migmerge kept aside first,
/// then migmerge's hook unless `MIGMERGE=0`. git ignores what these hooks exit with; like
/// the shell shim, this one exits 1 when the kept hook failed.
pub fn run_file(args: &RunHookArgs) -> Result<Outcome> {
    let content = std::fs::read(&args.file)
        .with_context(|| format!("cannot read the hook {}", args.file.display()))?;
    let name = hooks::shim_name(&content)
        .filter(|name| hooks::DIRECT.contains(name))
        .with_context(|| {
            format!(
                "{}: not a hook `migmerge install` writes for `{}`",
                args.file.display(),
                hooks::RUN_HOOK
            )
        })?
        .to_owned();
    // A kept hook that cannot be started is reported, and migmerge's hook runs all the same,
    // as after the shell shim's own "cannot execute".
    let chained_failed = match run_chained(&args.file, &name, &args.args) {
        Ok(status) => status.is_some_and(|status| status != 0),
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("migmerge: {err:#}");
            }
            true
        }
    };
    let mut outcome = run(&HookArgs {
        name,
        args: args.args.clone(),
    })?;
    if chained_failed {
        outcome.status = ExitStatus::Failure;
    }
    Ok(outcome)
}

#[cfg(unix)]
fn run_chained(file: &Path, name: &str, args: &[String]) -> Result<Option<i32>> {
    hooks::run_chained(file, name, args)
        .with_context(|| format!("cannot run the {name} hook kept beside {}", file.display()))
}

/// Direct shims are written on Unix only.
#[cfg(not(unix))]
fn run_chained(_: &Path, _: &str, _: &[String]) -> Result<Option<i32>> {
    Ok(None)
}

/// The hooks that write the tree, which first settle a write an interrupted run left.
const WRITING_HOOKS: &[&str] = &["post-merge", "pre-commit", "post-rewrite"];

fn dispatch(args: &HookArgs) -> Result<Verdict> {
    let cwd = std::env::current_dir().context("no current directory")?;
    // Finding a journal is one file lookup, without git: cheap enough for every invocation.
    let recovered = if WRITING_HOOKS.contains(&args.name.as_str()) {
        recover::interrupted_write(&cwd)?
    } else {
        None
    };
    let mut verdict = dispatch_hook(args, &cwd)?;
    if let Some(recovered) = recovered {
        verdict.line = Some(match verdict.line {
            Some(line) => format!("{recovered}\n{line}"),
            None => recovered,
        });
    }
    Ok(verdict)
}

fn dispatch_hook(args: &HookArgs, cwd: &Path) -> Result<Verdict> {
    let say = |line: Result<Option<String>>| {
        line.map(|line| Verdict {
            line,
            refuse: false,
        })
    };
    let nothing = Ok(Verdict {
        line: None,
        refuse: false,
    });
    let first = args.args.first().map(String::as_str);
    // Each hook first rules out, without starting git, the invocations with nothing to do (most
    // of them): git waits for its hooks, and finding the repository costs a git process.
    match args.name.as_str() {
        "post-merge" => {
            let squash = first == Some("1");
            if !merge_may_concern_migrations(cwd, squash) {
                return nothing;
            }
            say(post_merge(&Git::discover(cwd)?, squash))
        }
        "pre-commit" => {
            // Only a commit that concludes a merge can need resolving.
            if git_dir_lacks(cwd, |dir| !dir.join("MERGE_HEAD").exists()) {
                return nothing;
            }
            pre_commit(&Git::discover(cwd)?)
        }
        "post-rewrite" => {
            let mut input = String::new();
            // Hooks get the rewritten commits on stdin; a closed stdin is an empty list.
            let _ = std::io::stdin().read_to_string(&mut input);
            // Only a rebase can bring migrations to renumber, not an amended commit.
            if first != Some("rebase") {
                return nothing;
            }
            say(post_rewrite(&Git::discover(cwd)?, &input))
        }
        "prepare-commit-msg" => {
            let Some(file) = args.args.first() else {
                return nothing;
            };
            // Only a commit that `pre-commit` resolved has a note waiting.
            if git_dir_lacks(cwd, |dir| !record::has_note(dir)) {
                return nothing;
            }
            say(prepare_commit_msg(&Git::discover(cwd)?, file))
        }
        // Hooks migmerge does not know (a newer shim, an older binary) do nothing.
        _ => nothing,
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

/// Whether any of `changes` may change what the project loader finds: what
/// [`project::may_change_migrations`] counts (a file in or at a migrations directory, the
/// configured ones included, a module named as migrations are, an `apps.py`, a settings module),
/// `migmerge.toml`, a `pyproject.toml` whose `[tool.migmerge]` table changed, or a submodule
/// (the loader reads the work tree, submodules' files included). The configuration is read
/// from the work tree, as the full path reads it.
fn changes_concern_migrations(changes: &MergeChanges) -> Result<bool> {
    if changes.changes_a_submodule() {
        return Ok(true);
    }
    // The work tree's top is known already: read the two files directly, without finding
    // the repository a second time.
    let read = |file: &str| match std::fs::read(changes.work_tree().join(file)) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {file}")),
    };
    let pyproject = read(PYPROJECT)?;
    let config = Config::load(pyproject.as_deref(), read(MIGMERGE_TOML)?.as_deref())?;
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
    Resolved(Box<Resolution>),
}

struct Resolution {
    /// Per-app summaries, each with its reason, `; `-joined; empty when nothing was written.
    summary: String,
    /// Every path written, created or removed, root-relative.
    paths: Vec<String>,
    /// Whether every app written was renumbered (for the follow-up commit's subject).
    all_renumbered: bool,
    /// What was written, for the index.
    updates: Vec<crate::edit::FileUpdate>,
    /// The write's journal, open until what goes with the write (the index, a commit) is done.
    journal: Journal,
    /// The apps left as they were, each with why (an overlap a person must decide, a plan
    /// that could not be made), `; `-joined; empty when every app was resolved.
    left: String,
}

/// Resolves the work tree's conflicting apps with the configured strategy (auto by default),
/// through the core's session, with publication read from the repository as it was before
/// `operation`. Apps are independent: those a person must decide are left and named, the
/// others resolved. `index` is the index the result will be committed from, for the
/// dirtiness check.
fn resolve_work_tree(
    git: &Git,
    index: &Git,
    staged_ok: bool,
    operation: Operation,
) -> Result<Attempt> {
    let root = git.work_tree().to_path_buf();
    let worktree = WorkTree::new(&root)?;
    let refuse_dirty = |dirty: &[DirtyPath]| {
        Attempt::Refused(format!(
            "migmerge: not resolved: migration files have changes of their own ({}). Nothing \
             was changed: commit or stash them, then run `migmerge resolve`.",
            describe_dirty(dirty)
        ))
    };
    let options = Options {
        strategy: None,
        forced: false,
        apps: Vec::new(),
        // Nobody is there to choose again: a merge migration renames nothing.
        when_unmovable: WhenUnmovable::Merge,
    };
    let mut session = Session::new(&worktree, operation, options);
    // git's word on the user's own changes and the load do not depend on each other: asked
    // side by side, since git waits for its hook.
    let (dirty, loaded) = std::thread::scope(|scope| {
        let dirty =
            scope.spawn(|| commit::dirty_migrations(index, staged_ok, &MigrationsDirs::named()));
        let loaded = session.loaded().map(|(project, graph)| {
            // A reference to a missing migration that has a namesake may be one the other
            // side renamed, which the session follows once git history confirms it; any other
            // is left to `migmerge check` to report.
            let nothing = graph.conflicts().is_empty()
                && crate::plan::follow_renames(project, graph, |_| true, |_| None, |_| true)
                    .renames
                    .is_empty();
            (nothing, MigrationsDirs::relocated_in(&project.apps))
        });
        let dirty = dirty
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (dirty, loaded)
    });
    let mut dirty = dirty?;
    // Migrations directories `MIGRATION_MODULES` renames are known once the project is: git
    // is asked about them then (rarely needed).
    if let Ok((_, relocated)) = &loaded
        && !relocated.is_empty()
    {
        dirty.extend(commit::dirty_migrations(index, staged_ok, relocated)?);
    }
    let loaded = loaded.map(|(nothing, _)| nothing);
    let nothing = match loaded {
        Ok(nothing) => nothing,
        // A file of the user's own may be what does not parse: say that first.
        Err(_) if !dirty.is_empty() => return Ok(refuse_dirty(&dirty)),
        Err(err) => return Err(err).context("cannot read the migrations"),
    };
    if nothing {
        return Ok(Attempt::Nothing);
    }
    if !dirty.is_empty() {
        return Ok(refuse_dirty(&dirty));
    }
    if let Some(why) = resolution::sparse_checkout_refusal(&root)? {
        return Ok(Attempt::Refused(format!("migmerge: {why}")));
    }
    let mut summaries = Vec::new();
    let mut left = Vec::new();
    let mut all_renumbered = true;
    if let Some(followed) = session.follow_renames()? {
        session.accept(&followed.updates);
        summaries.push(format!(
            "{}: followed the rename of {}",
            followed.apps, followed.what
        ));
    }
    for app in session.conflicting_apps()? {
        let Some(examined) = session.examine(&app)? else {
            continue;
        };
        let decision = &examined.decision;
        match &decision.action {
            Action::Human | Action::Refuse => left.push(format!("{app}: {}", decision.reason)),
            action => match session.propose(&examined, action) {
                Ok(candidate) => {
                    all_renumbered &= matches!(action, Action::Renumber { .. });
                    summaries.push(format!("{app}: {} ({})", candidate.done, decision.reason));
                    session.accept_candidate(&candidate);
                }
                Err(err) => left.push(format!("{app}: cannot {}: {err:#}", action.name())),
            },
        }
    }
    if session.accepted().is_empty() {
        return Ok(if left.is_empty() {
            // A dangling reference nothing settles: `migmerge check` reports it.
            Attempt::Nothing
        } else {
            Attempt::Refused(not_resolved(&left.join("; ")))
        });
    }
    let mut paths: Vec<String> = Vec::new();
    for update in session.accepted() {
        for path in update.before.iter().chain(std::iter::once(&update.after)) {
            if !paths.contains(path) {
                paths.push(path.clone());
            }
        }
    }
    if let Some(line) = autostash_refusal(git, &paths)? {
        return Ok(Attempt::Refused(line));
    }
    let journal = session
        .write_journaled()
        .context("writing the resolution (nothing was changed)")?;
    Ok(Attempt::Resolved(Box::new(Resolution {
        summary: summaries.join("; "),
        paths,
        all_renumbered,
        updates: session.accepted().to_vec(),
        journal,
        left: left.join("; "),
    })))
}

/// Where git keeps the stash it re-applies when a `--autostash` rebase or merge (`pull
/// --autostash` included) is over. `post-rewrite` and `post-merge` run before it is applied
/// (checked with git 2.47), so a file the resolution moved would get the user's change put
/// back at its old name, and one it edited would take the change on top of the edit.
const AUTOSTASH_FILES: &[&str] = &[
    "rebase-merge/autostash",
    "rebase-apply/autostash",
    "MERGE_AUTOSTASH",
];

/// The line refusing to write a resolution touching `paths` while git still has an autostash
/// to re-apply that changes one of them; `None` when there is none, or it touches none.
fn autostash_refusal(git: &Git, paths: &[String]) -> Result<Option<String>> {
    let Some(stash) = AUTOSTASH_FILES.iter().find_map(|file| {
        let text = std::fs::read_to_string(git.git_dir().join(file)).ok()?;
        let hash = text.trim();
        (!hash.is_empty()).then(|| hash.to_owned())
    }) else {
        return Ok(None);
    };
    // The stash commit's first parent is the commit it was taken on, its second the index:
    // what it changes is the work tree's changes and the index's.
    let mut stashed = Vec::new();
    for (from, to) in [("^1", ""), ("^1", "^2")] {
        let out = git.run(&[
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            "--name-only",
            &format!("{stash}{from}"),
            &format!("{stash}{to}"),
        ])?;
        stashed.extend(out.split('\0').filter(|p| !p.is_empty()).map(str::to_owned));
    }
    let Some(clash) = paths.iter().find(|p| stashed.contains(p)) else {
        return Ok(None);
    };
    Ok(Some(format!(
        "migmerge: not resolved: the changes git stashed for this operation (--autostash), \
         which it re-applies next, touch {clash}, which the resolution would rename or edit. \
         Nothing was changed: once git has applied the stash, run `migmerge resolve`."
    )))
}

/// Puts a written resolution (of `paths`, whose write `journal` keeps) into history: `make`
/// makes the commit of the tree it gives (`sign` says whether to sign it), then `HEAD`'s
/// branch moves from `old` to it. Any failure on the way (a signature that cannot be made, a
/// branch that moved) puts every file back, so that git's own commit stands.
fn commit_written(
    git: &Git,
    paths: &[String],
    mut journal: Journal,
    old: &str,
    reason: &str,
    make: impl FnOnce(&str, bool) -> std::result::Result<String, cmd::GitError>,
) -> std::result::Result<(String, Journal), NotCommitted> {
    let committed = || -> Result<String> {
        let tree = commit::tree_with(git, old, paths)?;
        let sign = commit::should_sign(git, old)?;
        let new = make(&tree, sign).map_err(|err| {
            // git's own words (gpg's, ssh-keygen's) say why; the command line adds nothing.
            let why = match &err {
                cmd::GitError::Failed { message, .. } => message.clone(),
                other => other.to_string(),
            };
            if sign {
                anyhow::anyhow!("cannot sign the new commit as git is configured to ({why})")
            } else {
                anyhow::anyhow!("cannot make the new commit ({why})")
            }
        })?;
        journal.mark_committed(&new)?;
        journal::halt_point();
        commit::move_head(git, &new, old, reason)?;
        journal::halt_point();
        Ok(new)
    };
    match committed() {
        Ok(new) => Ok((new, journal)),
        Err(why) => Err(NotCommitted {
            why,
            left: journal.roll_back().err().map(|e| e.to_string()),
        }),
    }
}

/// A written resolution that could not be committed, and was put back (or not: `left`).
struct NotCommitted {
    why: anyhow::Error,
    left: Option<String>,
}

impl NotCommitted {
    /// The hook's line; `stands` says what git left and what holds.
    fn line(&self, stands: &str) -> String {
        let changed = match &self.left {
            None => "Nothing was changed".to_owned(),
            Some(left) => format!(
                "Putting the files back failed too ({left}); the next migmerge command tries again"
            ),
        };
        format!(
            "migmerge: not resolved: {:#}. {changed}: {stands}: run `migmerge resolve`, then \
             commit.",
            self.why
        )
    }
}

/// Stages a resolution in `index` (the repository's own when `None`) and closes its journal:
/// the files are written and, for a hook that commits, in history, whatever the index says.
fn stage_and_finish(
    git: &Git,
    index: Option<&Path>,
    mut journal: Journal,
    updates: &[crate::edit::FileUpdate],
) -> Result<()> {
    journal.mark_staging(index)?;
    journal::halt_point();
    let staged = source::stage_resolution(git.work_tree(), index, updates);
    journal::halt_point();
    journal.finish()?;
    staged?;
    Ok(())
}

/// The line for apps left to a person.
fn not_resolved(left: &str) -> String {
    format!("migmerge: NOT RESOLVED: {left}. Run `migmerge resolve` to see both sides and choose.")
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

/// The lines a hook prints: what it resolved, and, loudly, what it left.
fn report(done: Option<String>, left: &str, after: &str) -> Option<String> {
    let left = (!left.is_empty()).then(|| format!("{} {after}", not_resolved(left)));
    match (done, left) {
        (Some(done), Some(left)) => Some(format!("{done}\n{left}")),
        (done, left) => done.or(left),
    }
}

fn post_merge(git: &Git, squash: bool) -> Result<Option<String>> {
    if squash {
        // A squash merge makes no commit: stage the resolution for the commit the user makes.
        return stage_resolution(git, git, "post-merge").map(|(line, _)| line);
    }
    // A fast-forward brings no sibling migrations of its own making.
    let Some(old) = commit::merge_at_head(git)? else {
        return Ok(None);
    };
    let resolution = match resolve_work_tree(git, git, false, Operation::MergeCommitted)? {
        Attempt::Nothing => return Ok(None),
        Attempt::Refused(line) => {
            return Ok(Some(format!(
                "{line} The merge commit {} holds conflicting migrations.",
                short(&old)
            )));
        }
        Attempt::Resolved(r) => *r,
    };
    let note = format!("migmerge: {}", resolution.summary);
    // The files are written from here on: whatever fails puts them back (in commit_written).
    let made = commit_written(
        git,
        &resolution.paths,
        resolution.journal,
        &old,
        "migmerge: resolve migrations in the merge",
        |tree, sign| {
            let original = commit::original(git, &old)?;
            let message = record::add_note(original.message.trim_end(), &note);
            let mut author = git.clone();
            for (key, value) in original.author {
                author = author.with_env(&key, &value);
            }
            commit::commit_tree(&author, tree, &original.parents, &message, sign)
        },
    );
    let (new, journal) = match made {
        Ok(made) => made,
        Err(not) => {
            return Ok(Some(not.line(&format!(
                "the merge commit {} is git's own, and holds conflicting migrations",
                short(&old)
            ))));
        }
    };
    stage_and_finish(git, None, journal, &resolution.updates)?;
    let undo = format!("git reset --keep {old}");
    let line = format!(
        "{note}; in merge commit {} (undo: git reset --keep {})",
        short(&new),
        short(&old)
    );
    // The record keeps the summary; the log line adds the undo command itself.
    keep_record(
        git,
        "post-merge",
        &note,
        &resolution.paths,
        Some(&old),
        Some(&new),
        &undo,
    );
    Ok(report(
        Some(line),
        &resolution.left,
        "The merge commit holds conflicting migrations for these apps.",
    ))
}

/// What `pre-commit` prints and whether it refuses the commit.
struct Verdict {
    line: Option<String>,
    refuse: bool,
}

fn pre_commit(git: &Git) -> Result<Verdict> {
    if !git.has_commit("MERGE_HEAD") {
        return Ok(Verdict {
            line: None,
            refuse: false,
        });
    }
    let index = match commit::inherited_index(git.work_tree()) {
        Some(path) => git.with_index(&path),
        None => git.clone(),
    };
    let (line, left) = stage_resolution(git, &index, "pre-commit")?;
    if !left {
        return Ok(Verdict {
            line,
            refuse: false,
        });
    }
    // Whatever could not be resolved, the commit must not record a graph Django refuses.
    let conflicts = staged_conflicts(git, &index)?;
    if conflicts.is_empty() {
        return Ok(Verdict {
            line,
            refuse: false,
        });
    }
    let refusal = format!(
        "migmerge: commit refused: the merge would commit conflicting migrations ({}). \
         Resolve them with `migmerge resolve`, then commit again; to commit anyway: \
         `MIGMERGE=0 git commit` or `git commit --no-verify`.",
        conflicts.join("; ")
    );
    Ok(Verdict {
        line: Some(match line {
            Some(line) => format!("{line}\n{refusal}"),
            None => refusal,
        }),
        refuse: true,
    })
}

/// The apps with several leaves in what `index` would commit, as "app (leaf, leaf)".
fn staged_conflicts(git: &Git, index: &Git) -> Result<Vec<String>> {
    let snapshot = source::IndexSnapshot::open(git.work_tree(), index.index_file())?;
    let (_, graph) = resolution::load(&snapshot)?;
    Ok(graph
        .conflicts()
        .into_iter()
        .map(|c| format!("{} ({})", c.app, c.leaves.join(", ")))
        .collect())
}

/// Resolves in the work tree and stages the result in `index`, for the commit being made; the
/// branch has not moved yet. Also says whether apps were left unresolved.
fn stage_resolution(git: &Git, index: &Git, hook: &str) -> Result<(Option<String>, bool)> {
    let before = index.run(&["write-tree"]).map(|t| t.trim().to_owned()).ok();
    let resolution = match resolve_work_tree(git, index, true, Operation::MergeInProgress)? {
        Attempt::Nothing => return Ok((None, false)),
        Attempt::Refused(line) => return Ok((Some(line), true)),
        Attempt::Resolved(r) => *r,
    };
    stage_and_finish(
        git,
        index.index_file(),
        resolution.journal,
        &resolution.updates,
    )?;
    let note = format!("migmerge: {}", resolution.summary);
    // git reads MERGE_MSG after `pre-commit`, so the line reaches the message of a merge
    // concluded with `git commit` (with `-m`, the message is `-m`'s; the record keeps it).
    add_to_merge_message(git.git_dir(), &note);
    let undo = undo_staged(before.as_deref(), git, &resolution.paths);
    let line = format!("{note}; staged for this commit");
    keep_record(git, hook, &note, &resolution.paths, None, None, &undo);
    let left = !resolution.left.is_empty();
    Ok((
        report(Some(line), &resolution.left, "They are not staged."),
        left,
    ))
}

/// Adds `note` to the message git prepared for the merge being concluded, when there is one
/// (a `--squash` merge prepares `SQUASH_MSG` instead).
fn add_to_merge_message(git_dir: &Path, note: &str) {
    for file in ["MERGE_MSG", "SQUASH_MSG"] {
        let path = git_dir.join(file);
        if let Ok(message) = std::fs::read_to_string(&path) {
            // The resolution is staged whatever happens to the message: not worth failing for.
            let _ = std::fs::write(&path, record::add_note(&message, note));
            return;
        }
    }
}

/// How to take a staged resolution back: the paths the resolution created leave the index and
/// the work tree, and the others come back from the tree the index held before.
fn undo_staged(before: Option<&str>, git: &Git, paths: &[String]) -> String {
    let Some(tree) = before else {
        return "git restore --staged --worktree -- <the paths above>".to_owned();
    };
    let existed = |path: &str| {
        git.run(&["cat-file", "-e", &format!("{tree}:{path}")])
            .is_ok()
    };
    let (old, new): (Vec<&String>, Vec<&String>) = paths.iter().partition(|p| existed(p));
    let quote = |paths: &[&String]| {
        paths
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut steps = Vec::new();
    if !new.is_empty() {
        steps.push(format!("git rm -q -f -- {}", quote(&new)));
    }
    if !old.is_empty() {
        steps.push(format!(
            "git restore --source={tree} --staged --worktree -- {}",
            quote(&old)
        ));
    }
    steps.join(" && ")
}

/// After a rebase (`git commit --amend`, the other rewrite, is ruled out by the caller).
fn post_rewrite(git: &Git, input: &str) -> Result<Option<String>> {
    // The upstream the commits were replayed onto: the parent of the first rewritten commit.
    let onto = input
        .lines()
        .find_map(|l| l.split_whitespace().nth(1))
        .and_then(|first| git.rev(&format!("{first}^")).ok());
    let orig_head = git.rev("ORIG_HEAD").ok();
    let old = git.rev("HEAD")?;
    let operation = Operation::Rebased { orig_head, onto };
    let resolution = match resolve_work_tree(git, git, false, operation)? {
        Attempt::Nothing => return Ok(None),
        Attempt::Refused(line) => return Ok(Some(line)),
        Attempt::Resolved(r) => *r,
    };
    let note = format!("migmerge: {}", resolution.summary);
    let subject = if resolution.all_renumbered {
        "Renumber migrations after rebase"
    } else {
        "Resolve migration conflicts after rebase"
    };
    let message = format!("{subject}\n\n{note}\n");
    let made = commit_written(
        git,
        &resolution.paths,
        resolution.journal,
        &old,
        "migmerge: resolve migrations after rebase",
        |tree, sign| commit::commit_tree(git, tree, std::slice::from_ref(&old), &message, sign),
    );
    let (new, journal) = match made {
        Ok(made) => made,
        Err(not) => {
            return Ok(Some(
                not.line("the rebased branch holds conflicting migrations"),
            ));
        }
    };
    stage_and_finish(git, None, journal, &resolution.updates)?;
    let undo = format!("git reset --keep {old}");
    let line = format!(
        "{note}; in a new commit {} \"{subject}\" (undo: git reset --keep {})",
        short(&new),
        short(&old)
    );
    keep_record(
        git,
        "post-rewrite",
        &note,
        &resolution.paths,
        Some(&old),
        Some(&new),
        &undo,
    );
    Ok(report(
        Some(line),
        &resolution.left,
        "The rebased branch holds conflicting migrations for these apps.",
    ))
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
