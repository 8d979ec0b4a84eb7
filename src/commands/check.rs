//! `migmerge check`: conflicts, overlap and problems in one snapshot.

use std::cell::OnceCell;

use anyhow::Result;

use crate::cli::{CheckArgs, CheckFormat, SourceArgs};
use crate::commands::{ExitStatus, Outcome};
use crate::config::ConfigError;
use crate::graph::{Graph, Key, NodeKind};
use crate::overlap;
use crate::project::{LoadError, Project};
use crate::report::{self, CheckError, CheckReport, ConflictReport};
use crate::resolution;
use crate::source::{self, GitMerge, GitRevision, IndexSnapshot, Source, WorkTree};

pub fn run(args: &CheckArgs) -> Result<Outcome> {
    // A half-written resolution is put back first: what is checked is a tree as the user left
    // it, not one a killed run left between two renames.
    if args.source.path.is_dir() {
        super::settle_interrupted_write(&args.source.path)?;
    }
    let source = open_source(&args.source)?;
    let (project, graph) = resolution::load(source.as_ref())?;
    // A gate that passes on nothing would hide a wrong path or a missing `__init__.py` in CI.
    if project.apps.is_empty() {
        anyhow::bail!(
            "no Django migrations package (a `migrations` directory with `__init__.py`) in {}; is this the project's root?",
            source.describe()
        );
    }
    // Our side is looked up only for a conflict: a clean check never opens the repository,
    // and the revision is opened once however many apps conflict.
    let ours: OnceCell<Option<GitRevision>> = OnceCell::new();
    let mut report = analyze(&project, &graph, source.describe(), |paths| {
        let revision = ours.get_or_init(|| {
            ours_revision(&args.source)
                .and_then(|rev| GitRevision::open(&args.source.path, &rev).ok())
        });
        present_at(revision.as_ref(), paths)
    });
    if is_work_tree(&args.source)
        && report
            .problems
            .iter()
            .any(|p| p.kind == crate::problem::ProblemKind::Dangling)
    {
        report.followable =
            resolution::followable_renames(&args.source.path, &project, &graph, source.as_ref());
    }
    let report = if args.source.staged {
        staged_sides(report)
    } else {
        report
    };
    // The project and graph of a large tree are hundreds of thousands of small allocations;
    // freeing them one by one costs a few percent of a check, just before the process exits
    // and the system takes the memory back at once. `check` runs once per process (the
    // binary, `demo`), so nothing accumulates.
    std::mem::forget((project, graph));
    let stdout = match args.format {
        CheckFormat::Human => report::check_human(&report),
        CheckFormat::Json => report::check_json(&report) + "\n",
        CheckFormat::Github => {
            report::check_github(&report, &source::place_in_repository(&args.source.path))
        }
    };
    let status = if report.is_clean() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    Ok(Outcome { stdout, status })
}

/// What `check` prints on stdout when it could not run, for the formats scripts read: one JSON
/// object, or one annotation. `None` for human output, which only goes to stderr.
pub fn error_output(args: &CheckArgs, error: &anyhow::Error) -> Option<String> {
    let place = match args.format {
        CheckFormat::Github => source::place_in_repository(&args.source.path),
        _ => String::new(),
    };
    render_error(args.format, &locate(error), &place)
}

/// [`error_output`] for a command line clap refused (`args` as the process got them, program
/// name first): when it is a `check` that asks for JSON or annotations, the refusal in that
/// form.
pub fn argument_error_output(args: &[String], message: &str) -> Option<String> {
    // No option of migmerge's own comes before the subcommand.
    if args.iter().skip(1).find(|arg| !arg.starts_with('-'))? != "check" {
        return None;
    }
    let mut format = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let value = match arg.strip_prefix("--format=") {
            Some(value) => Some(value),
            None if arg == "--format" => rest.next().map(String::as_str),
            None => None,
        };
        if let Some(value) = value {
            format = <CheckFormat as clap::ValueEnum>::from_str(value, false).ok();
        }
    }
    let error = CheckError {
        message: message.trim_end().to_owned(),
        file: None,
        line: None,
    };
    // No file is named: the argument error is about the command line.
    render_error(format?, &error, "")
}

fn render_error(format: CheckFormat, error: &CheckError, place: &str) -> Option<String> {
    match format {
        CheckFormat::Human => None,
        CheckFormat::Json => Some(report::check_error_json(error) + "\n"),
        CheckFormat::Github => Some(report::check_error_github(error, place)),
    }
}

/// The error's message, with the file and line it names when one of its causes knows them.
fn locate(error: &anyhow::Error) -> CheckError {
    let mut located = CheckError {
        message: format!("{error:#}"),
        file: None,
        line: None,
    };
    for cause in error.chain() {
        let config = match cause.downcast_ref::<LoadError>() {
            Some(LoadError::Parse(files)) => {
                if let Some(first) = files.first() {
                    located.file = Some(first.path.clone());
                    located.line = Some(first.error.line);
                }
                break;
            }
            Some(LoadError::Config(config)) => Some(config),
            _ => cause.downcast_ref::<ConfigError>(),
        };
        if let Some(config) = config {
            located.file = Some(config.file.clone());
            break;
        }
    }
    located
}

/// Whether the source arguments name the work tree, the one snapshot `resolve` changes.
fn is_work_tree(args: &SourceArgs) -> bool {
    args.rev.is_none() && args.against.is_none() && !args.staged
}

/// The snapshot the source arguments name.
pub fn open_source(args: &SourceArgs) -> Result<Box<dyn Source>> {
    if args.staged {
        // Inside a git hook this is the index being committed (a temporary one for
        // `git commit -a`); elsewhere it is unset and the repository's own index is read.
        let index_file = std::env::var_os("GIT_INDEX_FILE")
            .filter(|file| !file.is_empty())
            .map(std::path::PathBuf::from);
        return Ok(Box::new(IndexSnapshot::open(
            &args.path,
            index_file.as_deref(),
        )?));
    }
    Ok(match (&args.rev, &args.against) {
        (Some(rev), _) => Box::new(GitRevision::open(&args.path, rev)?),
        (None, Some(other)) => {
            let head = args.head.as_deref().unwrap_or("HEAD");
            Box::new(GitMerge::open(&args.path, head, other)?)
        }
        (None, None) => Box::new(WorkTree::new(&args.path)?),
    })
}

/// The revision whose side is "ours": `--head` for a simulated merge; for the work tree and the
/// index, HEAD, or its first parent once HEAD is a merge commit (it then holds both sides); none
/// for a single revision.
fn ours_revision(args: &SourceArgs) -> Option<String> {
    match (&args.rev, &args.against) {
        (Some(_), _) => None,
        (None, Some(_)) => Some(args.head.clone().unwrap_or_else(|| "HEAD".to_owned())),
        (None, None) if GitRevision::open(&args.path, "HEAD^2").is_ok() => {
            Some("HEAD^1".to_owned())
        }
        (None, None) => Some("HEAD".to_owned()),
    }
}

/// The index is one branch, not a merge: its leaves are the one already committed (at `HEAD`)
/// and the one only staged, never "ours" and "theirs".
fn staged_sides(mut report: CheckReport) -> CheckReport {
    for branch in report
        .conflicts
        .iter_mut()
        .flat_map(|c| c.branches.iter_mut())
    {
        branch.side = branch.side.map(|side| match side {
            "ours" => "committed",
            _ => "staged",
        });
    }
    report
}

/// Which of `paths` exist in `revision`; none when there is no revision (not in a repository).
fn present_at(revision: Option<&GitRevision>, paths: &[&str]) -> Vec<bool> {
    let Some(revision) = revision else {
        return vec![false; paths.len()];
    };
    paths
        .iter()
        .map(|p| matches!(revision.read(p), Ok(Some(_))))
        .collect()
}

/// Builds the report: conflicts with their overlap, and every problem. The project must hold
/// the operations of the conflicting branches, as [`resolution::load`] reads them. `on_ours` tells, for
/// leaf file paths, which exist on our side, so that our branch is listed first.
pub fn analyze(
    project: &Project,
    graph: &Graph,
    source: String,
    on_ours: impl Fn(&[&str]) -> Vec<bool>,
) -> CheckReport {
    let mut conflicts = Vec::new();
    for conflict in graph.conflicts() {
        let paths: Vec<&str> = conflict
            .leaves
            .iter()
            .map(|leaf| leaf_path(project, graph, &Key::new(&conflict.app, leaf)))
            .collect();
        let ours = on_ours(&paths);
        let mut order: Vec<String> = conflict.leaves.clone();
        // Stable: leaves on our side first, each group by name.
        order.sort_by_key(|leaf| {
            let i = conflict.leaves.iter().position(|l| l == leaf).unwrap_or(0);
            !ours.get(i).copied().unwrap_or(false)
        });
        let mut analysis = overlap::analyze(graph, project, &conflict, &order);
        // Sides are named only when exactly one leaf is ours: the merge of two branches.
        if ours.iter().filter(|&&o| o).count() == 1 {
            for branch in &mut analysis.branches {
                let i = conflict.leaves.iter().position(|l| *l == branch.leaf);
                let is_ours = i.and_then(|i| ours.get(i)).copied().unwrap_or(false);
                branch.side = Some(if is_ours { "ours" } else { "theirs" });
            }
        }
        conflicts.push(ConflictReport::new(conflict.leaves.clone(), analysis));
    }
    let mut problems = project.problems.clone();
    problems.extend(graph.problems.iter().cloned());
    let mut notes = project.notes.clone();
    notes.extend(graph.notes.iter().cloned());
    CheckReport {
        source,
        apps: project.apps.len(),
        migrations: project.migrations.len(),
        conflicts,
        problems,
        notes,
        followable: Vec::new(),
    }
}

fn leaf_path<'p>(project: &'p Project, graph: &Graph, key: &Key) -> &'p str {
    match graph.node(key).map(|n| n.kind) {
        Some(NodeKind::Migration(i)) => &project.migrations[i].path,
        _ => "",
    }
}
