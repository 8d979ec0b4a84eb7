//! The app label an `apps.py` declares, read the way Django picks an app's default
//! `AppConfig`: among the config classes the module defines, the only one, or else the only one
//! marked `default = True`.

use rustpython_ruff_python_ast::{Expr, Stmt, StmtClassDef};
use rustpython_ruff_python_parser::parse_module;

/// The `label` of the `AppConfig` Django would pick for this `apps.py`, when it is a string
/// literal. `None` when the file does not parse, defines no config class, leaves the choice
/// ambiguous, or sets no literal label: the app then keeps its directory's name, as in Django.
pub fn declared_app_label(source: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(source).ok()?;
    // The parser recurses without limit; refuse what would overflow the stack.
    if super::parse::prescan::too_deep(text).is_some() {
        return None;
    }
    let module = parse_module(text).ok()?.into_syntax();
    let classes: Vec<&StmtClassDef> = module
        .body
        .iter()
        .filter_map(|stmt| match stmt {
            Stmt::ClassDef(class) => Some(class),
            _ => None,
        })
        .collect();

    // A config class derives from `AppConfig`, directly or through another class of this file.
    let mut configs: Vec<&StmtClassDef> = Vec::new();
    loop {
        let before = configs.len();
        for class in &classes {
            if configs.iter().any(|c| c.name.id == class.name.id) {
                continue;
            }
            let derives = base_names(class).any(|base| {
                base == "AppConfig" || configs.iter().any(|c| c.name.id.as_str() == base)
            });
            if derives {
                configs.push(class);
            }
        }
        if configs.len() == before {
            break;
        }
    }

    // Django drops classes that say `default = False`, then takes the only candidate left, or
    // the only one that says `default = True`.
    let candidates: Vec<&StmtClassDef> = configs
        .into_iter()
        .filter(|class| class_bool(class, "default") != Some(false))
        .collect();
    let chosen = match candidates.as_slice() {
        [only] => *only,
        many => {
            let mut explicit = many
                .iter()
                .filter(|class| class_bool(class, "default") == Some(true));
            match (explicit.next(), explicit.next()) {
                (Some(one), None) => *one,
                _ => return None,
            }
        }
    };
    class_string(chosen, "label")
}

fn base_names(class: &StmtClassDef) -> impl Iterator<Item = &str> {
    class
        .arguments
        .iter()
        .flat_map(|args| args.args.iter())
        .filter_map(|base| match base {
            Expr::Name(name) => Some(name.id.as_str()),
            Expr::Attribute(attr) => Some(attr.attr.id.as_str()),
            _ => None,
        })
}

/// The last value assigned to `name` in the class body.
fn class_value<'a>(class: &'a StmtClassDef, name: &str) -> Option<&'a Expr> {
    class.body.iter().rev().find_map(|stmt| match stmt {
        Stmt::Assign(assign) => assign
            .targets
            .iter()
            .any(|t| matches!(t, Expr::Name(n) if n.id.as_str() == name))
            .then_some(&*assign.value),
        Stmt::AnnAssign(assign) => match (&*assign.target, &assign.value) {
            (Expr::Name(n), Some(value)) if n.id.as_str() == name => Some(&**value),
            _ => None,
        },
        _ => None,
    })
}

fn class_bool(class: &StmtClassDef, name: &str) -> Option<bool> {
    match class_value(class, name)? {
        Expr::BooleanLiteral(b) => Some(b.value),
        _ => None,
    }
}

fn class_string(class: &StmtClassDef, name: &str) -> Option<String> {
    match class_value(class, name)? {
        Expr::StringLiteral(s) => Some(s.value.to_str().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::declared_app_label;

    #[test]
    fn single_config_with_label() {
        let src = b"from django.apps import AppConfig\n\nclass UsersConfig(AppConfig):\n    name = 'shop.users'\n    label = \"accounts\"\n";
        assert_eq!(declared_app_label(src).as_deref(), Some("accounts"));
    }

    #[test]
    fn config_without_label_keeps_directory_name() {
        let src = b"from django.apps import AppConfig\nclass C(AppConfig):\n    name = 'users'\n";
        assert_eq!(declared_app_label(src), None);
    }

    #[test]
    fn two_configs_pick_the_default_one() {
        let src = b"import django.apps\nclass A(django.apps.AppConfig):\n    label = 'a'\nclass B(django.apps.AppConfig):\n    default = True\n    label = 'b'\n";
        assert_eq!(declared_app_label(src).as_deref(), Some("b"));
    }

    #[test]
    fn two_configs_without_default_are_ambiguous() {
        let src = b"from django.apps import AppConfig\nclass A(AppConfig):\n    label = 'a'\nclass B(AppConfig):\n    label = 'b'\n";
        assert_eq!(declared_app_label(src), None);
    }

    #[test]
    fn subclass_of_local_config_counts_and_default_false_is_skipped() {
        let src = b"from django.apps import AppConfig\nclass Base(AppConfig):\n    default = False\n    label = 'base'\nclass Real(Base):\n    label = 'real'\n";
        assert_eq!(declared_app_label(src).as_deref(), Some("real"));
    }

    #[test]
    fn absurd_nesting_gives_none_instead_of_overflowing() {
        let deep = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(declared_app_label(deep.as_bytes()), None);
    }

    #[test]
    fn garbage_gives_none() {
        assert_eq!(declared_app_label(b"class (:\n\xff"), None);
    }
}
