//! Django settings modules read statically, never imported: which files they are, and the
//! literal values of `INSTALLED_APPS`, `MIGRATION_MODULES` and the swappable `*_MODEL`
//! settings they assign anywhere (inside `if` / `try` / `with` too). Every branch counts, as a
//! union: a settings module for tests and one for production install different sets, and a
//! static reader cannot know which one runs.

use std::collections::{BTreeMap, BTreeSet};

use rustpython_ruff_python_ast::{Expr, Stmt};

use super::modules::ModuleIndex;
use crate::migration::app_config::PythonModule;
use crate::source::SourceError;

/// The setting `manage.py` (or `wsgi.py` / `asgi.py`) names the settings module with.
const SETTINGS_VARIABLE: &str = "DJANGO_SETTINGS_MODULE";
const ENTRY_POINTS: &[&str] = &["manage.py", "wsgi.py", "asgi.py"];

/// A string a settings module assigns, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingValue {
    pub value: String,
    pub file: String,
    pub line: u32,
}

impl SettingValue {
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// What the project's settings modules say, all branches together.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The settings files read, root-relative, sorted.
    pub files: Vec<String>,
    /// `INSTALLED_APPS` entries (dotted modules or config classes), per settings file.
    pub installed: BTreeMap<String, Vec<SettingValue>>,
    /// `MIGRATION_MODULES`: app label -> dotted module (`None` values, "no migrations", are
    /// left out: they disable an app's migrations in tests, never move them).
    pub migration_modules: BTreeMap<String, Vec<SettingValue>>,
    /// `*_MODEL` settings holding `"app_label.ModelName"` (`AUTH_USER_MODEL`, ...).
    pub models: BTreeMap<String, Vec<SettingValue>>,
}

/// The settings files of a project: those `[tool.migmerge] settings` names (paths or dotted
/// modules) when set; else the module `DJANGO_SETTINGS_MODULE` defaults to in `manage.py`,
/// `wsgi.py` or `asgi.py`, every `settings.py`, and every module of a `settings/` package.
pub fn settings_files(
    index: &mut ModuleIndex<'_>,
    configured: &[String],
) -> Result<Vec<String>, SourceError> {
    let mut files = BTreeSet::new();
    if !configured.is_empty() {
        for item in configured {
            let item = item.trim_end_matches('/');
            if index.has_file(item) {
                files.insert(item.to_owned());
            } else if let Some(file) = index.module_file(item) {
                add_module(index, &file, &mut files);
            } else {
                // A directory: every module in it.
                let prefix = format!("{item}/");
                files.extend(
                    index
                        .files_under(&prefix)
                        .filter(|p| p.ends_with(".py"))
                        .map(str::to_owned),
                );
            }
        }
        return Ok(files.into_iter().collect());
    }
    let entry_points: Vec<String> = index
        .files()
        .filter(|p| ENTRY_POINTS.contains(&p.rsplit('/').next().unwrap_or(p)))
        .map(str::to_owned)
        .collect();
    for entry in entry_points {
        let Some(module) = index.parsed(&entry)? else {
            continue;
        };
        for dotted in settings_module_defaults(&module) {
            if let Some(file) = index.module_file(&dotted) {
                add_module(index, &file, &mut files);
            }
        }
    }
    let conventional: Vec<String> = index
        .files()
        .filter(|p| is_conventional_settings(p) && !in_app_named_settings(index, p))
        .map(str::to_owned)
        .collect();
    files.extend(conventional);
    Ok(files.into_iter().collect())
}

/// A module file, or every module of its package when it is a package's `__init__.py`.
fn add_module(index: &ModuleIndex<'_>, file: &str, files: &mut BTreeSet<String>) {
    match file.strip_suffix("__init__.py") {
        Some(package) => files.extend(
            index
                .files_under(package)
                .filter(|p| p.ends_with(".py") && !p[package.len()..].contains('/'))
                .map(str::to_owned),
        ),
        None => {
            files.insert(file.to_owned());
        }
    }
}

/// Whether `path` is a module of a Django app that happens to be named `settings`
/// (`wagtail/contrib/settings/models.py`): a package with `apps.py` or `models.py` is an app.
fn in_app_named_settings(index: &ModuleIndex<'_>, path: &str) -> bool {
    let Some((dir, file)) = path.rsplit_once('/') else {
        return false;
    };
    file != "settings.py"
        && (index.has_file(&format!("{dir}/apps.py"))
            || index.has_file(&format!("{dir}/models.py")))
}

/// `settings.py` anywhere, or a module directly in a `settings/` directory.
fn is_conventional_settings(path: &str) -> bool {
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    file == "settings.py"
        || (file.ends_with(".py") && dir.rsplit('/').next().unwrap_or(dir) == "settings")
}

/// The dotted modules a `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x.settings")` (or
/// `os.environ["DJANGO_SETTINGS_MODULE"] = "..."`) anywhere in the module names.
fn settings_module_defaults(module: &PythonModule) -> Vec<String> {
    let mut found = Vec::new();
    walk(module.body(), &mut |stmt| {
        let mut visit_call = |expr: &Expr| {
            if let Expr::Call(call) = expr
                && let [Expr::StringLiteral(key), Expr::StringLiteral(value), ..] =
                    &call.arguments.args[..]
                && key.value.to_str() == SETTINGS_VARIABLE
            {
                found.push(value.value.to_str().to_owned());
            }
        };
        match stmt {
            Stmt::Expr(e) => visit_call(&e.value),
            Stmt::Assign(assign) => {
                visit_call(&assign.value);
                for target in &assign.targets {
                    if let Expr::Subscript(sub) = target
                        && let Expr::StringLiteral(key) = &*sub.slice
                        && key.value.to_str() == SETTINGS_VARIABLE
                        && let Expr::StringLiteral(value) = &*assign.value
                    {
                        found.push(value.value.to_str().to_owned());
                    }
                }
            }
            _ => {}
        }
    });
    found
}

/// Calls `visit` on every statement, entering every block (function bodies included: a
/// `main()` in `manage.py` is where the default stands).
fn walk(body: &[Stmt], visit: &mut dyn FnMut(&Stmt)) {
    for stmt in body {
        visit(stmt);
        match stmt {
            Stmt::If(s) => {
                walk(&s.body, visit);
                for clause in &s.elif_else_clauses {
                    walk(&clause.body, visit);
                }
            }
            Stmt::Try(s) => {
                walk(&s.body, visit);
                for handler in &s.handlers {
                    let rustpython_ruff_python_ast::ExceptHandler::ExceptHandler(h) = handler;
                    walk(&h.body, visit);
                }
                walk(&s.orelse, visit);
                walk(&s.finalbody, visit);
            }
            Stmt::With(s) => walk(&s.body, visit),
            Stmt::For(s) => {
                walk(&s.body, visit);
                walk(&s.orelse, visit);
            }
            Stmt::While(s) => {
                walk(&s.body, visit);
                walk(&s.orelse, visit);
            }
            Stmt::FunctionDef(s) => walk(&s.body, visit),
            _ => {}
        }
    }
}

/// Reads every settings file.
pub fn read(index: &mut ModuleIndex<'_>, files: Vec<String>) -> Result<Settings, SourceError> {
    let mut settings = Settings::default();
    for file in &files {
        if let Some(module) = index.parsed(file)? {
            read_module(&module, file, &mut settings);
        }
    }
    settings.files = files;
    Ok(settings)
}

const INSTALLED_APPS: &str = "INSTALLED_APPS";
const MIGRATION_MODULES: &str = "MIGRATION_MODULES";

fn read_module(module: &PythonModule, file: &str, settings: &mut Settings) {
    // Names bound to literal lists of strings, for `INSTALLED_APPS = DJANGO_APPS + LOCAL_APPS`.
    let mut lists: BTreeMap<String, Vec<SettingValue>> = BTreeMap::new();
    let mut installed: Vec<SettingValue> = Vec::new();
    let at = |value: String, line: u32| SettingValue {
        value,
        file: file.to_owned(),
        line,
    };
    walk(module.body(), &mut |stmt| match stmt {
        Stmt::Assign(assign) => {
            for target in &assign.targets {
                match target {
                    Expr::Name(name) => {
                        let name = name.id.as_str();
                        if let Some(values) = strings(module, &assign.value, &lists, &at) {
                            if name == INSTALLED_APPS {
                                installed.extend(values.iter().cloned());
                            }
                            lists.entry(name.to_owned()).or_default().extend(values);
                        }
                        if name == MIGRATION_MODULES {
                            read_migration_modules(module, &assign.value, settings, &at);
                        }
                        if name.ends_with("_MODEL")
                            && let Expr::StringLiteral(s) = &*assign.value
                            && is_model_reference(s.value.to_str())
                        {
                            settings
                                .models
                                .entry(name.to_owned())
                                .or_default()
                                .push(at(s.value.to_str().to_owned(), module.line_of(assign)));
                        }
                    }
                    // MIGRATION_MODULES["app"] = "pkg.migrations"
                    Expr::Subscript(sub) if matches!(&*sub.value, Expr::Name(n) if n.id.as_str() == MIGRATION_MODULES) => {
                        if let (Expr::StringLiteral(label), Expr::StringLiteral(dotted)) =
                            (&*sub.slice, &*assign.value)
                        {
                            settings
                                .migration_modules
                                .entry(label.value.to_str().to_owned())
                                .or_default()
                                .push(at(dotted.value.to_str().to_owned(), module.line_of(assign)));
                        }
                    }
                    _ => {}
                }
            }
        }
        Stmt::AugAssign(aug) => {
            if let Expr::Name(name) = &*aug.target
                && let Some(values) = strings(module, &aug.value, &lists, &at)
            {
                if name.id.as_str() == INSTALLED_APPS {
                    installed.extend(values.iter().cloned());
                }
                lists.entry(name.id.to_string()).or_default().extend(values);
            }
        }
        // INSTALLED_APPS.append("x") / .extend([...]) / .insert(0, "x"); MIGRATION_MODULES.update({...})
        Stmt::Expr(e) => {
            let Expr::Call(call) = &*e.value else { return };
            let Expr::Attribute(method) = &*call.func else {
                return;
            };
            let Expr::Name(owner) = &*method.value else {
                return;
            };
            let argument = match method.attr.id.as_str() {
                "append" | "extend" | "update" => call.arguments.args.first(),
                "insert" => call.arguments.args.get(1),
                _ => None,
            };
            let Some(argument) = argument else { return };
            if owner.id.as_str() == MIGRATION_MODULES && method.attr.id.as_str() == "update" {
                read_migration_modules(module, argument, settings, &at);
                return;
            }
            let values = match (method.attr.id.as_str(), argument) {
                ("extend", list) => strings(module, list, &lists, &at),
                (_, Expr::StringLiteral(s)) => {
                    Some(vec![at(s.value.to_str().to_owned(), module.line_of(s))])
                }
                _ => None,
            };
            if let Some(values) = values {
                if owner.id.as_str() == INSTALLED_APPS {
                    installed.extend(values.iter().cloned());
                }
                lists
                    .entry(owner.id.to_string())
                    .or_default()
                    .extend(values);
            }
        }
        _ => {}
    });
    if !installed.is_empty() {
        settings
            .installed
            .entry(file.to_owned())
            .or_default()
            .extend(installed);
    }
}

/// The strings of a list or tuple literal, of names bound to one earlier, and of `+` between
/// them; `None` for anything else. Non-string elements are skipped.
fn strings(
    module: &PythonModule,
    expr: &Expr,
    lists: &BTreeMap<String, Vec<SettingValue>>,
    at: &dyn Fn(String, u32) -> SettingValue,
) -> Option<Vec<SettingValue>> {
    match expr {
        Expr::List(list) => Some(literal_strings(module, &list.elts, at)),
        Expr::Tuple(tuple) => Some(literal_strings(module, &tuple.elts, at)),
        Expr::Name(name) => lists.get(name.id.as_str()).cloned(),
        Expr::BinOp(op) => {
            let mut left = strings(module, &op.left, lists, at).unwrap_or_default();
            left.extend(strings(module, &op.right, lists, at).unwrap_or_default());
            Some(left)
        }
        // list(X) / tuple(X)
        Expr::Call(call) => match (&*call.func, &call.arguments.args[..]) {
            (Expr::Name(f), [inner]) if matches!(f.id.as_str(), "list" | "tuple") => {
                strings(module, inner, lists, at)
            }
            _ => None,
        },
        _ => None,
    }
}

fn literal_strings(
    module: &PythonModule,
    elements: &[Expr],
    at: &dyn Fn(String, u32) -> SettingValue,
) -> Vec<SettingValue> {
    elements
        .iter()
        .filter_map(|e| match e {
            Expr::StringLiteral(s) => Some(at(s.value.to_str().to_owned(), module.line_of(s))),
            _ => None,
        })
        .collect()
}

fn read_migration_modules(
    module: &PythonModule,
    value: &Expr,
    settings: &mut Settings,
    at: &dyn Fn(String, u32) -> SettingValue,
) {
    let Expr::Dict(dict) = value else { return };
    for item in &dict.items {
        if let (Some(Expr::StringLiteral(label)), Expr::StringLiteral(dotted)) =
            (&item.key, &item.value)
        {
            settings
                .migration_modules
                .entry(label.value.to_str().to_owned())
                .or_default()
                .push(at(dotted.value.to_str().to_owned(), module.line_of(dotted)));
        }
    }
}

/// `"app_label.ModelName"`: two identifiers and one dot.
fn is_model_reference(value: &str) -> bool {
    let identifier = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && chars.all(|c| c.is_alphanumeric() || c == '_')
    };
    value
        .split_once('.')
        .is_some_and(|(app, model)| identifier(app) && identifier(model))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_one(src: &str) -> Settings {
        let module = PythonModule::parse(src.as_bytes()).unwrap();
        let mut settings = Settings::default();
        read_module(&module, "proj/settings.py", &mut settings);
        settings
    }

    fn values(list: &[SettingValue]) -> Vec<&str> {
        list.iter().map(|v| v.value.as_str()).collect()
    }

    #[test]
    fn installed_apps_from_named_lists_additions_and_branches() {
        let s = read_one(
            "import os\nDJANGO_APPS = ['django.contrib.auth']\nLOCAL = ('shop.users', 'shop.apps.ShopConfig')\nINSTALLED_APPS = DJANGO_APPS + list(LOCAL)\nif os.environ.get('DEBUG'):\n    INSTALLED_APPS += ['debug_toolbar']\ntry:\n    import silk\n    INSTALLED_APPS.append('silk')\nexcept ImportError:\n    pass\nINSTALLED_APPS.insert(0, 'first')\n",
        );
        assert_eq!(
            values(&s.installed["proj/settings.py"]),
            [
                "django.contrib.auth",
                "shop.users",
                "shop.apps.ShopConfig",
                "debug_toolbar",
                "silk",
                "first"
            ]
        );
        assert_eq!(s.installed["proj/settings.py"][1].line, 3);
    }

    #[test]
    fn migration_modules_inside_a_conditional() {
        let s = read_one(
            "if True:\n    MIGRATION_MODULES = {\n        'dojo': 'dojo.db_migrations',\n        'off': None,\n    }\nMIGRATION_MODULES['x'] = 'x.schema'\n",
        );
        assert_eq!(values(&s.migration_modules["dojo"]), ["dojo.db_migrations"]);
        assert_eq!(s.migration_modules["dojo"][0].line, 3);
        assert!(!s.migration_modules.contains_key("off"));
        assert_eq!(values(&s.migration_modules["x"]), ["x.schema"]);
    }

    #[test]
    fn swappable_model_settings() {
        let s = read_one(
            "AUTH_USER_MODEL = 'account.User'\nWAGTAILIMAGES_IMAGE_MODEL = \"media.Image\"\nEMBEDDING_MODEL = 'text-embedding-3'\nOTHER_MODEL = f'{x}.Y'\n",
        );
        assert_eq!(values(&s.models["AUTH_USER_MODEL"]), ["account.User"]);
        assert_eq!(
            values(&s.models["WAGTAILIMAGES_IMAGE_MODEL"]),
            ["media.Image"]
        );
        assert!(!s.models.contains_key("EMBEDDING_MODEL"));
        assert!(!s.models.contains_key("OTHER_MODEL"));
    }

    #[test]
    fn settings_module_default_of_manage_py() {
        let module = PythonModule::parse(
            b"import os, sys\ndef main():\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings.dev')\n    from django.core.management import execute_from_command_line\nif __name__ == '__main__':\n    main()\n",
        )
        .unwrap();
        assert_eq!(settings_module_defaults(&module), ["proj.settings.dev"]);
    }

    #[test]
    fn conventional_settings_paths() {
        assert!(is_conventional_settings("proj/settings.py"));
        assert!(is_conventional_settings("settings.py"));
        assert!(is_conventional_settings("proj/settings/base.py"));
        assert!(!is_conventional_settings("proj/settings_helpers/x.py"));
        assert!(!is_conventional_settings("proj/app_settings.py"));
    }
}
