//! A decided action turned into a verified plan: planned in memory, previewed, and loaded
//! again to check the app ends with one leaf and loses nothing. Nothing is written here.

use std::rc::Rc;

use anyhow::{Context as _, Result};

use crate::edit::{self, FileChange, FileUpdate, Plan};
use crate::graph::{Graph, LeafConflict};
use crate::plan::{self, Layout, Overlay, Timestamp};
use crate::project::Project;
use crate::source::Source;

use super::decide::Action;
use super::facts::migration_path;

/// What writes the merge migration, in its header comment.
const GENERATOR: &str = concat!("migmerge ", env!("CARGO_PKG_VERSION"));

/// An action, planned and verified.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub action: Action,
    pub plan: Plan,
    pub updates: Vec<FileUpdate>,
    /// What was done, after the app label: "wrote 0006_merge_a_b.py".
    pub done: String,
    /// What would be done: "write 0006_merge_a_b.py".
    pub todo: String,
    /// The tree with the plan written, as verified: what the apps after this one start from
    /// once it is accepted.
    pub(super) after: (Rc<Project>, Rc<Graph>),
    /// How many plans the session had accepted when this one was proposed: the tree it was
    /// verified on.
    pub(super) proposed_at: usize,
}

/// Plans `action` for `conflict` on `source` (whose loaded form is `project` and `graph`),
/// previews it and verifies the previewed tree. `Human` and `Refuse` plan nothing: callers
/// never ask for them.
pub fn propose(
    source: &dyn Source,
    project: &Project,
    graph: &Graph,
    conflict: &LeafConflict,
    action: &Action,
) -> Result<Candidate> {
    let app = conflict.app.as_str();
    let read = |p: &str| source.read(p).ok().flatten();
    let (plan, done, todo) = match action {
        Action::Merge => {
            let leaves: Vec<&str> = conflict.leaves.iter().map(String::as_str).collect();
            let sources: Vec<Vec<u8>> = conflict
                .leaves
                .iter()
                .filter_map(|leaf| read(&migration_path(project, graph, app, leaf)))
                .collect();
            let layout = Layout::guess(sources.iter().map(Vec::as_slice));
            let merge = plan::merge_plan(
                project,
                app,
                &leaves,
                Some(GENERATOR),
                Timestamp::now(),
                layout,
            )?;
            let file = format!("{}.py", merge.migration.name);
            (merge.plan, format!("wrote {file}"), format!("write {file}"))
        }
        Action::Renumber { stay, moving } => {
            let renumbering = plan::renumber(project, graph, app, stay, moving, read)?;
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
        Action::Human | Action::Refuse => {
            anyhow::bail!("{app}: nothing to plan for a decision left to a person")
        }
    };
    let updates = edit::preview(&plan, read)?;
    let overlay = Overlay::new(source, &updates);
    let after =
        super::session::updated(project, &overlay, &updates).context("reading the planned tree")?;
    let graph_after = plan::verify(graph, &after, app)?;
    Ok(Candidate {
        action: action.clone(),
        plan,
        updates,
        done,
        todo,
        after: (Rc::new(after), Rc::new(graph_after)),
        proposed_at: 0,
    })
}
