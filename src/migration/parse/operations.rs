//! Reading the `operations` list: what each Django operation touches (model, field, index or
//! constraint names, field classes and relation targets), from its arguments mapped onto the
//! operation constructors' signatures.

use rustpython_ruff_python_ast::{Arguments, Expr, ExprCall};
use rustpython_ruff_text_size::Ranged;

use super::super::{Arg, Argument, Detail, FieldDef, Operation, ParseError, Text};
use super::{Source, callee_name};
use canonical::Signature;

mod canonical;

/// `SeparateDatabaseAndState` may nest; past this depth the inner operations are not read, so
/// that a hostile file cannot make the reader recurse without bound.
pub(super) const MAX_NESTING: u32 = 32;

/// The operations of a literal list or tuple; `None` for any other value.
pub(super) fn read_list(
    src: &Source<'_>,
    value: &Expr,
) -> Result<Option<Vec<Operation>>, ParseError> {
    match value {
        Expr::List(list) => read_all(src, &list.elts, 0).map(Some),
        Expr::Tuple(tuple) => read_all(src, &tuple.elts, 0).map(Some),
        _ => Ok(None),
    }
}

fn read_all(src: &Source<'_>, elts: &[Expr], depth: u32) -> Result<Vec<Operation>, ParseError> {
    elts.iter().map(|elt| read_one(src, elt, depth)).collect()
}

fn read_one(src: &Source<'_>, elt: &Expr, depth: u32) -> Result<Operation, ParseError> {
    let line = src.line(elt.start());
    let Expr::Call(call) = elt else {
        return Ok(Operation {
            class: src.slice(elt.range())?.into(),
            line,
            has_unknown_args: true,
            ..Operation::default()
        });
    };
    let class: Text = match callee_name(&call.func) {
        Some(name) => name.into(),
        None => src.slice(call.func.range())?.into(),
    };
    let mut reader = Reader {
        src,
        args: &call.arguments,
        unknown: false,
    };
    let mut op = Operation {
        line,
        ..Operation::default()
    };
    read_touched(&class, &mut reader, &mut op, depth)?;
    if src.detail == Detail::Full {
        op.args = normalized_arguments(src, &call.arguments, &class, &op.fields);
    }
    op.class = class;
    op.has_unknown_args = reader.unknown;
    op.arguments = arguments_as_written(src, &call.arguments)?;
    Ok(op)
}

/// What an operation's arguments name, bound by position and keyword. The syntax tree path and
/// the plain reader bind arguments each in their own way; [`read_touched`] holds the one table
/// of which argument of which operation class names what. `Err` stops the reading.
pub(super) trait BindArguments {
    type Stop;
    /// A string argument; `None` when absent or `None` (the argument is then unknown if
    /// `required`, or not a literal).
    fn string(
        &mut self,
        index: usize,
        name: &str,
        required: bool,
    ) -> Result<Option<Text>, Self::Stop>;
    /// The `name=` of the index or constraint object passed as this argument.
    fn named_object(&mut self, index: usize, name: &str) -> Result<Option<Text>, Self::Stop>;
    /// The `(name, field)` pairs of `CreateModel`'s `fields`.
    fn model_fields(&mut self, index: usize, name: &str) -> Result<Vec<FieldDef>, Self::Stop>;
    /// The field of `AddField` / `AlterField`.
    fn field(&mut self, index: usize, name: &str) -> Result<FieldDef, Self::Stop>;
    /// A nested list of operations (`SeparateDatabaseAndState`).
    fn operations(
        &mut self,
        index: usize,
        name: &str,
        depth: u32,
    ) -> Result<Vec<Operation>, Self::Stop>;
}

/// Fills in what the operation of class `class` touches (model, field, names, fields, inner
/// operations) from its arguments.
pub(super) fn read_touched<B: BindArguments>(
    class: &str,
    args: &mut B,
    op: &mut Operation,
    depth: u32,
) -> Result<(), B::Stop> {
    match class {
        "CreateModel" => {
            op.model = args.string(0, "name", true)?;
            op.fields = args.model_fields(1, "fields")?;
        }
        "DeleteModel"
        | "AlterModelTable"
        | "AlterModelTableComment"
        | "AlterUniqueTogether"
        | "AlterIndexTogether"
        | "AlterOrderWithRespectTo"
        | "AlterModelOptions"
        | "AlterModelManagers" => op.model = args.string(0, "name", true)?,
        "RenameModel" => {
            op.old_name = args.string(0, "old_name", true)?;
            op.new_name = args.string(1, "new_name", true)?;
            // The model it touches is the one that exists before it runs.
            op.model.clone_from(&op.old_name);
        }
        "AddField" | "AlterField" => {
            op.model = args.string(0, "model_name", true)?;
            op.field = args.string(1, "name", true)?;
            let field = args.field(2, "field")?;
            if let Some(name) = &op.field {
                op.fields.push(FieldDef {
                    name: name.clone(),
                    ..field
                });
            }
        }
        "RemoveField" => {
            op.model = args.string(0, "model_name", true)?;
            op.field = args.string(1, "name", true)?;
        }
        "RenameField" => {
            op.model = args.string(0, "model_name", true)?;
            op.old_name = args.string(1, "old_name", true)?;
            op.new_name = args.string(2, "new_name", true)?;
            op.field.clone_from(&op.old_name);
        }
        "AddIndex" => {
            op.model = args.string(0, "model_name", true)?;
            op.index = args.named_object(1, "index")?;
        }
        "AddConstraint" => {
            op.model = args.string(0, "model_name", true)?;
            op.index = args.named_object(1, "constraint")?;
        }
        "RemoveIndex" | "RemoveConstraint" | "AlterConstraint" => {
            op.model = args.string(0, "model_name", true)?;
            op.index = args.string(1, "name", true)?;
        }
        "RenameIndex" => {
            op.model = args.string(0, "model_name", true)?;
            op.new_name = args.string(1, "new_name", true)?;
            // Either `old_name` or `old_fields` names the old index, so neither is required.
            op.old_name = args.string(2, "old_name", false)?;
            op.index.clone_from(&op.new_name);
        }
        "SeparateDatabaseAndState" => {
            let database = args.operations(0, "database_operations", depth)?;
            let state = args.operations(1, "state_operations", depth)?;
            op.inner = state;
            op.inner.extend(database);
        }
        // `RunPython`, `RunSQL` and custom operations are opaque: their class is all there is.
        _ => {}
    }
    Ok(())
}

impl BindArguments for Reader<'_, '_> {
    type Stop = ParseError;
    fn string(
        &mut self,
        index: usize,
        name: &str,
        required: bool,
    ) -> Result<Option<Text>, ParseError> {
        Ok(Reader::string(self, index, name, required))
    }
    fn named_object(&mut self, index: usize, name: &str) -> Result<Option<Text>, ParseError> {
        Ok(Reader::named_object(self, index, name))
    }
    fn model_fields(&mut self, index: usize, name: &str) -> Result<Vec<FieldDef>, ParseError> {
        Reader::model_fields(self, index, name)
    }
    fn field(&mut self, index: usize, name: &str) -> Result<FieldDef, ParseError> {
        Reader::field(self, index, name)
    }
    fn operations(
        &mut self,
        index: usize,
        name: &str,
        depth: u32,
    ) -> Result<Vec<Operation>, ParseError> {
        Reader::operations(self, index, name, depth)
    }
}

/// The operation's arguments in the normalised text the overlap compares.
fn normalized_arguments(
    src: &Source<'_>,
    arguments: &Arguments,
    class: &str,
    fields: &[FieldDef],
) -> Vec<Arg> {
    let mut args = canonical::arguments(src, arguments, &signature(class));
    // The field as `FieldDef` reads it: its class by the last dotted part, `Field`'s defaults
    // left out.
    if let (Some(field), Some(arg)) = (
        fields
            .first()
            .filter(|_| matches!(class, "AddField" | "AlterField")),
        args.iter_mut().find(|arg| arg.name == "field"),
    ) && field.class.is_some()
    {
        arg.value = field.definition();
    }
    args
}

const NONE: &[&str] = &["None"];
const FALSE: &[&str] = &["False"];
const TRUE: &[&str] = &["True"];
const NO_OPERATIONS: &[&str] = &["None", "[]", "()"];
const NO_HINTS: &[&str] = &["None", "{}"];

/// The parameters of Django's operation constructors, and the defaults `makemigrations` leaves
/// out; a custom operation's arguments are kept as given.
fn signature(class: &str) -> Signature {
    let (params, defaults): (
        &'static [&'static str],
        &'static [(&'static str, &'static [&'static str])],
    ) = match class {
        "CreateModel" => (
            &["name", "fields", "options", "bases", "managers"],
            &[
                ("options", &["None", "{}"]),
                ("bases", &["None", "(models.Model,)", "()"]),
                ("managers", NO_OPERATIONS),
            ],
        ),
        "DeleteModel" => (&["name"], &[]),
        "RenameModel" => (&["old_name", "new_name"], &[]),
        "AlterModelTable" => (&["name", "table"], &[]),
        "AlterModelTableComment" => (&["name", "table_comment"], &[]),
        "AlterUniqueTogether" => (&["name", "unique_together"], &[]),
        "AlterIndexTogether" => (&["name", "index_together"], &[]),
        "AlterOrderWithRespectTo" => (&["name", "order_with_respect_to"], &[]),
        "AlterModelOptions" => (&["name", "options"], &[]),
        "AlterModelManagers" => (&["name", "managers"], &[]),
        "AddField" | "AlterField" => (
            &["model_name", "name", "field", "preserve_default"],
            &[("preserve_default", TRUE)],
        ),
        "RemoveField" | "RemoveIndex" | "RemoveConstraint" => (&["model_name", "name"], &[]),
        "RenameField" => (&["model_name", "old_name", "new_name"], &[]),
        "AddIndex" => (&["model_name", "index"], &[]),
        "AddConstraint" => (&["model_name", "constraint"], &[]),
        "AlterConstraint" => (&["model_name", "name", "constraint"], &[]),
        "RenameIndex" => (
            &["model_name", "new_name", "old_name", "old_fields"],
            &[("old_name", NONE), ("old_fields", NONE)],
        ),
        "SeparateDatabaseAndState" => (
            &["database_operations", "state_operations"],
            &[
                ("database_operations", NO_OPERATIONS),
                ("state_operations", NO_OPERATIONS),
            ],
        ),
        "RunSQL" => (
            &[
                "sql",
                "reverse_sql",
                "state_operations",
                "hints",
                "elidable",
            ],
            &[
                ("reverse_sql", NONE),
                ("state_operations", NO_OPERATIONS),
                ("hints", NO_HINTS),
                ("elidable", FALSE),
            ],
        ),
        "RunPython" => (
            &["code", "reverse_code", "atomic", "hints", "elidable"],
            &[
                ("reverse_code", NONE),
                ("atomic", NONE),
                ("hints", NO_HINTS),
                ("elidable", FALSE),
            ],
        ),
        _ => (&[], &[]),
    };
    Signature { params, defaults }
}

/// `Field.__init__`'s defaults, which every field class keeps or overrides regardless of what
/// is passed (`AutoField` forces `blank=True`, `OneToOneField` `unique=True`); `db_index` is not
/// among them, because `ForeignKey` defaults it to `True`.
const FIELD_DEFAULTS: &[(&str, &[&str])] = &[
    ("verbose_name", NONE),
    ("primary_key", FALSE),
    ("unique", FALSE),
    ("blank", FALSE),
    ("null", FALSE),
    ("editable", TRUE),
    ("serialize", TRUE),
    ("auto_created", FALSE),
    ("help_text", &["\"\""]),
    ("db_column", NONE),
    ("db_comment", NONE),
    ("db_tablespace", NONE),
    ("choices", NONE),
    ("validators", &["[]", "()"]),
    ("unique_for_date", NONE),
    ("unique_for_month", NONE),
    ("unique_for_year", NONE),
];

/// A field constructor's signature: relational fields take the target first (and
/// `ForeignKey` / `OneToOneField` `on_delete` second), every other field `verbose_name`.
fn field_signature(class: &str) -> Signature {
    let params: &'static [&'static str] = if class.ends_with("ManyToManyField") {
        &["to"]
    } else if is_relational(class) {
        &["to", "on_delete"]
    } else {
        &["verbose_name"]
    };
    Signature {
        params,
        defaults: FIELD_DEFAULTS,
    }
}

/// Subclasses keep the base's name as a suffix (`TreeForeignKey`, `SortedManyToManyField`)
/// and its signature, `to` first.
pub(super) fn is_relational(class: &str) -> bool {
    ["ForeignKey", "OneToOneField", "ManyToManyField"]
        .iter()
        .any(|base| class.ends_with(base))
}

/// Every argument of a call, keyword and source text, in the order written.
fn arguments_as_written(src: &Source<'_>, args: &Arguments) -> Result<Vec<Argument>, ParseError> {
    let mut out = Vec::with_capacity(args.args.len() + args.keywords.len());
    for arg in &args.args {
        out.push(Argument {
            keyword: None,
            text: src.slice(arg.range())?.into(),
        });
    }
    for keyword in &args.keywords {
        out.push(match &keyword.arg {
            Some(name) => Argument {
                keyword: Some(name.id.as_str().into()),
                text: src.slice(keyword.value.range())?.into(),
            },
            None => Argument {
                keyword: None,
                text: compact_str::format_compact!("**{}", src.slice(keyword.value.range())?),
            },
        });
    }
    Ok(out)
}

/// An argument looked up by position and keyword, as Python binds it.
enum Bound<'a> {
    Missing,
    Given(&'a Expr),
    /// Possibly passed through `*args` or `**kwargs`.
    Hidden,
}

fn argument<'a>(args: &'a Arguments, index: usize, name: &str) -> Bound<'a> {
    if let Some(keyword) = args.keywords.iter().find(|keyword| {
        keyword
            .arg
            .as_ref()
            .is_some_and(|arg| arg.id.as_str() == name)
    }) {
        return Bound::Given(&keyword.value);
    }
    for (i, arg) in args.args.iter().enumerate() {
        // Past a `*args`, positions are unknowable.
        if arg.is_starred_expr() {
            return Bound::Hidden;
        }
        if i == index {
            return Bound::Given(arg);
        }
    }
    if args.keywords.iter().any(|keyword| keyword.arg.is_none()) {
        Bound::Hidden
    } else {
        Bound::Missing
    }
}

/// Reads the identifying arguments of one operation call, remembering whether any of them
/// could not be read.
struct Reader<'s, 'a> {
    src: &'s Source<'a>,
    args: &'s Arguments,
    unknown: bool,
}

impl Reader<'_, '_> {
    /// A string argument; `None` when absent, `None` or not a literal (the latter, and an
    /// absent required argument, count as unknown).
    fn string(&mut self, index: usize, name: &str, required: bool) -> Option<Text> {
        match argument(self.args, index, name) {
            Bound::Given(Expr::StringLiteral(literal)) => Some(literal.value.to_str().into()),
            Bound::Given(Expr::NoneLiteral(_)) => None,
            Bound::Missing if !required => None,
            Bound::Given(_) | Bound::Hidden | Bound::Missing => {
                self.unknown = true;
                None
            }
        }
    }

    /// The `name=` of the index or constraint object passed as this argument.
    fn named_object(&mut self, index: usize, name: &str) -> Option<Text> {
        let found = match argument(self.args, index, name) {
            // Index and constraint constructors take `name` by keyword only.
            Bound::Given(Expr::Call(call)) => match argument(&call.arguments, usize::MAX, "name") {
                Bound::Given(Expr::StringLiteral(literal)) => Some(literal.value.to_str().into()),
                _ => None,
            },
            _ => None,
        };
        self.unknown |= found.is_none();
        found
    }

    /// The `(name, field)` pairs of `CreateModel`'s `fields`.
    fn model_fields(&mut self, index: usize, name: &str) -> Result<Vec<FieldDef>, ParseError> {
        let elts = match argument(self.args, index, name) {
            Bound::Given(Expr::List(list)) => &list.elts,
            Bound::Given(Expr::Tuple(tuple)) => &tuple.elts,
            _ => {
                self.unknown = true;
                return Ok(Vec::new());
            }
        };
        let mut fields = Vec::with_capacity(elts.len());
        for elt in elts {
            let pair = match elt {
                Expr::Tuple(tuple) => tuple.elts.as_slice(),
                Expr::List(list) => list.elts.as_slice(),
                _ => &[],
            };
            match pair {
                [Expr::StringLiteral(field_name), field] => {
                    let def = self.field_def(field)?;
                    fields.push(FieldDef {
                        name: field_name.value.to_str().into(),
                        ..def
                    });
                }
                _ => self.unknown = true,
            }
        }
        Ok(fields)
    }

    /// The field object of `AddField` / `AlterField` (its `name` is filled by the caller).
    fn field(&mut self, index: usize, name: &str) -> Result<FieldDef, ParseError> {
        match argument(self.args, index, name) {
            Bound::Given(field) => self.field_def(field),
            Bound::Missing | Bound::Hidden => {
                self.unknown = true;
                Ok(FieldDef::default())
            }
        }
    }

    fn field_def(&mut self, field: &Expr) -> Result<FieldDef, ParseError> {
        let Expr::Call(call) = field else {
            self.unknown = true;
            return Ok(FieldDef::default());
        };
        let class: Text = match callee_name(&call.func) {
            Some(name) => name.into(),
            None => self.src.slice(call.func.range())?.into(),
        };
        let to = self.relation_target(call, &class)?;
        let args = if self.src.detail == Detail::Full {
            canonical::arguments(self.src, &call.arguments, &field_signature(&class))
        } else {
            Vec::new()
        };
        Ok(FieldDef {
            name: Text::default(),
            class: Some(class),
            to,
            args,
            arguments: arguments_as_written(self.src, &call.arguments)?,
        })
    }

    /// The model a relational field points to, as written.
    fn relation_target(
        &mut self,
        call: &ExprCall,
        class: &str,
    ) -> Result<Option<Text>, ParseError> {
        let relational = is_relational(class);
        let has_to = call.arguments.keywords.iter().any(|keyword| {
            keyword
                .arg
                .as_ref()
                .is_some_and(|arg| arg.id.as_str() == "to")
        });
        if !relational && !has_to {
            return Ok(None);
        }
        match argument(&call.arguments, 0, "to") {
            Bound::Given(Expr::StringLiteral(literal)) => Ok(Some(literal.value.to_str().into())),
            Bound::Given(target) => Ok(Some(self.src.slice(target.range())?.into())),
            Bound::Missing | Bound::Hidden => {
                self.unknown = true;
                Ok(None)
            }
        }
    }

    /// A nested list of operations (`SeparateDatabaseAndState`), which defaults to none.
    fn operations(
        &mut self,
        index: usize,
        name: &str,
        depth: u32,
    ) -> Result<Vec<Operation>, ParseError> {
        let elts = match argument(self.args, index, name) {
            Bound::Missing | Bound::Given(Expr::NoneLiteral(_)) => return Ok(Vec::new()),
            Bound::Given(Expr::List(list)) if depth < MAX_NESTING => &list.elts,
            Bound::Given(Expr::Tuple(tuple)) if depth < MAX_NESTING => &tuple.elts,
            Bound::Given(_) | Bound::Hidden => {
                self.unknown = true;
                return Ok(Vec::new());
            }
        };
        read_all(self.src, elts, depth + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::parse;
    use super::*;

    fn ops(body: &str) -> Vec<Operation> {
        let source =
            format!("class Migration(migrations.Migration):\n    operations = [\n{body}\n    ]\n");
        match parse(source.as_bytes()) {
            Ok(migration) => {
                let mut all = migration.operations.expect("a literal list");
                // These tests are about what an operation touches; the arguments as written
                // have their own test.
                all.iter_mut().for_each(forget_arguments);
                all
            }
            Err(err) => panic!("{err}\n{source}"),
        }
    }

    fn forget_arguments(op: &mut Operation) {
        op.arguments.clear();
        op.fields.iter_mut().for_each(|f| f.arguments.clear());
        op.inner.iter_mut().for_each(forget_arguments);
    }

    #[test]
    fn arguments_are_kept_as_written() {
        let source = "class Migration(migrations.Migration):\n    atomic = False\n    operations = [\n        migrations.RunPython(forwards, migrations.RunPython.noop, **extra),\n        migrations.AddField('book', 'isbn', models.CharField(max_length=13, default=uuid.uuid4)),\n    ]\n";
        let migration = parse(source.as_bytes()).unwrap();
        assert_eq!(migration.atomic, Some(false));
        let ops = migration.operations.unwrap();
        assert_eq!(ops[0].argument(0, "code"), Some("forwards"));
        assert_eq!(
            ops[0].argument(1, "reverse_code"),
            Some("migrations.RunPython.noop")
        );
        assert_eq!(ops[0].argument(2, "atomic"), None);
        assert_eq!(ops[0].arguments[2].text, "**extra");
        let field = &ops[1].fields[0];
        assert_eq!(field.keyword("max_length"), Some("13"));
        assert_eq!(field.keyword("default"), Some("uuid.uuid4"));
        assert_eq!(field.keyword("null"), None);
    }

    fn one(call: &str) -> Operation {
        let mut all = ops(&format!("        {call},"));
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    fn s(value: &str) -> Option<Text> {
        Some(value.into())
    }

    /// The fields without their normalised arguments, which the tests of normalising check.
    fn bare(fields: &[FieldDef]) -> Vec<FieldDef> {
        fields
            .iter()
            .map(|f| FieldDef {
                args: Vec::new(),
                ..f.clone()
            })
            .collect()
    }

    fn field(name: &str, class: &str, to: Option<&str>) -> FieldDef {
        FieldDef {
            name: name.into(),
            class: s(class),
            to: to.map(Text::from),
            args: Vec::new(),
            arguments: Vec::new(),
        }
    }

    #[test]
    fn create_model() {
        let op = one(
            "migrations.CreateModel(\n            name='Book',\n            fields=[\n                ('id', models.AutoField(primary_key=True)),\n                ('author', models.ForeignKey('library.Author', on_delete=models.CASCADE)),\n                ('owner', models.ForeignKey(on_delete=models.CASCADE, to=settings.AUTH_USER_MODEL)),\n                ('tags', models.ManyToManyField(to='library.tag')),\n                ('parent', mptt.fields.TreeForeignKey(to='self', on_delete=models.CASCADE)),\n                ('ref', custom.RefField(to=\"other.Model\")),\n            ],\n            options={'abstract': False},\n            bases=(models.Model,),\n        )",
        );
        assert_eq!(op.class, "CreateModel");
        assert_eq!(op.line, 3);
        assert_eq!(op.model, s("Book"));
        assert_eq!(
            bare(&op.fields),
            [
                field("id", "AutoField", None),
                field("author", "ForeignKey", Some("library.Author")),
                field("owner", "ForeignKey", Some("settings.AUTH_USER_MODEL")),
                field("tags", "ManyToManyField", Some("library.tag")),
                field("parent", "TreeForeignKey", Some("self")),
                field("ref", "RefField", Some("other.Model")),
            ]
        );
        assert!(!op.has_unknown_args);
        let positional =
            one("migrations.CreateModel('Book', [('id', models.AutoField())], {}, (), [])");
        assert_eq!(positional.model, s("Book"));
        assert_eq!(bare(&positional.fields), [field("id", "AutoField", None)]);
        let computed = one("migrations.CreateModel(name=NAME, fields=FIELDS)");
        assert_eq!(computed.model, None);
        assert!(computed.fields.is_empty());
        assert!(computed.has_unknown_args);
        let odd_field =
            one("migrations.CreateModel('A', [('id', models.AutoField()), FIELD, ('x', FIELD_X)])");
        assert_eq!(
            bare(&odd_field.fields),
            [
                field("id", "AutoField", None),
                FieldDef {
                    name: "x".into(),
                    ..FieldDef::default()
                }
            ]
        );
        assert!(odd_field.has_unknown_args);
    }

    #[test]
    fn normalised_text_ignores_how_an_operation_is_written() {
        let plain = one(
            "migrations.AlterField(model_name='recipe', name='time', field=models.IntegerField(default=0))",
        );
        assert_eq!(
            plain.normalized(),
            "AlterField(field=IntegerField(default=0), model_name=\"recipe\", name=\"time\")"
        );
        for written in [
            // Keyword order, quotes, trailing commas, whitespace and line breaks.
            "migrations.AlterField(\n            name=\"time\",\n            model_name=\"recipe\",\n            field=models.IntegerField( default = 0, ),\n        )",
            // Positional arguments, and the defaults Django fills in.
            "migrations.AlterField('recipe', 'time', models.IntegerField(default=0, null=False, blank=False), preserve_default=True)",
            // The field class by its full path.
            "migrations.AlterField('recipe', 'time', django.db.models.IntegerField(default=0))",
        ] {
            assert_eq!(one(written).normalized(), plain.normalized(), "{written}");
        }
        for different in [
            "migrations.AlterField('recipe', 'time', models.IntegerField(default=1))",
            "migrations.AlterField('recipe', 'time', models.IntegerField(default=0, null=True))",
            "migrations.AlterField('recipe', 'time', models.IntegerField(default=0), preserve_default=False)",
            "migrations.AlterField('recipe', 'time', models.PositiveIntegerField(default=0))",
        ] {
            assert_ne!(
                one(different).normalized(),
                plain.normalized(),
                "{different}"
            );
        }
    }

    #[test]
    fn normalised_values() {
        let options = one(
            "migrations.AlterModelOptions(\n    name='book',\n    options={'verbose_name': _('Book'), \"ordering\": ['-pk', 'title'],},\n)",
        );
        let same = one(
            "migrations.AlterModelOptions('book', {\"ordering\": [\"-pk\", \"title\"], 'verbose_name': _(\"Book\")})",
        );
        assert_eq!(options.normalized(), same.normalized());
        assert_eq!(
            options.args[1].value,
            "{\"ordering\": [\"-pk\", \"title\"], \"verbose_name\": _(\"Book\")}"
        );
        let together = one("migrations.AlterUniqueTogether('book', {('b', 'a'), ('a', 'b')})");
        assert_eq!(together.args[1].value, "{(\"a\", \"b\"), (\"b\", \"a\")}");
        let field = one(
            "migrations.AddField('book', 'price', models.DecimalField(decimal_places=2, max_digits=-(10), help_text=\"\", validators=[]))",
        );
        assert_eq!(
            field.fields[0].definition(),
            "DecimalField(decimal_places=2, max_digits=-10)"
        );
        let fk = one(
            "migrations.AddField('book', 'author', models.ForeignKey('library.author', models.CASCADE, db_index=False))",
        );
        assert_eq!(
            fk.fields[0].definition(),
            "ForeignKey(db_index=False, on_delete=models.CASCADE, to=\"library.author\")"
        );
        let opaque = one("migrations.RunPython(forwards, reverse_code=None, elidable=False)");
        assert_eq!(opaque.normalized(), "RunPython(code=forwards)");
        let odd = one("Custom(lambda  x:   x, *rest, key=f'{a}')");
        assert_eq!(odd.normalized(), "Custom(lambda x: x, *rest, key=f'{a}')");
    }

    #[test]
    fn model_operations() {
        for class in [
            "DeleteModel",
            "AlterModelTable",
            "AlterModelTableComment",
            "AlterUniqueTogether",
            "AlterIndexTogether",
            "AlterOrderWithRespectTo",
            "AlterModelOptions",
            "AlterModelManagers",
        ] {
            let positional = one(&format!("migrations.{class}('Book', None)"));
            let keyword = one(&format!("migrations.{class}(name='Book')"));
            for op in [positional, keyword] {
                assert_eq!(op.class, class);
                assert_eq!(op.model, s("Book"), "{class}");
                assert!(!op.has_unknown_args, "{class}");
            }
        }
        let op = one("migrations.AlterModelTable(table='t', name='Book')");
        assert_eq!(op.model, s("Book"));
        let op = one("migrations.DeleteModel(name=f'Book')");
        assert_eq!(op.model, None);
        assert!(op.has_unknown_args);
    }

    #[test]
    fn rename_model() {
        let op = one("migrations.RenameModel(old_name='Book', new_name='Volume')");
        assert_eq!(op.model, s("Book"));
        assert_eq!(op.old_name, s("Book"));
        assert_eq!(op.new_name, s("Volume"));
        let op = one("migrations.RenameModel('Book', 'Volume')");
        assert_eq!((op.old_name, op.new_name), (s("Book"), s("Volume")));
    }

    #[test]
    fn field_operations() {
        let add = one(
            "migrations.AddField(\n            model_name='book',\n            name='author',\n            field=models.ForeignKey(on_delete=models.CASCADE, to='library.author'),\n            preserve_default=False,\n        )",
        );
        assert_eq!(add.model, s("book"));
        assert_eq!(add.field, s("author"));
        assert_eq!(
            bare(&add.fields),
            [field("author", "ForeignKey", Some("library.author"))]
        );
        assert!(!add.has_unknown_args);
        let alter = one("migrations.AlterField('book', 'title', models.CharField(max_length=200))");
        assert_eq!(alter.class, "AlterField");
        assert_eq!((alter.model, alter.field), (s("book"), s("title")));
        assert_eq!(bare(&alter.fields), [field("title", "CharField", None)]);
        let remove = one("migrations.RemoveField(model_name='book', name='title')");
        assert_eq!((remove.model, remove.field), (s("book"), s("title")));
        assert!(remove.fields.is_empty());
        let rename = one("migrations.RenameField('book', old_name='title', new_name='name')");
        assert_eq!(rename.model, s("book"));
        assert_eq!(rename.field, s("title"));
        assert_eq!((rename.old_name, rename.new_name), (s("title"), s("name")));
        let computed = one("migrations.AddField('book', FIELD_NAME, FIELD)");
        assert_eq!(computed.model, s("book"));
        assert_eq!(computed.field, None);
        assert!(computed.fields.is_empty());
        assert!(computed.has_unknown_args);
        let missing_to =
            one("migrations.AddField('book', 'a', models.ForeignKey(on_delete=CASCADE))");
        assert_eq!(bare(&missing_to.fields), [field("a", "ForeignKey", None)]);
        assert!(missing_to.has_unknown_args);
        let missing = one("migrations.RemoveField('book')");
        assert!(missing.has_unknown_args);
    }

    #[test]
    fn index_and_constraint_operations() {
        let add = one(
            "migrations.AddIndex(\n            model_name='book',\n            index=models.Index(fields=['title'], name='book_title_idx'),\n        )",
        );
        assert_eq!((add.model, add.index), (s("book"), s("book_title_idx")));
        assert!(!add.has_unknown_args);
        let remove = one("migrations.RemoveIndex(model_name='book', name='book_title_idx')");
        assert_eq!(
            (remove.model, remove.index),
            (s("book"), s("book_title_idx"))
        );
        let rename = one(
            "migrations.RenameIndex(model_name='book', new_name='new_idx', old_name='old_idx')",
        );
        assert_eq!(rename.model, s("book"));
        assert_eq!(rename.index, s("new_idx"));
        assert_eq!(
            (rename.old_name, rename.new_name),
            (s("old_idx"), s("new_idx"))
        );
        assert!(!rename.has_unknown_args);
        let by_fields = one("migrations.RenameIndex('book', 'new_idx', old_fields=('a', 'b'))");
        assert_eq!(
            (by_fields.old_name, by_fields.new_name),
            (None, s("new_idx"))
        );
        assert!(!by_fields.has_unknown_args);
        let constraint = one(
            "migrations.AddConstraint(\n            model_name='book',\n            constraint=models.UniqueConstraint(fields=('a', 'b'), name='unique_ab'),\n        )",
        );
        assert_eq!(
            (constraint.model, constraint.index),
            (s("book"), s("unique_ab"))
        );
        let positional = one(
            "migrations.AddConstraint('book', models.CheckConstraint(condition=Q(x__gt=0), name='x_positive'))",
        );
        assert_eq!(positional.index, s("x_positive"));
        let removed = one("migrations.RemoveConstraint('book', 'unique_ab')");
        assert_eq!((removed.model, removed.index), (s("book"), s("unique_ab")));
        let altered = one(
            "migrations.AlterConstraint(model_name='book', name='unique_ab', constraint=models.UniqueConstraint(fields=['a'], name='unique_ab'))",
        );
        assert_eq!((altered.model, altered.index), (s("book"), s("unique_ab")));
        let unnamed = one("migrations.AddIndex('book', INDEX)");
        assert_eq!(unnamed.index, None);
        assert!(unnamed.has_unknown_args);
    }

    #[test]
    fn separate_database_and_state() {
        let op = one(
            "migrations.SeparateDatabaseAndState(\n            database_operations=[\n                migrations.RunSQL('ALTER TABLE x RENAME TO y'),\n            ],\n            state_operations=[\n                migrations.RenameModel('X', 'Y'),\n                migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel('Z')]),\n            ],\n        )",
        );
        assert_eq!(op.class, "SeparateDatabaseAndState");
        let inner: Vec<_> = op.inner.iter().map(|op| op.class.as_str()).collect();
        assert_eq!(inner, ["RenameModel", "SeparateDatabaseAndState", "RunSQL"]);
        assert_eq!(op.inner[0].line, 8);
        assert_eq!(op.inner[1].inner[0].model, s("Z"));
        assert!(!op.has_unknown_args);
        let positional = one(
            "migrations.SeparateDatabaseAndState([migrations.RunSQL('x')], [migrations.DeleteModel('A')])",
        );
        assert_eq!(positional.inner[0].class, "DeleteModel");
        assert_eq!(positional.inner[1].class, "RunSQL");
        let computed = one("migrations.SeparateDatabaseAndState(state_operations=STATE)");
        assert!(computed.inner.is_empty());
        assert!(computed.has_unknown_args);
    }

    #[test]
    fn deep_separate_database_and_state_stops() {
        let mut call = String::from("migrations.DeleteModel('A')");
        for _ in 0..40 {
            call = format!("migrations.SeparateDatabaseAndState(state_operations=[{call}])");
        }
        let mut op = one(&call);
        let mut depth = 0;
        while let Some(inner) = op.inner.pop() {
            op = inner;
            depth += 1;
        }
        assert_eq!(depth, MAX_NESTING);
        assert!(op.has_unknown_args);
    }

    #[test]
    fn opaque_custom_and_odd_operations() {
        let all = ops(
            "        migrations.RunPython(forwards, reverse_code=migrations.RunPython.noop),\n        migrations.RunSQL(sql='SELECT 1', reverse_sql=migrations.RunSQL.noop),\n        myapp.operations.BackfillSlugs('book'),\n        LoadFixture(),\n        make_op()(),\n        EXTRA_OP,\n        *MORE,\n        migrations.AddField(*ARGS),\n        migrations.RemoveField(**KWARGS),\n        migrations.RemoveField('book', **KWARGS),\n",
        );
        let classes: Vec<_> = all.iter().map(|op| op.class.as_str()).collect();
        assert_eq!(
            classes,
            [
                "RunPython",
                "RunSQL",
                "BackfillSlugs",
                "LoadFixture",
                "make_op()",
                "EXTRA_OP",
                "*MORE",
                "AddField",
                "RemoveField",
                "RemoveField"
            ]
        );
        let unknown: Vec<_> = all.iter().map(|op| op.has_unknown_args).collect();
        assert_eq!(
            unknown,
            [
                false, false, false, false, false, true, true, true, true, true
            ]
        );
        assert_eq!(all[9].model, s("book"));
        assert_eq!(all[5].line, 8);
        assert!(all[2].model.is_none());
    }

    #[test]
    fn operations_as_a_tuple_or_computed() {
        let source =
            "class Migration:\n    operations = (\n        migrations.DeleteModel('A'),\n    )\n";
        let m = parse(source.as_bytes()).unwrap();
        assert_eq!(m.operations.unwrap()[0].model, s("A"));
        let computed =
            parse(b"class Migration:\n    operations = [migrations.DeleteModel('A')] + OTHERS\n")
                .unwrap();
        assert_eq!(computed.operations, None);
        let empty = parse(b"class Migration:\n    operations = []\n").unwrap();
        assert_eq!(empty.operations, Some(Vec::new()));
    }
}
