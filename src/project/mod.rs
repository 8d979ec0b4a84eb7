//! A Django project as its files show it: the migrations packages, their app labels, and every
//! migration module parsed. This is the static twin of Django's `MigrationLoader.load_disk`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rayon::prelude::*;

use crate::config::{Config, ConfigError, MIGMERGE_TOML, PYPROJECT};
use crate::migration::{self, Detail, Migration, ParseError};
use crate::problem::{Note, Problem, ProblemKind};
use crate::source::{ConflictedPath, Source, SourceError};

mod app_configs;
mod incremental;
mod migration_work;
mod model;
mod modules;
pub mod parse_cache;
mod settings;
pub mod summary;

pub use migration_work::MigrationsDirs;

pub use model::{Origin, SwappableFact};
use modules::ModuleIndex;

/// The file django-linear-migrations keeps in each migrations package.
pub const MAX_MIGRATION_FILE: &str = "max_migration.txt";
const MIGRATIONS_DIR: &str = "migrations";
const APP_CONFIG_FILE: &str = "apps.py";
/// What makes a directory a Python package.
const PACKAGE_INIT_FILE: &str = "__init__.py";

/// One migrated app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub label: String,
    /// The app package's directory, root-relative (`shop/users`).
    pub package: String,
    /// The migrations package's directory (`shop/users/migrations`).
    pub migrations_dir: String,
    pub max_migration: Option<MaxMigration>,
    /// Where the label comes from (`apps.py:12`, self-references, the directory name...).
    pub label_source: Origin,
    /// Where the migrations directory comes from (`MIGRATION_MODULES`, or its name).
    pub migrations_source: Origin,
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
    /// In Django's processing order: apps in order, then file name. Shared, so that the
    /// project as each step of a resolution leaves it costs a pointer per unchanged file.
    pub migrations: Vec<Arc<MigrationFile>>,
    pub problems: Vec<Problem>,
    /// What was skipped or left unknown while reading: never a failure by itself.
    pub notes: Vec<Note>,
    /// Paths under migrations packages that git could not merge in this snapshot.
    pub conflicted: Vec<ConflictedPath>,
    /// The settings modules read, root-relative.
    pub settings_files: Vec<String>,
    /// What each swappable setting names and where that was read; `config.swappable` holds
    /// the same values for lookups.
    pub swappable: Vec<SwappableFact>,
    /// Which staged-deploy tools the migrations show, once asked ([`crate::deploy::tooling`]):
    /// a look at every migration, asked for each conflicting app.
    pub(crate) tooling: OnceLock<crate::deploy::Tooling>,
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
    // Every Python module is listed: settings, app configs and the modules they import may be
    // anywhere, and `MIGRATION_MODULES` may name any directory.
    let wanted = |path: &str| {
        !exclude.is_match(path)
            && (path.ends_with(".py") || split_path(path).1 == MAX_MIGRATION_FILE)
    };
    let paths = source.list(&wanted)?;

    let mut index = ModuleIndex::new(source, &paths);
    let settings_files = settings::settings_files(&mut index, &config.settings)?;
    let settings = settings::read(&mut index, settings_files)?;
    let mut notes = Vec::new();
    let relocations = model::relocations(&config, &settings, &index, &mut notes);
    let candidates = model::candidate_packages(&paths, &relocations);
    // The app configurations the labels come from are read while the migrations are.
    let configs = model::app_config_files(&candidates, &index);
    // Modules read for the graph are parsed once per content, in any run that may keep them.
    let cache = (detail == Detail::Graph)
        .then(|| source.parse_cache_dir())
        .flatten()
        .map(|dir| parse_cache::ParseCache::open(&dir))
        .filter(parse_cache::ParseCache::is_useful);
    let (parsed, configs) = rayon::join(
        || parse_packages(source, &candidates, cache.as_ref(), detail),
        || modules::ReadAhead::of(source, configs),
    );
    let parsed = parsed?;
    if let Some(cache) = cache {
        cache.save();
    }
    index.adopt(configs);

    let mut failures = Vec::new();
    let mut packages = Vec::new();
    for (candidate, modules) in candidates.into_iter().zip(parsed) {
        match model::classify(candidate, modules, &mut notes) {
            Ok(Some(package)) => packages.push(package),
            Ok(None) => {}
            Err(errors) => failures.extend(errors),
        }
    }
    if !failures.is_empty() {
        failures.sort_by(|a, b| a.path.cmp(&b.path));
        return Err(LoadError::Parse(failures));
    }

    let mut problems = Vec::new();
    let labelled = model::label_packages(&mut index, &config, &settings, packages, &mut notes)?;
    let (apps, migrations) = model::arrange(
        labelled,
        &config,
        &settings,
        &mut index,
        detail,
        &mut problems,
        &mut notes,
    )?;
    let mut max_files = read_max_files(source, &apps, &paths)?;
    let apps: Vec<App> = apps
        .into_iter()
        .map(|mut app| {
            app.max_migration = max_files.remove(&app.migrations_dir);
            app
        })
        .collect();
    let (config, swappable) = model::swappable_settings(config, &settings, &mut notes);
    model::note_unknown_swappable(&config, &migrations, &mut notes);

    let conflicted = source.conflicted().to_vec();
    let app_dirs: BTreeSet<&str> = apps
        .iter()
        .map(|a: &App| a.migrations_dir.as_str())
        .collect();
    for conflict in &conflicted {
        let (dir, file) = split_path(&conflict.path);
        let read_here = file.ends_with(".py") || file == MAX_MIGRATION_FILE;
        let in_migrations =
            read_here && (app_dirs.contains(dir) || last_component(dir) == MIGRATIONS_DIR);
        if in_migrations || file == APP_CONFIG_FILE {
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
        notes,
        conflicted,
        settings_files: settings.files,
        swappable,
        tooling: OnceLock::new(),
    })
}

impl Project {
    /// Reads with `detail` the migrations at `files` (indices into [`Project::migrations`])
    /// that were loaded with less, so that their `operations` say what their modules say.
    pub fn read_operations(
        &mut self,
        source: &dyn Source,
        files: &[usize],
        detail: Detail,
    ) -> Result<(), LoadError> {
        let mut wanted: Vec<usize> = files
            .iter()
            .copied()
            .filter(|&i| {
                self.migrations
                    .get(i)
                    .is_some_and(|f| !f.detail.covers(detail))
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
                    Some(bytes) => migration::parse_with(&bytes, detail),
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
                    let file = Arc::make_mut(&mut self.migrations[i]);
                    file.migration.operations = full.operations;
                    file.detail = detail;
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
/// the answer errs on "yes"), an `apps.py` or a package's `__init__.py` (where app labels come
/// from), or a settings module (`settings.py`, a module of a `settings/` package, `manage.py`).
/// Paths that `exclude` leaves out count too, for the same reason. So does a module whose name
/// starts with a digit, wherever it is: what `makemigrations` names every migration, and no
/// `import` statement can name, it stands for a migration in a directory `MIGRATION_MODULES`
/// gives another name, which only a load of the settings knows. The configuration files
/// themselves are the caller's to judge.
pub fn may_change_migrations(path: &str, custom_dirs: &BTreeSet<&str>) -> bool {
    let (dir, file) = split_path(path);
    // `path` itself may be a migrations directory: a symlink or a submodule standing for one.
    matches!(
        file,
        APP_CONFIG_FILE | "__init__.py" | "manage.py" | "settings.py"
    ) || (file.ends_with(".py") && last_component(dir) == "settings")
        || (file.ends_with(".py") && file.starts_with(|c: char| c.is_ascii_digit()))
        || is_migrations_dir(dir, custom_dirs)
        || is_migrations_dir(path, custom_dirs)
}

fn split_path(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn last_component(dir: &str) -> &str {
    dir.rsplit('/').next().unwrap_or(dir)
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

/// Parses the modules of every candidate package, in parallel, each result kept with its
/// package.
fn parse_packages(
    source: &dyn Source,
    candidates: &[model::Candidate<'_>],
    cache: Option<&parse_cache::ParseCache>,
    detail: Detail,
) -> Result<Vec<Vec<model::ModuleResult>>, LoadError> {
    let source_error: Mutex<Option<SourceError>> = Mutex::new(None);
    // Each package's results are collected straight into a vector of its exact size: the
    // parsed modules of a large project are most of its memory, and gathering them in one
    // list first and sorting them into packages after held them twice, in grown vectors.
    let by_package: Vec<Vec<model::ModuleResult>> = candidates
        .par_iter()
        .map(|candidate| {
            candidate
                .modules
                .par_iter()
                // One buffer per batch of files: a file's bytes live only until it is parsed.
                .map_init(Vec::new, |buf, path| {
                    // A blob, or a work-tree file unchanged since, whose parse is kept is not
                    // even read.
                    let blob = cache.and_then(|_| source.blob_id(path));
                    let stamp = cache
                        .filter(|_| blob.is_none())
                        .and_then(|_| source.stamp(path));
                    let known = match (&blob, &stamp) {
                        (Some(id), _) => parse_cache::Known::Blob(id.as_bytes()),
                        (None, Some(stamp)) => parse_cache::Known::Stamp(stamp),
                        (None, None) => parse_cache::Known::Nothing,
                    };
                    if let Some(kept) = cache.and_then(|cache| cache.cached(&known)) {
                        return Some(Ok(kept));
                    }
                    match source.read_into(path, buf) {
                        Ok(true) => {}
                        Ok(false) => return None,
                        Err(error) => {
                            lock(&source_error).get_or_insert(error);
                            return None;
                        }
                    }
                    // There is a cache only for modules read for the graph.
                    Some(match cache {
                        Some(cache) => cache.parse_for_graph(buf, &known),
                        None => migration::parse_with(buf, detail),
                    })
                })
                .collect()
        })
        .collect();
    if let Some(error) = source_error
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        return Err(error.into());
    }
    Ok(by_package)
}

type MaxFiles = BTreeMap<String, MaxMigration>;

/// What each app's `max_migration.txt` says.
fn read_max_files(
    source: &dyn Source,
    apps: &[App],
    paths: &[String],
) -> Result<MaxFiles, LoadError> {
    let mut max_files = MaxFiles::new();
    for app in apps {
        let path = format!("{}/{MAX_MIGRATION_FILE}", app.migrations_dir);
        if paths.binary_search(&path).is_err() {
            continue;
        }
        if let Some(bytes) = source.read(&path)? {
            let name = MaxMigration::name_in(&bytes);
            max_files.insert(app.migrations_dir.clone(), MaxMigration { path, name });
        }
    }
    Ok(max_files)
}

impl MaxMigration {
    /// The migration name a `max_migration.txt` holds: its first non-blank line, trimmed.
    pub(crate) fn name_in(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default()
            .to_owned()
    }
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
            "users/__init__.py",
            "proj/settings.py",
            "proj/settings/production.py",
            "manage.py",
            // Named as a migration: it may be one in a directory `MIGRATION_MODULES` names.
            "dojo/db_migrations/0002_finding_cve.py",
            "users/migrations_old/0001_initial.py",
        ] {
            assert!(may_change_migrations(path, &none), "{path}");
        }
        for path in [
            "users/models.py",
            "users/migrations/sub/helpers.py",
            "users/migrations_old/helpers.py",
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
        assert!(may_change_migrations("db/user_schema/helpers.py", &custom));
        assert!(!may_change_migrations("db/user_schema/helpers.py", &none));
        assert!(!may_change_migrations("db/other/helpers.py", &custom));
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

    mod model {
        use crate::plan::testing::Tree;
        use crate::problem::NoteKind;
        use crate::project::Origin;

        const EMPTY: &str = "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    dependencies = []\n";

        fn depends(on: &str) -> String {
            format!(
                "from django.db import migrations\nfrom django.conf import settings\n\nclass Migration(migrations.Migration):\n    dependencies = [{on}]\n"
            )
        }

        #[test]
        fn self_references_give_the_label_but_a_namesake_of_another_app_does_not() {
            let tree = Tree::new(&[
                ("addons/box/migrations/0001_initial.py", EMPTY),
                (
                    "addons/box/migrations/0002_x.py",
                    &depends("('addons_box', '0001_initial'), ('auth', '0002_x')"),
                ),
                (
                    "reports/migrations/0001_initial.py",
                    &depends("('crm', '0001_initial')"),
                ),
            ]);
            let project = tree.project();
            let labels: Vec<(&str, &Origin)> = project
                .apps
                .iter()
                .map(|a| (a.label.as_str(), &a.label_source))
                .collect();
            assert_eq!(
                labels,
                [
                    ("addons_box", &Origin::SelfReferences),
                    ("reports", &Origin::DirectoryName)
                ]
            );
        }

        #[test]
        fn an_app_config_label_wins_over_self_references_with_a_note() {
            let tree = Tree::new(&[
                (
                    "shop/apps.py",
                    "from django.apps import AppConfig\n\nclass ShopConfig(AppConfig):\n    label = 'store'\n",
                ),
                ("shop/migrations/0001_initial.py", EMPTY),
                (
                    "shop/migrations/0002_x.py",
                    &depends("('shop', '0001_initial')"),
                ),
            ]);
            let project = tree.project();
            assert_eq!(project.apps[0].label, "store");
            assert_eq!(
                project.apps[0].label_source,
                Origin::AppConfig {
                    file: "shop/apps.py".into(),
                    line: 4
                }
            );
            assert_eq!(project.apps[0].label_source.to_string(), "shop/apps.py:4");
            assert_eq!(project.notes.len(), 1);
            assert_eq!(project.notes[0].kind, NoteKind::Disagreement);
            assert!(
                project.notes[0]
                    .message
                    .contains("`store` (shop/apps.py:4) wins over `shop` (self-references)"),
                "{}",
                project.notes[0].message
            );
            let summary = crate::project::summary::summarize(
                &project,
                &crate::graph::Graph::build(&project).leaves(),
            );
            let human = summary.to_human();
            assert!(human.contains("store"), "{human}");
            assert!(human.contains("label: shop/apps.py:4"), "{human}");
            assert!(human.contains("[disagreement]"), "{human}");
            // The migrations name `shop`, which is no app here: Django would see two roots.
            assert_eq!(summary.apps[0].leaves, ["0001_initial", "0002_x"]);
            assert_eq!(summary.apps[0].migrations, 2);
        }

        #[test]
        fn a_swappable_setting_set_nowhere_is_a_note_and_settings_fill_the_rest() {
            let tree = Tree::new(&[
                (
                    "proj/settings.py",
                    "AUTH_USER_MODEL = 'account.User'\nif DEBUG:\n    AUTH_USER_MODEL = 'other.User'\n",
                ),
                ("account/migrations/0001_initial.py", EMPTY),
                (
                    "shop/migrations/0001_initial.py",
                    &depends(
                        "migrations.swappable_dependency(settings.AUTH_USER_MODEL), migrations.swappable_dependency(settings.UNSET_MODEL)",
                    ),
                ),
            ]);
            let project = tree.project();
            assert_eq!(
                project.config.swappable_model("AUTH_USER_MODEL"),
                Some("account.User")
            );
            let kinds: Vec<(NoteKind, Option<&str>)> = project
                .notes
                .iter()
                .map(|n| (n.kind, n.app.as_deref()))
                .collect();
            assert_eq!(
                kinds,
                [
                    (NoteKind::Disagreement, None),
                    (NoteKind::Unknown, Some("shop"))
                ]
            );
            assert!(project.notes[1].message.contains("UNSET_MODEL"));
            let graph = crate::graph::Graph::build(&project);
            assert!(graph.problems.is_empty(), "{:?}", graph.problems);
        }

        #[test]
        fn copies_installed_together_are_a_duplicate_label() {
            let copies = |settings: &str| {
                Tree::new(&[
                    ("proj/settings.py", settings),
                    ("a/catalogue/migrations/0001_initial.py", EMPTY),
                    ("b/catalogue/migrations/0001_initial.py", EMPTY),
                ])
                .project()
            };
            let together = copies("INSTALLED_APPS = ['a.catalogue', 'b.catalogue']\n");
            assert_eq!(together.problems.len(), 1);
            assert_eq!(together.apps.len(), 1);
            let apart = copies("INSTALLED_APPS = ['a.catalogue']\n");
            assert!(apart.problems.is_empty());
            let labels: Vec<&str> = apart.apps.iter().map(|a| a.label.as_str()).collect();
            assert_eq!(labels, ["catalogue", "catalogue@b/catalogue"]);
            // An empty package of the same name is skipped, not a duplicate.
            let empty = Tree::new(&[
                ("a/catalogue/migrations/0001_initial.py", EMPTY),
                ("tests/catalogue/migrations/__init__.py", ""),
            ])
            .project();
            assert!(empty.problems.is_empty(), "{:?}", empty.problems);
            assert_eq!(empty.notes[0].kind, NoteKind::SkippedPackage);
            // The copy's own history stays its own: one leaf each, no conflict.
            let graph = crate::graph::Graph::build(&apart);
            assert!(graph.conflicts().is_empty());
        }
    }
}
