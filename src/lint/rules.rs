//! The rules: pure functions from one migration and the state before it to findings. The
//! exact trigger of each is documented in docs/lint.md; this module is that document's code.

use super::Rule;
use super::state::AppState;
use crate::migration::{FieldDef, Migration, Operation};

/// What a rule may look at.
pub struct Context<'a> {
    pub migration: &'a Migration,
    /// The app's models before this migration runs.
    pub before: &'a AppState<'a>,
    /// `[tool.migmerge] database = "postgresql"`: rules about PostgreSQL's locks apply.
    pub postgresql: bool,
}

/// A rule that fired, before configuration and opt-outs have their say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule: Rule,
    pub line: u32,
    pub message: String,
}

/// Operations that change the schema (Django's own; custom operations are not known to).
const SCHEMA_OPERATIONS: &[&str] = &[
    "CreateModel",
    "DeleteModel",
    "RenameModel",
    "AlterModelTable",
    "AlterModelTableComment",
    "AlterUniqueTogether",
    "AlterIndexTogether",
    "AlterOrderWithRespectTo",
    "AddField",
    "RemoveField",
    "AlterField",
    "RenameField",
    "AddIndex",
    "RemoveIndex",
    "RenameIndex",
    "AddConstraint",
    "RemoveConstraint",
    "AlterConstraint",
];

/// Defaults that are called once per migration run: every existing row gets the one value.
/// Spelled as people import them and as makemigrations writes them (`django.utils.timezone.now`).
const VOLATILE_DEFAULTS: &[&str] = &[
    "timezone.now",
    "django.utils.timezone.now",
    "datetime.now",
    "datetime.datetime.now",
    "datetime.utcnow",
    "datetime.datetime.utcnow",
    "uuid.uuid4",
    "uuid4",
    "uuid.uuid1",
    "uuid1",
    "now",
];

/// Every rule's findings on one migration, in operation order.
pub fn check(cx: &Context<'_>) -> Vec<Hit> {
    let operations = cx.migration.operations.as_deref().unwrap_or_default();
    let mut hits = Vec::new();
    // The state as the operations before the current one leave it: AlterField compares with
    // the field's definition just before it. Copied only when a later operation reads it; the
    // copy shares every model it does not change.
    let mut running = std::borrow::Cow::Borrowed(cx.before);
    for (i, op) in operations.iter().enumerate() {
        check_operation(cx, &running, op, &mut hits);
        let read_later = operations[i + 1..]
            .iter()
            .any(|later| matches!(later.class.as_str(), "AlterField" | "RenameModel"));
        if read_later {
            running.to_mut().apply(op);
        }
    }
    check_migration(cx, operations, &mut hits);
    hits
}

fn check_operation(cx: &Context<'_>, running: &AppState<'_>, op: &Operation, hits: &mut Vec<Hit>) {
    let mut hit = |rule: Rule, message: String| {
        hits.push(Hit {
            rule,
            line: op.line,
            message,
        });
    };
    let model = op.model.as_deref().unwrap_or("?");
    let field = op.field.as_deref().unwrap_or("?");
    // The table is there, with rows, before this migration: only then do locks and rewrites
    // and NOT NULL matter.
    let existing = op
        .model
        .as_deref()
        .is_some_and(|m| cx.before.model(m).is_some());
    match op.class.as_str() {
        "RunPython" if is_none(op.argument(1, "reverse_code")) => {
            hit(
                Rule::IrreversibleRunPython,
                "RunPython without reverse_code: `migrate` cannot go back past this migration; pass reverse_code (RunPython.noop when there is nothing to undo)".to_owned(),
            );
        }
        "RunSQL" if is_none(op.argument(1, "reverse_sql")) => {
            hit(
                Rule::IrreversibleRunSql,
                "RunSQL without reverse_sql: `migrate` cannot go back past this migration; pass reverse_sql (RunSQL.noop when there is nothing to undo)".to_owned(),
            );
        }
        "RemoveField" => hit(
            Rule::DropColumn,
            format!(
                "RemoveField drops column {field} of {model}, which the running code still selects; stop using the field in one release, drop it in the next"
            ),
        ),
        "DeleteModel" => hit(
            Rule::DropTable,
            format!(
                "DeleteModel drops the table of {model}, which the running code still uses; stop using the model in one release, delete it in the next"
            ),
        ),
        "RenameField" => hit(
            Rule::RenameColumn,
            format!(
                "RenameField renames column {} of {model} to {}: the running code still uses the old name; add the new field, copy, and remove the old one in a later release (or keep the column with db_column)",
                op.old_name.as_deref().unwrap_or("?"),
                op.new_name.as_deref().unwrap_or("?"),
            ),
        ),
        "RenameModel" => {
            let old = op.old_name.as_deref().unwrap_or("?");
            let keeps_table = op
                .old_name
                .as_deref()
                .and_then(|m| running.model(m))
                .is_some_and(|state| state.db_table);
            if !keeps_table {
                hit(
                    Rule::RenameTable,
                    format!(
                        "RenameModel renames the table of {old} to that of {}: the running code still uses the old table; set db_table to the old table's name so it stays",
                        op.new_name.as_deref().unwrap_or("?"),
                    ),
                );
            }
        }
        "AddField" if existing => {
            let Some(def) = op.fields.first() else { return };
            if is_not_null_without_default(def) {
                let message = if django_fills_existing_rows(def) {
                    format!(
                        "AddField adds {field} to {model} as NOT NULL without a default: Django fills the existing rows, but the running code's inserts leave the column out and fail; add null=True or db_default"
                    )
                } else {
                    format!(
                        "AddField adds {field} to {model} as NOT NULL without a default: the migration fails on a table with rows, and the running code inserts rows without it; add null=True or db_default"
                    )
                };
                hit(Rule::NotNullWithoutDefault, message);
            }
            if let Some(default) = def.keyword("default")
                && VOLATILE_DEFAULTS.contains(&default)
            {
                hit(
                    Rule::VolatileDefault,
                    format!(
                        "AddField {field} on {model} with default={default}: Django calls it once and writes that one value into every existing row (a unique field fails); add the field nullable, fill it in batches, then make it NOT NULL"
                    ),
                );
            }
            if cx.postgresql && builds_index(def) {
                hit(
                    Rule::NonConcurrentIndex,
                    format!(
                        "AddField {field} on {model} builds an index without CONCURRENTLY, which blocks writes to the table; add the field without it, then the index with AddIndexConcurrently in a non-atomic migration"
                    ),
                );
            }
        }
        "AddIndex" if existing && cx.postgresql => hit(
            Rule::NonConcurrentIndex,
            format!(
                "AddIndex on {model} builds the index without CONCURRENTLY, which blocks writes to the table; use AddIndexConcurrently in a migration with atomic = False"
            ),
        ),
        "AddConstraint"
            if existing
                && cx.postgresql
                && op
                    .argument(1, "constraint")
                    .is_some_and(|c| c.contains("UniqueConstraint")) =>
        {
            hit(
                Rule::NonConcurrentIndex,
                format!(
                    "AddConstraint adds a unique constraint to {model}, building its index without CONCURRENTLY, which blocks writes; build a unique index concurrently first (AddIndexConcurrently, atomic = False)"
                ),
            );
        }
        "AddIndexConcurrently" | "RemoveIndexConcurrently"
            if cx.migration.atomic != Some(false) =>
        {
            hit(
                Rule::ConcurrentIndexInAtomic,
                format!(
                    "{} cannot run inside a transaction and Django refuses it in an atomic migration; set atomic = False on the Migration class",
                    op.class
                ),
            );
        }
        "AlterField" if existing => {
            let (Some(new), Some(old)) = (op.fields.first(), running.field(model, field)) else {
                return;
            };
            if let Some(why) = rewrite_reason(old, new) {
                hit(
                    Rule::AlterFieldRewrite,
                    format!(
                        "AlterField {field} on {model}: {why}; add a new field, copy in batches and switch over instead"
                    ),
                );
            }
            if cx.postgresql
                && ((is_true(new.keyword("db_index")) && !is_true(old.keyword("db_index")))
                    || (is_true(new.keyword("unique")) && !is_true(old.keyword("unique"))))
            {
                hit(
                    Rule::NonConcurrentIndex,
                    format!(
                        "AlterField {field} on {model} adds an index without CONCURRENTLY, which blocks writes to the table; add it with AddIndexConcurrently in a non-atomic migration"
                    ),
                );
            }
        }
        _ => {}
    }
}

fn check_migration(cx: &Context<'_>, operations: &[Operation], hits: &mut Vec<Hit>) {
    if cx.migration.atomic == Some(false) {
        return;
    }
    let run_python = operations.iter().find(|op| op.class == "RunPython");
    let schema = operations
        .iter()
        .any(|op| SCHEMA_OPERATIONS.contains(&op.class.as_str()));
    if let (Some(op), true) = (run_python, schema) {
        hits.push(Hit {
            rule: Rule::RunPythonWithSchemaChanges,
            line: op.line,
            message: "RunPython in the same atomic migration as schema changes: the tables stay locked until the data migration ends (and PostgreSQL may refuse to alter a table with pending trigger events); put the data migration in a migration of its own".to_owned(),
        });
    }
}

/// Why changing `old` into `new` rewrites or locks the table, if it does.
fn rewrite_reason(old: &FieldDef, new: &FieldDef) -> Option<String> {
    if let (Some(before), Some(after)) = (&old.class, &new.class)
        && before != after
    {
        return Some(format!(
            "the type changes from {before} to {after}, which rewrites the table under an exclusive lock"
        ));
    }
    if is_true(old.keyword("null")) && !is_true(new.keyword("null")) {
        return Some(
            "null=True becomes NOT NULL: every row is checked under an exclusive lock, and the running code may still write NULL".to_owned(),
        );
    }
    let length = |def: &FieldDef| def.keyword("max_length")?.parse::<u64>().ok();
    if let (Some(before), Some(after)) = (length(old), length(new))
        && after < before
    {
        return Some(format!(
            "max_length shrinks from {before} to {after}: every row is checked (or the table rewritten) under an exclusive lock, and longer values fail"
        ));
    }
    None
}

/// Whether adding this field builds an index: `db_index=True`, `unique=True`, or a relation
/// (Django indexes a ForeignKey unless `db_index=False`).
fn builds_index(def: &FieldDef) -> bool {
    let relation = def
        .class
        .as_deref()
        .is_some_and(|c| c.ends_with("ForeignKey") || c.ends_with("OneToOneField"));
    is_true(def.keyword("db_index"))
        || is_true(def.keyword("unique"))
        || (relation && def.keyword("db_index") != Some("False"))
}

/// Field classes Django fills with `""` when added with `blank=True` and no default
/// (`empty_strings_allowed`).
const STRING_FIELDS: &[&str] = &[
    "CharField",
    "TextField",
    "EmailField",
    "SlugField",
    "URLField",
    "FileField",
    "ImageField",
    "FilePathField",
    "BinaryField",
];

/// Whether Django's schema editor gives the existing rows a value of its own when the field has
/// no default (`BaseDatabaseSchemaEditor._effective_default`): `""` for a blank string field,
/// the current time for `auto_now` / `auto_now_add`.
fn django_fills_existing_rows(def: &FieldDef) -> bool {
    let string = def
        .class
        .as_deref()
        .is_some_and(|c| STRING_FIELDS.contains(&c));
    (string && is_true(def.keyword("blank")))
        || is_true(def.keyword("auto_now"))
        || is_true(def.keyword("auto_now_add"))
}

fn is_not_null_without_default(def: &FieldDef) -> bool {
    // A many-to-many adds a table, not a column; a generated column is computed, never inserted.
    let many_to_many = def
        .class
        .as_deref()
        .is_some_and(|c| c.ends_with("ManyToManyField") || c == "GeneratedField");
    // `**kwargs` may hold anything: not judged.
    let hidden = def.arguments.iter().any(|a| a.text.starts_with("**"));
    !many_to_many
        && !hidden
        && !is_true(def.keyword("null"))
        && def.keyword("default").is_none()
        && def.keyword("db_default").is_none()
}

/// An argument that is absent or `None`.
fn is_none(value: Option<&str>) -> bool {
    value.is_none_or(|v| v == "None")
}

fn is_true(value: Option<&str>) -> bool {
    value == Some("True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::parse;

    const INITIAL: &str = r#"
class Migration(migrations.Migration):
    operations = [
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.AutoField(primary_key=True)),
                ("title", models.CharField(max_length=200)),
                ("note", models.TextField(null=True)),
                ("pages", models.IntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="Shelf",
            fields=[("id", models.AutoField(primary_key=True))],
            options={"db_table": "shelves"},
        ),
        migrations.CreateModel(name="Author", fields=[("id", models.AutoField(primary_key=True))]),
    ]
"#;

    /// The hits on a migration with these operations (and this class body prefix), after
    /// INITIAL.
    fn lint_with(head: &str, operations: &str, postgresql: bool) -> Vec<(Rule, u32)> {
        let initial = parse(INITIAL.as_bytes()).unwrap().operations.unwrap();
        let mut before = AppState::default();
        before.apply_all(&initial);
        let source = format!(
            "class Migration(migrations.Migration):\n{head}    operations = [\n{operations}\n    ]\n"
        );
        let migration = parse(source.as_bytes()).unwrap();
        let cx = Context {
            migration: &migration,
            before: &before,
            postgresql,
        };
        check(&cx).into_iter().map(|h| (h.rule, h.line)).collect()
    }

    fn rules(operations: &str) -> Vec<Rule> {
        lint_with("", operations, false)
            .into_iter()
            .map(|(r, _)| r)
            .collect()
    }

    fn pg_rules(head: &str, operations: &str) -> Vec<Rule> {
        lint_with(head, operations, true)
            .into_iter()
            .map(|(r, _)| r)
            .collect()
    }

    #[test]
    fn run_python_needs_reverse_code_and_noop_counts() {
        assert_eq!(
            rules("migrations.RunPython(forwards),"),
            [Rule::IrreversibleRunPython]
        );
        assert_eq!(
            rules("migrations.RunPython(forwards, reverse_code=None),"),
            [Rule::IrreversibleRunPython]
        );
        assert!(rules("migrations.RunPython(forwards, migrations.RunPython.noop),").is_empty());
        assert!(rules("migrations.RunPython(forwards, reverse_code=backwards),").is_empty());
    }

    #[test]
    fn run_sql_needs_reverse_sql() {
        assert_eq!(
            rules("migrations.RunSQL('UPDATE t SET x = 1'),"),
            [Rule::IrreversibleRunSql]
        );
        assert!(rules("migrations.RunSQL('UPDATE t', migrations.RunSQL.noop),").is_empty());
        assert!(rules("migrations.RunSQL(sql='a', reverse_sql='b'),").is_empty());
    }

    #[test]
    fn drops_and_renames() {
        assert_eq!(
            rules("migrations.RemoveField('book', 'pages'),"),
            [Rule::DropColumn]
        );
        assert_eq!(
            rules("migrations.DeleteModel('Author'),"),
            [Rule::DropTable]
        );
        assert_eq!(
            rules("migrations.RenameField('book', 'title', 'name'),"),
            [Rule::RenameColumn]
        );
        assert_eq!(
            rules("migrations.RenameModel('Author', 'Writer'),"),
            [Rule::RenameTable]
        );
        // Shelf names its table: the rename keeps it.
        assert!(rules("migrations.RenameModel('Shelf', 'Rack'),").is_empty());
    }

    #[test]
    fn not_null_without_default_only_on_an_existing_table() {
        let add = "migrations.AddField('book', 'isbn', models.CharField(max_length=13)),";
        assert_eq!(rules(add), [Rule::NotNullWithoutDefault]);
        for safe in [
            "migrations.AddField('book', 'isbn', models.CharField(max_length=13, null=True)),",
            "migrations.AddField('book', 'isbn', models.CharField(max_length=13, default='')),",
            "migrations.AddField('book', 'isbn', models.CharField(max_length=13, db_default='')),",
            "migrations.AddField('book', 'tags', models.ManyToManyField('shop.author')),",
            // A model this migration creates has no rows yet.
            "migrations.CreateModel(name='Tag', fields=[('id', models.AutoField(primary_key=True))]),\n        migrations.AddField('tag', 'name', models.CharField(max_length=9)),",
        ] {
            assert!(rules(safe).is_empty(), "{safe}");
        }
    }

    #[test]
    fn volatile_defaults_on_an_existing_table() {
        assert_eq!(
            rules(
                "migrations.AddField('book', 'token', models.UUIDField(default=uuid.uuid4, unique=True)),"
            ),
            [Rule::VolatileDefault]
        );
        assert_eq!(
            rules("migrations.AddField('book', 'at', models.DateTimeField(default=timezone.now)),"),
            [Rule::VolatileDefault]
        );
        assert_eq!(
            rules(
                "migrations.AddField('book', 'at', models.DateTimeField(default=django.utils.timezone.now)),"
            ),
            [Rule::VolatileDefault]
        );
        assert!(
            rules(
                "migrations.AddField('book', 'at', models.DateTimeField(default=some_constant)),"
            )
            .is_empty()
        );
    }

    #[test]
    fn index_builds_on_postgresql_only() {
        let add_index =
            "migrations.AddIndex('book', models.Index(fields=['title'], name='t_idx')),";
        assert!(rules(add_index).is_empty());
        assert_eq!(pg_rules("", add_index), [Rule::NonConcurrentIndex]);
        let unique = "migrations.AddConstraint('book', models.UniqueConstraint(fields=['title'], name='u')),";
        assert_eq!(pg_rules("", unique), [Rule::NonConcurrentIndex]);
        let check = "migrations.AddConstraint('book', models.CheckConstraint(condition=Q(pages__gte=0), name='c')),";
        assert!(pg_rules("", check).is_empty());
        let alter = "migrations.AlterField('book', 'title', models.CharField(max_length=200, db_index=True)),";
        assert_eq!(pg_rules("", alter), [Rule::NonConcurrentIndex]);
        let fk = "migrations.AddField('book', 'author', models.ForeignKey('shop.author', null=True, on_delete=models.CASCADE)),";
        assert_eq!(pg_rules("", fk), [Rule::NonConcurrentIndex]);
    }

    #[test]
    fn concurrent_index_operations_need_a_non_atomic_migration() {
        let op = "AddIndexConcurrently('book', models.Index(fields=['title'], name='t_idx')),";
        assert_eq!(rules(op), [Rule::ConcurrentIndexInAtomic]);
        assert!(lint_with("    atomic = False\n", op, true).is_empty());
        assert_eq!(
            rules("RemoveIndexConcurrently('book', 't_idx'),"),
            [Rule::ConcurrentIndexInAtomic]
        );
    }

    #[test]
    fn run_python_beside_schema_changes_in_an_atomic_migration() {
        let ops = "migrations.AddField('book', 'isbn', models.CharField(max_length=13, null=True)),\n        migrations.RunPython(fill, migrations.RunPython.noop),";
        assert_eq!(
            lint_with("", ops, false),
            [(Rule::RunPythonWithSchemaChanges, 4)]
        );
        assert!(lint_with("    atomic = False\n", ops, false).is_empty());
    }

    #[test]
    fn alter_field_judged_from_the_previous_definition() {
        assert_eq!(
            rules("migrations.AlterField('book', 'title', models.CharField(max_length=100)),"),
            [Rule::AlterFieldRewrite]
        );
        assert!(
            rules("migrations.AlterField('book', 'title', models.CharField(max_length=300)),")
                .is_empty()
        );
        assert_eq!(
            rules("migrations.AlterField('book', 'note', models.TextField()),"),
            [Rule::AlterFieldRewrite]
        );
        assert!(
            rules(
                "migrations.AlterField('book', 'note', models.TextField(null=True, blank=True)),"
            )
            .is_empty()
        );
        assert_eq!(
            rules("migrations.AlterField('book', 'pages', models.BigIntegerField(default=0)),"),
            [Rule::AlterFieldRewrite]
        );
        // Each operation sees the one before it: widening, then narrowing back to where it was.
        assert_eq!(
            lint_with(
                "",
                "migrations.AlterField('book', 'title', models.CharField(max_length=300)),\n        migrations.AlterField('book', 'title', models.CharField(max_length=200)),",
                false
            ),
            [(Rule::AlterFieldRewrite, 4)]
        );
    }
}
