//! Reading and parsing the migration modules, started while the snapshot is still listed.
//!
//! Which directories are migrations packages is known only once the whole snapshot is listed and
//! the settings are read (`MIGRATION_MODULES` may name any directory). But nearly every migration
//! module sits in a directory named `migrations`, and parsing is most of what loading costs: so
//! each such module is read and parsed as soon as the listing finds it, on the other cores, while
//! the listing goes on. What the packages turn out to be then takes those results, and reads the
//! few modules no guess covered (relocated packages). A parse depends on the file's bytes and the
//! detail alone, so a result made early is the one a later read would make; a module read in
//! vain (its directory is no package) is dropped, with whatever error reading it gave.

use std::collections::HashMap;
use std::sync::Mutex;

use rayon::prelude::*;

use super::model::{Candidate, ModuleResult};
use super::{
    FileError, LoadError, MIGRATIONS_DIR, last_component, lock, migration_name, split_path,
};
use crate::migration::{self, Detail, Migration, ParseError};
use crate::source::{PathFilter, Source, SourceError};

/// One module as read early: gone by the time it was read, unreadable, or parsed.
enum Read {
    Gone,
    Failed(SourceError),
    Parsed(Box<Result<Migration, ParseError>>),
}

/// The modules read while the snapshot was listed, by path.
pub(super) struct EarlyReads(HashMap<String, Read>);

/// Whether the listing's `path` is worth reading before the packages are known: a module Django
/// would load from a directory named `migrations` below the root, which is what a package
/// without `MIGRATION_MODULES` is.
fn likely_migration(path: &str) -> bool {
    let (dir, file) = split_path(path);
    last_component(dir) == MIGRATIONS_DIR && dir.contains('/') && migration_name(file).is_some()
}

/// Lists `source` as [`Source::list`] does and, meanwhile, reads and parses to `detail` every
/// likely migration module it finds, on the pool's other threads.
pub(super) fn list_and_read(
    source: &dyn Source,
    wanted: PathFilter<'_>,
    detail: Detail,
) -> Result<(Vec<String>, EarlyReads), SourceError> {
    let reads: Mutex<Vec<(String, Read)>> = Mutex::new(Vec::new());
    let listed = rayon::scope(|scope| {
        let reads = &reads;
        source.list_streaming(wanted, &mut |path| {
            if likely_migration(path) {
                let path = path.to_owned();
                scope.spawn(move |_| {
                    let read = BUFFER.with_borrow_mut(|buf| read_one(source, &path, detail, buf));
                    lock(reads).push((path, read));
                });
            }
        })
    });
    let reads = reads
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((listed?, EarlyReads(reads.into_iter().collect())))
}

thread_local! {
    /// One read buffer per thread: a file's bytes live only until it is parsed.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn read_one(source: &dyn Source, path: &str, detail: Detail, buf: &mut Vec<u8>) -> Read {
    match source.read_into(path, buf) {
        Ok(true) => Read::Parsed(Box::new(migration::parse_with(buf, detail))),
        Ok(false) => Read::Gone,
        Err(error) => Read::Failed(error),
    }
}

/// The modules of every candidate package, each result kept with its package: those read early
/// taken from `early`, the others read now, in parallel. A module that could not be read fails
/// the load; one gone since it was listed is left out.
pub(super) fn parse_packages(
    source: &dyn Source,
    candidates: &[Candidate],
    detail: Detail,
    mut early: EarlyReads,
) -> Result<Vec<Vec<ModuleResult>>, LoadError> {
    let mut slots: Vec<Vec<Option<Read>>> = candidates
        .iter()
        .map(|candidate| {
            candidate
                .modules
                .iter()
                .map(|(_, path)| early.0.remove(path))
                .collect()
        })
        .collect();
    drop(early);
    let missing: Vec<(usize, usize)> = slots
        .iter()
        .enumerate()
        .flat_map(|(package, reads)| {
            reads
                .iter()
                .enumerate()
                .filter(|(_, read)| read.is_none())
                .map(move |(module, _)| (package, module))
        })
        .collect();
    let late: Vec<((usize, usize), Read)> = missing
        .par_iter()
        .map_init(Vec::new, |buf, &(package, module)| {
            let path = &candidates[package].modules[module].1;
            ((package, module), read_one(source, path, detail, buf))
        })
        .collect();
    for ((package, module), read) in late {
        slots[package][module] = Some(read);
    }
    let mut by_package = Vec::with_capacity(candidates.len());
    for (candidate, reads) in candidates.iter().zip(slots) {
        // Sized once: a project keeps these vectors until its files are arranged.
        let mut modules = Vec::with_capacity(reads.len());
        for ((name, path), read) in candidate.modules.iter().zip(reads) {
            match read {
                Some(Read::Parsed(parsed)) => modules.push(
                    (*parsed)
                        .map(|migration| (name.clone(), path.clone(), migration))
                        .map_err(|error| FileError {
                            path: path.clone(),
                            error,
                        }),
                ),
                Some(Read::Failed(error)) => return Err(error.into()),
                Some(Read::Gone) | None => {}
            }
        }
        by_package.push(modules);
    }
    Ok(by_package)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceError;
    use std::collections::BTreeMap;
    use std::io;
    use std::path::PathBuf;

    /// Files in memory; a file whose text is `UNREADABLE` fails to read, as a file without
    /// permission does; the paths `read` was asked for are recorded.
    struct Files {
        files: BTreeMap<String, String>,
        asked: Mutex<Vec<String>>,
    }

    const UNREADABLE: &str = "<unreadable>";
    const MIGRATION: &str = "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    dependencies = []\n";

    impl Source for Files {
        fn describe(&self) -> String {
            "test files".into()
        }
        fn list(&self, wanted: PathFilter<'_>) -> Result<Vec<String>, SourceError> {
            Ok(self.files.keys().filter(|p| wanted(p)).cloned().collect())
        }
        fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
            lock(&self.asked).push(path.to_owned());
            match self.files.get(path).map(String::as_str) {
                Some(UNREADABLE) => Err(SourceError::Io {
                    path: PathBuf::from(path),
                    source: io::Error::from(io::ErrorKind::PermissionDenied),
                }),
                Some(text) => Ok(Some(text.as_bytes().to_vec())),
                None => Ok(None),
            }
        }
    }

    fn files(entries: &[(&str, &str)]) -> Files {
        Files {
            files: entries
                .iter()
                .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
                .collect(),
            asked: Mutex::new(Vec::new()),
        }
    }

    fn candidate(dir: &str, modules: &[&str]) -> Candidate {
        Candidate {
            dir: dir.to_owned(),
            relocated: None,
            modules: modules
                .iter()
                .map(|name| ((*name).to_owned(), format!("{dir}/{name}.py")))
                .collect(),
        }
    }

    fn names(package: &[ModuleResult]) -> Vec<&str> {
        package
            .iter()
            .map(|module| match module {
                Ok((name, _, _)) => name.as_str(),
                Err(error) => error.path.as_str(),
            })
            .collect()
    }

    #[test]
    fn modules_in_migrations_directories_are_read_while_listing_and_not_again() {
        let source = files(&[
            ("shop/migrations/__init__.py", ""),
            ("shop/migrations/0001_initial.py", MIGRATION),
            ("shop/migrations/0002_more.py", MIGRATION),
            ("shop/models.py", "x = 1\n"),
            ("moved/0001_initial.py", MIGRATION),
        ]);
        let (paths, early) = list_and_read(&source, &|_| true, Detail::Graph).unwrap();
        assert_eq!(paths.len(), 5);
        let mut asked = lock(&source.asked).clone();
        asked.sort();
        // Neither `__init__.py`, nor a module outside a `migrations` directory, is guessed at.
        assert_eq!(
            asked,
            [
                "shop/migrations/0001_initial.py",
                "shop/migrations/0002_more.py"
            ]
        );
        // A relocated package (`MIGRATION_MODULES`) is read when it is known to be one.
        let candidates = [
            candidate("moved", &["0001_initial"]),
            candidate("shop/migrations", &["0001_initial", "0002_more"]),
        ];
        let parsed = parse_packages(&source, &candidates, Detail::Graph, early).unwrap();
        assert_eq!(names(&parsed[0]), ["0001_initial"]);
        assert_eq!(names(&parsed[1]), ["0001_initial", "0002_more"]);
        assert_eq!(lock(&source.asked).len(), 3, "each module is read once");
    }

    #[test]
    fn an_unreadable_module_fails_the_load_only_where_a_package_holds_it() {
        let source = files(&[
            ("shop/migrations/__init__.py", ""),
            ("shop/migrations/0001_initial.py", MIGRATION),
            ("shop/migrations/0002_locked.py", UNREADABLE),
            ("docs/migrations/0001_draft.py", UNREADABLE),
        ]);
        let (_, early) = list_and_read(&source, &|_| true, Detail::Graph).unwrap();
        // `docs/migrations` has no `__init__.py`: no package, so its unreadable file is no error.
        let shop = [candidate("shop/migrations", &["0001_initial"])];
        assert!(parse_packages(&source, &shop, Detail::Graph, early).is_ok());

        let (_, early) = list_and_read(&source, &|_| true, Detail::Graph).unwrap();
        let shop = [candidate(
            "shop/migrations",
            &["0001_initial", "0002_locked"],
        )];
        match parse_packages(&source, &shop, Detail::Graph, early) {
            Err(LoadError::Source(SourceError::Io { path, .. })) => {
                assert_eq!(path, PathBuf::from("shop/migrations/0002_locked.py"));
            }
            other => panic!(
                "expected the unreadable module's error, got {:?}",
                other.map(|_| ())
            ),
        }
    }

    #[test]
    fn a_module_gone_since_the_listing_is_left_out_and_one_that_does_not_parse_is_an_error() {
        let source = files(&[
            ("shop/migrations/__init__.py", ""),
            ("shop/migrations/0001_initial.py", MIGRATION),
            ("shop/migrations/0002_broken.py", "class Migration(:\n"),
        ]);
        let (_, early) = list_and_read(&source, &|_| true, Detail::Graph).unwrap();
        let shop = [candidate(
            "shop/migrations",
            &["0001_initial", "0002_broken", "0003_gone"],
        )];
        let parsed = parse_packages(&source, &shop, Detail::Graph, early).unwrap();
        assert_eq!(
            names(&parsed[0]),
            ["0001_initial", "shop/migrations/0002_broken.py"]
        );
        assert!(parsed[0][1].is_err());
    }
}
