//! Lint findings as people and machines read them: `file:line: rule severity message`, the
//! JSON of the CLI contract, GitHub workflow annotations, and SARIF 2.1.0 for code scanning.

use std::fmt::Write as _;

use serde_json::json;

use super::{Finding, LintReport, Rule, Severity};
use crate::report::{escape_data, escape_property};

/// Where the rules are explained, for SARIF's `helpUri`.
const DOCS: &str = "docs/lint.md";

pub fn human(report: &LintReport) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        let _ = writeln!(
            out,
            "{}:{}: {} {} {}",
            finding.file,
            finding.line,
            finding.rule.code(),
            finding.severity.as_str(),
            finding.message
        );
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = match report.findings.len() {
        0 => writeln!(
            out,
            "No findings in {} migration{}.",
            report.linted,
            plural(report.linted)
        ),
        n => writeln!(
            out,
            "{n} finding{} in {} migration{}; silence one with `# migmerge: allow <rule> -- <reason>` on its line or the line above.",
            plural(n),
            report.linted,
            plural(report.linted)
        ),
    };
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `{"findings": [...]}`, one object per finding (the notes go to standard error).
pub fn json(report: &LintReport) -> String {
    // A struct, not `json!`, so that each finding's keys keep the documented order.
    #[derive(serde::Serialize)]
    struct Document<'a> {
        findings: &'a [Finding],
    }
    let document = Document {
        findings: &report.findings,
    };
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
}

/// One workflow command per finding (`::error`, `::warning` or `::notice`), its file relative
/// to the repository (`place`: where the linted directory is in it).
pub fn github(report: &LintReport, place: &str) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        let command = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let _ = writeln!(
            out,
            "::{command} file={},line={},title={}::{}",
            escape_property(&crate::source::in_repository(place, &finding.file)),
            finding.line,
            escape_property(&format!("migmerge lint: {}", finding.rule.code())),
            escape_data(&format!("{} ({})", finding.message, finding.migration))
        );
    }
    for note in &report.notes {
        let _ = writeln!(out, "::notice::{}", escape_data(note));
    }
    if report.findings.is_empty() {
        let _ = writeln!(out, "No findings in {} migrations.", report.linted);
    }
    out
}

/// A SARIF 2.1.0 log with one run: every rule in the driver, one result per finding.
pub fn sarif(report: &LintReport) -> String {
    let rules: Vec<_> = Rule::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.code(),
                "shortDescription": { "text": rule.summary() },
                "helpUri": format!("{DOCS}#{}", rule.code()),
                "defaultConfiguration": { "level": level(rule.default_severity()) },
            })
        })
        .collect();
    let results: Vec<_> = report.findings.iter().map(result).collect();
    let value = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "migmerge",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

fn result(finding: &Finding) -> serde_json::Value {
    let index = Rule::ALL
        .iter()
        .position(|rule| *rule == finding.rule)
        .unwrap_or(0);
    json!({
        "ruleId": finding.rule.code(),
        "ruleIndex": index,
        "level": level(finding.severity),
        "message": { "text": format!("{} ({})", finding.message, finding.migration) },
        "locations": [{ "physicalLocation": {
            "artifactLocation": { "uri": finding.file },
            "region": { "startLine": finding.line },
        }}],
    })
}

/// SARIF's names for the severities.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}
