//! The project model, from evidence: which directories are migrations packages, each app's
//! label and what each swappable setting names, every fact with its source. Precedence:
//! `[tool.migmerge]`, then the settings modules, then `AppConfig` classes, then the
//! migrations' own references to their siblings, then the directory name. Where sources
//! disagree, a note says which one won.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use super::app_configs::{self, AppsModule};
use super::modules::ModuleIndex;
use super::settings::{SettingValue, Settings};
use super::{
    APP_CONFIG_FILE, App, FileError, MIGRATIONS_DIR, MigrationFile, PACKAGE_INIT_FILE,
    last_component, migration_name, split_path,
};
use crate::config::Config;
use crate::migration::{Detail, Migration, ParseError, Reference};
use crate::problem::{Note, NoteKind, Problem, ProblemKind};
use crate::source::SourceError;

/// What the migration parser says of a module without a `Migration` class.
const NO_MIGRATION_CLASS: &str = "no `Migration` class";
/// How the configuration is named as a source.
const CONFIG_SOURCE: &str = "[tool.migmerge]";

/// Where a fact about the project comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Origin {
    /// `[tool.migmerge]` (`labels`, `migration-modules`, `swappable`).
    Config,
    /// A settings module: `INSTALLED_APPS` naming a config class, `MIGRATION_MODULES`, a
    /// swappable setting.
    Settings { file: String, line: u32 },
    /// A `label` literal in an `AppConfig` class.
    AppConfig { file: String, line: u32 },
    /// The migrations' dependencies on their siblings name the label.
    SelfReferences,
    /// The directory's own name (Django's default label; the `migrations` package).
    DirectoryName,
    /// What Django assumes when nothing says otherwise (`AUTH_USER_MODEL = "auth.User"`).
    DjangoDefault,
}

impl Origin {
    fn settings(value: &SettingValue) -> Self {
        Origin::Settings {
            file: value.file.clone(),
            line: value.line,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Config => f.write_str(CONFIG_SOURCE),
            Origin::Settings { file, line } | Origin::AppConfig { file, line } => {
                write!(f, "{file}:{line}")
            }
            Origin::SelfReferences => f.write_str("self-references"),
            Origin::DirectoryName => f.write_str("directory name"),
            Origin::DjangoDefault => f.write_str("Django's default"),
        }
    }
}

/// What a swappable setting names, and where that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwappableFact {
    pub setting: String,
    pub model: String,
    pub source: Origin,
}

/// A directory `MIGRATION_MODULES` (configured or in settings) names for an app.
#[derive(Debug, Clone)]
pub struct Relocation {
    pub label: String,
    pub origin: Origin,
}

/// The directories that `migration-modules` and the settings' `MIGRATION_MODULES` name,
/// root-relative, with the label each holds the migrations of. The configuration wins.
pub fn relocations(
    config: &Config,
    settings: &Settings,
    index: &ModuleIndex<'_>,
    notes: &mut Vec<Note>,
) -> BTreeMap<String, Relocation> {
    let mut found: BTreeMap<String, Relocation> = BTreeMap::new();
    for (label, dir) in &config.migration_modules {
        found.insert(
            dir.trim_end_matches('/').to_owned(),
            Relocation {
                label: label.clone(),
                origin: Origin::Config,
            },
        );
    }
    let configured: BTreeSet<&str> = config
        .migration_modules
        .keys()
        .map(String::as_str)
        .collect();
    for (label, values) in &settings.migration_modules {
        if configured.contains(label.as_str()) {
            continue;
        }
        for value in values {
            match index.package_dir(&value.value) {
                Some(dir) => {
                    found.entry(dir).or_insert_with(|| Relocation {
                        label: label.clone(),
                        origin: Origin::settings(value),
                    });
                }
                None => notes.push(
                    Note::new(
                        NoteKind::Unknown,
                        format!(
                            "MIGRATION_MODULES names `{}` for app `{label}`, but no such package is in the tree",
                            value.value
                        ),
                    )
                    .for_app(label)
                    .at(&value.file, Some(value.line)),
                ),
            }
        }
    }
    found
}

/// A directory that may be a migrations package, and its migration modules.
pub struct Candidate<'p> {
    pub dir: String,
    pub relocated: Option<Relocation>,
    /// The paths of its migration modules, sorted, borrowed from the project's listing: while
    /// the modules are read, a large project's paths are held once.
    pub modules: Vec<&'p str>,
}

/// Every `migrations` package below the root (a directory with `__init__.py`), and every
/// directory `MIGRATION_MODULES` names.
pub fn candidate_packages<'p>(
    paths: &'p [String],
    relocations: &BTreeMap<String, Relocation>,
) -> Vec<Candidate<'p>> {
    let mut by_dir: BTreeMap<&str, Vec<&'p str>> = BTreeMap::new();
    let mut packages: BTreeSet<&str> = BTreeSet::new();
    for path in paths {
        let (dir, file) = split_path(path);
        let relocated = relocations.contains_key(dir);
        if !(relocated || (last_component(dir) == MIGRATIONS_DIR && dir.contains('/'))) {
            continue;
        }
        if file == PACKAGE_INIT_FILE {
            packages.insert(dir);
        }
        if migration_name(file).is_some() {
            by_dir.entry(dir).or_default().push(path);
        }
    }
    packages
        .into_iter()
        .map(|dir| Candidate {
            dir: dir.to_owned(),
            relocated: relocations.get(dir).cloned(),
            modules: by_dir.remove(dir).unwrap_or_default(),
        })
        .collect()
}

/// One migration module of a [`Candidate`] as read, or why it could not be; `None` when the
/// file vanished while the project was listed. The candidate keeps the module's name and path.
pub type ModuleResult = Option<Result<Migration, ParseError>>;

/// A migrations package that holds migrations (or none yet), before its label is known.
pub struct Package {
    pub dir: String,
    pub relocated: Option<Relocation>,
    /// (name, path, migration), sorted by path.
    pub migrations: Vec<(String, String, Migration)>,
}

/// Whether a candidate is a migrations package: a directory none of whose modules defines a
/// `Migration` class is a helper library or a test package that happens to be named
/// `migrations`, and is skipped with a note. Among real migrations, an unreadable module stays
/// an error, as in Django.
pub fn classify(
    candidate: Candidate<'_>,
    modules: Vec<ModuleResult>,
    notes: &mut Vec<Note>,
) -> Result<Option<Package>, Vec<FileError>> {
    // Sized once: a project keeps these vectors until its files are arranged, and grown ones
    // were a fifth of the peak memory of a large project.
    let mut migrations = Vec::with_capacity(modules.len());
    let mut errors = Vec::new();
    for (path, module) in candidate.modules.into_iter().zip(modules) {
        match module {
            Some(Ok(migration)) => {
                let name = migration_name(split_path(path).1).unwrap_or_default();
                migrations.push((name.to_owned(), path.to_owned(), migration));
            }
            Some(Err(error)) => errors.push(FileError {
                path: path.to_owned(),
                error,
            }),
            None => {}
        }
    }
    let helper = migrations.is_empty()
        && !errors.is_empty()
        && candidate.relocated.is_none()
        && errors.iter().all(|e| e.error.message == NO_MIGRATION_CLASS);
    if helper {
        notes.push(
            Note::new(
                NoteKind::SkippedPackage,
                format!(
                    "`{}` is not a migrations package: none of its {} modules defines a `Migration` class",
                    candidate.dir,
                    errors.len()
                ),
            )
            .at(format!("{}/__init__.py", candidate.dir), None),
        );
        return Ok(None);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Some(Package {
        dir: candidate.dir,
        relocated: candidate.relocated,
        migrations,
    }))
}

/// A package with its label decided.
pub struct Labelled {
    pub package: Package,
    pub app_dir: String,
    pub label: String,
    pub label_source: Origin,
    pub migrations_source: Origin,
}

/// Decides each package's label from the evidence, in precedence order.
pub fn label_packages(
    index: &mut ModuleIndex<'_>,
    config: &Config,
    settings: &Settings,
    packages: Vec<Package>,
    notes: &mut Vec<Note>,
) -> Result<Vec<Labelled>, SourceError> {
    let installed = installed_config_labels(index, settings)?;
    // What each package's migrations say of their own label reads every dependency of the
    // project: worked out for all packages at once, on every core (a relocated package's label
    // comes from its relocation).
    let self_labels: Vec<Option<String>> = packages
        .par_iter()
        .map(|package| {
            package
                .relocated
                .is_none()
                .then(|| self_referenced_label(package))
                .flatten()
        })
        .collect();
    let mut labelled = Vec::new();
    for (package, self_label) in packages.into_iter().zip(self_labels) {
        let app_dir = split_path(&package.dir).0.to_owned();
        if let Some(relocation) = &package.relocated {
            labelled.push(Labelled {
                label: relocation.label.clone(),
                label_source: relocation.origin.clone(),
                migrations_source: relocation.origin.clone(),
                app_dir,
                package,
            });
            continue;
        }
        let mut claims: Vec<(String, Origin)> = Vec::new();
        if let Some(label) = config.labels.get(&app_dir) {
            claims.push((label.clone(), Origin::Config));
        }
        if let Some(claim) = installed.get(&app_dir) {
            claims.push(claim.clone());
        }
        claims.extend(app_config_label(index, &app_dir, notes)?);
        if let Some(label) = self_label {
            claims.push((label, Origin::SelfReferences));
        }
        let (label, label_source) = claims
            .first()
            .cloned()
            .unwrap_or_else(|| (last_component(&app_dir).to_owned(), Origin::DirectoryName));
        for (other, origin) in claims.iter().skip(1) {
            if *other != label {
                notes.push(
                    Note::new(
                        NoteKind::Disagreement,
                        format!(
                            "`{}`: label `{label}` ({label_source}) wins over `{other}` ({origin})",
                            package.dir
                        ),
                    )
                    .for_app(&label)
                    .at(format!("{}/__init__.py", package.dir), None),
                );
            }
        }
        labelled.push(Labelled {
            label,
            label_source,
            migrations_source: Origin::DirectoryName,
            app_dir,
            package,
        });
    }
    Ok(labelled)
}

/// App directory -> the label of the config class an `INSTALLED_APPS` entry names
/// (`"shop.apps.ShopConfig"`), with the entry's place. The first settings file wins.
fn installed_config_labels(
    index: &mut ModuleIndex<'_>,
    settings: &Settings,
) -> Result<BTreeMap<String, (String, Origin)>, SourceError> {
    let mut found: BTreeMap<String, (String, Origin)> = BTreeMap::new();
    for entries in settings.installed.values() {
        for entry in entries {
            // A module is an app's package; only a dotted path that is no module can be a
            // config class.
            if index.module_file(&entry.value).is_some() {
                continue;
            }
            let Some(named) = app_configs::named_config(index, &entry.value)? else {
                continue;
            };
            if let (Some(package), Some(label)) = (named.package, named.label) {
                found
                    .entry(package)
                    .or_insert_with(|| (label.label, Origin::settings(entry)));
            }
        }
    }
    Ok(found)
}

/// The files [`app_config_label`] reads first for each candidate's app (its `apps.py` and
/// `__init__.py`), those the project has and the index has not read yet: for
/// [`super::modules::ReadAhead`].
pub fn app_config_files(candidates: &[Candidate<'_>], index: &ModuleIndex<'_>) -> Vec<String> {
    let mut files: Vec<String> = candidates
        .iter()
        .flat_map(|candidate| {
            let app_dir = split_path(&candidate.dir).0;
            [APP_CONFIG_FILE, PACKAGE_INIT_FILE].map(|file| app_file(app_dir, file))
        })
        .filter(|path| index.has_file(path) && !index.is_loaded(path))
        .collect();
    // Two candidates may share an app directory (a relocated package beside its own).
    files.sort_unstable();
    files.dedup();
    files
}

/// The root-relative path of `file` in the app directory `app_dir` (`""` for the root).
fn app_file(app_dir: &str, file: &str) -> String {
    if app_dir.is_empty() {
        file.to_owned()
    } else {
        format!("{app_dir}/{file}")
    }
}

/// The label the app's own config class sets: the one `apps.py` holds, else the one its
/// `__init__.py` names with `default_app_config`.
fn app_config_label(
    index: &mut ModuleIndex<'_>,
    app_dir: &str,
    notes: &mut Vec<Note>,
) -> Result<Option<(String, Origin)>, SourceError> {
    let join = |file: &str| app_file(app_dir, file);
    let apps_py = join(APP_CONFIG_FILE);
    if index.has_file(&apps_py) {
        match app_configs::apps_module(index, &apps_py)? {
            AppsModule::Chosen {
                label: Some(label), ..
            } => {
                return Ok(Some((
                    label.label,
                    Origin::AppConfig {
                        file: label.file,
                        line: label.line,
                    },
                )));
            }
            AppsModule::Ambiguous(classes) => notes.push(
                Note::new(
                    NoteKind::Unknown,
                    format!(
                        "several config classes and none marked `default = True`: {}; the label is taken from other evidence",
                        classes.join(", ")
                    ),
                )
                .at(&apps_py, None),
            ),
            AppsModule::Chosen { label: None, .. } | AppsModule::None => {}
        }
    }
    let init = join(PACKAGE_INIT_FILE);
    let named = match index.facts(&init)? {
        Some(facts) => facts.default_app_config.clone(),
        None => None,
    };
    if let Some(named) = named
        && let Some(config) = app_configs::named_config(index, &named.value)?
        && let Some(label) = config.label
    {
        return Ok(Some((
            label.label,
            Origin::AppConfig {
                file: label.file,
                line: label.line,
            },
        )));
    }
    Ok(None)
}

/// The label the package's migrations use for one another: the app named by most of the
/// dependencies and replaces that name a module of this very package, when one app leads.
/// (`('addons_box', '0001_initial')` inside `addons/box/migrations/0002_x.py`.)
fn self_referenced_label(package: &Package) -> Option<String> {
    let names: BTreeSet<&str> = package
        .migrations
        .iter()
        .map(|(name, _, _)| name.as_str())
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (own, _, migration) in &package.migrations {
        for entry in migration
            .dependencies
            .entries()
            .iter()
            .chain(migration.replaces.entries())
        {
            // A migration never depends on itself: a reference to its own name is another
            // app's migration of the same name (`("auth", "0001_initial")`).
            if let Reference::Literal { app, name } = &entry.reference
                && name.value != *own
                && names.contains(name.value.as_str())
            {
                *counts.entry(app.value.as_str()).or_default() += 1;
            }
        }
    }
    let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
    ranked.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
    match ranked.as_slice() {
        [(label, _)] => Some((*label).to_owned()),
        [(label, first), (_, second), ..] if first > second => Some((*label).to_owned()),
        _ => None,
    }
}

/// The apps and their migrations in Django's processing order (`app-order`, then by path), the
/// packages `MIGRATION_MODULES` replaces left out, and labels used twice reported.
pub fn arrange(
    labelled: Vec<Labelled>,
    config: &Config,
    settings: &Settings,
    index: &mut ModuleIndex<'_>,
    detail: Detail,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<Note>,
) -> Result<(Vec<App>, Vec<Arc<MigrationFile>>), SourceError> {
    let relocated: BTreeMap<String, (String, Origin)> = labelled
        .iter()
        .filter(|l| l.package.relocated.is_some())
        .map(|l| {
            (
                l.label.clone(),
                (l.package.dir.clone(), l.label_source.clone()),
            )
        })
        .collect();
    let mut kept: Vec<Labelled> = Vec::new();
    for entry in labelled {
        if entry.package.relocated.is_none()
            && let Some((dir, origin)) = relocated.get(&entry.label)
        {
            notes.push(
                Note::new(
                    NoteKind::SkippedPackage,
                    format!(
                        "`{}` is not read: MIGRATION_MODULES ({origin}) gives app `{}` the migrations of `{dir}`",
                        entry.package.dir, entry.label
                    ),
                )
                .for_app(&entry.label)
                .at(format!("{}/__init__.py", entry.package.dir), None),
            );
            continue;
        }
        kept.push(entry);
    }

    let rank = |label: &str| {
        config
            .app_order
            .iter()
            .position(|l| l == label)
            .unwrap_or(usize::MAX)
    };
    kept.sort_by(|a, b| (rank(&a.label), &a.app_dir).cmp(&(rank(&b.label), &b.app_dir)));

    let installed_together = installed_sets(index, settings)?;
    let with_migrations: BTreeSet<String> = kept
        .iter()
        .filter(|e| !e.package.migrations.is_empty())
        .map(|e| e.label.clone())
        .collect();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut apps = Vec::new();
    let mut migrations = Vec::new();
    for mut entry in kept {
        // An empty package that shares its label (test packages, templates) has nothing to
        // check; the label stays with the package that has migrations.
        let shared = seen.contains_key(&entry.label) || with_migrations.contains(&entry.label);
        if entry.package.migrations.is_empty() && shared {
            notes.push(
                Note::new(
                    NoteKind::SkippedPackage,
                    format!(
                        "`{}` holds no migrations and app label `{}` is another package's: skipped",
                        entry.package.dir, entry.label
                    ),
                )
                .at(format!("{}/__init__.py", entry.package.dir), None),
            );
            continue;
        }
        if let Some(first) = seen.get(&entry.label) {
            let together = installed_together
                .iter()
                .any(|set| set.contains(first) && set.contains(&entry.app_dir));
            // Without any INSTALLED_APPS read, every package counts as installed, as Django
            // would see it with all of them.
            if installed_together.is_empty() || together {
                problems.push(
                    Problem::new(
                        ProblemKind::DuplicateLabel,
                        format!(
                            "app label `{}` is used by both {} and {}; Django refuses duplicate labels",
                            entry.label, first, entry.app_dir
                        ),
                    )
                    .at(format!("{}/__init__.py", entry.package.dir), None),
                );
                continue;
            }
            let identity = format!("{}@{}", entry.label, entry.app_dir);
            notes.push(
                Note::new(
                    NoteKind::Unknown,
                    format!(
                        "app label `{}` is also used by {first}, and no settings module installs both: {} is checked on its own, as `{identity}`",
                        entry.label, entry.app_dir
                    ),
                )
                .for_app(&identity)
                .at(format!("{}/__init__.py", entry.package.dir), None),
            );
            rename_own_references(&mut entry.package, &entry.label, &identity);
            entry.label = identity;
        }
        seen.insert(entry.label.clone(), entry.app_dir.clone());
        let mut files = entry.package.migrations;
        files.sort_by(|a, b| a.0.cmp(&b.0));
        migrations.extend(files.into_iter().map(|(name, path, migration)| {
            Arc::new(MigrationFile {
                app: entry.label.clone(),
                name,
                path,
                migration,
                detail,
            })
        }));
        apps.push(App {
            label: entry.label,
            package: entry.app_dir,
            migrations_dir: entry.package.dir,
            max_migration: None,
            label_source: entry.label_source,
            migrations_source: entry.migrations_source,
        });
    }
    Ok((apps, migrations))
}

/// Points a copy's references to its own label at its distinct identity, so that the copy's
/// history stays a history of its own and never joins the first copy's.
fn rename_own_references(package: &mut Package, label: &str, identity: &str) {
    for (_, _, migration) in &mut package.migrations {
        for attr in [
            &mut migration.dependencies,
            &mut migration.replaces,
            &mut migration.run_before,
        ] {
            if let crate::migration::ListAttr::Literal { entries, .. } = attr {
                for entry in entries {
                    if let Reference::Literal { app, .. } = &mut entry.reference
                        && app.value == label
                    {
                        app.value = identity.to_owned();
                    }
                }
            }
        }
    }
}

/// For each settings file, the app directories its `INSTALLED_APPS` names.
fn installed_sets(
    index: &mut ModuleIndex<'_>,
    settings: &Settings,
) -> Result<Vec<BTreeSet<String>>, SourceError> {
    let mut sets = Vec::new();
    for entries in settings.installed.values() {
        let mut dirs = BTreeSet::new();
        for entry in entries {
            let dir = match index.package_dir(&entry.value) {
                Some(dir) => Some(dir),
                None => app_configs::named_config(index, &entry.value)?.and_then(|c| c.package),
            };
            dirs.extend(dir);
        }
        sets.push(dirs);
    }
    Ok(sets)
}

/// The configuration with what the settings say of swappable models filled in where it is
/// silent, and every swappable fact with its source.
pub fn swappable_settings(
    mut config: Config,
    settings: &Settings,
    notes: &mut Vec<Note>,
) -> (Config, Vec<SwappableFact>) {
    let mut facts = Vec::new();
    for (setting, model) in &config.swappable {
        facts.push(SwappableFact {
            setting: setting.clone(),
            model: model.clone(),
            source: Origin::Config,
        });
    }
    for (setting, values) in &settings.models {
        let Some(first) = values.first() else {
            continue;
        };
        let (model, source) = match config.swappable.get(setting) {
            Some(model) => (model.clone(), Origin::Config),
            None => (first.value.clone(), Origin::settings(first)),
        };
        for other in values.iter().filter(|v| v.value != model) {
            notes.push(Note::new(
                NoteKind::Disagreement,
                format!(
                    "{setting}: `{model}` ({source}) wins over `{}` ({})",
                    other.value,
                    other.at()
                ),
            ));
        }
        if source != Origin::Config {
            config.swappable.insert(setting.clone(), model.clone());
            facts.push(SwappableFact {
                setting: setting.clone(),
                model,
                source,
            });
        }
    }
    const USER: &str = "AUTH_USER_MODEL";
    if !config.swappable.contains_key(USER)
        && let Some(model) = config.swappable_model(USER)
    {
        facts.push(SwappableFact {
            setting: USER.to_owned(),
            model: model.to_owned(),
            source: Origin::DjangoDefault,
        });
    }
    facts.sort_by(|a, b| a.setting.cmp(&b.setting));
    (config, facts)
}

/// A note per swappable setting that migrations depend on and nothing sets: the dependency is
/// left out of the graph, and the app it would point to is unknown.
pub fn note_unknown_swappable(
    config: &Config,
    migrations: &[Arc<MigrationFile>],
    notes: &mut Vec<Note>,
) {
    let mut unknown: BTreeMap<&str, (&MigrationFile, u32, usize)> = BTreeMap::new();
    for file in migrations {
        for entry in file
            .migration
            .dependencies
            .entries()
            .iter()
            .chain(file.migration.run_before.entries())
        {
            if let Reference::Swappable {
                setting,
                default: None,
            } = &entry.reference
                && config.swappable_model(setting).is_none()
            {
                unknown.entry(setting).or_insert((file, entry.line, 0)).2 += 1;
            }
        }
    }
    for (setting, (file, line, count)) in unknown {
        notes.push(
            Note::new(
                NoteKind::Unknown,
                format!(
                    "swappable setting `{setting}` is set in no settings module read nor under [tool.migmerge.swappable]; {count} dependenc{} on it left out",
                    if count == 1 { "y" } else { "ies" }
                ),
            )
            .for_app(&file.app)
            .at(&file.path, Some(line)),
        );
    }
}
