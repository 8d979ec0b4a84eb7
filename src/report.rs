//! Every word `check` and `graph` print: human text, JSON for scripts, and GitHub workflow
//! annotations for CI. Renderers return strings; only `main` writes them out.

use std::fmt::Write as _;

use serde::Serialize;

use crate::graph::{Graph, Key};
use crate::overlap::{AppOverlap, Severity};
use crate::problem::Problem;
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
}

/// One app with more than one leaf.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictReport {
    pub app: String,
    /// Sorted.
    pub leaves: Vec<String>,
    /// The worst overlap between the branches.
    pub severity: Severity,
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
            fork: overlap.fork,
            branches: overlap.branches,
            overlap: overlap.items,
        }
    }
}

impl CheckReport {
    /// Whether `check` should fail.
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
        let _ = writeln!(out, "\nProblems:");
        for problem in &report.problems {
            let _ = writeln!(out, "  {}", problem_line(problem));
        }
    }
    out.push('\n');
    let _ = writeln!(out, "{}", next_step(report));
    out
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
    let blocked = report
        .conflicts
        .iter()
        .any(|c| c.severity == Severity::Conflict);
    let dangling = report
        .problems
        .iter()
        .any(|p| p.kind == crate::problem::ProblemKind::Dangling);
    match (report.conflicts.is_empty(), blocked) {
        (true, _) if dangling => "Next: fix the problems above; when a missing migration was renamed on the other side of a merge, `migmerge resolve` follows the rename. `migmerge graph` shows the graph as Django sees it.".to_owned(),
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

    // The branches side by side, one column each.
    let columns: Vec<Vec<String>> = conflict
        .branches
        .iter()
        .map(|branch| {
            let mut lines = vec![match branch.side {
                Some(side) => format!("{side}: {}", branch.leaf),
                None => format!("branch of {}", branch.leaf),
            }];
            for migration in &branch.migrations {
                let name = if migration.app == conflict.app {
                    migration.name.clone()
                } else {
                    format!("{}.{}", migration.app, migration.name)
                };
                lines.push(name);
                for op in &migration.operations {
                    lines.push(format!("  {op}"));
                }
            }
            lines
        })
        .collect();
    let width = columns
        .iter()
        .flatten()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    let height = columns.iter().map(Vec::len).max().unwrap_or(0);
    for row in 0..height {
        let cells: Vec<String> = columns
            .iter()
            .map(|col| {
                let cell = col.get(row).map(String::as_str).unwrap_or("");
                let cell: String = cell.chars().take(width).collect();
                format!("{cell:<width$}")
            })
            .collect();
        let _ = writeln!(out, "  | {}", cells.join(" | ").trim_end());
    }

    let _ = writeln!(out, "  overlap: {}", severity_words(conflict.severity));
    for item in &conflict.overlap {
        let what = match (&item.model, &item.field) {
            (Some(model), Some(field)) => format!("{model}.{field}"),
            (Some(model), None) => model.clone(),
            _ => "code that cannot be read statically".to_owned(),
        };
        let _ = writeln!(out, "    {} {what}", item.severity.as_str());
        if !item.ours.is_empty() {
            let _ = writeln!(out, "      {}: {}", item.leaves[0], item.ours);
        }
        if !item.theirs.is_empty() {
            let _ = writeln!(out, "      {}: {}", item.leaves[1], item.theirs);
        }
    }
}

fn severity_words(severity: Severity) -> &'static str {
    match severity {
        Severity::None => "none (the branches change different models)",
        Severity::Caution => {
            "caution (same models, different fields, or code that cannot be read statically)"
        }
        Severity::Conflict => "CONFLICT (both branches change the same thing: a human must decide)",
    }
}

/// GitHub Actions workflow commands, one annotation per conflict and problem.
pub fn check_github(report: &CheckReport) -> String {
    let mut out = String::new();
    for conflict in &report.conflicts {
        let file = conflict
            .branches
            .iter()
            .flat_map(|b| b.migrations.iter())
            .find(|m| m.app == conflict.app && conflict.leaves.contains(&m.name))
            .map(|m| m.path.clone());
        let mut message = format!(
            "App {} has {} leaf migrations ({}); overlap: {}. Run `migmerge resolve`.",
            conflict.app,
            conflict.leaves.len(),
            conflict.leaves.join(", "),
            conflict.severity.as_str()
        );
        for item in conflict
            .overlap
            .iter()
            .filter(|i| i.severity == Severity::Conflict)
        {
            let _ = write!(message, "\n{} vs {}", item.ours, item.theirs);
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
            props.push(format!("file={}", escape_property(file)));
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
