//! App labels from `AppConfig` classes, read statically: a class is a config when it derives,
//! through classes of the project's own modules (imports followed), from `AppConfig`, or from
//! a base migmerge cannot see whose name ends in `Config` (`ModelSearchAppConfig` from a
//! third-party package); its label is the first `label = "..."` literal up its bases.

use crate::migration::app_config::ClassFacts;
use crate::source::SourceError;

use super::modules::ModuleIndex;

/// How deep imports and bases are followed: far beyond any real hierarchy, short of a loop.
const MAX_DEPTH: usize = 12;

/// A label a config class sets, and where the literal stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLabel {
    pub label: String,
    pub file: String,
    pub line: u32,
}

/// What a config class says, its bases included.
#[derive(Debug, Clone, Default)]
struct Inspected {
    is_config: bool,
    label: Option<ConfigLabel>,
    default: Option<bool>,
    app_name: Option<String>,
}

/// The class `name` (plain or dotted, as a base is written) means in the module at `file`:
/// the file that defines it and its facts.
fn find_class(
    index: &mut ModuleIndex<'_>,
    file: &str,
    name: &str,
    depth: usize,
) -> Result<Option<(String, ClassFacts)>, SourceError> {
    if depth > MAX_DEPTH {
        return Ok(None);
    }
    let Some(facts) = index.facts(file)? else {
        return Ok(None);
    };
    let import_file = |index: &ModuleIndex<'_>, level: u32, module: &str| {
        if level > 0 {
            index.relative_module_file(file, level, module)
        } else {
            index.module_file(module)
        }
    };
    match name.split_once('.') {
        None => {
            if let Some(class) = facts.class(name) {
                return Ok(Some((file.to_owned(), class.clone())));
            }
            let Some(import) = facts.imports.get(name) else {
                return Ok(None);
            };
            let Some(imported) = &import.name else {
                return Ok(None);
            };
            match import_file(index, import.level, &import.module) {
                Some(target) if target != file => find_class(index, &target, imported, depth + 1),
                _ => Ok(None),
            }
        }
        Some((head, rest)) => {
            let Some(import) = facts.imports.get(head) else {
                return Ok(None);
            };
            let (module_rest, class) = match rest.rsplit_once('.') {
                Some((middle, class)) => (format!(".{middle}"), class),
                None => (String::new(), rest),
            };
            // `import a.b` then `a.b.C`; `from a import b` then `b.C`.
            let module = match &import.name {
                None => format!("{}{module_rest}", import.module),
                Some(imported) if import.module.is_empty() => format!("{imported}{module_rest}"),
                Some(imported) => format!("{}.{imported}{module_rest}", import.module),
            };
            match import_file(index, import.level, &module) {
                Some(target) if target != file => find_class(index, &target, class, depth + 1),
                _ => Ok(None),
            }
        }
    }
}

fn inspect(
    index: &mut ModuleIndex<'_>,
    file: &str,
    class: &ClassFacts,
    depth: usize,
) -> Result<Inspected, SourceError> {
    let mut seen = Inspected {
        is_config: false,
        label: class.label.as_ref().map(|l| ConfigLabel {
            label: l.value.clone(),
            file: file.to_owned(),
            line: l.line,
        }),
        default: class.default,
        app_name: class.app_name.as_ref().map(|n| n.value.clone()),
    };
    if depth > MAX_DEPTH {
        return Ok(seen);
    }
    for base in &class.bases {
        let last = base.rsplit('.').next().unwrap_or(base);
        let found = if base == &class.name {
            None
        } else {
            find_class(index, file, base, depth + 1)?
        };
        let inherited = match found {
            Some((base_file, base_class)) => inspect(index, &base_file, &base_class, depth + 1)?,
            // Django's own `AppConfig`, or a base from a package outside the project.
            None => Inspected {
                is_config: last.ends_with("Config"),
                ..Inspected::default()
            },
        };
        seen.is_config |= inherited.is_config;
        if seen.label.is_none() {
            seen.label = inherited.label;
        }
        if seen.default.is_none() {
            seen.default = inherited.default;
        }
        if seen.app_name.is_none() {
            seen.app_name = inherited.app_name;
        }
    }
    Ok(seen)
}

/// What `apps.py` gives an app, the way Django picks its default config: among the config
/// classes the module defines, the only one not marked `default = False`, or else the only one
/// marked `default = True`. Where Django would find the choice ambiguous, the most derived
/// class (the only one no other candidate derives from) is taken, so that a base meant for
/// other apps does not hide the label of the one class that uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppsModule {
    /// The chosen class and the label it sets (`None`: it sets none, the app keeps its name).
    Chosen {
        class: String,
        label: Option<ConfigLabel>,
    },
    /// Several classes, none chosen: named with their lines.
    Ambiguous(Vec<String>),
    /// No config class.
    None,
}

pub fn apps_module(index: &mut ModuleIndex<'_>, file: &str) -> Result<AppsModule, SourceError> {
    let Some(facts) = index.facts(file)? else {
        return Ok(AppsModule::None);
    };
    let mut candidates: Vec<(ClassFacts, Inspected)> = Vec::new();
    for class in &facts.classes {
        if candidates.iter().any(|(c, _)| c.name == class.name) {
            continue;
        }
        let inspected = inspect(index, file, class, 0)?;
        if inspected.is_config && inspected.default != Some(false) {
            candidates.push((class.clone(), inspected));
        }
    }
    let chosen = match candidates.len() {
        0 => return Ok(AppsModule::None),
        1 => 0,
        _ => {
            let explicit: Vec<usize> = (0..candidates.len())
                .filter(|&i| candidates[i].1.default == Some(true))
                .collect();
            let most_derived: Vec<usize> = (0..candidates.len())
                .filter(|&i| {
                    let name = &candidates[i].0.name;
                    !candidates.iter().any(|(other, _)| {
                        other
                            .bases
                            .iter()
                            .any(|b| b.rsplit('.').next() == Some(name.as_str()))
                    })
                })
                .collect();
            match (explicit.as_slice(), most_derived.as_slice()) {
                ([one], _) | ([], [one]) => *one,
                _ => {
                    return Ok(AppsModule::Ambiguous(
                        candidates
                            .iter()
                            .map(|(c, _)| format!("{} (line {})", c.name, c.line))
                            .collect(),
                    ));
                }
            }
        }
    };
    let (class, inspected) = candidates.swap_remove(chosen);
    Ok(AppsModule::Chosen {
        class: class.name,
        label: inspected.label,
    })
}

/// A config class named by its dotted path (`default_app_config`, an `INSTALLED_APPS` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedConfig {
    /// The app package's directory: from the class's `name`, else the module's package.
    pub package: Option<String>,
    pub label: Option<ConfigLabel>,
}

/// The config class at a dotted path, when the path names a config class of the project.
pub fn named_config(
    index: &mut ModuleIndex<'_>,
    dotted: &str,
) -> Result<Option<NamedConfig>, SourceError> {
    let Some((module, class_name)) = dotted.rsplit_once('.') else {
        return Ok(None);
    };
    let Some(file) = index.module_file(module) else {
        return Ok(None);
    };
    let Some((class_file, class)) = find_class(index, &file, class_name, 0)? else {
        return Ok(None);
    };
    let inspected = inspect(index, &class_file, &class, 0)?;
    if !inspected.is_config {
        return Ok(None);
    }
    let package = match &inspected.app_name {
        Some(name) => index.package_dir(name),
        None => None,
    }
    .or_else(|| match file.strip_suffix("/__init__.py") {
        Some(dir) => Some(dir.to_owned()),
        None => file.rsplit_once('/').map(|(dir, _)| dir.to_owned()),
    });
    Ok(Some(NamedConfig {
        package,
        label: inspected.label,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{PathFilter, Source};
    use std::collections::BTreeMap;

    struct Files(BTreeMap<String, String>);
    impl Source for Files {
        fn describe(&self) -> String {
            "test files".into()
        }
        fn list(&self, wanted: PathFilter<'_>) -> Result<Vec<String>, SourceError> {
            Ok(self.0.keys().filter(|p| wanted(p)).cloned().collect())
        }
        fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
            Ok(self.0.get(path).map(|s| s.clone().into_bytes()))
        }
    }

    fn files(entries: &[(&str, &str)]) -> (Files, Vec<String>) {
        let map: BTreeMap<String, String> = entries
            .iter()
            .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
            .collect();
        let paths = map.keys().cloned().collect();
        (Files(map), paths)
    }

    fn chosen_label(result: AppsModule) -> Option<(String, String, u32)> {
        match result {
            AppsModule::Chosen { label: Some(l), .. } => Some((l.label, l.file, l.line)),
            _ => None,
        }
    }

    #[test]
    fn label_through_a_base_in_another_apps_module() {
        let (source, paths) = files(&[
            (
                "addons/base/apps.py",
                "from django.apps import AppConfig\nclass BaseAddonAppConfig(AppConfig):\n    label = 'addons_base'\n",
            ),
            (
                "addons/box/apps.py",
                "from addons.base.apps import BaseAddonAppConfig\nclass BoxAddonAppConfig(BaseAddonAppConfig):\n    label = 'addons_box'\n",
            ),
            (
                "addons/dropbox/apps.py",
                "from ..base import apps as base\nclass DropboxConfig(base.BaseAddonAppConfig):\n    name = 'addons.dropbox'\n",
            ),
        ]);
        let mut index = ModuleIndex::new(&source, &paths);
        assert_eq!(
            chosen_label(apps_module(&mut index, "addons/box/apps.py").unwrap()),
            Some(("addons_box".into(), "addons/box/apps.py".into(), 3))
        );
        // No label of its own: the base's, found through a relative module import.
        assert_eq!(
            chosen_label(apps_module(&mut index, "addons/dropbox/apps.py").unwrap()),
            Some(("addons_base".into(), "addons/base/apps.py".into(), 3))
        );
    }

    #[test]
    fn default_false_is_inherited_as_in_django() {
        let (source, paths) = files(&[
            (
                "base/apps.py",
                "from django.apps import AppConfig\nclass Base(AppConfig):\n    default = False\n",
            ),
            (
                "app/apps.py",
                "from base.apps import Base\nclass Own(Base):\n    label = 'own'\n",
            ),
        ]);
        let mut index = ModuleIndex::new(&source, &paths);
        assert_eq!(
            apps_module(&mut index, "app/apps.py").unwrap(),
            AppsModule::None
        );
    }

    #[test]
    fn an_unseen_base_named_like_a_config_counts() {
        let (source, paths) = files(&[(
            "wagtail/search/apps.py",
            "from modelsearch.apps import ModelSearchAppConfig\nclass WagtailSearchAppConfig(ModelSearchAppConfig):\n    label = 'wagtailsearch'\nclass Helper(Mixin):\n    label = 'no'\n",
        )]);
        let mut index = ModuleIndex::new(&source, &paths);
        assert_eq!(
            chosen_label(apps_module(&mut index, "wagtail/search/apps.py").unwrap()),
            Some(("wagtailsearch".into(), "wagtail/search/apps.py".into(), 3))
        );
    }

    #[test]
    fn default_true_and_most_derived_choose_among_several() {
        let (source, paths) = files(&[
            (
                "a/apps.py",
                "from django.apps import AppConfig\nclass A(AppConfig):\n    label = 'a'\nclass B(AppConfig):\n    default = True\n    label = 'b'\n",
            ),
            (
                "p/apps.py",
                "from django import apps\nclass PluginConfig(apps.AppConfig):\n    pass\nclass CoreConfig(PluginConfig):\n    label = 'core'\n",
            ),
            (
                "q/apps.py",
                "from django.apps import AppConfig\nclass A(AppConfig):\n    label = 'a'\nclass B(AppConfig):\n    label = 'b'\n",
            ),
        ]);
        let mut index = ModuleIndex::new(&source, &paths);
        assert_eq!(
            chosen_label(apps_module(&mut index, "a/apps.py").unwrap()).map(|l| l.0),
            Some("b".into())
        );
        assert_eq!(
            chosen_label(apps_module(&mut index, "p/apps.py").unwrap()).map(|l| l.0),
            Some("core".into())
        );
        assert!(matches!(
            apps_module(&mut index, "q/apps.py").unwrap(),
            AppsModule::Ambiguous(names) if names.len() == 2
        ));
    }

    #[test]
    fn a_config_class_named_by_its_path() {
        let (source, paths) = files(&[
            (
                "legacy/__init__.py",
                "from django.apps import AppConfig\ndefault_app_config = 'legacy.LegacyConfig'\nclass LegacyConfig(AppConfig):\n    name = 'legacy'\n    label = 'old_legacy'\n",
            ),
            ("legacy/models.py", "class LegacyConfig:\n    pass\n"),
        ]);
        let mut index = ModuleIndex::new(&source, &paths);
        let named = named_config(&mut index, "legacy.LegacyConfig")
            .unwrap()
            .unwrap();
        assert_eq!(named.package.as_deref(), Some("legacy"));
        assert_eq!(named.label.unwrap().label, "old_legacy");
        assert_eq!(
            named_config(&mut index, "legacy.models.LegacyConfig").unwrap(),
            None
        );
        assert_eq!(named_config(&mut index, "nowhere.Config").unwrap(), None);
    }

    #[test]
    fn a_loop_of_imports_ends() {
        let (source, paths) = files(&[
            ("x/apps.py", "from y.apps import C\nclass D(C):\n    pass\n"),
            ("y/apps.py", "from x.apps import D as C\n"),
        ]);
        let mut index = ModuleIndex::new(&source, &paths);
        assert_eq!(
            apps_module(&mut index, "x/apps.py").unwrap(),
            AppsModule::None
        );
    }
}
