//! What a migration operation touches, and how a Django developer reads it
//! ("Add field phone to user").

use crate::config::Config;
use crate::migration::{Arg, Operation, Text};

/// A model, named as Django compares them: app label plus lower-cased model name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelRef {
    pub app: String,
    pub model: String,
}

impl ModelRef {
    fn new(app: &str, model: &str) -> Self {
        ModelRef {
            app: app.to_owned(),
            model: model.to_lowercase(),
        }
    }
}

/// What one operation does to one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Alter,
    /// Deleted, or renamed away from this name.
    Remove,
}

/// One thing an operation touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touch {
    /// The model as a whole: created, deleted or renamed.
    Model { model: ModelRef, action: Action },
    /// One option of a model's `Meta` (`options` for `AlterModelOptions`, which sets them
    /// together, else `db_table`, `unique_together`, ...), set anew.
    Meta {
        model: ModelRef,
        option: &'static str,
    },
    /// One field of a model.
    Field {
        model: ModelRef,
        field: String,
        action: Action,
    },
    /// An index or constraint, by name (names are unique per database table set).
    Named {
        model: ModelRef,
        name: String,
        action: Action,
    },
    /// A relation pointing at a model (a ForeignKey `to=`).
    Reference { model: ModelRef },
    /// Something that cannot be known statically: `RunPython`, `RunSQL`, a custom operation,
    /// or an operation whose identifying arguments are not literals.
    Opaque,
}

impl Touch {
    pub fn model(&self) -> Option<&ModelRef> {
        match self {
            Touch::Model { model, .. }
            | Touch::Meta { model, .. }
            | Touch::Field { model, .. }
            | Touch::Named { model, .. }
            | Touch::Reference { model } => Some(model),
            Touch::Opaque => None,
        }
    }

    pub fn action(&self) -> Action {
        match self {
            Touch::Model { action, .. }
            | Touch::Field { action, .. }
            | Touch::Named { action, .. } => *action,
            Touch::Meta { .. } | Touch::Reference { .. } | Touch::Opaque => Action::Alter,
        }
    }
}

/// The `Meta` option a model operation sets, by Django's name for it.
fn meta_option(class: &str) -> Option<&'static str> {
    Some(match class {
        "AlterModelTable" => "db_table",
        "AlterModelTableComment" => "db_table_comment",
        "AlterUniqueTogether" => "unique_together",
        "AlterIndexTogether" => "index_together",
        "AlterOrderWithRespectTo" => "order_with_respect_to",
        "AlterModelOptions" => "options",
        "AlterModelManagers" => "managers",
        _ => return None,
    })
}

/// The things `op`, in a migration of app `app`, touches.
pub fn touches(op: &Operation, app: &str, config: &Config) -> Vec<Touch> {
    touches_by(op, app, config)
        .into_iter()
        .map(|(touch, _)| touch)
        .collect()
}

/// [`touches`], each with the operation that does it: `op` itself, or for
/// `SeparateDatabaseAndState` the operation inside it.
pub fn touches_by<'o>(
    op: &'o Operation,
    app: &str,
    config: &Config,
) -> Vec<(Touch, &'o Operation)> {
    let model = op.model.as_deref().map(|m| ModelRef::new(app, m));
    let mut out = Vec::new();
    let mut opaque = op.has_unknown_args;
    let field_touch =
        |out: &mut Vec<(Touch, &'o Operation)>, name: &Option<Text>, action: Action| {
            if let (Some(model), Some(field)) = (&model, name) {
                out.push((
                    Touch::Field {
                        model: model.clone(),
                        field: field.as_str().to_lowercase(),
                        action,
                    },
                    op,
                ));
            }
        };
    match op.class.as_str() {
        "CreateModel" => {
            if let Some(model) = &model {
                out.push((
                    Touch::Model {
                        model: model.clone(),
                        action: Action::Create,
                    },
                    op,
                ));
                for field in &op.fields {
                    out.push((
                        Touch::Field {
                            model: model.clone(),
                            field: field.name.as_str().to_lowercase(),
                            action: Action::Create,
                        },
                        op,
                    ));
                }
            }
        }
        "DeleteModel" => {
            if let Some(model) = &model {
                out.push((
                    Touch::Model {
                        model: model.clone(),
                        action: Action::Remove,
                    },
                    op,
                ));
            }
        }
        "RenameModel" => {
            if let Some(old) = &op.old_name {
                out.push((
                    Touch::Model {
                        model: ModelRef::new(app, old),
                        action: Action::Remove,
                    },
                    op,
                ));
            }
            if let Some(new) = &op.new_name {
                out.push((
                    Touch::Model {
                        model: ModelRef::new(app, new),
                        action: Action::Create,
                    },
                    op,
                ));
            }
        }
        class if meta_option(class).is_some() => {
            if let (Some(model), Some(option)) = (&model, meta_option(class)) {
                out.push((
                    Touch::Meta {
                        model: model.clone(),
                        option,
                    },
                    op,
                ));
            }
        }
        "AddField" => field_touch(&mut out, &op.field, Action::Create),
        "AlterField" => field_touch(&mut out, &op.field, Action::Alter),
        "RemoveField" => field_touch(&mut out, &op.field, Action::Remove),
        "RenameField" => {
            field_touch(
                &mut out,
                &op.old_name.clone().or(op.field.clone()),
                Action::Remove,
            );
            field_touch(&mut out, &op.new_name, Action::Create);
        }
        "AddIndex" | "RemoveIndex" | "RenameIndex" | "AddConstraint" | "RemoveConstraint"
        | "AlterConstraint" => {
            if let Some(model) = &model {
                let named = |name: &Text, action| {
                    (
                        Touch::Named {
                            model: model.clone(),
                            name: name.to_string(),
                            action,
                        },
                        op,
                    )
                };
                match op.class.as_str() {
                    "AddIndex" | "AddConstraint" => {
                        out.extend(op.index.iter().map(|n| named(n, Action::Create)));
                    }
                    "RemoveIndex" | "RemoveConstraint" => {
                        out.extend(op.index.iter().map(|n| named(n, Action::Remove)));
                    }
                    "RenameIndex" => {
                        out.extend(op.old_name.iter().map(|n| named(n, Action::Remove)));
                        out.extend(op.new_name.iter().map(|n| named(n, Action::Create)));
                    }
                    _ => out.extend(op.index.iter().map(|n| named(n, Action::Alter))),
                }
            }
        }
        "SeparateDatabaseAndState" => {
            for inner in &op.inner {
                for (touch, by) in touches_by(inner, app, config) {
                    if !out.iter().any(|(t, _)| *t == touch) {
                        out.push((touch, by));
                    }
                }
            }
        }
        _ => opaque = true,
    }
    for field in &op.fields {
        if let Some(target) = field
            .to
            .as_deref()
            .and_then(|to| relation_target(to, app, config))
        {
            out.push((Touch::Reference { model: target }, op));
        }
    }
    if opaque {
        out.push((Touch::Opaque, op));
    }
    out
}

/// What an operation makes of the thing it touches, to compare with what the other branch
/// makes of it: a field's class and arguments, a `Meta` option's value, a constraint's
/// definition. `None` where the operation only creates a name or takes it away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The whole definition, normalised: `CharField(max_length=300)`, `unique_together=...`.
    pub text: String,
    /// Its parts by name (`class` first for a field), to show which of them differ.
    pub parts: Vec<Arg>,
}

/// The [`Setting`] `op` gives the thing `touch` names.
pub fn setting(op: &Operation, touch: &Touch) -> Option<Setting> {
    match touch {
        Touch::Field { field, .. } => {
            let def = op.fields.iter().find(|f| f.name.to_lowercase() == *field)?;
            let mut parts = vec![Arg {
                name: "class".to_owned(),
                value: def.class.as_deref()?.to_owned(),
            }];
            parts.extend(def.args.iter().cloned());
            Some(Setting {
                text: def.definition(),
                parts,
            })
        }
        Touch::Meta { .. } | Touch::Named { .. } => {
            let parts: Vec<Arg> = op
                .args
                .iter()
                .filter(|arg| !matches!(arg.name.as_str(), "name" | "model_name"))
                .cloned()
                .collect();
            let text = parts
                .iter()
                .map(|arg| format!("{}={}", arg.name, arg.value))
                .collect::<Vec<_>>()
                .join(", ");
            Some(Setting { text, parts })
        }
        Touch::Model { .. } | Touch::Reference { .. } | Touch::Opaque => None,
    }
}

/// The model a relation's `to` names: `"app.Model"`, `"Model"` (same app), or a swappable
/// setting such as `settings.AUTH_USER_MODEL`.
fn relation_target(to: &str, app: &str, config: &Config) -> Option<ModelRef> {
    let resolved = match to.strip_prefix("settings.") {
        Some(setting) => config.swappable_model(setting)?,
        None => to,
    };
    if resolved == "self" {
        return None;
    }
    Some(match resolved.split_once('.') {
        Some((target_app, model)) => ModelRef::new(target_app, model),
        None => ModelRef::new(app, resolved),
    })
}

/// The operation in the words Django's `describe()` uses.
pub fn describe(op: &Operation) -> String {
    let or_q = |v: &Option<Text>| v.as_deref().unwrap_or("?").to_owned();
    let model = or_q(&op.model);
    let field = or_q(&op.field);
    let index = or_q(&op.index);
    let old = or_q(&op.old_name);
    let new = or_q(&op.new_name);
    match op.class.as_str() {
        "CreateModel" => format!("Create model {model}"),
        "DeleteModel" => format!("Delete model {model}"),
        "RenameModel" => format!("Rename model {old} to {new}"),
        "AlterModelTable" => format!("Rename table for {model}"),
        "AlterModelTableComment" => format!("Alter {model} table comment"),
        "AlterUniqueTogether" => format!("Alter unique_together for {model}"),
        "AlterIndexTogether" => format!("Alter index_together for {model}"),
        "AlterOrderWithRespectTo" => format!("Set order_with_respect_to on {model}"),
        "AlterModelOptions" => format!("Change Meta options on {model}"),
        "AlterModelManagers" => format!("Change managers on {model}"),
        "AddField" => format!("Add field {field} to {model}"),
        "RemoveField" => format!("Remove field {field} from {model}"),
        "AlterField" => format!("Alter field {field} on {model}"),
        "RenameField" => format!("Rename field {old} on {model} to {new}"),
        "AddIndex" => format!("Create index {index} on {model}"),
        "RemoveIndex" => format!("Remove index {index} from {model}"),
        "RenameIndex" => format!("Rename index {old} on {model} to {new}"),
        "AddConstraint" => format!("Create constraint {index} on model {model}"),
        "RemoveConstraint" => format!("Remove constraint {index} from model {model}"),
        "AlterConstraint" => format!("Alter constraint {index} on {model}"),
        "RunPython" => "Raw Python operation".to_owned(),
        "RunSQL" => "Raw SQL operation".to_owned(),
        "SeparateDatabaseAndState" => {
            let inner: Vec<String> = op.inner.iter().map(describe).collect();
            if inner.is_empty() {
                "Custom state/database change combination".to_owned()
            } else {
                format!("Custom state/database change ({})", inner.join("; "))
            }
        }
        other => format!("Custom operation {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::FieldDef;

    fn op(class: &str) -> Operation {
        Operation {
            class: class.into(),
            line: 1,
            ..Operation::default()
        }
    }

    #[test]
    fn add_field_reads_like_django() {
        let mut add = op("AddField");
        add.model = Some("User".into());
        add.field = Some("phone".into());
        assert_eq!(describe(&add), "Add field phone to User");
        assert_eq!(
            touches(&add, "users", &Config::default()),
            vec![Touch::Field {
                model: ModelRef::new("users", "user"),
                field: "phone".into(),
                action: Action::Create
            }]
        );
    }

    #[test]
    fn foreign_key_to_swappable_user_is_a_reference_to_auth_user() {
        let mut add = op("AddField");
        add.model = Some("order".into());
        add.field = Some("buyer".into());
        add.fields = vec![FieldDef {
            name: "buyer".into(),
            class: Some("ForeignKey".into()),
            to: Some("settings.AUTH_USER_MODEL".into()),
            args: Vec::new(),
            arguments: Vec::new(),
        }];
        let t = touches(&add, "shop", &Config::default());
        assert!(t.contains(&Touch::Reference {
            model: ModelRef::new("auth", "User")
        }));
    }

    #[test]
    fn run_python_and_custom_operations_are_opaque() {
        assert_eq!(
            touches(&op("RunPython"), "a", &Config::default()),
            vec![Touch::Opaque]
        );
        assert_eq!(
            touches(&op("Backfill"), "a", &Config::default()),
            vec![Touch::Opaque]
        );
        assert_eq!(describe(&op("Backfill")), "Custom operation Backfill");
    }

    #[test]
    fn meta_options_and_names_say_what_they_set() {
        let mut options = op("AlterModelOptions");
        options.model = Some("Book".into());
        options.args = vec![
            Arg {
                name: "name".into(),
                value: "\"Book\"".into(),
            },
            Arg {
                name: "options".into(),
                value: "{\"ordering\": [\"title\"]}".into(),
            },
        ];
        let touched = touches(&options, "lib", &Config::default());
        assert_eq!(
            touched,
            vec![Touch::Meta {
                model: ModelRef::new("lib", "book"),
                option: "options"
            }]
        );
        let set = setting(&options, &touched[0]).unwrap();
        assert_eq!(set.text, "options={\"ordering\": [\"title\"]}");
        let mut rename = op("RenameIndex");
        rename.model = Some("book".into());
        rename.old_name = Some("old_idx".into());
        rename.new_name = Some("new_idx".into());
        let actions: Vec<Action> = touches(&rename, "lib", &Config::default())
            .iter()
            .map(Touch::action)
            .collect();
        assert_eq!(actions, [Action::Remove, Action::Create]);
    }

    #[test]
    fn a_field_setting_is_its_class_and_arguments() {
        let mut alter = op("AlterField");
        alter.model = Some("book".into());
        alter.field = Some("Title".into());
        alter.fields = vec![FieldDef {
            name: "Title".into(),
            class: Some("CharField".into()),
            to: None,
            args: vec![Arg {
                name: "max_length".into(),
                value: "300".into(),
            }],
            arguments: Vec::new(),
        }];
        let touched = touches(&alter, "lib", &Config::default());
        let set = setting(&alter, &touched[0]).unwrap();
        assert_eq!(set.text, "CharField(max_length=300)");
        let names: Vec<&str> = set.parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["class", "max_length"]);
        let mut remove = op("RemoveField");
        remove.model = Some("book".into());
        remove.field = Some("title".into());
        let touched = touches(&remove, "lib", &Config::default());
        assert_eq!(setting(&remove, &touched[0]), None);
    }

    #[test]
    fn rename_model_removes_old_name_and_creates_new() {
        let mut rename = op("RenameModel");
        rename.old_name = Some("Client".into());
        rename.new_name = Some("Customer".into());
        let t = touches(&rename, "crm", &Config::default());
        assert_eq!(
            t,
            vec![
                Touch::Model {
                    model: ModelRef::new("crm", "client"),
                    action: Action::Remove
                },
                Touch::Model {
                    model: ModelRef::new("crm", "customer"),
                    action: Action::Create
                }
            ]
        );
    }
}
