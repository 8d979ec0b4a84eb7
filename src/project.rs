//! A Django project as its files show it: the migrations packages, their app labels, and every
//! migration module parsed. This is the static twin of Django's `MigrationLoader.load_disk`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use crate::config::{Config, ConfigError, MIGMERGE_TOML, PYPROJECT};
use crate::migration::{self, Detail, Migration, ParseError};
use crate::problem::{Note, Problem, ProblemKind};
use crate::source::{ConflictedPath, Source, SourceError};

/// The file django-linear-migrations keeps in each migrations package.
pub const MAX_MIGRATION_FILE: &str = "max_migration.txt";
const MIGRATIONS_DIR: &str = "migrations";
const APP_CONFIG_FILE: &str = "apps.py";

/// One migrated app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub label: String,
    /// The app package's directory, root-relative (`shop/users`).
    pub package: String,
    /// The migrations package's directory (`shop/users/migrations`).
    pub migrations_dir: String,
    pub max_migration: Option<MaxMigration>,
}

/// What an app's `max_migration.txt` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxMigration {
    pub path: String,
    /// The migration name on its first non-blank line.
    pub name: String,
}

/// One migration module and what it says.
#[derive(Debug, Clone)]
pub struct MigrationFile {
    pub app: String,
    pub name: String,
    pub path: String,
    pub migration: Migration,
    /// How much of the module `migration` holds: with [`Detail::Graph`] its `operations` were
    /// not read, until [`Project::read_operations`] reads them.
    pub detail: Detail,
}

/// Everything read from one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub config: Config,
    /// In Django's processing order: `app-order` from the configuration, then by path.
    pub apps: Vec<App>,
    /// In Django's processing order: apps in order, then file name.
    pub migrations: Vec<MigrationFile>,
    pub problems: Vec<Problem>,
    /// What was skipped or left unknown while reading: never a failure by itself.
    pub notes: Vec<Note>,
    /// Paths under migrations packages that git could not merge in this snapshot.
    pub conflicted: Vec<ConflictedPath>,
}

/// A migration file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: String,
    pub error: ParseError,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.error.line, self.error.column, self.error.message
        )
    }
}

/// Why a project could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{}{}", .0[0], more(.0.len()))]
    Parse(Vec<FileError>),
}

fn more(count: usize) -> String {
    match count {
        0 | 1 => String::new(),
        n => format!(" (and {} more unreadable migration files)", n - 1),
    }
}

/// Reads configuration, finds the migrations packages and parses every migration module.
pub fn load(source: &dyn Source) -> Result<Project, LoadError> {
    load_with(source, Detail::Full)
}

/// [`load`], parsing each migration module to the given detail.
pub fn load_with(source: &dyn Source, detail: Detail) -> Result<Project, LoadError> {
    let config = Config::load(
        source.read(PYPROJECT)?.as_deref(),
        source.read(MIGMERGE_TOML)?.as_deref(),
    )?;
    let exclude = config.exclude_set().map_err(|message| ConfigError {
        file: PYPROJECT.to_owned(),
        message,
    })?;
    let custom_dirs = custom_migrations_dirs(&config);

    let wanted = |path: &str| {
        if exclude.is_match(path) {
            return false;
        }
        let (dir, file) = split_path(path);
        if file == APP_CONFIG_FILE {
            return true;
        }
        is_migrations_dir(dir, &custom_dirs)
            && (file.ends_with(".py") || file == MAX_MIGRATION_FILE)
    };
    let paths = source.list(&wanted)?;

    let mut problems = Vec::new();
    let apps = find_apps(source, &config, &paths, &mut problems)?;
    let (migrations, max_files) = read_migrations(source, &apps, &paths, detail)?;
    let apps = apps
        .into_iter()
        .map(|mut app| {
            app.max_migration = max_files.get(&app.migrations_dir).cloned();
            app
        })
        .collect();
    let conflicted = source.conflicted().to_vec();
    for conflict in &conflicted {
        if paths.binary_search(&conflict.path).is_ok() {
            problems.push(
                Problem::new(
                    ProblemKind::GitConflict,
                    format!("git cannot merge this file ({})", conflict.kind),
                )
                .at(&conflict.path, None),
            );
        }
    }
    Ok(Project {
        config,
        apps,
        migrations,
        problems,
        notes: Vec::new(),
        conflicted,
    })
}

impl Project {
    /// Reads in full the migrations at `files` (indices into [`Project::migrations`]) that were
    /// loaded with less detail, so that their `operations` say what their modules say.
    pub fn read_operations(
        &mut self,
        source: &dyn Source,
        files: &[usize],
    ) -> Result<(), LoadError> {
        let mut wanted: Vec<usize> = files
            .iter()
            .copied()
            .filter(|&i| {
                self.migrations
                    .get(i)
                    .is_some_and(|f| f.detail != Detail::Full)
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let migrations = &self.migrations;
        let read: Vec<(usize, Result<Migration, FileError>)> = wanted
            .par_iter()
            .map(|&i| {
                let path = &migrations[i].path;
                let parsed = match source.read(path)? {
                    Some(bytes) => migration::parse(&bytes),
                    // The work tree can change while it is read; an answer mixing two states
                    // of the file would be wrong, so it is an error like an unreadable file.
                    None => Err(ParseError {
                        line: 1,
                        column: 1,
                        message: "the file disappeared while it was being read".to_owned(),
                    }),
                };
                Ok((
                    i,
                    parsed.map_err(|error| FileError {
                        path: path.clone(),
                        error,
                    }),
                ))
            })
            .collect::<Result<_, SourceError>>()?;
        let mut failures = Vec::new();
        for (i, parsed) in read {
            match parsed {
                Ok(full) => {
                    let file = &mut self.migrations[i];
                    file.migration.operations = full.operations;
                    file.detail = Detail::Full;
                }
                Err(error) => failures.push(error),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(LoadError::Parse(failures))
        }
    }
}

/// The migrations directories the configuration names (`migration-modules`), root-relative.
pub fn custom_migrations_dirs(config: &Config) -> BTreeSet<&str> {
    config
        .migration_modules
        .values()
        .map(|dir| dir.trim_end_matches('/'))
        .collect()
}

/// Whether the root-relative directory `dir` is one the loader reads migrations from: any
/// directory named `migrations`, or one of `custom_dirs`.
fn is_migrations_dir(dir: &str, custom_dirs: &BTreeSet<&str>) -> bool {
    last_component(dir) == MIGRATIONS_DIR || custom_dirs.contains(dir)
}

/// Whether a change at the root-relative `path` may change what [`load`] finds: anything in or
/// at a migrations directory (not only the `.py` and `max_migration.txt` files it reads, so that
/// the answer errs on "yes"), or an `apps.py`, where app labels come from. Paths that
/// `exclude` leaves out count too, for the same reason. The configuration files themselves are
/// the caller's to judge.
pub fn may_change_migrations(path: &str, custom_dirs: &BTreeSet<&str>) -> bool {
    let (dir, file) = split_path(path);
    // `path` itself may be a migrations directory: a symlink or a submodule standing for one.
    file == APP_CONFIG_FILE
        || is_migrations_dir(dir, custom_dirs)
        || is_migrations_dir(path, custom_dirs)
}

fn split_path(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn last_component(dir: &str) -> &str {
    dir.rsplit('/').next().unwrap_or(dir)
}

/// The migrations packages (directories with `__init__.py`) and their labels, in Django's
/// processing order. Duplicate labels are reported; the first package by order keeps the label.
fn find_apps(
    source: &dyn Source,
    config: &Config,
    paths: &[String],
    problems: &mut Vec<Problem>,
) -> Result<Vec<App>, LoadError> {
    let package_dirs: BTreeSet<&str> = paths
        .iter()
        .filter_map(|p| {
            p.strip_suffix("/__init__.py")
                .or((p == "__init__.py").then_some(""))
        })
        .collect();

    // Apps that MIGRATION_MODULES points elsewhere do not use their `migrations` directory.
    let relocated: BTreeMap<&str, &str> = config
        .migration_modules
        .iter()
        .map(|(label, dir)| (dir.trim_end_matches('/'), label.as_str()))
        .collect();
    let relocated_labels: BTreeSet<&str> = relocated.values().copied().collect();

    let mut found = Vec::new();
    for &dir in &package_dirs {
        let (label, package) = if let Some(label) = relocated.get(dir) {
            let package = split_path(dir).0;
            ((*label).to_owned(), package.to_owned())
        } else if last_component(dir) == MIGRATIONS_DIR && dir.contains('/') {
            let package = split_path(dir).0;
            let label = match config.labels.get(package) {
                Some(label) => label.clone(),
                None => {
                    let apps_py = format!("{package}/{APP_CONFIG_FILE}");
                    let declared = if paths.binary_search(&apps_py).is_ok() {
                        source
                            .read(&apps_py)?
                            .and_then(|bytes| migration::declared_app_label(&bytes))
                    } else {
                        None
                    };
                    declared.unwrap_or_else(|| last_component(package).to_owned())
                }
            };
            if relocated_labels.contains(label.as_str()) {
                continue;
            }
            (label, package.to_owned())
        } else {
            continue;
        };
        found.push(App {
            label,
            package,
            migrations_dir: dir.to_owned(),
            max_migration: None,
        });
    }

    let rank = |label: &str| {
        config
            .app_order
            .iter()
            .position(|l| l == label)
            .unwrap_or(usize::MAX)
    };
    found.sort_by(|a, b| (rank(&a.label), &a.package).cmp(&(rank(&b.label), &b.package)));

    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut apps = Vec::new();
    for app in found {
        if let Some(first) = seen.get(&app.label) {
            problems.push(
                Problem::new(
                    ProblemKind::DuplicateLabel,
                    format!(
                        "app label `{}` is used by both {} and {}; Django refuses duplicate labels",
                        app.label, first, app.package
                    ),
                )
                .at(format!("{}/__init__.py", app.migrations_dir), None),
            );
            continue;
        }
        seen.insert(app.label.clone(), app.package.clone());
        apps.push(app);
    }
    Ok(apps)
}

/// Whether Django loads `file` (a name in a migrations package) as a migration module: a `.py`
/// file whose module name has no dot and does not start with `_` or `~`.
pub fn migration_name(file: &str) -> Option<&str> {
    let stem = file.strip_suffix(".py")?;
    let first = stem.chars().next()?;
    if stem.contains('.') || first == '_' || first == '~' {
        return None;
    }
    Some(stem)
}

type MaxFiles = BTreeMap<String, MaxMigration>;

fn read_migrations(
    source: &dyn Source,
    apps: &[App],
    paths: &[String],
    detail: Detail,
) -> Result<(Vec<MigrationFile>, MaxFiles), LoadError> {
    let by_dir: BTreeMap<&str, (usize, &str)> = apps
        .iter()
        .enumerate()
        .map(|(i, app)| (app.migrations_dir.as_str(), (i, app.label.as_str())))
        .collect();

    struct Module<'a> {
        order: usize,
        app: &'a str,
        name: &'a str,
        path: &'a str,
    }
    let mut modules: Vec<Module<'_>> = Vec::new();
    let mut max_paths: Vec<(&str, &str)> = Vec::new();
    for path in paths {
        let (dir, file) = split_path(path);
        let Some(&(order, app)) = by_dir.get(dir) else {
            continue;
        };
        if file == MAX_MIGRATION_FILE {
            max_paths.push((dir, path));
        } else if let Some(name) = migration_name(file) {
            modules.push(Module {
                order,
                app,
                name,
                path,
            });
        }
    }
    // Sorted before reading, so that the parsed files come out in their final order and the
    // list of a large project is built once, not copied into order afterwards.
    modules.sort_by(|a, b| (a.order, a.name).cmp(&(b.order, b.name)));

    // Failures are rare: they are gathered aside, so that the files are collected straight
    // into a list of exactly their number.
    let source_error: Mutex<Option<SourceError>> = Mutex::new(None);
    let failures: Mutex<Vec<FileError>> = Mutex::new(Vec::new());
    let read: Vec<Option<MigrationFile>> = modules
        .par_iter()
        // One buffer per batch of files: a file's bytes live only until it is parsed.
        .map_init(Vec::new, |buf, module| {
            match source.read_into(module.path, buf) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(error) => {
                    lock(&source_error).get_or_insert(error);
                    return None;
                }
            }
            match migration::parse_with(buf, detail) {
                Ok(migration) => Some(MigrationFile {
                    app: module.app.to_owned(),
                    name: module.name.to_owned(),
                    path: module.path.to_owned(),
                    migration,
                    detail,
                }),
                Err(error) => {
                    lock(&failures).push(FileError {
                        path: module.path.to_owned(),
                        error,
                    });
                    None
                }
            }
        })
        .collect();
    if let Some(error) = source_error
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        return Err(error.into());
    }
    let mut max_files = MaxFiles::new();
    for (dir, path) in max_paths {
        if let Some(bytes) = source.read(path)? {
            let text = String::from_utf8_lossy(&bytes);
            let name = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or_default()
                .to_owned();
            max_files.insert(
                dir.to_owned(),
                MaxMigration {
                    path: path.to_owned(),
                    name,
                },
            );
        }
    }
    let mut failures = failures
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if !failures.is_empty() {
        failures.sort_by(|a, b| a.path.cmp(&b.path));
        return Err(LoadError::Parse(failures));
    }

    // `Option<MigrationFile>` has the size of a `MigrationFile`, so this reuses the list.
    Ok((read.into_iter().flatten().collect(), max_files))
}

/// Takes a lock; a panic while it was held (which aborts this binary anyway) leaves a list
/// that is still a list.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::{BTreeSet, Config, custom_migrations_dirs, may_change_migrations, migration_name};

    #[test]
    fn changes_that_may_change_migrations() {
        let none = BTreeSet::new();
        for path in [
            "shop/users/migrations/0002_phone.py",
            "users/migrations/max_migration.txt",
            "users/migrations/__init__.py",
            "users/migrations/README",
            "migrations/0001_initial.py",
            "users/apps.py",
            "apps.py",
            "users/migrations",
        ] {
            assert!(may_change_migrations(path, &none), "{path}");
        }
        for path in [
            "users/models.py",
            "users/migrations_old/0001_initial.py",
            "users/migrations/sub/0001_initial.py",
            "pyproject.toml",
            "docs/migrations.md",
            "README",
        ] {
            assert!(!may_change_migrations(path, &none), "{path}");
        }

        let config = Config {
            migration_modules: [("users".to_owned(), "db/user_schema/".to_owned())].into(),
            ..Config::default()
        };
        let custom = custom_migrations_dirs(&config);
        assert_eq!(custom, BTreeSet::from(["db/user_schema"]));
        assert!(may_change_migrations(
            "db/user_schema/0002_phone.py",
            &custom
        ));
        assert!(!may_change_migrations(
            "db/user_schema/0002_phone.py",
            &none
        ));
        assert!(!may_change_migrations("db/other/0002_phone.py", &custom));
    }

    #[test]
    fn module_names_follow_django() {
        assert_eq!(migration_name("0001_initial.py"), Some("0001_initial"));
        assert_eq!(migration_name("0002_café.py"), Some("0002_café"));
        assert_eq!(migration_name("__init__.py"), None);
        assert_eq!(migration_name("_helpers.py"), None);
        assert_eq!(migration_name("~0003_old.py"), None);
        assert_eq!(migration_name("0003_x.util.py"), None);
        assert_eq!(migration_name("max_migration.txt"), None);
        assert_eq!(migration_name(".py"), None);
    }
}
