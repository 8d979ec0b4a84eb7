//! `[tool.migmerge]` in `pyproject.toml`, or the top level of `migmerge.toml` for repos without
//! one. Unknown keys and wrong types are errors that name the key and the file.

use std::collections::BTreeMap;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

/// The files configuration is read from, in order of preference, at the project's root.
pub const PYPROJECT: &str = "pyproject.toml";
pub const MIGMERGE_TOML: &str = "migmerge.toml";

/// How a conflict is resolved when nobody says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Renumber when exactly one side is unpublished, else write a merge migration.
    #[default]
    Auto,
    /// Write a merge migration depending on every leaf.
    Merge,
    /// Move the unpublished side's migrations after the other leaf.
    Renumber,
}

/// The project's settings for migmerge.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Refs whose migrations are published and must never be renamed. `None`: the remote's
    /// default branch, else local `main` / `master`.
    pub protected: Option<Vec<String>>,
    #[serde(default)]
    pub strategy: Strategy,
    /// Glob patterns (root-relative) of paths to leave out, e.g. `"legacy/**"`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// App package directory (root-relative) -> app label, for labels set outside `apps.py`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// App label -> migrations directory, as Django's `MIGRATION_MODULES` setting (with a path
    /// instead of a dotted module name).
    #[serde(default)]
    pub migration_modules: BTreeMap<String, String>,
    /// Swappable model settings -> `"app_label.ModelName"`; `AUTH_USER_MODEL` defaults to
    /// Django's `auth.User`. What the settings modules say fills in the settings not given
    /// here.
    #[serde(default)]
    pub swappable: BTreeMap<String, String>,
    /// App labels in `INSTALLED_APPS` order, where it matters (squashes that interact across
    /// apps). Apps not listed follow, by path.
    #[serde(default)]
    pub app_order: Vec<String>,
    /// The Django settings modules to read, as root-relative paths (a file or a directory of
    /// them) or dotted module names. Empty: found from `manage.py`'s `DJANGO_SETTINGS_MODULE`
    /// default, every `settings.py` and every `settings/` package.
    #[serde(default)]
    pub settings: Vec<String>,
    /// `renumber-replaces`: each migration the renumber strategy renames also gets
    /// `replaces = [("app", "old_name")]`, so a database that applied it under its old name
    /// counts it as applied under the new one (Django marks a replacing migration applied once
    /// everything it replaces is). For branches already migrated on a shared database; off by
    /// default, because a migration with `replaces` is a squash to Django and to migmerge,
    /// which never renames one again.
    #[serde(default)]
    pub renumber_replaces: bool,
    /// The database the project deploys on (`postgresql`, `mysql`, `sqlite`, `oracle`): the
    /// lint rules about one database's locks apply only to it.
    pub database: Option<String>,
    /// Lint rule code -> `off`, `info`, `warning` or `error`, re-grading or switching off a rule.
    #[serde(default)]
    pub lint: BTreeMap<String, crate::lint::Level>,
}

/// The values `database` accepts: Django's built-in backends.
pub const DATABASES: &[&str] = &["postgresql", "mysql", "sqlite", "oracle"];

/// Configuration that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

#[derive(Deserialize)]
struct PyProject {
    #[serde(default)]
    tool: Tools,
}

#[derive(Deserialize, Default)]
struct Tools {
    migmerge: Option<Config>,
}

impl Config {
    /// Reads configuration from the root files' contents (`None` for a missing file).
    pub fn load(
        pyproject: Option<&[u8]>,
        migmerge_toml: Option<&[u8]>,
    ) -> Result<Self, ConfigError> {
        if let Some(bytes) = pyproject {
            let parsed: PyProject = parse_toml(PYPROJECT, bytes)?;
            if let Some(config) = parsed.tool.migmerge {
                return config.validated(PYPROJECT);
            }
        }
        match migmerge_toml {
            Some(bytes) => parse_toml::<Config>(MIGMERGE_TOML, bytes)?.validated(MIGMERGE_TOML),
            None => Ok(Config::default()),
        }
    }

    fn validated(self, file: &str) -> Result<Self, ConfigError> {
        self.exclude_set().map_err(|message| ConfigError {
            file: file.to_owned(),
            message,
        })?;
        for (setting, model) in &self.swappable {
            if model
                .split_once('.')
                .is_none_or(|(app, name)| app.is_empty() || name.is_empty())
            {
                return Err(ConfigError {
                    file: file.to_owned(),
                    message: format!(
                        "swappable.{setting}: expected \"app_label.ModelName\", found {model:?}"
                    ),
                });
            }
        }
        if let Some(database) = &self.database
            && !DATABASES.contains(&database.as_str())
        {
            return Err(ConfigError {
                file: file.to_owned(),
                message: format!(
                    "database: expected one of {}, found {database:?}",
                    DATABASES.join(", ")
                ),
            });
        }
        for code in self.lint.keys() {
            if crate::lint::Rule::from_code(code).is_none() {
                return Err(ConfigError {
                    file: file.to_owned(),
                    message: format!("lint.{code}: no such lint rule (see docs/lint.md)"),
                });
            }
        }
        Ok(self)
    }

    /// The compiled `exclude` patterns.
    pub fn exclude_set(&self) -> Result<GlobSet, String> {
        let mut builder = GlobSetBuilder::new();
        for pattern in &self.exclude {
            let glob = Glob::new(pattern).map_err(|e| format!("exclude: {e}"))?;
            builder.add(glob);
        }
        builder.build().map_err(|e| format!("exclude: {e}"))
    }

    /// The `"app_label.ModelName"` a swappable setting points to.
    pub fn swappable_model(&self, setting: &str) -> Option<&str> {
        match self.swappable.get(setting) {
            Some(model) => Some(model),
            None if setting == "AUTH_USER_MODEL" => Some("auth.User"),
            None => None,
        }
    }
}

/// Whether two versions of `pyproject.toml` (`None`: no such file) hold the same
/// `[tool.migmerge]` table, so that a change between them cannot change migmerge's settings.
/// A version that is not valid TOML differs from every other, so that a caller skipping work on
/// "same" errs on the side of doing it.
pub fn same_pyproject_settings(before: Option<&[u8]>, after: Option<&[u8]>) -> bool {
    let table = |bytes: Option<&[u8]>| -> Result<Option<toml::Value>, ()> {
        let Some(bytes) = bytes else { return Ok(None) };
        let text = std::str::from_utf8(bytes).map_err(|_| ())?;
        let mut doc: toml::Table = toml::from_str(text).map_err(|_| ())?;
        Ok(match doc.remove("tool") {
            Some(toml::Value::Table(mut tools)) => tools.remove("migmerge"),
            _ => None,
        })
    };
    match (table(before), table(after)) {
        (Ok(before), Ok(after)) => before == after,
        _ => false,
    }
}

fn parse_toml<T: serde::de::DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T, ConfigError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ConfigError {
        file: file.to_owned(),
        message: format!("not UTF-8: {e}"),
    })?;
    toml::from_str(text).map_err(|e| ConfigError {
        file: file.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tool_table_from_pyproject() {
        let py = br#"
[project]
name = "shop"
[tool.black]
line-length = 100
[tool.migmerge]
protected = ["origin/main"]
strategy = "merge"
labels = { "src/accounts" = "users" }
swappable = { AUTH_USER_MODEL = "users.User" }
"#;
        let config = Config::load(Some(py), None).unwrap();
        assert_eq!(
            config.protected.as_deref(),
            Some(&["origin/main".to_owned()][..])
        );
        assert_eq!(config.strategy, Strategy::Merge);
        assert_eq!(config.labels["src/accounts"], "users");
        assert_eq!(
            config.swappable_model("AUTH_USER_MODEL"),
            Some("users.User")
        );
    }

    #[test]
    fn pyproject_settings_compare_the_migmerge_table_only() {
        let base = b"[project]\nname = 'x'\n[tool.migmerge]\nstrategy = 'merge'\n";
        let deps = b"[project]\nname = 'x'\ndependencies = ['django']\n\n[tool.migmerge]\nstrategy = \"merge\"\n";
        let other = b"[project]\nname = 'x'\n[tool.migmerge]\nstrategy = 'renumber'\n";
        let without = b"[project]\nname = 'x'\n";
        let lint = b"[project]\nname = 'y'\n[tool.ruff]\nline-length = 100\n";
        assert!(same_pyproject_settings(Some(base), Some(deps)));
        assert!(same_pyproject_settings(Some(without), Some(lint)));
        assert!(same_pyproject_settings(Some(without), None));
        assert!(same_pyproject_settings(None, None));
        assert!(!same_pyproject_settings(Some(base), Some(other)));
        assert!(!same_pyproject_settings(Some(base), Some(without)));
        assert!(!same_pyproject_settings(None, Some(base)));
        // Unreadable is never "the same", even as itself.
        assert!(!same_pyproject_settings(Some(b"[tool"), Some(b"[tool")));
        assert!(!same_pyproject_settings(Some(b"\xff"), None));
    }

    #[test]
    fn renumber_replaces_is_off_unless_set() {
        assert!(!Config::default().renumber_replaces);
        let py = b"[tool.migmerge]\nrenumber-replaces = true\n";
        assert!(Config::load(Some(py), None).unwrap().renumber_replaces);
    }

    #[test]
    fn falls_back_to_migmerge_toml() {
        let py = b"[project]\nname = 'x'\n";
        let own = b"strategy = \"renumber\"\n";
        let config = Config::load(Some(py), Some(own)).unwrap();
        assert_eq!(config.strategy, Strategy::Renumber);
        assert_eq!(config.swappable_model("AUTH_USER_MODEL"), Some("auth.User"));
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let py = b"[tool.migmerge]\nprotect = ['main']\n";
        let err = Config::load(Some(py), None).unwrap_err().to_string();
        assert!(err.starts_with("pyproject.toml:"), "{err}");
        assert!(err.contains("protect"), "{err}");
    }

    #[test]
    fn wrong_type_is_an_error() {
        let err = Config::load(None, Some(b"strategy = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("migmerge.toml:") && err.contains("strategy"),
            "{err}"
        );
    }

    #[test]
    fn lint_rules_are_re_graded_and_checked_by_code() {
        use crate::lint::Level;
        let py = b"[tool.migmerge]\ndatabase = 'postgresql'\nlint = { drop-column = 'off', rename-table = 'warning' }\n";
        let config = Config::load(Some(py), None).unwrap();
        assert_eq!(config.database.as_deref(), Some("postgresql"));
        assert_eq!(config.lint["drop-column"], Level::Off);
        assert_eq!(config.lint["rename-table"], Level::Warning);
        let err = Config::load(
            Some(b"[tool.migmerge]\nlint = { drop-colum = 'off' }\n"),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("lint.drop-colum"), "{err}");
        let err = Config::load(
            Some(b"[tool.migmerge]\nlint = { drop-column = 'loud' }\n"),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("lint"), "{err}");
        let err = Config::load(Some(b"[tool.migmerge]\ndatabase = 'postgres'\n"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("database"), "{err}");
    }

    #[test]
    fn bad_swappable_value_is_an_error() {
        let err = Config::load(None, Some(b"swappable = { AUTH_USER_MODEL = 'User' }\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("swappable.AUTH_USER_MODEL"), "{err}");
    }
}
