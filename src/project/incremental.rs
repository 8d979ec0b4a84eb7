//! A loaded project brought up to date with a few file updates, without reading the tree again.
//!
//! A resolution changes a handful of files (a renamed migration, the references to it, an app's
//! `max_migration.txt`, a new merge migration), and every app resolved after it, and every
//! verification, wants the project as those changes leave it. Loading the whole tree again for
//! each costs a full parse per app; re-parsing only the changed files gives the same project,
//! as long as the changes stay within what a load derives file by file. Whatever could change
//! more than that (a file outside the apps' migrations packages, a copy of an app whose
//! references are relabelled on load, a reference to a swappable setting the project does not
//! know, which feeds a project-wide note) is declined, and the caller loads the tree.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::edit::FileUpdate;
use crate::migration::{self, Detail, Migration, Reference};

use super::{FileError, LoadError, MAX_MIGRATION_FILE, MaxMigration, MigrationFile, Project};

impl Project {
    /// The project as it is once `updates` are written; `None` when the updates reach beyond
    /// what can be re-derived file by file (then the tree must be loaded again). Changed
    /// migrations are parsed to the detail the file they replace had (`Graph` for new ones).
    pub fn with_updates(&self, updates: &[FileUpdate]) -> Option<Result<Project, LoadError>> {
        let exclude = self.config.exclude_set().ok()?;
        let mut project = self.clone();
        let mut failures = Vec::new();
        // Renamed-away paths first, so that a chain of renames shifting names (a to b, b to c)
        // ends with b holding a's content.
        let mut replaced: BTreeMap<String, Detail> = BTreeMap::new();
        for update in updates {
            for path in update.before.iter().chain(std::iter::once(&update.after)) {
                if exclude.is_match(path) {
                    return None;
                }
                let target = project.target(path)?;
                if let Target::Migration { index: Some(i), .. } = target {
                    let file = &project.migrations[i];
                    if !self.is_plain(&file.migration) {
                        return None;
                    }
                    replaced.insert(path.clone(), file.detail);
                }
            }
        }
        project
            .migrations
            .retain(|file| !replaced.contains_key(&file.path));
        // The changed files may show (or no longer show) a staged-deploy tool.
        project.tooling = std::sync::OnceLock::new();
        let mut added = Vec::new();
        for update in updates {
            match project.target(&update.after)? {
                Target::MaxMigration { app } => {
                    project.apps[app].max_migration = Some(MaxMigration {
                        path: update.after.clone(),
                        name: MaxMigration::name_in(&update.new),
                    });
                }
                Target::Migration { app, name, .. } => {
                    let detail = update
                        .before
                        .as_ref()
                        .and_then(|b| replaced.get(b))
                        .copied()
                        .unwrap_or(Detail::Graph);
                    match migration::parse_with(&update.new, detail) {
                        Ok(parsed) if self.is_plain(&parsed) => {
                            added.push(Arc::new(MigrationFile {
                                app: project.apps[app].label.clone(),
                                name,
                                path: update.after.clone(),
                                migration: parsed,
                                detail,
                            }))
                        }
                        Ok(_) => return None,
                        Err(error) => failures.push(FileError {
                            path: update.after.clone(),
                            error,
                        }),
                    }
                }
            }
        }
        if !failures.is_empty() {
            failures.sort_by(|a, b| a.path.cmp(&b.path));
            return Some(Err(LoadError::Parse(failures)));
        }
        // Django's processing order, as the load arranges it: apps in order, then file name.
        let rank: BTreeMap<&str, usize> = self
            .apps
            .iter()
            .enumerate()
            .map(|(i, app)| (app.label.as_str(), i))
            .collect();
        // The others are in that order already: each changed file goes to its place.
        let key = |file: &MigrationFile| (rank.get(file.app.as_str()).copied(), file.name.clone());
        for file in added {
            let at = project
                .migrations
                .partition_point(|other| key(other) <= key(&file));
            project.migrations.insert(at, file);
        }
        Some(Ok(project))
    }

    /// What a root-relative path is to this project: `None` when it is neither a migration
    /// module nor the `max_migration.txt` of an app read here as itself (not a copy).
    fn target(&self, path: &str) -> Option<Target> {
        let (dir, file) = path.rsplit_once('/')?;
        let app = self.apps.iter().position(|a| a.migrations_dir == dir)?;
        if self.apps[app].label.contains('@') {
            return None;
        }
        if file == MAX_MIGRATION_FILE {
            return Some(Target::MaxMigration { app });
        }
        let name = super::migration_name(file)?.to_owned();
        let index = self.migrations.iter().position(|m| m.path == path);
        Some(Target::Migration { app, name, index })
    }

    /// Whether a migration feeds nothing project-wide: no reference to a swappable setting the
    /// project cannot resolve (those are counted into one note across all files).
    fn is_plain(&self, migration: &Migration) -> bool {
        migration
            .dependencies
            .entries()
            .iter()
            .chain(migration.run_before.entries())
            .all(|entry| match &entry.reference {
                Reference::Swappable {
                    setting,
                    default: None,
                } => self.config.swappable_model(setting).is_some(),
                _ => true,
            })
    }
}

enum Target {
    MaxMigration {
        app: usize,
    },
    Migration {
        app: usize,
        name: String,
        /// Its place in [`Project::migrations`], when the project holds it.
        index: Option<usize>,
    },
}
