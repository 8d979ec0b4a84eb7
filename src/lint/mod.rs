//! `migmerge lint`: migrations that cannot be rolled back, or cannot run while the code of the
//! previous release still serves requests, found statically.
//!
//! [`rules`] judges one operation against the state earlier migrations leave ([`state`]);
//! [`allow`] reads the opt-out comments; [`scope`] picks the migrations a branch adds;
//! [`report`] renders the findings.

pub mod allow;
pub mod merge;
pub mod report;
pub mod rules;
pub mod scope;
pub mod state;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::deploy::{self, Stage};
use crate::graph::Graph;
use crate::project::Project;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// What `[tool.migmerge] lint` says of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Off,
    Info,
    Warning,
    Error,
}

/// Every rule, by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    IrreversibleRunPython,
    IrreversibleRunSql,
    DropColumn,
    DropTable,
    RenameColumn,
    RenameTable,
    NotNullWithoutDefault,
    VolatileDefault,
    NonConcurrentIndex,
    ConcurrentIndexInAtomic,
    RunPythonWithSchemaChanges,
    AlterFieldRewrite,
    RemovedOnOtherBranch,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::IrreversibleRunPython,
        Rule::IrreversibleRunSql,
        Rule::DropColumn,
        Rule::DropTable,
        Rule::RenameColumn,
        Rule::RenameTable,
        Rule::NotNullWithoutDefault,
        Rule::VolatileDefault,
        Rule::NonConcurrentIndex,
        Rule::ConcurrentIndexInAtomic,
        Rule::RunPythonWithSchemaChanges,
        Rule::AlterFieldRewrite,
        Rule::RemovedOnOtherBranch,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Rule::IrreversibleRunPython => "irreversible-run-python",
            Rule::IrreversibleRunSql => "irreversible-run-sql",
            Rule::DropColumn => "drop-column",
            Rule::DropTable => "drop-table",
            Rule::RenameColumn => "rename-column",
            Rule::RenameTable => "rename-table",
            Rule::NotNullWithoutDefault => "not-null-without-default",
            Rule::VolatileDefault => "volatile-default",
            Rule::NonConcurrentIndex => "non-concurrent-index",
            Rule::ConcurrentIndexInAtomic => "concurrent-index-in-atomic",
            Rule::RunPythonWithSchemaChanges => "run-python-with-schema-changes",
            Rule::AlterFieldRewrite => "alter-field-rewrite",
            Rule::RemovedOnOtherBranch => "removed-on-other-branch",
        }
    }

    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.code() == code)
    }

    /// The severity when the configuration does not re-grade it.
    pub fn default_severity(self) -> Severity {
        match self {
            // The old code still reads or writes what these take away: errors during the
            // deploy, whatever the database.
            Rule::DropColumn
            | Rule::DropTable
            | Rule::RenameColumn
            | Rule::RenameTable
            | Rule::NotNullWithoutDefault
            // Django refuses to run it at all.
            | Rule::ConcurrentIndexInAtomic
            // One branch's migrations fail after the merge.
            | Rule::RemovedOnOtherBranch => Severity::Error,
            Rule::IrreversibleRunPython
            | Rule::IrreversibleRunSql
            | Rule::VolatileDefault
            | Rule::NonConcurrentIndex
            | Rule::RunPythonWithSchemaChanges
            | Rule::AlterFieldRewrite => Severity::Warning,
        }
    }

    /// A one-line summary, for SARIF's rule list and `--help`.
    pub fn summary(self) -> &'static str {
        match self {
            Rule::IrreversibleRunPython => "RunPython without reverse_code cannot be rolled back",
            Rule::IrreversibleRunSql => "RunSQL without reverse_sql cannot be rolled back",
            Rule::DropColumn => "RemoveField drops a column the running code still selects",
            Rule::DropTable => "DeleteModel drops a table the running code still uses",
            Rule::RenameColumn => "RenameField renames a column the running code still uses",
            Rule::RenameTable => "RenameModel renames a table the running code still uses",
            Rule::NotNullWithoutDefault => {
                "AddField of a NOT NULL column without a default to an existing table"
            }
            Rule::VolatileDefault => {
                "a callable default on AddField is evaluated once for every existing row"
            }
            Rule::NonConcurrentIndex => "an index built without CONCURRENTLY locks writes",
            Rule::ConcurrentIndexInAtomic => {
                "a concurrent index operation in an atomic migration fails"
            }
            Rule::RunPythonWithSchemaChanges => {
                "RunPython and schema changes in one transaction hold locks through the data migration"
            }
            Rule::AlterFieldRewrite => "AlterField that rewrites or locks the table",
            Rule::RemovedOnOtherBranch => {
                "a branch removes or renames what the other branch's migrations still use"
            }
        }
    }
}

/// One finding: a rule that fired on one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    #[serde(serialize_with = "serialize_rule")]
    pub rule: Rule,
    pub severity: Severity,
    pub file: String,
    /// 1-based line of the operation.
    pub line: u32,
    /// `app.name`.
    pub migration: String,
    pub message: String,
}

fn serialize_rule<S: serde::Serializer>(rule: &Rule, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(rule.code())
}

/// What the lint run saw beside its findings: opt-outs that do not count, and how the scope
/// was chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintReport {
    pub findings: Vec<Finding>,
    /// `file:line: message` notes, e.g. an opt-out comment without a reason.
    pub notes: Vec<String>,
    /// How many migrations were linted.
    pub linted: usize,
}

/// Lints the migrations at `files` (indices into `project.migrations`), replayed as `plan`
/// (made for the same `files`) walks them, and, where the snapshot holds two branches of an
/// app, runs the merge-time rule on them. The operations of the files [`state::Plan::needed`]
/// names, and of [`merge::branch_files`], must be read.
pub fn lint(
    project: &Project,
    graph: &Graph,
    plan: &state::Plan<'_>,
    files: &[usize],
) -> LintReport {
    let config = &project.config;
    let tooling = deploy::tooling(project);
    let staged = tooling.syzygy || tooling.safemigrate;
    let postgresql = config.database.as_deref() == Some("postgresql");
    let per_file = state::Replay::new(graph, project).map(plan, |i, before| {
        let file = &project.migrations[i];
        let context = rules::Context {
            migration: &file.migration,
            before,
            postgresql,
        };
        let opt_outs = opt_outs(&file.migration);
        let notes: Vec<String> = opt_outs
            .notes
            .iter()
            .map(|note| format!("{}:{note}", file.path))
            .collect();
        let post_deploy = staged && deploy::migration_stage(&file.migration) == Stage::PostDeploy;
        let mut found = Vec::new();
        for hit in rules::check(&context) {
            if opt_outs.allows(hit.rule, hit.line) {
                continue;
            }
            let Some(mut severity) = graded(config, hit.rule) else {
                continue;
            };
            // Staged-deploy tooling runs post-deploy migrations once the new code is out:
            // dropping what that code no longer uses is what it is for.
            if post_deploy && matches!(hit.rule, Rule::DropColumn | Rule::DropTable) {
                severity = Severity::Info;
            }
            found.push(Finding {
                rule: hit.rule,
                severity,
                file: file.path.clone(),
                line: hit.line,
                migration: format!("{}.{}", file.app, file.name),
                message: hit.message,
            });
        }
        (found, notes)
    });
    let mut report = LintReport {
        linted: files.len(),
        ..LintReport::default()
    };
    for (found, notes) in per_file {
        report.findings.extend(found);
        report.notes.extend(notes);
    }
    report
        .findings
        .sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
    // The merge-time rule's findings follow, each silenced by its own file's opt-outs.
    let by_path: BTreeMap<&str, &crate::migration::Migration> = project
        .migrations
        .iter()
        .map(|file| (file.path.as_str(), &file.migration))
        .collect();
    report.findings.extend(
        merge::findings(project, graph)
            .into_iter()
            .filter(|finding| {
                by_path
                    .get(finding.file.as_str())
                    .is_none_or(|migration| !opt_outs(migration).allows(finding.rule, finding.line))
            }),
    );
    report
}

/// The opt-outs a migration's comments make.
fn opt_outs(migration: &crate::migration::Migration) -> allow::OptOuts {
    allow::read_lines(
        migration
            .migmerge_comments
            .iter()
            .map(|(line, text)| (*line, text.as_str())),
    )
}

/// The severity a rule has under the configuration; `None` when switched off.
pub fn graded(config: &Config, rule: Rule) -> Option<Severity> {
    match config.lint.get(rule.code()) {
        None => Some(rule.default_severity()),
        Some(Level::Off) => None,
        Some(Level::Info) => Some(Severity::Info),
        Some(Level::Warning) => Some(Severity::Warning),
        Some(Level::Error) => Some(Severity::Error),
    }
}
