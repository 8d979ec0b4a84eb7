//! `migmerge lint`: pick the migrations in scope, lint them, render the findings.

use std::collections::BTreeSet;

use anyhow::{Context as _, Result, bail};

use crate::cli::{LintArgs, LintFormat};
use crate::commands::{ExitStatus, Outcome};
use crate::config::{Config, MIGMERGE_TOML, PYPROJECT};
use crate::graph::Graph;
use crate::lint::state::Plan;
use crate::lint::{self, Severity, merge, report, scope};
use crate::migration::Detail;
use crate::project;
use crate::source::{self, GitMerge, GitRevision, Source, WorkTree};

pub fn run(args: &LintArgs) -> Result<Outcome> {
    let source: Box<dyn Source> = match &args.against {
        Some(other) => Box::new(GitMerge::open(&args.path, "HEAD", other)?),
        None => Box::new(WorkTree::new(&args.path)?),
    };
    let source = source.as_ref();
    // `--all` reads every migration's operations: parsed once, while loading, not twice. The
    // rules read arguments as written, never the overlap's normalised texts.
    let detail = if args.all {
        Detail::AsWritten
    } else {
        Detail::Graph
    };
    // In the work tree, git's answer to which files changed needs no project: it is asked while
    // the project loads.
    let (loaded, changed) = std::thread::scope(|scope| {
        let changed = (!args.all && args.against.is_none()).then(|| {
            scope.spawn(|| -> Result<_> {
                let config = Config::load(
                    source.read(PYPROJECT)?.as_deref(),
                    source.read(MIGMERGE_TOML)?.as_deref(),
                )?;
                let base = base_revision(args, &config)?;
                Ok(scope::python_files_changed_in_work_tree(&args.path, &base)?)
            })
        });
        let loaded = project::load_with(source, detail);
        let changed = changed.map(|thread| {
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        (loaded, changed)
    });
    let mut project = loaded?;
    if project.apps.is_empty() {
        bail!(
            "no Django migrations package (a `migrations` directory with `__init__.py`) in {}; is this the project's root?",
            source.describe()
        );
    }
    let graph = Graph::build(&project);
    let in_graph: BTreeSet<usize> = graph.migrations().into_iter().map(|(_, i)| i).collect();
    let candidates = match changed {
        Some(changed) => scope::migrations_among(&project, &changed?),
        None if args.all => (0..project.migrations.len()).collect(),
        None => {
            let base = GitRevision::open(&args.path, &base_revision(args, &project.config)?)?;
            scope::changed_since(&project, source, &base)?
        }
    };
    // Replaced migrations are not in Django's graph: their squash speaks for them.
    let targets: Vec<usize> = candidates
        .into_iter()
        .filter(|i| in_graph.contains(i))
        .collect();
    // The rules read the state the earlier migrations of each linted app leave; where
    // branches meet, the merge-time rule reads both branches' operations.
    let plan = Plan::new(&graph, &targets);
    let mut needed = plan.needed(&graph);
    needed.extend(merge::branch_files(&graph));
    project.read_operations(source, &needed, Detail::AsWritten)?;
    let found = lint::lint(&project, &graph, &plan, &targets);
    // As in `check`: the process exits next, and freeing the parsed operations of thousands of
    // migrations one allocation at a time is time spent for nothing. `lint` runs once per
    // process, so nothing accumulates.
    std::mem::forget(plan);
    std::mem::forget((project, graph));
    let stdout = match args.format {
        LintFormat::Human => report::human(&found),
        LintFormat::Github => report::github(&found, &source::place_in_repository(&args.path)),
        LintFormat::Json | LintFormat::Sarif => {
            // Machine output stays one document; the notes are for the person reading the log.
            #[allow(clippy::print_stderr)]
            for note in &found.notes {
                eprintln!("note: {note}");
            }
            match args.format {
                LintFormat::Json => report::json(&found),
                _ => report::sarif(&found),
            }
        }
    };
    let failing = found
        .findings
        .iter()
        .any(|finding| finding.severity > Severity::Info);
    Ok(Outcome {
        stdout,
        status: if failing {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        },
    })
}

/// The revision the scope is measured from: `--since`, else the merge base of HEAD and the
/// first protected ref that exists.
fn base_revision(args: &LintArgs, config: &Config) -> Result<String> {
    if let Some(rev) = &args.since {
        return Ok(rev.clone());
    }
    let protected = match &config.protected {
        Some(refs) => refs.clone(),
        None => source::default_protected_refs(&args.path),
    };
    let Some(first) = protected.first() else {
        bail!(
            "{}: no protected ref (origin's default branch, main or master, or `protected` in [tool.migmerge]) to measure the branch's new migrations from; lint them with `--since REV`, or every migration with `--all`",
            args.path.display()
        );
    };
    let base = source::merge_base(&args.path, "HEAD", first).with_context(|| {
        format!("the branch's new migrations are those since its merge base with {first}; lint with `--since REV` or `--all` instead")
    })?;
    Ok(base)
}
