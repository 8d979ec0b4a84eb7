//! One resolution of a work tree, app after app: each app is examined on the tree the apps
//! before it left (in memory), its decision planned and verified, and accepted or not; only
//! at the end is everything accepted written, in one transaction. Apps are independent: one
//! left to a person never stops the others, and within one app it is all or nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use anyhow::{Context as _, Result, bail};

use crate::config::Strategy;
use crate::edit::{self, FileUpdate, Plan};
use crate::graph::{Graph, LeafConflict};
use crate::migration::Detail;
use crate::overlap::{self, AppOverlap};
use crate::plan::{self, Overlay};
use crate::project::{self, Project};
use crate::source::{self, GitRevision, PathFilter, Source, SourceError, WorkTree};

use super::decide::{self, Action, Decision, Facts, Origin, WhenUnmovable};
use super::facts::{self, History, Operation, migration_path};
use super::propose::{Candidate, propose};

/// What the caller asks of every app.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--strategy`; `None`: the configuration's.
    pub strategy: Option<Strategy>,
    /// Decide even what the overlap leaves to a person (`--strategy X --yes`).
    pub forced: bool,
    /// Only these apps (empty: all).
    pub apps: Vec<String>,
    pub when_unmovable: WhenUnmovable,
}

impl Options {
    fn in_scope(&self, app: &str) -> bool {
        self.apps.is_empty() || self.apps.iter().any(|a| a == app)
    }
}

/// One conflicting app, read from the tree as the earlier apps' plans leave it, with the
/// decision its facts give.
pub struct Examined {
    pub project: Rc<Project>,
    pub graph: Rc<Graph>,
    pub conflict: LeafConflict,
    pub analysis: AppOverlap,
    pub facts: Facts,
    pub decision: Decision,
    /// How many plans the session had accepted when the app was examined.
    examined_at: usize,
}

/// References to migrations the other side renamed, followed: planned and verified.
pub struct Followed {
    /// The apps whose renamed migrations are followed, `, `-joined.
    pub apps: String,
    /// "users.0003_a -> 0004_a (2 references); ...".
    pub what: String,
    pub plan: Plan,
    pub updates: Vec<FileUpdate>,
}

/// A resolution in progress.
pub struct Session<'a> {
    worktree: &'a WorkTree,
    /// Opened when the first app is examined: most runs (hooks on merges with nothing to
    /// resolve) never need git's refs.
    history: std::cell::OnceCell<History>,
    /// HEAD, read when the first app is examined, to tell "ours" from "theirs".
    head: std::cell::OnceCell<Option<GitRevision>>,
    operation: Operation,
    options: Options,
    planned: Planned<'a>,
    /// Every accepted update, composed: what [`Session::write_journaled`] writes.
    accepted: Vec<FileUpdate>,
    /// How many plans were accepted: which tree a candidate was proposed on.
    accepted_plans: usize,
    /// The tree as planned so far, loaded (kept up to date as plans are accepted).
    loaded: Option<(Rc<Project>, Rc<Graph>)>,
}

impl<'a> Session<'a> {
    pub fn new(worktree: &'a WorkTree, operation: Operation, options: Options) -> Session<'a> {
        Session {
            worktree,
            history: std::cell::OnceCell::new(),
            head: std::cell::OnceCell::new(),
            operation,
            options,
            planned: Planned::new(worktree),
            accepted: Vec::new(),
            accepted_plans: 0,
            loaded: None,
        }
    }

    /// The repository before the operation, read with the loaded configuration's protected
    /// refs.
    fn history(&self, project: &Project) -> &History {
        self.history.get_or_init(|| {
            History::open(
                self.worktree.root(),
                project.config.protected.as_deref(),
                self.operation.clone(),
            )
        })
    }

    /// What plans read: the work tree with the accepted plans over it.
    pub fn source(&self) -> &dyn Source {
        &self.planned
    }

    /// Loads the tree as planned so far, unless it is loaded already.
    fn load(&mut self) -> Result<()> {
        if self.loaded.is_none() {
            // Operations are read app by app, when an app is examined.
            let project = project::load_with(&self.planned, Detail::Graph)?;
            let graph = Graph::build(&project);
            self.loaded = Some((Rc::new(project), Rc::new(graph)));
        }
        Ok(())
    }

    /// The tree as planned so far, loaded.
    pub fn loaded(&mut self) -> Result<(&Project, &Graph)> {
        self.load()?;
        let (project, graph) = self.loaded.as_ref().expect("loaded just above");
        Ok((project.as_ref(), graph.as_ref()))
    }

    /// Follows references to migrations that the other side of a merge renamed: a dependency
    /// on a missing migration of an app is rewritten to the one migration of that app with the
    /// same name after the number, when git history held the old file.
    pub fn follow_renames(&mut self) -> Result<Option<Followed>> {
        let root = self.worktree.root().to_path_buf();
        let options = self.options.clone();
        self.load()?;
        let (project, graph) = self.loaded.as_ref().expect("loaded just above");
        let history = std::cell::OnceCell::new();
        let following = plan::follow_renames(
            project,
            graph,
            |app| options.in_scope(app),
            |p| self.planned.read(p).ok().flatten(),
            |p| {
                history
                    .get_or_init(|| MergedHistory::open(&root))
                    .contains(p)
            },
        );
        if following.renames.is_empty() {
            return Ok(None);
        }
        let mut apps: Vec<&str> = following.renames.iter().map(|r| r.app.as_str()).collect();
        apps.dedup();
        let label = apps.join(", ");
        let read = |p: &str| self.planned.read(p).ok().flatten();
        let updates = edit::preview(&following.plan, read)
            .with_context(|| format!("{label}: cannot follow the renames"))?;
        let after = updated(project, &Overlay::new(&self.planned, &updates), &updates)
            .with_context(|| format!("{label}: the followed references do not load"))?;
        if !plan::settles(graph, &Graph::build(&after)) {
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
        Ok(Some(Followed {
            apps: label,
            what: what.join("; "),
            plan: following.plan,
            updates,
        }))
    }

    /// The conflicting apps in scope, on the tree as planned so far.
    pub fn conflicting_apps(&mut self) -> Result<Vec<String>> {
        let options = self.options.clone();
        let (_, graph) = self.loaded()?;
        Ok(graph
            .conflicts()
            .into_iter()
            .map(|c| c.app)
            .filter(|app| options.in_scope(app))
            .collect())
    }

    /// Reads `app` on the tree as planned so far and decides; `None` when it no longer
    /// conflicts (an earlier app's plan resolved it too).
    pub fn examine(&mut self, app: &str) -> Result<Option<Examined>> {
        self.load()?;
        let (mut project, graph) = self.loaded.take().expect("loaded just above");
        let Some(conflict) = graph.conflicts().into_iter().find(|c| c.app == app) else {
            self.loaded = Some((project, graph));
            return Ok(None);
        };
        // The overlap analysis reads the operations on the app's branches.
        let branch_files = overlap::branch_files(&graph, &conflict);
        let read =
            Rc::make_mut(&mut project).read_operations(&self.planned, &branch_files, Detail::Full);
        self.loaded = Some((project.clone(), graph.clone()));
        read?;
        let head = self
            .head
            .get_or_init(|| GitRevision::open(self.worktree.root(), "HEAD").ok());
        let analysis = analyze(head.as_ref(), &project, &graph, &conflict);
        let history = self.history(&project);
        let sides = facts::sides(&project, &graph, &conflict, history, &self.planned);
        let protected = history.protected_names().to_vec();
        let (strategy, origin) = match self.options.strategy {
            Some(strategy) => (strategy, Origin::Asked),
            None if project.config.strategy != Strategy::Auto => {
                (project.config.strategy, Origin::Configured)
            }
            None => (Strategy::Auto, Origin::Default),
        };
        let facts = Facts {
            app: app.to_owned(),
            sides,
            strategy,
            origin,
            needs_human: needs_human(&analysis),
            forced: self.options.forced,
            when_unmovable: self.options.when_unmovable,
            protected,
        };
        let mut decision = decide::decide(&facts);
        let notes = order_notes(&analysis, &decision.action);
        if !notes.is_empty() {
            decision.reason = format!("{}; {}", decision.reason, notes.join("; "));
        }
        Ok(Some(Examined {
            project,
            graph,
            conflict,
            analysis,
            facts,
            decision,
            examined_at: self.accepted_plans,
        }))
    }

    /// Plans and verifies `action` for an examined app.
    pub fn propose(&self, examined: &Examined, action: &Action) -> Result<Candidate> {
        let mut candidate = propose(
            &self.planned,
            &examined.project,
            &examined.graph,
            &examined.conflict,
            action,
        )?;
        candidate.proposed_at = examined.examined_at;
        Ok(candidate)
    }

    /// The alternative to the decision that a person may pick instead: a renumbering when the
    /// decision is a merge migration (only where the publication rule allows one), a merge
    /// migration otherwise. `Err` says why there is none.
    pub fn alternative(&self, examined: &Examined) -> Result<Candidate> {
        let action = match &examined.decision.action {
            Action::Renumber { .. } => Action::Merge,
            Action::Merge | Action::Human | Action::Refuse => {
                let facts = Facts {
                    strategy: Strategy::Renumber,
                    origin: Origin::Asked,
                    forced: true,
                    when_unmovable: WhenUnmovable::Refuse,
                    ..examined.facts.clone()
                };
                let renumber = decide::decide(&facts);
                match renumber.action {
                    Action::Renumber { .. } => renumber.action,
                    _ if examined.decision.action != Action::Merge => Action::Merge,
                    _ => bail!("{}", renumber.reason),
                }
            }
        };
        self.propose(examined, &action)
    }

    /// Lays a candidate over the tree, for the apps after it and for [`Session::write_journaled`]; the
    /// tree it was verified on becomes the loaded one when it was proposed on the tree as it
    /// stands.
    pub fn accept_candidate(&mut self, candidate: &Candidate) {
        if candidate.proposed_at != self.accepted_plans {
            return self.accept(&candidate.updates);
        }
        self.absorb(&candidate.updates);
        self.loaded = Some(candidate.after.clone());
    }

    fn absorb(&mut self, updates: &[FileUpdate]) {
        self.planned.absorb(updates);
        compose(&mut self.accepted, updates);
        self.accepted_plans += 1;
    }

    /// Lays verified updates over the tree, for the apps after it and for [`Session::write_journaled`].
    pub fn accept(&mut self, updates: &[FileUpdate]) {
        self.absorb(updates);
        // The project is brought up to date file by file where it can be; otherwise (or if
        // that fails) the next step loads the planned tree again.
        self.loaded = self.loaded.take().and_then(|(project, _)| {
            let project = project.with_updates(updates)?.ok()?;
            let graph = Graph::build(&project);
            Some((Rc::new(project), Rc::new(graph)))
        });
    }

    /// Every file the accepted plans write, as one set of updates.
    pub fn accepted(&self) -> &[FileUpdate] {
        &self.accepted
    }

    /// Writes every accepted plan at once: all of it, or (on any failure) none of it. The
    /// write's journal stays open for the caller to finish once what goes with the write (the
    /// index, a commit) is done too, or to roll back if that fails.
    pub fn write_journaled(&self) -> std::io::Result<edit::Journal> {
        edit::write_journaled(self.worktree.root(), &self.accepted)
    }
}

/// The renames [`Session::follow_renames`] would follow in the tree at `root` (loaded as
/// `project` and `graph` from `source`), as "app.old -> new": what `check` may promise.
pub fn followable_renames(
    root: &Path,
    project: &Project,
    graph: &Graph,
    source: &dyn Source,
) -> Vec<String> {
    let history = std::cell::OnceCell::new();
    plan::follow_renames(
        project,
        graph,
        |_| true,
        |p| source.read(p).ok().flatten(),
        |p| {
            history
                .get_or_init(|| MergedHistory::open(root))
                .contains(p)
        },
    )
    .renames
    .iter()
    .map(|r| format!("{}.{} -> {}", r.app, r.old, r.new))
    .collect()
}

/// Loads a snapshot for resolving: every migration parsed for the graph, and in full only those
/// on the branches of conflicting apps, whose operations the overlap analysis reads.
pub fn load(source: &dyn Source) -> Result<(Project, Graph), project::LoadError> {
    let mut project = project::load_with(source, Detail::Graph)?;
    let graph = Graph::build(&project);
    let branch_files: Vec<usize> = graph
        .conflicts()
        .iter()
        .flat_map(|conflict| overlap::branch_files(&graph, conflict))
        .collect();
    project.read_operations(source, &branch_files, Detail::Full)?;
    Ok((project, graph))
}

/// `project` (loaded from the tree under `overlay`) as it is with `updates` written: brought up
/// to date file by file where the updates allow, else `overlay` loaded again.
pub fn updated(
    project: &Project,
    overlay: &dyn Source,
    updates: &[FileUpdate],
) -> Result<Project, project::LoadError> {
    match project.with_updates(updates) {
        Some(updated) => updated,
        None => project::load_with(overlay, Detail::Graph),
    }
}

/// What the overlap leaves to a person (an order of the branches in which `migrate` fails),
/// in one line; `None` when nothing.
pub fn needs_human(analysis: &AppOverlap) -> Option<String> {
    if !analysis.needs_human() {
        return None;
    }
    let what: Vec<String> = analysis
        .items
        .iter()
        .filter(|i| i.consequence.needs_human())
        .map(|i| format!("{} vs {}", i.ours, i.theirs))
        .collect();
    Some(what.join("; "))
}

/// What the definitions both branches altered end as under `action`, and how to check it: the
/// branch applied last wins (for a renumbering, the moved one; for a merge migration, the one
/// Django's plan applies last).
fn order_notes(analysis: &AppOverlap, action: &Action) -> Vec<String> {
    let last = match action {
        Action::Renumber { moving, .. } => Some(moving.clone()),
        Action::Merge => analysis.merge_applies_last.clone(),
        Action::Human | Action::Refuse => None,
    };
    last.map(|leaf| analysis.order_notes(&leaf))
        .unwrap_or_default()
}

/// The overlap of the app's branches, the leaves at HEAD listed first as `check` lists them,
/// and named "ours"/"theirs" when exactly one leaf is at HEAD.
fn analyze(
    head: Option<&GitRevision>,
    project: &Project,
    graph: &Graph,
    conflict: &LeafConflict,
) -> AppOverlap {
    let paths: Vec<String> = conflict
        .leaves
        .iter()
        .map(|leaf| migration_path(project, graph, &conflict.app, leaf))
        .collect();
    let at_head: Option<Vec<bool>> = head.map(|head| {
        paths
            .iter()
            .map(|p| !p.is_empty() && matches!(head.read(p), Ok(Some(_))))
            .collect()
    });
    let ours = |i: usize| at_head.as_ref().and_then(|h| h.get(i)).copied() == Some(true);
    let mut order: Vec<(usize, String)> = conflict.leaves.iter().cloned().enumerate().collect();
    order.sort_by_key(|(i, _)| !ours(*i));
    let order: Vec<String> = order.into_iter().map(|(_, leaf)| leaf).collect();
    let mut analysis = overlap::analyze(graph, project, conflict, &order);
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

/// Adds `next` to the updates accepted so far: a file an earlier plan already changed or
/// renamed keeps where it was read from and takes the new content and path.
fn compose(accepted: &mut Vec<FileUpdate>, next: &[FileUpdate]) {
    for update in next {
        let read_from = update.before.as_deref().unwrap_or(&update.after);
        match accepted.iter_mut().find(|a| a.after == read_from) {
            Some(earlier) => {
                earlier.after = update.after.clone();
                earlier.new = update.new.clone();
            }
            None => accepted.push(update.clone()),
        }
    }
    accepted.retain(|u| !(u.before.as_deref() == Some(&u.after) && u.old.as_ref() == Some(&u.new)));
}

/// The commits the current merge, rebase or recent history touches: where a file that existed
/// tells a migration renamed on the other side from a typo in a dependency.
struct MergedHistory(Vec<GitRevision>);

impl MergedHistory {
    fn open(root: &Path) -> MergedHistory {
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

    fn contains(&self, path: &str) -> bool {
        self.0
            .iter()
            .any(|revision| matches!(revision.read(path), Ok(Some(_))))
    }
}

/// The work tree with the contents of accepted plans laid over it: what the tree will be once
/// they are written. Unlike [`Overlay`], it accumulates the plans of several apps, a later
/// plan possibly changing a file an earlier one changed or renamed.
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

    fn blob_id(&self, path: &str) -> Option<git2::Oid> {
        // A planned file's bytes are in no blob yet.
        match self.files.get(path) {
            Some(_) => None,
            None => self.base.blob_id(path),
        }
    }

    fn stamp(&self, path: &str) -> Option<source::Stamp> {
        // Nor on disk.
        match self.files.get(path) {
            Some(_) => None,
            None => self.base.stamp(path),
        }
    }

    fn parse_cache_dir(&self) -> Option<std::path::PathBuf> {
        self.base.parse_cache_dir()
    }

    fn conflicted(&self) -> &[source::ConflictedPath] {
        self.base.conflicted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An update read from `before` (holding `old`; nothing for a new file).
    fn update(before: Option<&str>, after: &str, old: &str, new: &str) -> FileUpdate {
        crate::edit::testing::update(before, after, before.map(|_| old), new)
    }

    #[test]
    fn composing_keeps_the_first_read_and_the_last_content() {
        let mut accepted = Vec::new();
        compose(
            &mut accepted,
            &[update(Some("a/0003_x.py"), "a/0004_x.py", "one", "two")],
        );
        compose(
            &mut accepted,
            &[
                update(Some("a/0004_x.py"), "a/0004_x.py", "two", "three"),
                update(Some("b/0002_y.py"), "b/0002_y.py", "y", "y2"),
            ],
        );
        assert_eq!(
            accepted,
            vec![
                update(Some("a/0003_x.py"), "a/0004_x.py", "one", "three"),
                update(Some("b/0002_y.py"), "b/0002_y.py", "y", "y2"),
            ]
        );
    }

    #[test]
    fn composing_drops_what_a_later_plan_undid() {
        let mut accepted = Vec::new();
        compose(&mut accepted, &[update(Some("a.py"), "a.py", "x", "y")]);
        compose(&mut accepted, &[update(Some("a.py"), "a.py", "y", "x")]);
        assert!(accepted.is_empty(), "{accepted:?}");
    }
}
