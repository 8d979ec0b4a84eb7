//! Every word `check` and `graph` print: human text, JSON for scripts, and GitHub workflow
//! annotations for CI. Renderers return strings; only `main` writes them out.

use std::fmt::Write as _;

use serde::Serialize;

use crate::graph::{Graph, Key};
use crate::overlap::{AppOverlap, Consequence, Severity};
use crate::problem::{Note, Problem};
use crate::project::Project;

/// What `check` found in one snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The snapshot, in words ("the work tree at ...").
    pub source: String,
    /// How many migrated apps and migration files were read.
    pub apps: usize,
    pub migrations: usize,
    pub conflicts: Vec<ConflictReport>,
    pub problems: Vec<Problem>,
    /// What reading the project skipped or left unknown: never a failure by itself.
    pub notes: Vec<Note>,
    /// Missing migrations that `migmerge resolve` would follow to their new names (the other
    /// side of a merge renamed them, and git history shows the old file): "app.old -> new".
    /// Empty when nothing would be followed, or the snapshot is not the work tree.
    #[serde(skip)]
    pub followable: Vec<String>,
}

/// One app with more than one leaf.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictReport {
    pub app: String,
    /// Sorted.
    pub leaves: Vec<String>,
    /// The worst overlap between the branches, in the three grades of old.
    pub severity: Severity,
    /// The worst overlap between the branches, by what `migrate` does with it.
    pub consequence: Consequence,
    /// The leaf whose branch `migrate` applies last after a merge migration.
    pub merge_applies_last: Option<String>,
    pub fork: Vec<String>,
    pub branches: Vec<crate::overlap::Branch>,
    pub overlap: Vec<crate::overlap::OverlapItem>,
}

impl ConflictReport {
    pub fn new(leaves: Vec<String>, overlap: AppOverlap) -> Self {
        ConflictReport {
            app: overlap.app,
            leaves,
            severity: overlap.severity,
            consequence: overlap.consequence,
            merge_applies_last: overlap.merge_applies_last,
            fork: overlap.fork,
            branches: overlap.branches,
            overlap: overlap.items,
        }
    }
}

impl CheckReport {
    /// Whether `check` should fail. Notes never make it fail.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty() && self.problems.is_empty()
    }
}

/// The JSON document: stable keys, documented in the README.
pub fn check_json(report: &CheckReport) -> String {
    serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
}

/// The human report.
pub fn check_human(report: &CheckReport) -> String {
    let mut out = String::new();
    if report.is_clean() {
        if report.apps == 0 {
            let _ = writeln!(
                out,
                "No Django migrations package (a `migrations` directory with `__init__.py`) found in {}.",
                report.source
            );
        } else {
            let _ = writeln!(
                out,
                "No migration conflicts in {} ({} migration{} in {} app{}).",
                report.source,
                report.migrations,
                plural(report.migrations),
                report.apps,
                plural(report.apps)
            );
        }
        render_notes(&mut out, &report.notes);
        return out;
    }
    if !report.conflicts.is_empty() {
        let n = report.conflicts.len();
        let _ = writeln!(
            out,
            "{n} app{} with conflicting migrations in {} (Django's `migrate` would stop with \"Conflicting migrations detected\"):",
            if n == 1 { "" } else { "s" },
            report.source
        );
    }
    for conflict in &report.conflicts {
        out.push('\n');
        render_conflict(&mut out, conflict);
    }
    if !report.problems.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "Problems:");
        for problem in &report.problems {
            let _ = writeln!(out, "  {}", problem_line(problem));
        }
    }
    render_notes(&mut out, &report.notes);
    out.push('\n');
    let _ = writeln!(out, "{}", next_step(report));
    out
}

/// How many notes the human report shows before counting the rest.
const NOTES_SHOWN: usize = 3;

/// The notes, briefly: a count, the first few, and where to read them all.
fn render_notes(out: &mut String, notes: &[Note]) {
    if notes.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nNotes ({}; none of them fails the check):",
        notes.len()
    );
    for note in notes.iter().take(NOTES_SHOWN) {
        let place = match (&note.file, note.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: "),
            (Some(file), None) => format!("{file}: "),
            _ => String::new(),
        };
        let _ = writeln!(out, "  {place}{}", note.message);
    }
    if notes.len() > NOTES_SHOWN {
        let _ = writeln!(out, "  ... and {} more", notes.len() - NOTES_SHOWN);
    }
    let _ = writeln!(out, "  run `migmerge apps` to see how the project was read");
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn problem_line(problem: &Problem) -> String {
    let place = match (&problem.file, problem.line) {
        (Some(file), Some(line)) => format!("{file}:{line}: "),
        (Some(file), None) => format!("{file}: "),
        _ => String::new(),
    };
    format!("{place}[{}] {}", problem.kind.as_str(), problem.message)
}

fn next_step(report: &CheckReport) -> String {
    let blocked = report.conflicts.iter().any(|c| c.consequence.needs_human());
    let dangling = report
        .problems
        .iter()
        .any(|p| p.kind == crate::problem::ProblemKind::Dangling);
    match (report.conflicts.is_empty(), blocked) {
        // Only what `resolve` does is promised: a rename it would follow, found the same way.
        (true, _) if dangling && !report.followable.is_empty() => format!(
            "Next: `migmerge resolve` follows the migrations the other side of the merge renamed ({}); fix any other problem above. `migmerge graph` shows the graph as Django sees it.",
            report.followable.join(", ")
        ),
        (true, _) => "Next: fix the problems above; `migmerge graph` shows the graph as Django sees it.".to_owned(),
        (false, false) => "Next: run `migmerge resolve` to add a merge migration or renumber the unpublished branch (`--dry-run` shows the diff first).".to_owned(),
        (false, true) => "Next: both branches change the same thing: review the overlap above and decide how the changes combine, then run `migmerge resolve --strategy merge` (or `renumber`).".to_owned(),
    }
}

/// One conflict as `check` shows it: branches side by side and the overlap.
pub fn conflict_human(conflict: &ConflictReport) -> String {
    let mut out = String::new();
    render_conflict(&mut out, conflict);
    out
}

fn render_conflict(out: &mut String, conflict: &ConflictReport) {
    let _ = writeln!(
        out,
        "{}: {} leaves: {}",
        conflict.app,
        conflict.leaves.len(),
        conflict.leaves.join(", ")
    );
    if !conflict.fork.is_empty() {
        let _ = writeln!(out, "  branched after {}", conflict.fork.join(", "));
    }

    let columns: Vec<Vec<String>> = conflict
        .branches
        .iter()
        .map(|branch| branch_lines(branch, &conflict.app))
        .collect();
    if columns.len() > SIDE_BY_SIDE {
        // Too many to fit side by side: one after another.
        for lines in &columns {
            for (i, line) in lines.iter().enumerate() {
                let indent = if i == 0 { "  " } else { "    " };
                let _ = writeln!(out, "{indent}{line}");
            }
        }
    } else {
        render_side_by_side(out, &columns);
    }

    let _ = writeln!(
        out,
        "  overlap: {}",
        consequence_words(conflict.consequence)
    );
    for item in conflict.overlap.iter().take(OVERLAP_SHOWN) {
        let what = match (&item.model, &item.field, &item.option) {
            (Some(model), _, Some(option)) => format!("{model} Meta {option}"),
            (Some(model), Some(field), None) => format!("{model}.{field}"),
            (Some(model), None, None) => model.clone(),
            _ => "code that cannot be read statically".to_owned(),
        };
        let _ = writeln!(out, "    {} {what}", item.consequence.as_str());
        if item.consequence != Consequence::Caution {
            let _ = writeln!(out, "      {}", item.summary);
        }
        if !item.ours.is_empty() {
            let _ = writeln!(out, "      {}: {}", item.leaves[0], item.ours);
        }
        if !item.theirs.is_empty() {
            let _ = writeln!(out, "      {}: {}", item.leaves[1], item.theirs);
        }
        if let Some(note) = conflict
            .merge_applies_last
            .as_deref()
            .and_then(|last| item.applied_last(last))
        {
            let _ = writeln!(out, "      after a merge migration: {note}");
        }
    }
    if conflict
        .overlap
        .iter()
        .any(|item| item.consequence == Consequence::Order)
    {
        let _ = writeln!(
            out,
            "  order: a renumbering applies the moved branch last; models.py is the truth, and `python manage.py makemigrations --check` says whether the result matches it"
        );
    }
    if conflict.overlap.len() > OVERLAP_SHOWN {
        let _ = writeln!(
            out,
            "    ... and {} more (`--format json` lists them all)",
            conflict.overlap.len() - OVERLAP_SHOWN
        );
    }
}

/// Up to this many branches are shown side by side; more are listed one after another.
const SIDE_BY_SIDE: usize = 3;
/// The widest a side-by-side column gets, in characters.
const COLUMN_WIDTH: usize = 48;
/// Operations shown per migration, migrations shown per branch, overlap items shown per app;
/// the rest are counted.
const OPERATIONS_SHOWN: usize = 6;
const MIGRATIONS_SHOWN: usize = 10;
const OVERLAP_SHOWN: usize = 12;

/// One branch as lines: a heading, then each migration (another app's with its label) and its
/// operations, indented; long lists cut with a count of the rest.
fn branch_lines(branch: &crate::overlap::Branch, app: &str) -> Vec<String> {
    let mut lines = vec![match branch.side {
        Some(side) => format!("{side}: {}", branch.leaf),
        None => format!("branch of {}", branch.leaf),
    }];
    for migration in branch.migrations.iter().take(MIGRATIONS_SHOWN) {
        lines.push(if migration.app == app {
            migration.name.clone()
        } else {
            format!("{}.{}", migration.app, migration.name)
        });
        for op in migration.operations.iter().take(OPERATIONS_SHOWN) {
            lines.push(format!("  {op}"));
        }
        if migration.operations.len() > OPERATIONS_SHOWN {
            let more = migration.operations.len() - OPERATIONS_SHOWN;
            lines.push(format!("  ... and {more} more"));
        }
    }
    if branch.migrations.len() > MIGRATIONS_SHOWN {
        let more = branch.migrations.len() - MIGRATIONS_SHOWN;
        lines.push(format!("... and {more} more migration{}", plural(more)));
    }
    lines
}

/// Columns side by side, each cell cut to the column width at a word boundary.
fn render_side_by_side(out: &mut String, columns: &[Vec<String>]) {
    let width = columns
        .iter()
        .flatten()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .min(COLUMN_WIDTH);
    let height = columns.iter().map(Vec::len).max().unwrap_or(0);
    for row in 0..height {
        let cells: Vec<String> = columns
            .iter()
            .map(|col| {
                let cell = fit(col.get(row).map(String::as_str).unwrap_or(""), width);
                format!("{cell:<width$}")
            })
            .collect();
        let _ = writeln!(out, "  | {}", cells.join(" | ").trim_end());
    }
}

/// `text` in at most `width` characters: whole when it fits, else cut after the last word that
/// fits (a single overlong word is cut where it must be), with "..." to say so. Leading
/// indentation is kept.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    const ELLIPSIS: &str = "...";
    let room = width.saturating_sub(ELLIPSIS.len());
    let head: String = text.chars().take(room).collect();
    let indent = head.len() - head.trim_start().len();
    // The cut falls at a space when the character after the kept ones is a space or the kept
    // ones contain one past the indentation.
    let next_is_space = text.chars().nth(room).is_some_and(char::is_whitespace);
    let kept = if next_is_space {
        head.as_str()
    } else {
        match head[indent..].rfind(char::is_whitespace) {
            Some(at) => &head[..indent + at],
            None => head.as_str(),
        }
    };
    format!("{}{ELLIPSIS}", kept.trim_end())
}

fn consequence_words(consequence: Consequence) -> &'static str {
    match consequence {
        Consequence::None => "none (the branches change different models)",
        Consequence::Identical => {
            "identical (both branches make the same change, which migrate can apply twice: nothing to decide)"
        }
        Consequence::Caution => {
            "caution (same models, different fields, or code that cannot be read statically)"
        }
        Consequence::Order => {
            "order (the same thing altered differently on both sides: migrate succeeds in either order, the definition applied last stays)"
        }
        Consequence::Breaks => {
            "CONFLICT (in some order migrate fails or loses data: a human must decide)"
        }
    }
}

/// GitHub Actions workflow commands, one annotation per conflict and problem.
/// `place` is where the checked directory is in its repository (`backend`, or empty): GitHub
/// reads an annotation's file relative to the top of the repository.
pub fn check_github(report: &CheckReport, place: &str) -> String {
    let mut out = String::new();
    for conflict in &report.conflicts {
        let file = conflict
            .branches
            .iter()
            .flat_map(|b| b.migrations.iter())
            .find(|m| m.app == conflict.app && conflict.leaves.contains(&m.name))
            .map(|m| crate::source::in_repository(place, &m.path));
        let mut message = format!(
            "App {} has {} leaf migrations ({}); overlap: {}. Run `migmerge resolve`.",
            conflict.app,
            conflict.leaves.len(),
            conflict.leaves.join(", "),
            conflict.severity.as_str()
        );
        for item in conflict.overlap.iter().filter(|i| {
            matches!(
                i.consequence,
                Consequence::Breaks | Consequence::Order | Consequence::Identical
            )
        }) {
            let _ = write!(message, "\n{}", item.summary);
            if item.consequence.needs_human() {
                let _ = write!(message, "\n{} vs {}", item.ours, item.theirs);
            }
        }
        let _ = writeln!(
            out,
            "::error {}title=Conflicting migrations in {}::{}",
            file.map(|f| format!("file={},", escape_property(&f)))
                .unwrap_or_default(),
            escape_property(&conflict.app),
            escape_data(&message)
        );
    }
    for problem in &report.problems {
        let mut props = Vec::new();
        if let Some(file) = &problem.file {
            props.push(format!(
                "file={}",
                escape_property(&crate::source::in_repository(place, file))
            ));
        }
        if let Some(line) = problem.line {
            props.push(format!("line={line}"));
        }
        props.push(format!(
            "title={}",
            escape_property(&format!("migmerge: {}", problem.kind.as_str()))
        ));
        let _ = writeln!(
            out,
            "::error {}::{}",
            props.join(","),
            escape_data(&problem.message)
        );
    }
    if report.is_clean() {
        let _ = writeln!(out, "No migration conflicts in {}.", report.source);
    }
    out
}

/// Why `check` could not run, located where it can be: what `--format json` prints instead of
/// a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckError {
    pub message: String,
    /// Root-relative path of the file at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// `{"error": {"message": ..., "file": ..., "line": ...}}`, one line.
pub fn check_error_json(error: &CheckError) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        error: &'a CheckError,
    }
    serde_json::to_string(&Out { error })
        .unwrap_or_else(|e| format!("{{\"error\": {{\"message\": {:?}}}}}", e.to_string()))
}

/// One `::error` annotation, on the file and line when known.
pub fn check_error_github(error: &CheckError, place: &str) -> String {
    let mut props = Vec::new();
    if let Some(file) = &error.file {
        props.push(format!(
            "file={}",
            escape_property(&crate::source::in_repository(place, file))
        ));
    }
    if let Some(line) = error.line {
        props.push(format!("line={line}"));
    }
    props.push(format!(
        "title={}",
        escape_property("migmerge could not run")
    ));
    format!(
        "::error {}::{}\n",
        props.join(","),
        escape_data(&error.message)
    )
}

/// GitHub's escaping for a workflow command's message.
pub(crate) fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub's escaping for a workflow command's property values.
pub(crate) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The graph as JSON: every node with its parents, the leaves, and the problems.
pub fn graph_json(project: &Project, graph: &Graph, app: Option<&str>) -> String {
    #[derive(Serialize)]
    struct NodeOut<'a> {
        app: &'a str,
        name: &'a str,
        path: &'a str,
        parents: Vec<&'a Key>,
    }
    #[derive(Serialize)]
    struct GraphOut<'a> {
        nodes: Vec<NodeOut<'a>>,
        external: Vec<&'a Key>,
        leaves: std::collections::BTreeMap<&'a str, Vec<&'a str>>,
        problems: &'a [Problem],
        notes: &'a [Note],
    }
    let keep = |a: &str| app.is_none_or(|wanted| wanted == a);
    let nodes = graph
        .migrations()
        .into_iter()
        .filter(|(key, _)| keep(&key.app))
        .map(|(key, i)| NodeOut {
            app: &key.app,
            name: &key.name,
            path: &project.migrations[i].path,
            parents: graph.parents(key),
        })
        .collect();
    let out = GraphOut {
        nodes,
        external: graph.externals(),
        leaves: graph
            .leaves()
            .into_iter()
            .filter(|(a, _)| keep(a))
            .collect(),
        problems: &graph.problems,
        notes: &graph.notes,
    };
    serde_json::to_string_pretty(&out).unwrap_or_default()
}

/// The graph as text: per app, each migration with its dependencies.
pub fn graph_text(graph: &Graph, app: Option<&str>) -> String {
    let mut out = String::new();
    let leaves = graph.leaves();
    let mut current = "";
    for (key, _) in graph.migrations() {
        if app.is_some_and(|a| a != key.app) {
            continue;
        }
        if key.app != current {
            current = &key.app;
            let app_leaves = leaves.get(current).cloned().unwrap_or_default();
            let _ = writeln!(out, "{current} (leaves: {})", app_leaves.join(", "));
        }
        let parents: Vec<String> = graph
            .parents(key)
            .iter()
            .map(|p| {
                if p.app == key.app {
                    p.name.clone()
                } else {
                    p.to_string()
                }
            })
            .collect();
        let is_leaf = leaves
            .get(key.app.as_str())
            .is_some_and(|l| l.contains(&key.name.as_str()));
        let _ = writeln!(
            out,
            "  {}{}{}",
            key.name,
            if parents.is_empty() {
                String::new()
            } else {
                format!(" <- {}", parents.join(", "))
            },
            if is_leaf { "  [leaf]" } else { "" }
        );
    }
    out
}

/// The graph in Graphviz's language, one cluster per app, conflicting leaves in red.
pub fn graph_dot(graph: &Graph, app: Option<&str>) -> String {
    let mut out = String::from("digraph migrations {\n  rankdir=BT;\n  node [shape=box];\n");
    let leaves = graph.leaves();
    let mut by_app: std::collections::BTreeMap<&str, Vec<&Key>> = Default::default();
    for (key, _) in graph.migrations() {
        if app.is_none_or(|a| a == key.app) {
            by_app.entry(&key.app).or_default().push(key);
        }
    }
    for (label, keys) in &by_app {
        let conflicted = leaves.get(label).is_some_and(|l| l.len() > 1);
        let _ = writeln!(
            out,
            "  subgraph \"cluster_{label}\" {{\n    label=\"{label}\";"
        );
        for key in keys {
            let is_leaf = leaves
                .get(label)
                .is_some_and(|l| l.contains(&key.name.as_str()));
            let color = if conflicted && is_leaf {
                ", color=red"
            } else {
                ""
            };
            let _ = writeln!(out, "    \"{key}\" [label=\"{}\"{color}];", key.name);
        }
        out.push_str("  }\n");
    }
    for keys in by_app.values() {
        for key in keys {
            for parent in graph.parents(key) {
                let _ = writeln!(out, "  \"{key}\" -> \"{parent}\";");
            }
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlap::{Branch, BranchMigration, OverlapItem};
    use crate::problem::ProblemKind;

    fn migration(name: &str, operations: &[&str]) -> BranchMigration {
        BranchMigration {
            app: "users".into(),
            name: name.into(),
            path: format!("users/migrations/{name}.py"),
            operations: operations.iter().map(|&op| op.to_owned()).collect(),
        }
    }

    fn conflict(branches: Vec<Branch>, overlap: Vec<OverlapItem>) -> ConflictReport {
        let mut leaves: Vec<String> = branches.iter().map(|b| b.leaf.clone()).collect();
        leaves.sort();
        ConflictReport {
            app: "users".into(),
            leaves,
            severity: Severity::Caution,
            consequence: Consequence::Caution,
            merge_applies_last: None,
            fork: vec!["0004_profile".into()],
            branches,
            overlap,
        }
    }

    fn branch(leaf: &str, operations: &[&str]) -> Branch {
        Branch {
            leaf: leaf.into(),
            side: None,
            migrations: vec![migration(leaf, operations)],
        }
    }

    #[test]
    fn more_than_three_branches_are_listed_one_after_another() {
        let branches = ["0005_a", "0005_b", "0005_c", "0005_d"]
            .iter()
            .map(|leaf| branch(leaf, &[&format!("Add field {} to user", &leaf[5..])]))
            .collect();
        assert_eq!(
            conflict_human(&conflict(branches, Vec::new())),
            "users: 4 leaves: 0005_a, 0005_b, 0005_c, 0005_d
  branched after 0004_profile
  branch of 0005_a
    0005_a
      Add field a to user
  branch of 0005_b
    0005_b
      Add field b to user
  branch of 0005_c
    0005_c
      Add field c to user
  branch of 0005_d
    0005_d
      Add field d to user
  overlap: caution (same models, different fields, or code that cannot be read statically)
"
        );
    }

    #[test]
    fn long_lists_are_cut_with_a_count() {
        let many_ops: Vec<String> = (1..=9).map(|i| format!("Add field f{i} to user")).collect();
        let many_ops: Vec<&str> = many_ops.iter().map(String::as_str).collect();
        let long = Branch {
            leaf: "0016_last".into(),
            side: Some("theirs"),
            migrations: (5..=16)
                .map(|n| migration(&format!("{n:04}_m"), if n == 5 { &many_ops } else { &[] }))
                .collect(),
        };
        let short = Branch {
            side: Some("ours"),
            ..branch(
                "0005_short",
                &["Alter field email on user: max_length 254 to 320, and a long tail"],
            )
        };
        let item = |n: usize| OverlapItem {
            model: Some("user".into()),
            field: Some(format!("f{n}")),
            option: None,
            severity: Severity::Caution,
            consequence: Consequence::Caution,
            ours: String::new(),
            theirs: format!("Add field f{n} to user (0005_m)"),
            leaves: ["0005_short".into(), "0016_last".into()],
            summary: format!("Add field f{n} to user"),
            differences: Vec::new(),
            definitions: None,
        };
        let report = conflict(vec![short, long], (1..=14).map(item).collect());
        let text = conflict_human(&report);
        let expected_table =
            "  | ours: 0005_short                                 | theirs: 0016_last
  | 0005_short                                       | 0005_m
  |   Alter field email on user: max_length 254...   |   Add field f1 to user
  |                                                  |   Add field f2 to user
  |                                                  |   Add field f3 to user
  |                                                  |   Add field f4 to user
  |                                                  |   Add field f5 to user
  |                                                  |   Add field f6 to user
  |                                                  |   ... and 3 more
  |                                                  | 0006_m
  |                                                  | 0007_m
  |                                                  | 0008_m
  |                                                  | 0009_m
  |                                                  | 0010_m
  |                                                  | 0011_m
  |                                                  | 0012_m
  |                                                  | 0013_m
  |                                                  | 0014_m
  |                                                  | ... and 2 more migrations
";
        assert!(text.contains(expected_table), "{text}");
        assert!(text.contains("      0016_last: Add field f12 to user (0005_m)\n    ... and 2 more (`--format json` lists them all)\n"), "{text}");
        assert!(!text.contains("f13"), "{text}");
    }

    #[test]
    fn cells_are_cut_at_word_boundaries() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("Alter field email on user", 16), "Alter field...");
        // The kept words end exactly where a space follows.
        assert_eq!(fit("Alter field email", 14), "Alter field...");
        // One overlong word is cut where it must be; indentation is no word break.
        assert_eq!(fit("  Supercalifragilistic", 10), "  Super...");
        assert_eq!(fit("  Add field café_größe to user", 22), "  Add field...");
        assert!(fit("x".repeat(100).as_str(), 48).chars().count() <= 48);
    }

    #[test]
    fn problems_alone_start_the_report() {
        let report = CheckReport {
            source: "the work tree at .".into(),
            apps: 1,
            migrations: 2,
            conflicts: Vec::new(),
            problems: vec![
                Problem::new(
                    ProblemKind::Dangling,
                    "users.0002 refers to users.0001_gone",
                )
                .at("users/migrations/0002_x.py", Some(7)),
            ],
            notes: Vec::new(),
            followable: Vec::new(),
        };
        let text = check_human(&report);
        assert!(
            text.starts_with("Problems:\n  users/migrations/0002_x.py:7: [dangling]"),
            "{text}"
        );
    }

    #[test]
    fn notes_are_counted_and_the_first_few_shown() {
        let notes: Vec<Note> = (1..=5)
            .map(|i| {
                Note::new(crate::problem::NoteKind::Unknown, format!("note {i}"))
                    .at("a/migrations/0001_x.py", Some(i))
            })
            .collect();
        let report = CheckReport {
            source: "the work tree at .".into(),
            apps: 1,
            migrations: 1,
            conflicts: Vec::new(),
            problems: Vec::new(),
            notes,
            followable: Vec::new(),
        };
        let text = check_human(&report);
        assert!(text.starts_with("No migration conflicts"), "{text}");
        assert!(
            text.ends_with("\nNotes (5; none of them fails the check):\n  a/migrations/0001_x.py:1: note 1\n  a/migrations/0001_x.py:2: note 2\n  a/migrations/0001_x.py:3: note 3\n  ... and 2 more\n  run `migmerge apps` to see how the project was read\n"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&check_json(&report)).unwrap();
        assert_eq!(
            json["notes"][0],
            serde_json::json!({"kind": "unknown", "app": null, "file": "a/migrations/0001_x.py", "line": 1, "message": "note 1"})
        );
    }
}
