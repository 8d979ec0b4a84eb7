//! The project's Python modules as a static reader sees them: dotted names mapped to files
//! (at the root, or under a `src/`-style directory: the file whose path ends with the dotted
//! path), and each file parsed at most once.

use std::collections::HashMap;
use std::rc::Rc;

use rayon::prelude::*;

use crate::migration::app_config::{ModuleFacts, PythonModule, module_facts};
use crate::source::{Source, SourceError};

/// A Python module file and the facts it holds, parsed on first use.
struct Parsed {
    module: Rc<PythonModule>,
    facts: Rc<ModuleFacts>,
}

impl Parsed {
    fn new((module, facts): (PythonModule, ModuleFacts)) -> Parsed {
        Parsed {
            module: Rc::new(module),
            facts: Rc::new(facts),
        }
    }
}

pub struct ModuleIndex<'a> {
    source: &'a dyn Source,
    /// Every listed `.py` file, root-relative, sorted.
    files: &'a [String],
    parsed: HashMap<String, Option<Parsed>>,
    /// The files by their last path component (file name), made on the first lookup by
    /// suffix: every app's `apps.py` imports a module (`django.apps`) that is not
    /// in the project, and scanning every file for each would cost apps x files.
    by_tail: std::cell::OnceCell<HashMap<&'a str, Vec<&'a str>>>,
}

/// The last component of a `/`-separated path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl<'a> ModuleIndex<'a> {
    pub fn new(source: &'a dyn Source, files: &'a [String]) -> Self {
        ModuleIndex {
            source,
            files,
            parsed: HashMap::new(),
            by_tail: std::cell::OnceCell::new(),
        }
    }

    /// The files whose path ends with `/` and `suffix` (itself a relative path).
    fn ending_with(&self, suffix: &str) -> impl Iterator<Item = &'a str> + use<'a, '_> {
        let index = self.by_tail.get_or_init(|| {
            let mut index: HashMap<&'a str, Vec<&'a str>> = HashMap::new();
            for file in self.files {
                index.entry(file_name(file)).or_default().push(file);
            }
            index
        });
        // A longer path ending with `/suffix` has the suffix's file name.
        let key = file_name(suffix);
        let wanted = format!("/{suffix}");
        index
            .get(key)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |file| file.ends_with(wanted.as_str()))
    }

    pub fn files(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.files.iter().map(String::as_str)
    }

    pub fn has_file(&self, path: &str) -> bool {
        self.files
            .binary_search_by(|p| p.as_str().cmp(path))
            .is_ok()
    }

    /// The files whose path starts with `prefix` (a directory followed by `/`).
    pub fn files_under(&self, prefix: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        let start = self.files.partition_point(|p| p.as_str() < prefix);
        let prefix = prefix.to_owned();
        self.files[start..]
            .iter()
            .map(String::as_str)
            .take_while(move |p| p.starts_with(&prefix))
    }

    /// The file of a dotted module: `a/b.py` or `a/b/__init__.py` at the root, else the
    /// shortest path ending in `/a/b.py` or `/a/b/__init__.py`.
    pub fn module_file(&self, dotted: &str) -> Option<String> {
        if dotted.is_empty() || dotted.split('.').any(str::is_empty) {
            return None;
        }
        let relative = dotted.replace('.', "/");
        let candidates = [format!("{relative}.py"), format!("{relative}/__init__.py")];
        if let Some(found) = candidates.iter().find(|c| self.has_file(c)) {
            return Some(found.clone());
        }
        candidates
            .iter()
            .flat_map(|c| self.ending_with(c))
            .min_by_key(|p| (p.len(), *p))
            .map(str::to_owned)
    }

    /// The directory of a dotted package: where its `__init__.py` is, or where a module of
    /// that name would be (a namespace package) when some file is below it.
    pub fn package_dir(&self, dotted: &str) -> Option<String> {
        if let Some(file) = self.module_file(dotted) {
            return file.strip_suffix("/__init__.py").map(str::to_owned);
        }
        let relative = dotted.replace('.', "/");
        let prefix = format!("{relative}/");
        self.files_under(&prefix)
            .next()
            .is_some()
            .then_some(relative)
    }

    /// The file a relative import (`from ..base.apps import X` in `from_file`) names.
    pub fn relative_module_file(
        &self,
        from_file: &str,
        level: u32,
        module: &str,
    ) -> Option<String> {
        let mut dir = from_file.rsplit_once('/').map_or("", |(d, _)| d);
        for _ in 1..level {
            dir = dir.rsplit_once('/').map_or("", |(d, _)| d);
        }
        let mut base = dir.to_owned();
        for part in module.split('.').filter(|p| !p.is_empty()) {
            if !base.is_empty() {
                base.push('/');
            }
            base.push_str(part);
        }
        let join = |name: &str| {
            if base.is_empty() {
                name.to_owned()
            } else {
                format!("{base}/{name}")
            }
        };
        if !module.is_empty() {
            let file = format!("{base}.py");
            if self.has_file(&file) {
                return Some(file);
            }
        }
        let init = join("__init__.py");
        self.has_file(&init).then_some(init)
    }

    /// Takes in the modules read ahead; a module looked up already stays as it was.
    pub fn adopt(&mut self, ahead: ReadAhead) {
        for (path, parsed) in ahead.0 {
            self.parsed
                .entry(path)
                .or_insert_with(|| parsed.map(Parsed::new));
        }
    }

    /// Whether the module at `path` was looked up (or taken in) already.
    pub fn is_loaded(&self, path: &str) -> bool {
        self.parsed.contains_key(path)
    }

    fn load(&mut self, path: &str) -> Result<Option<&Parsed>, SourceError> {
        if !self.parsed.contains_key(path) {
            let parsed = read_module(self.source, path)?.map(Parsed::new);
            self.parsed.insert(path.to_owned(), parsed);
        }
        Ok(self.parsed.get(path).and_then(Option::as_ref))
    }

    /// The parsed module at `path`; `None` when missing or unparsable.
    pub fn parsed(&mut self, path: &str) -> Result<Option<Rc<PythonModule>>, SourceError> {
        Ok(self.load(path)?.map(|p| Rc::clone(&p.module)))
    }

    /// The app-configuration facts of the module at `path`.
    pub fn facts(&mut self, path: &str) -> Result<Option<Rc<ModuleFacts>>, SourceError> {
        Ok(self.load(path)?.map(|p| Rc::clone(&p.facts)))
    }
}

/// The module at `path` and its facts; `None` when missing or unparsable.
fn read_module(
    source: &dyn Source,
    path: &str,
) -> Result<Option<(PythonModule, ModuleFacts)>, SourceError> {
    Ok(source
        .read(path)?
        .and_then(|bytes| PythonModule::parse(&bytes))
        .map(|module| {
            let facts = module_facts(&module);
            (module, facts)
        }))
}

/// Modules read and parsed before anything looks them up, side by side on the worker threads:
/// the index itself is for one thread (its modules are shared by `Rc`), and looked up one by
/// one, the app configurations of a large project are a tenth of its load.
pub struct ReadAhead(Vec<(String, Option<(PythonModule, ModuleFacts)>)>);

impl ReadAhead {
    /// `paths` read and parsed as [`ModuleIndex`] would. A file that cannot be read is left
    /// out, for the lookup that needs it to read again and report the error where it always did.
    pub fn of(source: &dyn Source, paths: Vec<String>) -> ReadAhead {
        let parsed = paths
            .into_par_iter()
            .filter_map(|path| {
                let parsed = read_module(source, &path).ok()?;
                Some((path, parsed))
            })
            .collect();
        ReadAhead(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoSource;
    impl Source for NoSource {
        fn describe(&self) -> String {
            "nothing".into()
        }
        fn list(&self, _: crate::source::PathFilter<'_>) -> Result<Vec<String>, SourceError> {
            Ok(Vec::new())
        }
        fn read(&self, _: &str) -> Result<Option<Vec<u8>>, SourceError> {
            Ok(None)
        }
    }

    /// Files by path; a path mapped to `None` cannot be read.
    struct Files(Vec<(&'static str, Option<&'static str>)>);
    impl Source for Files {
        fn describe(&self) -> String {
            "files".into()
        }
        fn list(&self, _: crate::source::PathFilter<'_>) -> Result<Vec<String>, SourceError> {
            Ok(self.0.iter().map(|(p, _)| (*p).to_owned()).collect())
        }
        fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
            match self.0.iter().find(|(p, _)| *p == path) {
                Some((_, Some(text))) => Ok(Some(text.as_bytes().to_vec())),
                Some((_, None)) => Err(SourceError::Io {
                    path: path.into(),
                    source: std::io::Error::other("unreadable"),
                }),
                None => Ok(None),
            }
        }
    }

    /// Modules read ahead answer as the lookups would have; one looked up before stays as it
    /// was, and one that could not be read is read again by its lookup, which reports why.
    #[test]
    fn modules_read_ahead_answer_as_lookups_do() {
        let source = Files(vec![
            (
                "a/apps.py",
                Some("class AConfig(AppConfig):\n    label = 'a'\n"),
            ),
            (
                "b/apps.py",
                Some("class BConfig(AppConfig):\n    label = 'b'\n"),
            ),
            ("c/apps.py", None),
            ("d/apps.py", Some("def (\n")),
        ]);
        let files = source.list(&|_| true).unwrap();
        let mut looked_up = ModuleIndex::new(&source, &files);
        let mut read_ahead = ModuleIndex::new(&source, &files);
        let b = read_ahead.facts("b/apps.py").unwrap().unwrap();
        let paths = files
            .iter()
            .filter(|p| !read_ahead.is_loaded(p))
            .cloned()
            .collect();
        read_ahead.adopt(ReadAhead::of(&source, paths));
        assert!(Rc::ptr_eq(
            &b,
            &read_ahead.facts("b/apps.py").unwrap().unwrap()
        ));
        for path in ["a/apps.py", "b/apps.py", "d/apps.py"] {
            assert_eq!(
                read_ahead.facts(path).unwrap(),
                looked_up.facts(path).unwrap(),
                "{path}"
            );
        }
        let a = read_ahead.facts("a/apps.py").unwrap().unwrap();
        assert!(a.class("AConfig").is_some());
        assert!(read_ahead.facts("d/apps.py").unwrap().is_none());
        assert!(!read_ahead.is_loaded("c/apps.py"));
        assert!(read_ahead.facts("c/apps.py").is_err());
    }

    /// The index by file name finds what scanning every file for the suffix finds.
    #[test]
    fn a_lookup_by_suffix_finds_what_a_scan_finds() {
        let files: Vec<String> = [
            "apps.py",
            "a/apps.py",
            "x/a/apps.py",
            "x/y/a/apps.py",
            "a/apps/__init__.py",
            "z/a/apps/__init__.py",
            "deep/x/a/b/c.py",
            "b/c.py",
        ]
        .map(str::to_owned)
        .to_vec();
        let index = ModuleIndex::new(&NoSource, &files);
        for suffix in [
            "apps.py",
            "a/apps.py",
            "a/apps/__init__.py",
            "b/c.py",
            "a/b/c.py",
            "c.py",
            "q.py",
        ] {
            let mut found: Vec<&str> = index.ending_with(suffix).collect();
            let mut scanned: Vec<&str> = files
                .iter()
                .map(String::as_str)
                .filter(|f| f.ends_with(&format!("/{suffix}")))
                .collect();
            found.sort_unstable();
            scanned.sort_unstable();
            assert_eq!(found, scanned, "{suffix}");
        }
    }

    #[test]
    fn dotted_names_map_to_files_at_the_root_or_below_src() {
        let files: Vec<String> = [
            "addons/base/apps.py",
            "addons/box/apps.py",
            "src/proj/__init__.py",
            "src/proj/settings/__init__.py",
            "src/proj/settings/base.py",
            "tests/src/proj/settings/base.py",
        ]
        .map(str::to_owned)
        .to_vec();
        let index = ModuleIndex::new(&NoSource, &files);
        assert_eq!(
            index.module_file("addons.base.apps").as_deref(),
            Some("addons/base/apps.py")
        );
        assert_eq!(
            index.module_file("proj.settings").as_deref(),
            Some("src/proj/settings/__init__.py")
        );
        assert_eq!(
            index.module_file("proj.settings.base").as_deref(),
            Some("src/proj/settings/base.py")
        );
        assert_eq!(index.module_file("nope"), None);
        assert_eq!(index.module_file("a..b"), None);
        assert_eq!(
            index.package_dir("addons.box").as_deref(),
            Some("addons/box")
        );
        assert_eq!(index.package_dir("proj").as_deref(), Some("src/proj"));
        assert_eq!(
            index
                .relative_module_file("addons/box/apps.py", 2, "base.apps")
                .as_deref(),
            Some("addons/base/apps.py")
        );
        assert_eq!(
            index
                .relative_module_file("src/proj/settings/base.py", 1, "")
                .as_deref(),
            Some("src/proj/settings/__init__.py")
        );
        let under: Vec<&str> = index.files_under("src/proj/settings/").collect();
        assert_eq!(
            under,
            ["src/proj/settings/__init__.py", "src/proj/settings/base.py"]
        );
    }
}
