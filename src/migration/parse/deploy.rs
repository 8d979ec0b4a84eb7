//! Reading what staged-deploy tooling looks at in a migration module: its imports of
//! django-syzygy and django-safemigrate, the `Migration` class's `stage` and `safe`, and the
//! `stage=` of each operation (syzygy's staged operations take one).

use rustpython_ruff_python_ast::{Expr, Stmt, StmtClassDef};
use rustpython_ruff_text_size::Ranged;

use super::super::{Deploy, DeployValue, ParseError};
use super::Source;

/// The packages' import names.
const SYZYGY: &str = "syzygy";
const SAFEMIGRATE: &str = "django_safemigrate";

pub(super) fn read(
    src: &Source<'_>,
    module: &[Stmt],
    class: &StmtClassDef,
) -> Result<Deploy, ParseError> {
    let mut attrs = Deploy::default();
    for stmt in module {
        let modules: Vec<&str> = match stmt {
            Stmt::Import(import) => import.names.iter().map(|a| a.name.id.as_str()).collect(),
            Stmt::ImportFrom(import) => import.module.iter().map(|m| m.id.as_str()).collect(),
            _ => continue,
        };
        for imported in modules {
            note_import(&mut attrs, imported);
        }
    }
    for stmt in &class.body {
        let (targets, value): (Vec<&Expr>, &Expr) = match stmt {
            Stmt::Assign(assign) => (assign.targets.iter().collect(), &assign.value),
            Stmt::AnnAssign(assign) => match &assign.value {
                Some(value) => (vec![&assign.target], value),
                None => continue,
            },
            _ => continue,
        };
        for target in targets {
            let Expr::Name(name) = target else { continue };
            let name = name.id.as_str();
            if let Some(slot) = class_value(&mut attrs, name) {
                *slot = Some(value_of(src, value)?);
            } else if name == "operations" {
                set_operation_stages(&mut attrs, operation_stages(src, value)?);
            }
        }
    }
    Ok(attrs)
}

/// Records an import of `module` (a dotted name, as in `import a.b` or `from a.b import c`).
pub(super) fn note_import(attrs: &mut Deploy, module: &str) {
    let root = module.split('.').next().unwrap_or(module);
    if root == SYZYGY {
        attrs.make_mut().imports_syzygy = true;
    } else if root == SAFEMIGRATE {
        attrs.make_mut().imports_safemigrate = true;
    }
}

/// Where the `Migration` class attribute `name` is kept when the tools read it as written
/// (`stage`, `safe`).
pub(super) fn class_value<'a>(
    attrs: &'a mut Deploy,
    name: &str,
) -> Option<&'a mut Option<DeployValue>> {
    match name {
        "stage" => Some(&mut attrs.make_mut().stage),
        "safe" => Some(&mut attrs.make_mut().safe),
        _ => None,
    }
}

/// Keeps the `stage=` of the operations; none leaves the attributes as they are.
pub(super) fn set_operation_stages(attrs: &mut Deploy, stages: Vec<DeployValue>) {
    if !stages.is_empty() {
        attrs.make_mut().operation_stages = stages;
    }
}

fn value_of(src: &Source<'_>, value: &Expr) -> Result<DeployValue, ParseError> {
    Ok(DeployValue {
        text: src.slice(value.range())?.to_owned(),
        line: src.line(value.start()),
    })
}

/// The `stage=` keyword of each operation of a literal `operations` list that has one, with the
/// operation's line (which names it in [`super::super::Operation::line`]).
fn operation_stages(src: &Source<'_>, value: &Expr) -> Result<Vec<DeployValue>, ParseError> {
    let elts = match value {
        Expr::List(list) => &list.elts,
        Expr::Tuple(tuple) => &tuple.elts,
        _ => return Ok(Vec::new()),
    };
    let mut stages = Vec::new();
    for elt in elts {
        let Expr::Call(call) = elt else { continue };
        let stage = call
            .arguments
            .keywords
            .iter()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.id.as_str() == "stage"));
        if let Some(stage) = stage {
            stages.push(DeployValue {
                text: src.slice(stage.value.range())?.to_owned(),
                line: src.line(elt.start()),
            });
        }
    }
    Ok(stages)
}

#[cfg(test)]
mod tests {
    use crate::migration::{Detail, parse, parse_with};

    #[test]
    fn syzygy_and_safemigrate_attributes_are_read() {
        let source = b"from django.db import migrations\nfrom syzygy import Stage\n\
            import django_safemigrate.models\n\n\nclass Migration(migrations.Migration):\n    \
            stage = Stage.POST_DEPLOY\n    safe: object = Safe.always()\n    dependencies = []\n    \
            operations = [\n        migrations.RemoveField('book', 'title'),\n        \
            syzygy.operations.RenameField(\n            'book', 'a', 'b', stage=Stage.PRE_DEPLOY\n        ),\n    ]\n";
        let m = parse(source).unwrap();
        let deploy = &m.deploy;
        assert!(deploy.imports_syzygy && deploy.imports_safemigrate);
        let stage = deploy.stage.as_ref().unwrap();
        assert_eq!((stage.text.as_str(), stage.line), ("Stage.POST_DEPLOY", 7));
        assert_eq!(deploy.safe.as_ref().unwrap().text, "Safe.always()");
        let ops = m.operations.unwrap();
        assert_eq!(deploy.operation_stages.len(), 1);
        assert_eq!(deploy.operation_stages[0].text, "Stage.PRE_DEPLOY");
        assert_eq!(deploy.operation_stages[0].line, ops[1].line);
    }

    #[test]
    fn plain_migrations_have_none_of_it() {
        let source = b"from django.db import migrations\nimport syzygyish\n\n\n\
            class Migration(migrations.Migration):\n    dependencies = []\n    operations = []\n";
        for detail in [Detail::Graph, Detail::AsWritten, Detail::Full] {
            let deploy = parse_with(source, detail).unwrap().deploy;
            assert_eq!(deploy, Default::default());
            // Whichever reader read it, the usual module keeps nothing on the heap for it.
            assert!(!deploy.on_heap(), "{detail:?}");
        }
    }
}
