//! Where somebody's migration work may lie, which the hooks and the merge driver must not build
//! on: what they ask git about (untracked files, edits) and which of its answers count.
//!
//! A file counts when it lies directly in a migrations directory and Python could import it from
//! the package (a source, sourceless bytecode, an extension module, `__init__.py` or a helper a
//! migration imports), or when it is the directory's `max_migration.txt`. Nothing else there is
//! loaded as a migration or written by a resolution: bytecode caches (`__pycache__`, which
//! Python never loads without the source beside it), leftovers of editors and merge tools
//! (`0005_phone.py.orig`, `0005_phone.py~`, `.0005_phone.py.swp`), `.DS_Store`, notes, data
//! files, and whatever lies in a subdirectory (Django loads no migration from a subpackage).
//! Without this, a repository that does not ignore such files would never be resolved.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{App, MAX_MIGRATION_FILE, MIGRATIONS_DIR, last_component, split_path};

/// The endings of the files Python imports as modules: sources, sourceless bytecode and
/// extension modules (`.cpython-312-x86_64-linux-gnu.so` and `.abi3.so` end in `.so`).
const MODULE_SUFFIXES: [&str; 5] = [".py", ".pyc", ".pyw", ".pyd", ".so"];

/// Migrations directories to look in: every one named `migrations`, which is known without
/// reading the project, and those `MIGRATION_MODULES` gives other names, which only a load of
/// it knows. Absent fields read as none (a view kept by an older binary).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationsDirs {
    /// Every directory named `migrations`, wherever it is.
    #[serde(default)]
    named: bool,
    /// Migrations directories under other names, root-relative.
    #[serde(default)]
    relocated: BTreeSet<String>,
}

impl MigrationsDirs {
    /// Every directory named `migrations`.
    pub fn named() -> MigrationsDirs {
        MigrationsDirs {
            named: true,
            relocated: BTreeSet::new(),
        }
    }

    /// The migrations directories of `apps` not named `migrations`, alone. The root itself is
    /// never one: as a git pathspec it would stand for every file.
    pub fn relocated_in(apps: &[App]) -> MigrationsDirs {
        MigrationsDirs {
            named: false,
            relocated: apps
                .iter()
                .map(|app| app.migrations_dir.as_str())
                .filter(|dir| !dir.is_empty() && last_component(dir) != MIGRATIONS_DIR)
                .map(str::to_owned)
                .collect(),
        }
    }

    /// These directories and every one named `migrations`.
    pub fn and_named(self) -> MigrationsDirs {
        MigrationsDirs {
            named: true,
            ..self
        }
    }

    /// Whether there is no directory to look in.
    pub fn is_empty(&self) -> bool {
        !self.named && self.relocated.is_empty()
    }

    /// The pathspecs of every file under these directories, for git's commands.
    pub fn pathspecs(&self) -> Vec<String> {
        let named = self.named.then(|| ":(glob)**/migrations/**".to_owned());
        named
            .into_iter()
            .chain(self.relocated.iter().map(|dir| format!(":(literal){dir}")))
            .collect()
    }

    /// Whether a change to `path` (root-relative, as git names it) can be somebody's migration
    /// work in one of these directories (see the module's documentation).
    pub fn holds_work(&self, path: &str) -> bool {
        let (dir, file) = split_path(path);
        let in_dir =
            (self.named && last_component(dir) == MIGRATIONS_DIR) || self.relocated.contains(dir);
        in_dir
            && (file == MAX_MIGRATION_FILE
                || MODULE_SUFFIXES
                    .iter()
                    .any(|suffix| file.len() > suffix.len() && file.ends_with(suffix)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relocated(dirs: &[&str]) -> MigrationsDirs {
        MigrationsDirs {
            named: false,
            relocated: dirs.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    #[test]
    fn migration_work_is_what_python_imports_from_the_package_and_max_migration_txt() {
        let named = MigrationsDirs::named();
        for path in [
            "shop/migrations/0002_draft.py",
            "shop/migrations/__init__.py",
            "shop/migrations/_helpers.py",
            "migrations/0001_initial.py",
            // Sourceless: Django loads it as a migration.
            "shop/migrations/0002_draft.pyc",
            "shop/migrations/0002_fast.cpython-312-x86_64-linux-gnu.so",
            "shop/migrations/max_migration.txt",
        ] {
            assert!(named.holds_work(path), "{path}");
        }
        for path in [
            "shop/migrations/__pycache__/0001_initial.cpython-312.pyc",
            "shop/migrations/0002_draft.py.orig",
            "shop/migrations/0002_draft.py~",
            "shop/migrations/.0002_draft.py.swp",
            "shop/migrations/.DS_Store",
            "shop/migrations/README.md",
            "shop/migrations/data/0002.json",
            "shop/migrations/.py",
            "shop/models.py",
        ] {
            assert!(!named.holds_work(path), "{path}");
        }
        // A directory `MIGRATION_MODULES` names, whatever it is called.
        let custom = relocated(&["dojo/db_migrations"]);
        assert!(custom.holds_work("dojo/db_migrations/0003_draft.py"));
        assert!(!named.holds_work("dojo/db_migrations/0003_draft.py"));
        assert!(!custom.holds_work("dojo/db_migrations/notes.txt"));
        assert!(!custom.holds_work("shop/migrations/0002_draft.py"));
        assert!(
            custom
                .and_named()
                .holds_work("shop/migrations/0002_draft.py")
        );
    }

    #[test]
    fn git_is_asked_about_the_directories_looked_in() {
        assert_eq!(
            MigrationsDirs::named().pathspecs(),
            [":(glob)**/migrations/**"]
        );
        let custom = relocated(&["dojo/db_migrations"]);
        assert_eq!(custom.pathspecs(), [":(literal)dojo/db_migrations"]);
        assert_eq!(
            custom.and_named().pathspecs(),
            [":(glob)**/migrations/**", ":(literal)dojo/db_migrations"]
        );
        assert!(MigrationsDirs::default().is_empty());
        assert!(!MigrationsDirs::named().is_empty());
    }
}
