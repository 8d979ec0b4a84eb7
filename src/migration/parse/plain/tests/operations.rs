//! The plain reader's operations, at [`Detail::AsWritten`], against the syntax tree path:
//! hand-picked forms, and `operations` lists generated from the grammar the plain reader takes
//! (then mutated), on which it must agree with the tree wherever it answers, and answer
//! wherever the text is that grammar unmutated.

use proptest::prelude::*;

use super::{accepted_at, agrees_at, plain_at, tricky};
use crate::migration::{Argument, Detail, Migration, Operation};

/// A module whose `operations` list holds `body`.
fn module(body: &str) -> String {
    format!(
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n\n    \
         dependencies = [\n        (\"app\", \"0001_initial\"),\n    ]\n\n    operations = [\n{body}\n    ]\n"
    )
}

fn operations(source: &str) -> Vec<Operation> {
    accepted_at(source, Detail::AsWritten)
        .operations
        .expect("a literal list")
}

fn written(keyword: Option<&str>, text: &str) -> Argument {
    Argument {
        keyword: keyword.map(Into::into),
        text: text.into(),
    }
}

#[test]
fn reads_the_operations_makemigrations_writes() {
    let source = module(
        r#"        migrations.CreateModel(
            name="Book",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("title", models.CharField(max_length=200, default='')),  # why
                ("author", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="app.author")),
                ("owner", models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE)),
                ("price", models.DecimalField(decimal_places=2, max_digits=-10, default=1.5)),
                ("created", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"ordering": ["-pk"], 'abstract': False,},
            bases=(models.Model,),
        ),

        # A comment between operations.
        migrations.AlterUniqueTogether(name="book", unique_together={("title", "author")}),
        migrations.AddIndex(
            model_name="book",
            index=models.Index(fields=["title"], name="book_title_idx"),
        ),
        migrations.AlterField(
            model_name="book",
            name="title",
            field=models.CharField(
                help_text=(
                    "Two literals "
                    "side by side."
                ),
                max_length=300,
            ),
            stage=Stage.PRE_DEPLOY,
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL("ALTER TABLE a RENAME TO b", migrations.RunSQL.noop)],
            state_operations=(
                migrations.RenameModel("A", "B"),
            ),
        ),
        migrations.RunPython(forwards, reverse_code=migrations.RunPython.noop, elidable=True),
        EXTRA_OPERATION,"#,
    );
    let all = operations(&source);
    let classes: Vec<_> = all.iter().map(|op| op.class.as_str()).collect();
    assert_eq!(
        classes,
        [
            "CreateModel",
            "AlterUniqueTogether",
            "AddIndex",
            "AlterField",
            "SeparateDatabaseAndState",
            "RunPython",
            "EXTRA_OPERATION"
        ]
    );
    let create = &all[0];
    assert_eq!((create.line, create.model.as_deref()), (11, Some("Book")));
    assert_eq!(create.fields.len(), 6);
    assert_eq!(create.fields[2].to.as_deref(), Some("app.author"));
    assert_eq!(
        create.fields[3].to.as_deref(),
        Some("settings.AUTH_USER_MODEL")
    );
    assert_eq!(
        create.fields[1].arguments,
        [
            written(Some("max_length"), "200"),
            written(Some("default"), "''")
        ]
    );
    assert_eq!(
        create.arguments[2],
        written(
            Some("options"),
            "{\"ordering\": [\"-pk\"], 'abstract': False,}"
        )
    );
    assert_eq!(all[2].index.as_deref(), Some("book_title_idx"));
    // The parentheses around a value are not its text.
    assert_eq!(
        all[3].fields[0].arguments[0].text,
        "\"Two literals \"\n                    \"side by side.\""
    );
    let inner: Vec<_> = all[4].inner.iter().map(|op| op.class.as_str()).collect();
    assert_eq!(inner, ["RenameModel", "RunSQL"]);
    assert!(all[6].has_unknown_args);
    let m = accepted_at(&source, Detail::AsWritten);
    assert_eq!(m.deploy.operation_stages.len(), 1);
    assert_eq!(m.deploy.operation_stages[0].line, all[3].line);
    // The graph reads none of it.
    assert_eq!(accepted_at(&source, Detail::Graph).operations, None);
}

#[test]
fn reads_odd_but_plain_layouts() {
    for body in [
        "",
        "        # nothing yet",
        "migrations.DeleteModel('A'),migrations.DeleteModel(name = 'B' ,),",
        "        migrations.DeleteModel(\n            'A'\n            # why\n            ,\n        )",
        "        migrations.RunSQL('''\n            SELECT 1;\n        ''')",
        "        migrations.RunSQL(\"it\\'s \\\\d \\n\")",
        "        migrations.AlterModelOptions(name='a', options={}), migrations.AlterModelOptions('b', {'x': (1, (2,), [], ())})",
        "        migrations.AddField('a', 'b', (models.IntegerField(default=(-1))))",
        "        (migrations.DeleteModel('A'))",
        "        migrations.RenameIndex('a', new_name='n', old_fields=('x', 'y'))",
        "        migrations.AddField(model_name=None, name=NAME, field=FIELD)",
        "        migrations.CreateModel('A', [('id', models.AutoField()), FIELD, ['x', X]], {}, (), [])",
        "        migrations.AddConstraint('a', models.CheckConstraint(condition=models.Q(('x__gt', 0), _connector='OR'), name='c'))",
        "        'a string', 42, None, True, models.x",
        "\tmigrations.DeleteModel('A'),\t",
    ] {
        operations(&module(body));
        operations(&module(body).replace('\n', "\r\n"));
    }
    let tuple = "class Migration(migrations.Migration):\n    operations = (\n        migrations.DeleteModel('A'),\n    )\n";
    assert_eq!(operations(tuple).len(), 1);
    let empty = "class Migration(migrations.Migration):\n    operations = ()\n";
    assert!(operations(empty).is_empty());
    let twice =
        "class Migration(migrations.Migration):\n    operations = [X]\n    operations = [Y, Z]\n";
    assert_eq!(operations(twice).len(), 2);
    // A declared encoding: the values are read from the decoded text.
    let latin1: Vec<u8> = "# -*- coding: latin-1 -*-\nclass Migration(migrations.Migration):\n    \
                           operations = [migrations.DeleteModel('Caf\u{e9}')]\n"
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    assert_eq!(agrees_at(&latin1, Detail::AsWritten), Ok(true));
}

#[test]
fn gives_up_on_other_values() {
    for body in [
        // Strings it does not decode, where an operation reads the value.
        "migrations.DeleteModel('A\\'')",
        "migrations.DeleteModel('A' 'B')",
        "migrations.DeleteModel(u'A')",
        "migrations.AddIndex('a', models.Index(fields=['x'], name='i\\n'))",
        "migrations.AddField('a', 'b', models.ForeignKey(to='x\\\\y', on_delete=CASCADE))",
        "migrations.CreateModel('A', [('i\\td', models.AutoField())])",
        "migrations.RunSQL('''a\r\nb''', b'')",
        // Escapes it does not take anywhere.
        "migrations.RunSQL('\\x41')",
        "migrations.RunSQL('\\N{DASH}')",
        "migrations.RunSQL('\\101')",
        "migrations.RunSQL('a\\\nb')",
        // Other expressions.
        "migrations.RunPython(lambda apps, schema: None)",
        "migrations.RunSQL(SQL % 1)",
        "migrations.RunSQL(sql=f'x')",
        "migrations.AddField(*ARGS)",
        "migrations.AddField(**KWARGS)",
        "migrations.DeleteModel(name='A', name='B')",
        "migrations.DeleteModel(name='A', 'B')",
        "migrations.AlterModelOptions('a', {**BASE})",
        "migrations.AlterModelOptions('a', {'x': 1, 2})",
        "migrations.AlterModelOptions('a', [x for x in y])",
        "migrations.AlterField('a', 'b', models.IntegerField(default=1_000))",
        "migrations.AlterField('a', 'b', models.IntegerField(default=007))",
        "migrations.AlterField('a', 'b', models.IntegerField(default=1e3))",
        "migrations.AlterField('a', 'b', models.IntegerField(default=1.))",
        "migrations.AlterField('a', 'b', models.IntegerField(default=+1))",
        "migrations.AlterField('a', 'b', models.IntegerField(default=- 1))",
        "migrations.AlterField('a', 'b', models.IntegerField(default=x[0]))",
        "migrations.AlterField('a', 'b', models.IntegerField (default=1))",
        "migrations.AlterField('a', 'b', models . IntegerField(default=1))",
        "make_operation()()",
        "migrations.DeleteModel('A') if X else None",
        // Layouts it does not follow.
        "migrations.DeleteModel(\\\n'A')",
        "migrations.DeleteModel(\x0c'A')",
        "migrations.DeleteModel('A'),,",
    ] {
        let source = module(body);
        assert_eq!(
            plain_at(source.as_bytes(), Detail::AsWritten),
            None,
            "{source}"
        );
        assert!(agrees_at(source.as_bytes(), Detail::AsWritten).is_ok());
    }
    // `(x)` is no tuple.
    let parenthesised = "class Migration(migrations.Migration):\n    operations = (X)\n";
    assert_eq!(plain_at(parenthesised.as_bytes(), Detail::AsWritten), None);
    // Keyword arguments past the reader's own bound, and up to it.
    let keywords = |n: usize| {
        let arguments: Vec<String> = (0..n).map(|i| format!("k{i}=1")).collect();
        module(&format!("migrations.RunSQL('x', {})", arguments.join(", ")))
    };
    assert_eq!(plain_at(keywords(65).as_bytes(), Detail::AsWritten), None);
    assert!(agrees_at(keywords(65).as_bytes(), Detail::AsWritten).is_ok());
    operations(&keywords(64));
    // Nesting past the reader's own bound.
    let deep = module(&format!(
        "migrations.RunSQL({}1{})",
        "[".repeat(120),
        "]".repeat(120)
    ));
    assert_eq!(plain_at(deep.as_bytes(), Detail::AsWritten), None);
    assert!(agrees_at(deep.as_bytes(), Detail::AsWritten).is_ok());
}

/// Names Python treats specially, which either both readers take or the plain one leaves.
#[test]
fn special_names_agree() {
    for body in [
        "migrations.RunSQL(__debug__=1)",
        "migrations.RunSQL(__debug__)",
        "migrations.RunSQL(x.__debug__)",
        "migrations.RunSQL(match=case, type=_)",
        "migrations.RunSQL(print=print)",
        "__debug__",
    ] {
        let source = module(body);
        assert!(
            agrees_at(source.as_bytes(), Detail::AsWritten).is_ok(),
            "{source}"
        );
    }
}

/// `SeparateDatabaseAndState` stops where the tree stops.
#[test]
fn deep_separate_database_and_state_agrees() {
    for levels in [31, 32, 33, 40] {
        let mut call = String::from("migrations.DeleteModel('A')");
        for _ in 0..levels {
            call = format!("migrations.SeparateDatabaseAndState(state_operations=[{call}])");
        }
        operations(&module(&call));
    }
}

/// A small deterministic generator of `operations` lists in the plain grammar, with the
/// spacing, comments and variations Python allows there.
struct Gen {
    state: u64,
    /// Whether something was written that the plain reader is meant to leave to the tree (a
    /// string whose value an operation reads but whose text does not spell it).
    exotic: bool,
}

const PLAIN_TEXTS: &[&str] = &[
    "book",
    "Book",
    "app.book",
    "0001_initial",
    "",
    "a b",
    "-pk",
    "caf\u{e9}",
    "x#y",
    "(",
    "]",
    "{x}",
    "50%",
    "a,b",
    "'",
    "\"",
    "self",
];
const NAMES: &[&str] = &[
    "models.CASCADE",
    "django.db.models.deletion.CASCADE",
    "uuid.uuid4",
    "dict",
    "django.utils.timezone.now",
    "settings.AUTH_USER_MODEL",
    "x",
    "_",
    "match",
    "type",
    "migrations.RunPython.noop",
];
const CALLEES: &[&str] = &[
    "models.Q",
    "_",
    "models.F",
    "Value",
    "django.db.models.functions.Lower",
];
const FIELDS: &[&str] = &[
    "models.CharField",
    "models.ForeignKey",
    "models.OneToOneField",
    "models.ManyToManyField",
    "mptt.fields.TreeForeignKey",
    "models.BigAutoField",
    "models.IntegerField",
    "custom.RefField",
];
const FIELD_KEYWORDS: &[&str] = &[
    "max_length",
    "default",
    "blank",
    "null",
    "verbose_name",
    "help_text",
    "on_delete",
    "related_name",
    "db_index",
];
const CLASSES: &[&str] = &[
    "CreateModel",
    "DeleteModel",
    "AlterModelTable",
    "AlterUniqueTogether",
    "AlterModelOptions",
    "AlterOrderWithRespectTo",
    "RenameModel",
    "AddField",
    "AlterField",
    "RemoveField",
    "RenameField",
    "AddIndex",
    "AddConstraint",
    "RemoveIndex",
    "RemoveConstraint",
    "AlterConstraint",
    "RenameIndex",
    "SeparateDatabaseAndState",
    "RunSQL",
    "RunPython",
    "Custom",
];

impl Gen {
    fn new(seed: u64) -> Self {
        Gen {
            state: seed | 1,
            exotic: false,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[self.below(items.len())]
    }

    /// What may stand between two tokens inside brackets.
    fn gap(&mut self) -> &'static str {
        if self.chance(70) {
            return "";
        }
        self.pick(&[
            " ",
            "\n            ",
            "\n",
            "  # a comment (with ' and [\n                ",
            "\t",
            "\n\n    ",
            "#\n",
        ])
    }

    /// `open items close`, commas between the items and maybe after the last (always after a
    /// single item when `tuple`).
    fn bracketed(&mut self, open: &str, items: &[String], close: &str, tuple: bool) -> String {
        let mut out = String::from(open);
        for (i, item) in items.iter().enumerate() {
            out.push_str(self.gap());
            out.push_str(item);
            let last = i + 1 == items.len();
            if !last || self.chance(50) || (tuple && items.len() == 1) {
                out.push_str(self.gap());
                out.push(',');
            }
        }
        out.push_str(self.gap());
        out.push_str(close);
        out
    }

    /// A string literal whose text is its value.
    fn plain_string(&mut self) -> String {
        let text = self.pick(PLAIN_TEXTS);
        let quote = if text.contains('\'') {
            "\""
        } else if text.contains('"') || self.chance(50) {
            "'"
        } else {
            "\""
        };
        let quote = if self.chance(10) && !text.contains(quote) {
            format!("{quote}{quote}{quote}")
        } else {
            quote.to_owned()
        };
        format!("{quote}{text}{quote}")
    }

    /// A string literal whose text may not be its value.
    fn any_string(&mut self) -> String {
        match self.below(8) {
            0 => "'it\\'s'".to_owned(),
            1 => "\"a\\nb \\\\d+\\t\"".to_owned(),
            2 => "\"\"\"two\n        lines\"\"\"".to_owned(),
            // A space at least: `""` and `"a"` side by side would open a triple-quoted string.
            3 => format!(
                "{} {}{}",
                self.plain_string(),
                self.gap(),
                self.plain_string()
            ),
            4 => format!(
                "({}\n{}{})",
                self.plain_string(),
                self.gap(),
                self.plain_string()
            ),
            _ => self.plain_string(),
        }
    }

    /// A string an operation reads the value of: plain, but now and then one the plain reader
    /// must leave to the tree.
    fn identifying_string(&mut self) -> String {
        if self.chance(3) {
            self.exotic = true;
            return self.any_string();
        }
        self.plain_string()
    }

    fn number(&mut self) -> String {
        self.pick(&["0", "1", "42", "-1", "3.5", "0.0", "100", "00", "-0.25"])
            .to_owned()
    }

    fn value(&mut self, depth: usize) -> String {
        let leaf = depth >= 3 || self.chance(55);
        if leaf {
            return match self.below(6) {
                0 | 1 => self.any_string(),
                2 => self.number(),
                3 => self.pick(&["True", "False", "None"]).to_owned(),
                _ => self.pick(NAMES).to_owned(),
            };
        }
        let n = self.below(4);
        match self.below(6) {
            0 => {
                let items: Vec<_> = (0..n).map(|_| self.value(depth + 1)).collect();
                self.bracketed("[", &items, "]", false)
            }
            1 => {
                let items: Vec<_> = (0..n).map(|_| self.value(depth + 1)).collect();
                self.bracketed("(", &items, ")", true)
            }
            2 => {
                let items: Vec<_> = (0..n)
                    .map(|_| {
                        let key = self.plain_string();
                        let colon = self.pick(&[": ", ":", " : ", ":\n"]);
                        format!("{key}{colon}{}", self.value(depth + 1))
                    })
                    .collect();
                self.bracketed("{", &items, "}", false)
            }
            3 if n > 0 => {
                let items: Vec<_> = (0..n).map(|_| self.value(depth + 1)).collect();
                self.bracketed("{", &items, "}", false)
            }
            4 => format!("({}{})", self.gap(), self.value(depth + 1)),
            _ => {
                let callee = self.pick(CALLEES);
                let positional: Vec<_> = (0..n).map(|_| self.value(depth + 1)).collect();
                let keywords = if self.chance(50) {
                    vec![("x", self.value(depth + 1))]
                } else {
                    Vec::new()
                };
                self.call(callee, positional, keywords)
            }
        }
    }

    fn call(
        &mut self,
        callee: &str,
        positional: Vec<String>,
        keywords: Vec<(&str, String)>,
    ) -> String {
        let mut items = positional;
        for (keyword, value) in keywords {
            let equals = self.pick(&["=", "=", " = ", "=\n"]);
            items.push(format!("{keyword}{equals}{value}"));
        }
        let args = self.bracketed("(", &items, ")", false);
        format!("{callee}{args}")
    }

    fn field(&mut self) -> String {
        if self.chance(5) {
            return self.pick(NAMES).to_owned();
        }
        let class = self.pick(FIELDS);
        let relational = ["ForeignKey", "OneToOneField", "ManyToManyField"]
            .iter()
            .any(|base| class.ends_with(base));
        let mut positional = Vec::new();
        let mut keywords = Vec::new();
        let target = |maker: &mut Self| {
            if maker.chance(20) {
                "settings.AUTH_USER_MODEL".to_owned()
            } else {
                maker.identifying_string()
            }
        };
        if relational && self.chance(30) {
            positional.push(target(self));
        }
        let mut names: Vec<&str> = FIELD_KEYWORDS.to_vec();
        for _ in 0..self.below(4) {
            let name = names.remove(self.below(names.len()));
            keywords.push((name, self.value(1)));
        }
        if (relational && self.chance(80)) || self.chance(5) {
            keywords.push(("to", target(self)));
        }
        self.call(class, positional, keywords)
    }

    /// An index or constraint object.
    fn named_object(&mut self, class: &str) -> String {
        let fields = vec![self.plain_string()];
        let fields = self.bracketed("[", &fields, "]", false);
        let mut keywords = vec![("fields", fields)];
        if self.chance(90) {
            keywords.push(("name", self.identifying_string()));
        }
        if self.chance(30) {
            keywords.push(("condition", "models.Q(('x__gt', 0))".to_owned()));
        }
        self.call(class, Vec::new(), keywords)
    }

    fn operations(&mut self, depth: usize) -> String {
        let n = if depth > 2 { 1 } else { self.below(3) };
        let items: Vec<_> = (0..n).map(|_| self.operation(depth + 1)).collect();
        if self.chance(50) {
            self.bracketed("[", &items, "]", false)
        } else {
            self.bracketed("(", &items, ")", true)
        }
    }

    /// What an operation's parameter `name` is given.
    fn argument(&mut self, name: &str, depth: usize) -> String {
        match name {
            "name" | "model_name" | "old_name" | "new_name" => match self.below(20) {
                0 => "None".to_owned(),
                1 => "NAME".to_owned(),
                _ => self.identifying_string(),
            },
            "fields" => {
                let items: Vec<_> = (0..self.below(4))
                    .map(|_| {
                        if self.chance(5) {
                            return "FIELD".to_owned();
                        }
                        let pair = vec![self.identifying_string(), self.field()];
                        if self.chance(10) {
                            self.bracketed("[", &pair, "]", false)
                        } else {
                            self.bracketed("(", &pair, ")", false)
                        }
                    })
                    .collect();
                self.bracketed("[", &items, "]", false)
            }
            "field" => self.field(),
            "index" => self.named_object("models.Index"),
            "constraint" => self.named_object("models.UniqueConstraint"),
            "database_operations" | "state_operations" => match self.below(10) {
                0 => "None".to_owned(),
                1 => "OPERATIONS".to_owned(),
                _ => self.operations(depth),
            },
            _ => self.value(1),
        }
    }

    fn operation(&mut self, depth: usize) -> String {
        if self.chance(3) {
            return self.value(2);
        }
        let class = self.pick(CLASSES);
        let params: &[&str] = match class {
            "CreateModel" => &["name", "fields", "options", "bases"],
            "RenameModel" => &["old_name", "new_name"],
            "AddField" | "AlterField" => &["model_name", "name", "field", "preserve_default"],
            "RemoveField" | "RemoveIndex" | "RemoveConstraint" => &["model_name", "name"],
            "AlterConstraint" => &["model_name", "name", "constraint"],
            "RenameField" => &["model_name", "old_name", "new_name"],
            "AddIndex" => &["model_name", "index"],
            "AddConstraint" => &["model_name", "constraint"],
            "RenameIndex" => &["model_name", "new_name", "old_name", "old_fields"],
            "SeparateDatabaseAndState" => &["database_operations", "state_operations"],
            "RunSQL" => &["sql", "reverse_sql"],
            "RunPython" => &["code", "reverse_code"],
            "Custom" => &["a", "b"],
            _ => &["name", "options"],
        };
        let mut positional = Vec::new();
        let mut keywords = Vec::new();
        let mut by_keyword = self.chance(70);
        for &param in params {
            // Now and then an argument left out, which may leave a required one missing.
            if self.chance(10) {
                by_keyword = true;
                continue;
            }
            by_keyword |= self.chance(20);
            let value = self.argument(param, depth);
            if by_keyword {
                keywords.push((param, value));
            } else {
                positional.push(value);
            }
        }
        if self.chance(10) {
            keywords.push(("stage", "Stage.PRE_DEPLOY".to_owned()));
        }
        if self.chance(10) {
            keywords.push(("hints", "{}".to_owned()));
        }
        let callee = match class {
            "Custom" => "myapp.operations.Custom".to_owned(),
            class => format!("migrations.{class}"),
        };
        self.call(&callee, positional, keywords)
    }

    fn module(&mut self) -> String {
        let n = self.below(5);
        let items: Vec<_> = (0..n).map(|_| self.operation(0)).collect();
        let list = if self.chance(85) {
            self.bracketed("[", &items, "]", false)
        } else {
            self.bracketed("(", &items, ")", true)
        };
        let source = format!(
            "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n\n    \
             dependencies = [(\"app\", \"0001_initial\")]\n\n    operations = {list}\n"
        );
        if self.chance(15) {
            source.replace('\n', "\r\n")
        } else {
            source
        }
    }
}

/// Bytes that end the plain grammar in an `operations` list.
fn tricky_value() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just("*"),
        Just("**"),
        Just("lambda x: x"),
        Just(" if x else y"),
        Just("+"),
        Just("-"),
        Just("b"),
        Just("u"),
        Just("r"),
        Just("0"),
        Just("07"),
        Just("_0"),
        Just("e5"),
        Just("j"),
        Just(".5"),
        Just("=="),
        Just("\\x"),
        Just("\\N"),
        Just("\\0"),
        Just("\\'"),
        Just("\\n"),
        Just("'''"),
        Just("None"),
        Just("yield"),
        Just("name="),
        Just("x="),
        Just("{"),
        Just("}"),
        Just("*a, "),
    ];
    prop_oneof![
        tricky(),
        proptest::collection::vec(pieces, 1..3).prop_map(|p| p.concat().into_bytes()),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    /// One quote, bracket or comma turned into another of them.
    Swap(prop::sample::Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => Just(Mutation::None),
        3 => (any::<prop::sample::Index>(), tricky_value()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        1 => (any::<prop::sample::Index>(), proptest::collection::vec(any::<u8>(), 1..4))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        2 => (any::<prop::sample::Index>(), 1..8usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        2 => (any::<prop::sample::Index>(), prop::sample::select(b"'\"()[]{},:=#".to_vec()))
            .prop_map(|(at, b)| Mutation::Swap(at, b)),
    ]
}

fn apply(source: &str, mutation: &Mutation) -> Vec<u8> {
    let mut bytes = source.as_bytes().to_vec();
    match mutation {
        Mutation::None => {}
        Mutation::Insert(at, new) => {
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Delete(at, n) => {
            let at = at.index(bytes.len());
            bytes.drain(at..(at + n).min(bytes.len()));
        }
        Mutation::Swap(at, b) => {
            let marks: Vec<usize> = (0..bytes.len())
                .filter(|&i| b"'\"()[]{},:=#".contains(&bytes[i]))
                .collect();
            if !marks.is_empty() {
                bytes[marks[at.index(marks.len())]] = *b;
            }
        }
    }
    bytes
}

/// The operations of `m`, for a failure message.
fn shown(m: Option<&Migration>) -> String {
    format!("{:#?}", m.map(|m| &m.operations))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn generated_operations_agree_with_the_tree(seed in any::<u64>(), mutation in mutation()) {
        let mut maker = Gen::new(seed);
        let text = maker.module();
        let source = apply(&text, &mutation);
        let shown_source = String::from_utf8_lossy(&source).into_owned();
        match agrees_at(&source, Detail::AsWritten) {
            Err(why) => prop_assert!(false, "{}\n{}", why, shown_source),
            Ok(answered) => {
                if matches!(mutation, Mutation::None) && !maker.exotic {
                    prop_assert!(
                        answered,
                        "the plain reader gave up on the grammar it reads: {}\n{}",
                        shown(plain_at(&source, Detail::AsWritten).as_ref()),
                        shown_source
                    );
                }
            }
        }
        // The graph reads such a module too, whatever its operations hold.
        if let Err(why) = agrees_at(&source, Detail::Graph) {
            prop_assert!(false, "{}\n{}", why, shown_source);
        }
    }
}
