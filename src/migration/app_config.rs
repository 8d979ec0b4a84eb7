//! What a Python module says about app configuration, read without running it: the classes it
//! defines (their bases, `label`, `name` and `default`), the names it imports, and a
//! `default_app_config`. Which class is an app's config, and which label wins, is the project
//! model's to decide (`crate::project::labels`); this module only reads one file.

use std::collections::BTreeMap;

use rustpython_ruff_python_ast::{Expr, ModModule, Stmt, StmtClassDef};
use rustpython_ruff_python_parser::parse_module;
use rustpython_ruff_text_size::{Ranged, TextSize};

/// A parsed Python module and the means to turn its offsets into lines.
pub struct PythonModule {
    text: String,
    module: ModModule,
}

impl PythonModule {
    /// `None` when the bytes are not UTF-8, do not parse, or nest deeper than the parser can
    /// take without overflowing the stack.
    pub fn parse(source: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(source).ok()?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if super::parse::prescan::too_deep(text).is_some() {
            return None;
        }
        let module = parse_module(text).ok()?.into_syntax();
        Some(PythonModule {
            text: text.to_owned(),
            module,
        })
    }

    pub fn body(&self) -> &[Stmt] {
        &self.module.body
    }

    /// 1-based line of a node's start.
    pub fn line_of(&self, node: &impl Ranged) -> u32 {
        self.line(node.range().start())
    }

    fn line(&self, offset: TextSize) -> u32 {
        let end = offset.to_usize().min(self.text.len());
        let breaks = self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        u32::try_from(breaks).map_or(u32::MAX, |n| n.saturating_add(1))
    }
}

/// A value as written, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub line: u32,
}

/// One top-level class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassFacts {
    pub name: String,
    pub line: u32,
    /// Each base as written, dotted (`AppConfig`, `apps.AppConfig`, `base.BaseAddonAppConfig`).
    pub bases: Vec<String>,
    /// `label = "..."`, when a string literal.
    pub label: Option<Located<String>>,
    /// `name = "..."`: the app's dotted module, when a string literal.
    pub app_name: Option<Located<String>>,
    /// `default = True/False`, when a literal.
    pub default: Option<bool>,
}

/// Where an imported name comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Leading dots of a relative import (`from ..base import X`: 2); 0 when absolute.
    pub level: u32,
    /// The module, dotted, without the leading dots (may be empty: `from . import apps`).
    pub module: String,
    /// The name taken from it (`from m import Name`); `None` for `import m`.
    pub name: Option<String>,
}

/// What one module says about app configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleFacts {
    pub classes: Vec<ClassFacts>,
    /// Local name -> where it was imported from.
    pub imports: BTreeMap<String, Import>,
    /// `default_app_config = "pkg.apps.Config"` (the style of Django before 3.2).
    pub default_app_config: Option<Located<String>>,
}

impl ModuleFacts {
    pub fn class(&self, name: &str) -> Option<&ClassFacts> {
        self.classes.iter().rev().find(|c| c.name == name)
    }
}

/// Reads the top level of a module (and the bodies of top-level `if` / `try`, where imports
/// often stand).
pub fn module_facts(module: &PythonModule) -> ModuleFacts {
    let mut facts = ModuleFacts::default();
    collect(module, module.body(), &mut facts);
    facts
}

fn collect(module: &PythonModule, body: &[Stmt], facts: &mut ModuleFacts) {
    for stmt in body {
        match stmt {
            Stmt::ClassDef(class) => facts.classes.push(class_facts(module, class)),
            Stmt::ImportFrom(import) => {
                let from = import
                    .module
                    .as_ref()
                    .map(|m| m.id.to_string())
                    .unwrap_or_default();
                for alias in &import.names {
                    let local = alias.asname.as_ref().unwrap_or(&alias.name);
                    facts.imports.insert(
                        local.id.to_string(),
                        Import {
                            level: import.level,
                            module: from.clone(),
                            name: Some(alias.name.id.to_string()),
                        },
                    );
                }
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    let full = alias.name.id.to_string();
                    // `import a.b` binds `a`; `import a.b as c` binds `c` to `a.b`.
                    let (local, module) = match &alias.asname {
                        Some(asname) => (asname.id.to_string(), full),
                        None => {
                            let first = full.split('.').next().unwrap_or(&full).to_owned();
                            (first.clone(), first)
                        }
                    };
                    facts.imports.insert(
                        local,
                        Import {
                            level: 0,
                            module,
                            name: None,
                        },
                    );
                }
            }
            Stmt::Assign(assign) => {
                let named = assign
                    .targets
                    .iter()
                    .any(|t| matches!(t, Expr::Name(n) if n.id.as_str() == "default_app_config"));
                if named && let Expr::StringLiteral(s) = &*assign.value {
                    facts.default_app_config = Some(Located {
                        value: s.value.to_str().to_owned(),
                        line: module.line_of(assign),
                    });
                }
            }
            Stmt::If(branch) => {
                collect(module, &branch.body, facts);
                for clause in &branch.elif_else_clauses {
                    collect(module, &clause.body, facts);
                }
            }
            Stmt::Try(attempt) => {
                collect(module, &attempt.body, facts);
                for handler in &attempt.handlers {
                    let rustpython_ruff_python_ast::ExceptHandler::ExceptHandler(h) = handler;
                    collect(module, &h.body, facts);
                }
                collect(module, &attempt.orelse, facts);
                collect(module, &attempt.finalbody, facts);
            }
            _ => {}
        }
    }
}

fn class_facts(module: &PythonModule, class: &StmtClassDef) -> ClassFacts {
    let bases = class
        .arguments
        .iter()
        .flat_map(|args| args.args.iter())
        .filter_map(dotted)
        .collect();
    let string = |name: &str| match class_value(class, name)? {
        (Expr::StringLiteral(s), line) => Some(Located {
            value: s.value.to_str().to_owned(),
            line: module.line(line),
        }),
        _ => None,
    };
    ClassFacts {
        name: class.name.id.to_string(),
        line: module.line_of(class),
        bases,
        label: string("label"),
        app_name: string("name"),
        default: match class_value(class, "default") {
            Some((Expr::BooleanLiteral(b), _)) => Some(b.value),
            _ => None,
        },
    }
}

/// `a.b.c` for a name or an attribute chain of names.
fn dotted(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(name) => Some(name.id.to_string()),
        Expr::Attribute(attr) => Some(format!("{}.{}", dotted(&attr.value)?, attr.attr.id)),
        _ => None,
    }
}

/// The last value assigned to `name` in the class body, and where the assignment starts.
fn class_value<'a>(class: &'a StmtClassDef, name: &str) -> Option<(&'a Expr, TextSize)> {
    class.body.iter().rev().find_map(|stmt| match stmt {
        Stmt::Assign(assign) => assign
            .targets
            .iter()
            .any(|t| matches!(t, Expr::Name(n) if n.id.as_str() == name))
            .then_some((&*assign.value, assign.range().start())),
        Stmt::AnnAssign(assign) => match (&*assign.target, &assign.value) {
            (Expr::Name(n), Some(value)) if n.id.as_str() == name => {
                Some((&**value, assign.range().start()))
            }
            _ => None,
        },
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(src: &str) -> ModuleFacts {
        module_facts(&PythonModule::parse(src.as_bytes()).expect("parses"))
    }

    #[test]
    fn classes_with_bases_label_name_and_default() {
        let f = facts(
            "from django.apps import AppConfig\nimport django.apps\n\nclass A(django.apps.AppConfig):\n    name = 'shop.a'\n    label = \"accounts\"\n    default = True\n",
        );
        let a = f.class("A").unwrap();
        assert_eq!(a.bases, ["django.apps.AppConfig"]);
        assert_eq!(a.line, 4);
        assert_eq!(
            a.label,
            Some(Located {
                value: "accounts".into(),
                line: 6
            })
        );
        assert_eq!(a.app_name.as_ref().unwrap().value, "shop.a");
        assert_eq!(a.default, Some(true));
        assert_eq!(f.imports["AppConfig"].module, "django.apps");
        assert_eq!(f.imports["django"].name, None);
    }

    #[test]
    fn relative_imports_and_aliases() {
        let f = facts(
            "from ..base.apps import BaseAddonAppConfig as Base\ntry:\n    from .x import Y\nexcept ImportError:\n    pass\n",
        );
        assert_eq!(
            f.imports["Base"],
            Import {
                level: 2,
                module: "base.apps".into(),
                name: Some("BaseAddonAppConfig".into())
            }
        );
        assert_eq!(f.imports["Y"].level, 1);
    }

    #[test]
    fn default_app_config_is_read() {
        let f = facts("\ndefault_app_config = 'legacy.LegacyConfig'\n");
        assert_eq!(
            f.default_app_config,
            Some(Located {
                value: "legacy.LegacyConfig".into(),
                line: 2
            })
        );
    }

    #[test]
    fn absurd_nesting_and_garbage_are_refused() {
        let deep = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert!(PythonModule::parse(deep.as_bytes()).is_none());
        assert!(PythonModule::parse(b"class (:\n\xff").is_none());
    }
}
