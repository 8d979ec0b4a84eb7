//! The project model as `migmerge apps` shows it: each app with the source of each fact, the
//! settings files read, the swappable settings and every note.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Project, SwappableFact};
use crate::problem::Note;

/// One app, as the model holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppSummary {
    pub label: String,
    pub directory: String,
    pub migrations_dir: String,
    pub migrations: usize,
    /// Sorted; more than one is a conflict.
    pub leaves: Vec<String>,
    /// Where the label comes from, as shown to people (`shop/apps.py:12`, `self-references`).
    pub label_source: String,
    pub migrations_source: String,
}

/// The whole model.
#[derive(Debug, Clone, Serialize)]
pub struct AppsSummary {
    pub apps: Vec<AppSummary>,
    pub settings_files: Vec<String>,
    pub swappable: Vec<SwappableFact>,
    pub notes: Vec<Note>,
}

/// Builds the summary. `leaves` maps each app label to its leaf migrations (the graph's view).
pub fn summarize(project: &Project, leaves: &BTreeMap<&str, Vec<&str>>) -> AppsSummary {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for file in &project.migrations {
        *counts.entry(file.app.as_str()).or_default() += 1;
    }
    let apps = project
        .apps
        .iter()
        .map(|app| AppSummary {
            label: app.label.clone(),
            directory: app.package.clone(),
            migrations_dir: app.migrations_dir.clone(),
            migrations: counts.get(app.label.as_str()).copied().unwrap_or(0),
            leaves: leaves
                .get(app.label.as_str())
                .map(|names| names.iter().map(|n| (*n).to_owned()).collect())
                .unwrap_or_default(),
            label_source: app.label_source.to_string(),
            migrations_source: app.migrations_source.to_string(),
        })
        .collect();
    AppsSummary {
        apps,
        settings_files: project.settings_files.clone(),
        swappable: project.swappable.clone(),
        notes: project.notes.clone(),
    }
}

impl AppsSummary {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// A table of apps, then the settings read, the swappable settings and the notes.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        let rows: Vec<[String; 5]> = self
            .apps
            .iter()
            .map(|app| {
                [
                    app.label.clone(),
                    app.migrations_dir.clone(),
                    app.migrations.to_string(),
                    match app.leaves.as_slice() {
                        [] => "-".to_owned(),
                        leaves => leaves.join(", "),
                    },
                    format!(
                        "label: {}; migrations: {}",
                        app.label_source, app.migrations_source
                    ),
                ]
            })
            .collect();
        let header = ["app", "migrations directory", "count", "leaves", "from"];
        let widths: Vec<usize> = (0..4)
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut line = |cells: [&str; 5]| {
            let _ = writeln!(
                out,
                "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
            );
        };
        line(header);
        for row in &rows {
            line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
        }
        let _ = writeln!(
            out,
            "\n{} apps, {} migrations.",
            self.apps.len(),
            self.apps.iter().map(|a| a.migrations).sum::<usize>()
        );
        match self.settings_files.as_slice() {
            [] => out.push_str("Settings read: none found.\n"),
            files => {
                let _ = writeln!(out, "Settings read: {}", files.join(", "));
            }
        }
        for fact in &self.swappable {
            let _ = writeln!(out, "{} = {} ({})", fact.setting, fact.model, fact.source);
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nNotes:");
            for note in &self.notes {
                let place = match (&note.file, note.line) {
                    (Some(file), Some(line)) => format!("{file}:{line}: "),
                    (Some(file), None) => format!("{file}: "),
                    _ => String::new(),
                };
                let _ = writeln!(out, "  {place}[{}] {}", note.kind.as_str(), note.message);
            }
        }
        out
    }
}
