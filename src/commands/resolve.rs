//! `migmerge resolve`: turn each conflicting app of the work tree into one Django accepts.
//!
//! Per app: decide a strategy (merge migration or renumbered chain), plan it in memory, preview
//! it, load the previewed tree and verify the app has one leaf and lost nothing, show the diff,
//! then (after asking, or with `--yes`) write it atomically. Apps are handled one after the
//! other, each planned on the tree the previous ones left, so that two plans never edit the
//! same file from stale bytes. With `--dry-run` nothing is written, so the previous apps'
//! changes are laid over the work tree in memory ([`Planned`]): the printed plan of every app
//! is exactly what the real run would write.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write as _};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

use crate::cli::{ResolveArgs, ResolveFormat, ResolveStrategy};
use crate::commands::{ExitStatus, Outcome};
use crate::config::Strategy;
use crate::diff;
use crate::edit::{self, FileChange, FileUpdate, Plan};
use crate::graph::{Graph, Key, LeafConflict, NodeKind};
use crate::overlap::{self, AppOverlap, Severity};
use crate::plan::{self, Layout, Overlay, Timestamp};
use crate::project::{self, Project};
use crate::prompt;
use crate::report::{self, ConflictReport};
use crate::source::{self, GitRevision, PathFilter, Source, SourceError, WorkTree};

/// What writes the merge migration, in its header comment.
const GENERATOR: &str = concat!("migmerge ", env!("CARGO_PKG_VERSION"));

pub fn run(args: &ResolveArgs) -> Result<Outcome> {
    let json = args.format == ResolveFormat::Json;
    let color = !json && std::io::stdout().is_terminal();
    let asking = !args.yes && !args.dry_run;
    let worktree = WorkTree::new(&args.path)?;
    let mut screen = Screen {
        text: String::new(),
        live: asking,
    };
    let mut planned = Planned::new(&worktree);

    // Renames the other side made come first: an app with a reference to a missing migration
    // is not settled, so its sibling migrations only show as a conflict once it is followed.
    let mut results = Vec::new();
    let first = project::load(&worktree)?;
    let first_graph = Graph::build(&first);
    // Opened only when a missing migration has a namesake to be followed to.
    let history: OnceCell<MergedHistory> = OnceCell::new();
    let following = plan::follow_renames(
        &first,
        &first_graph,
        |app| args.app.is_empty() || args.app.iter().any(|a| a == app),
        |p| worktree.read(p).ok().flatten(),
        |p| {
            history
                .get_or_init(|| merged_history(&args.path))
                .contains(p)
        },
    );
    if !following.renames.is_empty() && asking && (json || !prompt::interactive()) {
        bail!(
            "references to renamed migrations to follow, but no terminal to ask on: pass --yes \
             to write without asking, or --dry-run to only see the plan"
        );
    }
    if !following.renames.is_empty() {
        let result = follow(args, &worktree, &first_graph, following, color, &mut screen)?;
        screen.text.push_str(&result.summary);
        screen.text.push('\n');
        planned.absorb(&result.unwritten);
        results.push(result);
    }

    // Nothing followed: the tree is the one already loaded.
    let conflicts = if results.is_empty() {
        first_graph.conflicts()
    } else {
        Graph::build(&project::load(&planned)?).conflicts()
    };
    let apps: Vec<String> = conflicts
        .into_iter()
        .map(|c| c.app)
        .filter(|app| args.app.is_empty() || args.app.contains(app))
        .collect();
    if apps.is_empty() && results.is_empty() {
        let scope = if args.app.is_empty() {
            String::new()
        } else {
            format!(" (apps: {})", args.app.join(", "))
        };
        let stdout = if json {
            serde_json::to_string_pretty(&JsonOut {
                source: worktree.describe(),
                apps: Vec::new(),
            })? + "\n"
        } else {
            format!(
                "No migration conflicts to resolve in {}{scope}.\n",
                worktree.describe()
            )
        };
        return Ok(Outcome {
            stdout,
            status: ExitStatus::Success,
        });
    }
    if asking && (json || !prompt::interactive()) {
        bail!(
            "{} app{} to resolve, but no terminal to ask on: pass --yes to write without asking, \
             or --dry-run to only see the plan",
            apps.len(),
            if apps.len() == 1 { "" } else { "s" }
        );
    }

    for app in &apps {
        // Reloaded for each app: the previous one may have changed files this one reads.
        let project = project::load(&planned)?;
        let graph = Graph::build(&project);
        let Some(conflict) = graph.conflicts().into_iter().find(|c| &c.app == app) else {
            continue;
        };
        let ctx = Context {
            args,
            worktree: &worktree,
            source: &planned,
            project: &project,
            graph: &graph,
            color,
        };
        let mut result = resolve_app(&ctx, &conflict, &mut screen)?;
        screen.text.push_str(&result.summary);
        screen.text.push('\n');
        let unwritten = std::mem::take(&mut result.unwritten);
        planned.absorb(&unwritten);
        results.push(result);
    }

    let status = if results.iter().all(|r| r.resolved) {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    let stdout = if json {
        serde_json::to_string_pretty(&JsonOut {
            source: worktree.describe(),
            apps: results,
        })? + "\n"
    } else {
        std::mem::take(&mut screen.text)
    };
    Ok(Outcome { stdout, status })
}

/// The commits the current merge, rebase or recent history touches: where a file that existed
/// tells a migration renamed on the other side from a typo in a dependency.
struct MergedHistory(Vec<GitRevision>);

fn merged_history(root: &Path) -> MergedHistory {
    let revs = [
        "MERGE_HEAD",
        "REBASE_HEAD",
        "ORIG_HEAD",
        "HEAD",
        "HEAD^1",
        "HEAD^2",
    ];
    MergedHistory(
        revs.iter()
            .filter_map(|rev| GitRevision::open(root, rev).ok())
            .collect(),
    )
}

impl MergedHistory {
    fn contains(&self, path: &str) -> bool {
        self.0
            .iter()
            .any(|revision| matches!(revision.read(path), Ok(Some(_))))
    }
}

/// Plans, shows, verifies and (unless asked not to) writes the following of renames.
fn follow(
    args: &ResolveArgs,
    worktree: &WorkTree,
    before: &Graph,
    following: plan::Following,
    color: bool,
    screen: &mut Screen,
) -> Result<AppResult> {
    let mut apps: Vec<&str> = following.renames.iter().map(|r| r.app.as_str()).collect();
    apps.dedup();
    let label = apps.join(", ");
    let read = |p: &str| worktree.read(p).ok().flatten();
    let updates = edit::preview(&following.plan, read)
        .with_context(|| format!("{label}: cannot follow the renames"))?;
    let overlay = Overlay::new(worktree, &updates);
    let after = project::load(&overlay)
        .with_context(|| format!("{label}: the followed references do not load"))?;
    if !plan::settles(before, &Graph::build(&after)) {
        bail!("{label}: following the renames would not settle the missing references");
    }
    let what: Vec<String> = following
        .renames
        .iter()
        .map(|r| {
            format!(
                "{}.{} -> {} ({} reference{})",
                r.app,
                r.old,
                r.new,
                r.references,
                if r.references == 1 { "" } else { "s" }
            )
        })
        .collect();
    let what = what.join("; ");
    let reason =
        format!("dependencies name migrations that the other side of the merge renamed: {what}");
    if args.format != ResolveFormat::Json {
        screen.text.push_str(&format!("{label}: {reason}\n"));
        screen.text.push_str(&diff::unified(&updates, color));
    }
    let mut write = !args.dry_run;
    if screen.live {
        screen.flush()?;
        let items = vec![format!("follow the renames: {what}"), "skip".to_owned()];
        write = prompt::select("Follow the renames?", &items, 0)? == Some(0);
    }
    let summary = if write {
        edit::write_atomically(worktree.root(), &updates)
            .with_context(|| format!("{label}: writing the followed references"))?;
        format!("{label}: followed the rename of {what}")
    } else if screen.live {
        format!("{label}: skipped following the rename of {what}")
    } else {
        format!("{label}: would follow the rename of {what}")
    };
    Ok(AppResult {
        app: label,
        strategy: Some("follow-rename"),
        reason,
        plan: Some(following.plan),
        written: write,
        resolved: write || args.dry_run,
        summary,
        // Only a dry run lays its plan over the tree for what comes next; a skip drops it.
        unwritten: if args.dry_run { updates } else { Vec::new() },
    })
}

/// Output that is either collected for the end, or, when asking questions, shown before each
/// question so the user sees what they answer about.
struct Screen {
    text: String,
    live: bool,
}

impl Screen {
    fn flush(&mut self) -> Result<()> {
        if self.live {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(self.text.as_bytes())?;
            stdout.flush()?;
            self.text.clear();
        }
        Ok(())
    }
}

struct Context<'a> {
    args: &'a ResolveArgs,
    /// Where a resolution is written.
    worktree: &'a WorkTree,
    /// What plans read: the work tree, with the unwritten plans of earlier apps over it.
    source: &'a dyn Source,
    project: &'a Project,
    graph: &'a Graph,
    color: bool,
}

/// One app's outcome, as JSON shows it.
#[derive(Debug, Serialize)]
struct AppResult {
    app: String,
    /// `merge`, `renumber`, or `null` when nothing was chosen.
    strategy: Option<&'static str>,
    /// Why this strategy, in one line.
    reason: String,
    plan: Option<Plan>,
    written: bool,
    /// Whether the app is (or, with --dry-run, would be) resolved.
    resolved: bool,
    summary: String,
    /// The planned contents when they were not written (--dry-run), for the next apps to be
    /// planned on.
    #[serde(skip)]
    unwritten: Vec<FileUpdate>,
}

#[derive(Serialize)]
struct JsonOut {
    source: String,
    apps: Vec<AppResult>,
}

/// How one app is to be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Choice {
    Merge,
    Renumber { stay: String, moving: String },
}

impl Choice {
    fn name(&self) -> &'static str {
        match self {
            Choice::Merge => "merge",
            Choice::Renumber { .. } => "renumber",
        }
    }
}

/// A choice, planned and verified.
struct Candidate {
    choice: Choice,
    plan: Plan,
    updates: Vec<FileUpdate>,
    /// What was done, after the app label: "wrote 0006_merge_a_b.py".
    done: String,
    /// What would be done: "write 0006_merge_a_b.py".
    todo: String,
}

fn resolve_app(
    ctx: &Context<'_>,
    conflict: &LeafConflict,
    screen: &mut Screen,
) -> Result<AppResult> {
    let app = conflict.app.as_str();
    let paths: Vec<String> = conflict
        .leaves
        .iter()
        .map(|leaf| leaf_path(ctx.project, ctx.graph, app, leaf))
        .collect();
    let path = ctx.args.path.as_path();
    let at_head = present_at(path, "HEAD", &paths);
    let analysis = analyze(ctx, conflict, at_head.as_deref());
    let severity = analysis.severity;

    let requested = match ctx.args.strategy {
        Some(s) => s,
        None => match ctx.project.config.strategy {
            Strategy::Auto => ResolveStrategy::Auto,
            Strategy::Merge => ResolveStrategy::Merge,
            Strategy::Renumber => ResolveStrategy::Renumber,
        },
    };
    let json = ctx.args.format == ResolveFormat::Json;
    let show_overlap = |screen: &mut Screen| {
        if !json {
            screen
                .text
                .push_str(&report::conflict_human(&ConflictReport::new(
                    conflict.leaves.clone(),
                    analysis.clone(),
                )));
        }
    };

    let gated = severity == Severity::Conflict && requested == ResolveStrategy::Auto;
    if gated && !screen.live {
        show_overlap(screen);
        return Ok(AppResult {
            app: app.to_owned(),
            strategy: None,
            reason: "both branches change the same thing; --strategy auto does not decide that"
                .to_owned(),
            plan: None,
            written: false,
            resolved: false,
            summary: format!(
                "{app}: not resolved: both branches change the same thing. Decide how they \
                 combine, then run `migmerge resolve --strategy merge --yes` (or renumber)."
            ),
            unwritten: Vec::new(),
        });
    }

    let (mut choice, mut reason) = decide(
        ctx,
        conflict,
        &paths,
        at_head.as_deref(),
        &analysis,
        requested,
    )?;
    let primary = match candidate(ctx, conflict, &choice) {
        Ok(primary) => primary,
        // `auto` chose to renumber on its own; when renumbering is refused (a squashed
        // migration on the side to move, a name a squash lists), a merge migration still ends
        // the conflict and renames nothing.
        Err(refusal)
            if requested == ResolveStrategy::Auto
                && matches!(choice, Choice::Renumber { .. })
                && refusal.downcast_ref::<plan::RenumberError>().is_some() =>
        {
            let merge = candidate(ctx, conflict, &Choice::Merge)
                .with_context(|| format!("{app}: cannot merge"))?;
            reason = format!(
                "writing a merge migration: renumbering was refused ({:#})",
                refusal
            );
            choice = Choice::Merge;
            merge
        }
        Err(err) => return Err(err.context(format!("{app}: cannot {}", choice.name()))),
    };

    if !screen.live {
        if !json {
            show_overlap(screen);
            screen.text.push_str(&format!("{app}: {reason}\n"));
            screen
                .text
                .push_str(&diff::unified(&primary.updates, ctx.color));
        }
        return finish(ctx, app, primary, reason, !ctx.args.dry_run);
    }

    // Interactive: the branches and overlap, then each possible resolution as a diff, then the
    // question. The alternative is offered when it can be planned; why not, otherwise.
    show_overlap(screen);
    if gated {
        screen.text.push_str(&format!(
            "{app}: both branches change the same thing: check that the result is what you \
             want before choosing.\n"
        ));
    } else {
        screen.text.push_str(&format!("{app}: {reason}\n"));
    }
    let mut candidates = vec![primary];
    let other = match &choice {
        Choice::Merge => renumber_choice(ctx, conflict, &paths, at_head.as_deref(), &analysis)
            .map(|(choice, _)| choice),
        Choice::Renumber { .. } => Ok(Choice::Merge),
    };
    match other.and_then(|c| candidate(ctx, conflict, &c)) {
        Ok(alternative) => candidates.push(alternative),
        Err(err) => screen
            .text
            .push_str(&format!("({app}: no alternative: {err:#})\n")),
    }
    for (i, c) in candidates.iter().enumerate() {
        screen.text.push_str(&format!(
            "\nOption {}, {}: {}\n",
            i + 1,
            c.choice.name(),
            c.todo
        ));
        screen.text.push_str(&diff::unified(&c.updates, ctx.color));
    }
    screen.text.push('\n');
    screen.flush()?;
    let mut items: Vec<String> = candidates
        .iter()
        .map(|c| format!("{}: {}", c.choice.name(), c.todo))
        .collect();
    items.push(format!("skip {app}"));
    let default = if gated { candidates.len() } else { 0 };
    let picked = prompt::select(&format!("Resolve {app} how?"), &items, default)?;
    match picked {
        Some(i) if i < candidates.len() => {
            let picked = candidates.swap_remove(i);
            let reason = if picked.choice == choice {
                reason
            } else {
                format!(
                    "{} chosen instead of {}",
                    picked.choice.name(),
                    choice.name()
                )
            };
            finish(ctx, app, picked, reason, true)
        }
        _ => Ok(AppResult {
            app: app.to_owned(),
            strategy: None,
            reason: "skipped".to_owned(),
            plan: None,
            written: false,
            resolved: false,
            summary: format!("{app}: skipped, still conflicting"),
            unwritten: Vec::new(),
        }),
    }
}

/// Writes a candidate (unless told not to) and says what happened.
fn finish(
    ctx: &Context<'_>,
    app: &str,
    candidate: Candidate,
    reason: String,
    write: bool,
) -> Result<AppResult> {
    let summary = if write {
        edit::write_atomically(ctx.worktree.root(), &candidate.updates)
            .with_context(|| format!("{app}: writing the plan"))?;
        let renames: Vec<(String, String)> = candidate
            .updates
            .iter()
            .filter(|u| u.is_rename())
            .filter_map(|u| Some((u.before.clone()?, u.after.clone())))
            .collect();
        let created: Vec<String> = candidate
            .updates
            .iter()
            .filter(|u| u.before.is_none())
            .map(|u| u.after.clone())
            .collect();
        // The files are written; a failure to update the index only loses git's view of them
        // (a rename, a new file to commit), so it is reported, not an error.
        let staged = source::stage_renames(&ctx.args.path, &renames)
            .and_then(|()| source::stage_added(&ctx.args.path, &created));
        match staged {
            Ok(()) => format!("{app}: {}", candidate.done),
            Err(err) => format!(
                "{app}: {} (but the git index was not updated: {err})",
                candidate.done
            ),
        }
    } else {
        format!("{app}: would {}", candidate.todo)
    };
    Ok(AppResult {
        app: app.to_owned(),
        strategy: Some(candidate.choice.name()),
        reason,
        plan: Some(candidate.plan),
        written: write,
        resolved: true,
        summary,
        unwritten: if write { Vec::new() } else { candidate.updates },
    })
}

/// The work tree with the contents of plans not written (`--dry-run`) laid over it: what the
/// tree would be once they were. Unlike [`Overlay`], it accumulates the plans of several apps,
/// a later plan possibly changing a file an earlier one changed or renamed.
struct Planned<'a> {
    base: &'a WorkTree,
    /// Path -> planned content; `None`: the path is gone (the old name of a renamed file).
    files: BTreeMap<String, Option<Vec<u8>>>,
}

impl<'a> Planned<'a> {
    fn new(base: &'a WorkTree) -> Planned<'a> {
        Planned {
            base,
            files: BTreeMap::new(),
        }
    }

    /// Lays a plan's contents over the tree. Old names go first, so that in a chain of renames
    /// shifting names (a to b, b to c) the content written to b wins over b's removal.
    fn absorb(&mut self, updates: &[FileUpdate]) {
        for update in updates {
            if let Some(before) = update.before.as_ref().filter(|b| **b != update.after) {
                self.files.insert(before.clone(), None);
            }
        }
        for update in updates {
            self.files
                .insert(update.after.clone(), Some(update.new.clone()));
        }
    }
}

impl Source for Planned<'_> {
    fn describe(&self) -> String {
        if self.files.is_empty() {
            self.base.describe()
        } else {
            format!("{} with the changes planned so far", self.base.describe())
        }
    }

    fn list(&self, wanted: PathFilter<'_>) -> Result<Vec<String>, SourceError> {
        let mut paths = self.base.list(wanted)?;
        paths.retain(|p| !self.files.contains_key(p));
        paths.extend(
            self.files
                .iter()
                .filter(|(path, content)| content.is_some() && wanted(path))
                .map(|(path, _)| path.clone()),
        );
        paths.sort_unstable();
        Ok(paths)
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        match self.files.get(path) {
            Some(content) => Ok(content.clone()),
            None => self.base.read(path),
        }
    }

    fn conflicted(&self) -> &[source::ConflictedPath] {
        self.base.conflicted()
    }
}

/// The overlap of the app's branches, leaves at HEAD first as `check` lists them.
fn analyze(ctx: &Context<'_>, conflict: &LeafConflict, at_head: Option<&[bool]>) -> AppOverlap {
    let ours = |i: usize| at_head.and_then(|h| h.get(i)).copied().unwrap_or(false);
    let mut order: Vec<(usize, String)> = conflict.leaves.iter().cloned().enumerate().collect();
    order.sort_by_key(|(i, _)| !ours(*i));
    let order: Vec<String> = order.into_iter().map(|(_, leaf)| leaf).collect();
    let mut analysis = overlap::analyze(ctx.graph, ctx.project, conflict, &order);
    if (0..conflict.leaves.len()).filter(|&i| ours(i)).count() == 1 {
        for branch in &mut analysis.branches {
            let i = conflict.leaves.iter().position(|l| *l == branch.leaf);
            branch.side = Some(if i.is_some_and(ours) {
                "ours"
            } else {
                "theirs"
            });
        }
    }
    analysis
}

/// Picks the strategy and says why in one line.
fn decide(
    ctx: &Context<'_>,
    conflict: &LeafConflict,
    paths: &[String],
    at_head: Option<&[bool]>,
    analysis: &AppOverlap,
    requested: ResolveStrategy,
) -> Result<(Choice, String)> {
    let leaves = &conflict.leaves;
    match requested {
        ResolveStrategy::Merge => Ok((
            Choice::Merge,
            format!(
                "writing a merge migration of {} (as asked)",
                leaves.join(", ")
            ),
        )),
        ResolveStrategy::Renumber => renumber_choice(ctx, conflict, paths, at_head, analysis),
        ResolveStrategy::Auto => {
            if leaves.len() != 2 {
                return Ok((
                    Choice::Merge,
                    format!(
                        "writing a merge migration: {} branches can only be joined by one",
                        leaves.len()
                    ),
                ));
            }
            let refs = if ctx.args.protected.is_empty() {
                ctx.project
                    .config
                    .protected
                    .clone()
                    .unwrap_or_else(|| source::default_protected_refs(&ctx.args.path))
            } else {
                ctx.args.protected.clone()
            };
            let published = published(&ctx.args.path, &refs, paths);
            let where_ = if refs.is_empty() {
                "no protected ref exists".to_owned()
            } else {
                refs.join(", ")
            };
            match (&published[0], &published[1]) {
                (None, Some(on)) | (Some(on), None) => {
                    let (moving, stay) = if published[0].is_none() {
                        (&leaves[0], &leaves[1])
                    } else {
                        (&leaves[1], &leaves[0])
                    };
                    Ok((
                        Choice::Renumber {
                            stay: stay.clone(),
                            moving: moving.clone(),
                        },
                        format!("renumbering {moving}: it is not on {where_}; {stay} is (on {on})"),
                    ))
                }
                (Some(_), Some(_)) => Ok((
                    Choice::Merge,
                    format!(
                        "writing a merge migration: {} and {} are both published ({where_}), so neither may be renamed",
                        leaves[0], leaves[1]
                    ),
                )),
                (None, None) => Ok((
                    Choice::Merge,
                    format!(
                        "writing a merge migration: neither {} nor {} is published ({where_}), so no side is known to be the one to move",
                        leaves[0], leaves[1]
                    ),
                )),
            }
        }
    }
}

/// Which leaf moves when renumbering, and why. The rule, in order:
/// 1. the one leaf absent from HEAD (a merge in progress, or leaves of a branch not committed);
/// 2. when HEAD is a merge commit, the one leaf absent from its first parent (what came in with
///    the merge);
/// 3. otherwise the leaf whose branch has fewer migrations of the app (fewer renames), and on a
///    tie the one later by name.
fn renumber_choice(
    ctx: &Context<'_>,
    conflict: &LeafConflict,
    paths: &[String],
    at_head: Option<&[bool]>,
    analysis: &AppOverlap,
) -> Result<(Choice, String)> {
    let leaves = &conflict.leaves;
    let app = &conflict.app;
    if leaves.len() != 2 {
        bail!(
            "{app} has {} leaves ({}); renumbering moves one branch after another, so it only \
             joins two. Use --strategy merge: one merge migration joins them all",
            leaves.len(),
            leaves.join(", ")
        );
    }
    let only_absent = |present: &[bool]| -> Option<usize> {
        match present {
            [true, false] => Some(1),
            [false, true] => Some(0),
            _ => None,
        }
    };
    let path = ctx.args.path.as_path();
    let pick = |moving: usize, why: String| {
        let (moving, stay) = (&leaves[moving], &leaves[1 - moving]);
        Ok((
            Choice::Renumber {
                stay: stay.clone(),
                moving: moving.clone(),
            },
            format!("renumbering {moving} after {stay}: {why}"),
        ))
    };
    if let Some(i) = at_head.and_then(only_absent) {
        return pick(i, "it is not in HEAD".to_owned());
    }
    let is_merge_commit = GitRevision::open(path, "HEAD^2").is_ok();
    if is_merge_commit
        && let Some(i) = present_at(path, "HEAD^1", paths)
            .as_deref()
            .and_then(only_absent)
    {
        return pick(
            i,
            "it came in with the merge (HEAD's first parent lacks it)".to_owned(),
        );
    }
    let length = |leaf: &str| {
        analysis
            .branches
            .iter()
            .find(|b| b.leaf == leaf)
            .map_or(0, |b| b.migrations.iter().filter(|m| &m.app == app).count())
    };
    let (a, b) = (length(&leaves[0]), length(&leaves[1]));
    if a != b {
        let i = usize::from(b < a);
        return pick(i, "its branch is the shorter one".to_owned());
    }
    // Leaves are sorted by name: the later one is the second.
    pick(
        1,
        "branches of equal length, and it is later by name".to_owned(),
    )
}

/// Plans, previews and verifies a choice.
fn candidate(ctx: &Context<'_>, conflict: &LeafConflict, choice: &Choice) -> Result<Candidate> {
    let app = conflict.app.as_str();
    let read = |p: &str| ctx.source.read(p).ok().flatten();
    let (plan, done, todo) = match choice {
        Choice::Merge => {
            let leaves: Vec<&str> = conflict.leaves.iter().map(String::as_str).collect();
            let sources: Vec<Vec<u8>> = conflict
                .leaves
                .iter()
                .filter_map(|leaf| read(&leaf_path(ctx.project, ctx.graph, app, leaf)))
                .collect();
            let layout = Layout::guess(sources.iter().map(Vec::as_slice));
            let merge = plan::merge_plan(
                ctx.project,
                app,
                &leaves,
                Some(GENERATOR),
                Timestamp::now(),
                layout,
            )?;
            let file = format!("{}.py", merge.migration.name);
            (merge.plan, format!("wrote {file}"), format!("write {file}"))
        }
        Choice::Renumber { stay, moving } => {
            let renumbering = plan::renumber(ctx.project, ctx.graph, app, stay, moving, read)?;
            let moved: Vec<String> = renumbering
                .renames
                .iter()
                .filter(|(old, new)| old != new)
                .map(|(old, new)| format!("{old} -> {new}"))
                .collect();
            let references: usize = renumbering
                .plan
                .changes
                .iter()
                .map(|change| match change {
                    FileChange::Edit { edits, .. } | FileChange::Rename { edits, .. } => {
                        edits.len()
                    }
                    FileChange::MaxMigration { .. } => 1,
                    FileChange::Create { .. } => 0,
                })
                .sum::<usize>()
                - renumbering.replaced;
            let kept = if renumbering.replaced > 0 {
                ", old names kept in `replaces`"
            } else {
                ""
            };
            let what = format!(
                "{} ({references} reference{} updated{kept})",
                moved.join(", "),
                if references == 1 { "" } else { "s" }
            );
            (
                renumbering.plan,
                format!("renumbered {what}"),
                format!("renumber {what}"),
            )
        }
    };
    let updates = edit::preview(&plan, read)?;
    let overlay = Overlay::new(ctx.source, &updates);
    let after = project::load(&overlay).context("reading the planned tree")?;
    plan::verify(ctx.project, &after, app)?;
    Ok(Candidate {
        choice: choice.clone(),
        plan,
        updates,
        done,
        todo,
    })
}

/// The file of a leaf migration, root-relative; empty when it is not a file of the project.
fn leaf_path(project: &Project, graph: &Graph, app: &str, leaf: &str) -> String {
    match graph.node(&Key::new(app, leaf)).map(|n| n.kind) {
        Some(NodeKind::Migration(i)) => project.migrations[i].path.clone(),
        _ => String::new(),
    }
}

/// Which of `paths` exist at `rev`; `None` when `path` is not in a repository or `rev` does
/// not resolve.
fn present_at(path: &Path, rev: &str, paths: &[String]) -> Option<Vec<bool>> {
    let revision = GitRevision::open(path, rev).ok()?;
    Some(
        paths
            .iter()
            .map(|p| !p.is_empty() && matches!(revision.read(p), Ok(Some(_))))
            .collect(),
    )
}

/// For each path, the first protected ref holding it (`None`: unpublished). Refs that do not
/// resolve hold nothing.
fn published(path: &Path, refs: &[String], paths: &[String]) -> Vec<Option<String>> {
    let revisions: Vec<(&String, GitRevision)> = refs
        .iter()
        .filter_map(|r| GitRevision::open(path, r).ok().map(|rev| (r, rev)))
        .collect();
    paths
        .iter()
        .map(|p| {
            revisions
                .iter()
                .find(|(_, rev)| !p.is_empty() && matches!(rev.read(p), Ok(Some(_))))
                .map(|(name, _)| (*name).clone())
        })
        .collect()
}
