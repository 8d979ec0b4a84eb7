//! What one migration file says, statically: the `Migration` class's dependencies, replaces,
//! run_before, initial flag and operations, each string that may be rewritten later carrying
//! its exact byte range in the source.
//!
//! The parser behind [`parse`] is the only code that knows about Python syntax trees; everything
//! else in the crate speaks these types.

pub mod app_config;
pub mod encoding;
mod parse;

use serde::{Deserialize, Serialize};

pub use parse::{parse, parse_with};

/// A name or a short source text read from a migration (an operation's class and the model it
/// targets, a field's name, an argument as written). Kept inline when short, as nearly all
/// are: a large project's operations are most of what `lint --all` holds, and one allocation
/// per name was most of what reading them cost.
pub type Text = compact_str::CompactString;

/// How much of a migration module [`parse_with`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// Everything, `operations` included.
    #[default]
    Full,
    /// `operations` read with each call's arguments as written (what `lint`'s rules read), but
    /// without the normalised argument texts only the overlap compares ([`Operation::args`]
    /// and [`FieldDef::args`] stay empty): normalising is a good part of reading operations.
    AsWritten,
    /// What the migration graph needs: `operations` is not read and stays `None`. Building the
    /// graph of a large project needs every file but the operations of only a few (the branches
    /// of conflicting apps), and they are most of the time and memory a parse takes.
    Graph,
}

impl Detail {
    /// Whether a module read with this detail holds everything a read with `wanted` holds.
    pub fn covers(self, wanted: Detail) -> bool {
        match self {
            Detail::Full => true,
            Detail::AsWritten => wanted != Detail::Full,
            Detail::Graph => wanted == Detail::Graph,
        }
    }
}

/// A byte range `[start, end)` in a source file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A string literal as written in the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrLit {
    /// The string's value, escapes decoded.
    pub value: String,
    /// The whole literal, prefix and quotes included.
    pub span: Span,
    /// The characters between the quotes, when they spell `value` exactly (a single literal
    /// part, no escapes, no prefix other than none): replacing this range with another plain
    /// name keeps the quote style. `None` means the whole literal must be re-quoted instead.
    pub content: Option<Span>,
}

/// One entry of `dependencies`, `run_before` or `replaces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reference {
    /// A literal pair such as `("users", "0004_profile")` or `["users", "__first__"]`.
    Literal { app: StrLit, name: StrLit },
    /// `migrations.swappable_dependency(settings.AUTH_USER_MODEL)`: the setting's name; or
    /// django-swapper's `swapper.dependency("app", "Model")`, which reads the setting
    /// `APP_MODEL_MODEL` and, when it is not set, names `app.Model` itself (`default`).
    Swappable {
        setting: String,
        /// The `"app_label.ModelName"` the dependency names when the setting is not set.
        default: Option<String>,
    },
    /// Anything else (a variable, a call, a computed tuple): kept, never guessed.
    Unknown { text: String },
}

/// A `Reference` and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub reference: Reference,
    /// The whole element in the list, e.g. the tuple `("users", "0004_profile")`.
    pub span: Span,
    /// 1-based line of the element.
    pub line: u32,
}

/// A list attribute of the `Migration` class (`dependencies`, `replaces`, `run_before`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ListAttr {
    /// Not assigned in the class body (Django's default: empty).
    #[default]
    Absent,
    /// A literal list or tuple; `span` covers the brackets.
    Literal {
        entries: Vec<Entry>,
        span: Span,
        line: u32,
    },
    /// Built in code the parser could follow (names bound to literal lists, `+`, `.append`,
    /// `.extend`, `+=`, both branches of a conditional): every entry it may hold, each with the
    /// span where it is written (possibly outside the class, in a module-level list). Parts
    /// that could not be followed are [`Reference::Unknown`] entries. There is no single
    /// list literal to append to, so nothing may be inserted into it.
    Computed { entries: Vec<Entry>, line: u32 },
    /// Assigned something that is not a literal list or tuple.
    Unknown { text: String, line: u32 },
}

impl ListAttr {
    /// The entries read (none when absent or wholly unknown); some may be
    /// [`Reference::Unknown`].
    pub fn entries(&self) -> &[Entry] {
        match self {
            ListAttr::Literal { entries, .. } | ListAttr::Computed { entries, .. } => entries,
            _ => &[],
        }
    }

    /// What could not be read, as `(source text, line)`: the whole value when it is unknown,
    /// else each unknown entry.
    pub fn unknowns(&self) -> Vec<(&str, u32)> {
        match self {
            ListAttr::Unknown { text, line } => vec![(text.as_str(), *line)],
            _ => self
                .entries()
                .iter()
                .filter_map(|entry| match &entry.reference {
                    Reference::Unknown { text } => Some((text.as_str(), entry.line)),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// One argument of a call, both sides in a normalised text: keyword order, quote style,
/// trailing commas, whitespace and arguments equal to their defaults do not show, so two calls
/// that do the same thing have equal argument lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Arg {
    /// The parameter's name (a positional argument is given its parameter's name where the
    /// signature is known, else its position, `"0"`, `"1"`, ...); `"**"` for `**kwargs`.
    pub name: String,
    /// The value, normalised (`"abc"` for `'abc'`, keyword arguments of calls in name order).
    pub value: String,
}

/// `Class(name=value, ...)` in the normalised text of [`Arg`].
pub fn call_text(class: &str, args: &[Arg]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|arg| match arg.name.as_str() {
            "**" => format!("**{}", arg.value),
            name if name.starts_with(|c: char| c.is_ascii_digit()) => arg.value.clone(),
            name => format!("{name}={}", arg.value),
        })
        .collect();
    format!("{class}({})", args.join(", "))
}

/// One field of a `CreateModel`, or the field of an `AddField` / `AlterField`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldDef {
    pub name: Text,
    /// The field class as written, last dotted part (`ForeignKey`, `CharField`).
    pub class: Option<Text>,
    /// The model a relation points to: the `to=` argument or the first positional argument of a
    /// relational field, as written (`"auth.user"`, `"Profile"`, or `settings.AUTH_USER_MODEL`).
    pub to: Option<Text>,
    /// The field's arguments, normalised, in name order, those equal to `Field`'s defaults
    /// (`null=False`, `blank=False`, ...) left out: what the overlap compares.
    pub args: Vec<Arg>,
    /// The field constructor's arguments, as written (`null=True`, `default=timezone.now`):
    /// what the lint rules read.
    pub arguments: Vec<Argument>,
}

/// One argument of a call, as written: what the lint rules read (`reverse_code=`, `null=`,
/// `default=`), without evaluating anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Argument {
    /// The keyword, `None` for a positional argument (or `*args` / `**kwargs`, whose `text`
    /// starts with the stars).
    pub keyword: Option<Text>,
    /// The value's source text.
    pub text: Text,
}

/// The argument Python would bind to parameter `name` at position `index`: by keyword, else by
/// position (positions past a `*args` are unknowable and give `None`).
pub fn bound_argument<'a>(arguments: &'a [Argument], index: usize, name: &str) -> Option<&'a str> {
    if let Some(found) = arguments
        .iter()
        .find(|arg| arg.keyword.as_deref() == Some(name))
    {
        return Some(&found.text);
    }
    let positional = arguments.iter().filter(|arg| arg.keyword.is_none());
    for (i, arg) in positional.enumerate() {
        if arg.text.starts_with('*') {
            return None;
        }
        if i == index {
            return Some(&arg.text);
        }
    }
    None
}

impl FieldDef {
    /// The field argument `name` (keyword only: field positionals are verbose names and targets).
    pub fn keyword(&self, name: &str) -> Option<&str> {
        bound_argument(&self.arguments, usize::MAX, name)
    }

    /// The field's definition in normalised text: `CharField(max_length=300)`.
    pub fn definition(&self) -> String {
        call_text(self.class.as_deref().unwrap_or("?"), &self.args)
    }
}

/// One operation in `operations`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Operation {
    /// The class name, last dotted part (`AddField`, `RunPython`, `MyCustomOperation`).
    pub class: Text,
    /// 1-based line where the operation starts.
    pub line: u32,
    /// The model it targets: `name` of model operations, `model_name` of field, index and
    /// constraint operations. `None` when absent or not a literal.
    pub model: Option<Text>,
    /// The field's name, for field operations (`name`, or `old_name` of `RenameField`).
    pub field: Option<Text>,
    /// `old_name` / `new_name` of the rename operations (field, model or index).
    pub old_name: Option<Text>,
    pub new_name: Option<Text>,
    /// The index or constraint name, for index and constraint operations.
    pub index: Option<Text>,
    /// The field of `AddField` / `AlterField`, or the fields of `CreateModel`.
    pub fields: Vec<FieldDef>,
    /// For `SeparateDatabaseAndState`: the state operations then the database operations.
    pub inner: Vec<Operation>,
    /// True when some argument that identifies what it touches was not a literal.
    pub has_unknown_args: bool,
    /// Every argument, normalised, in name order, those equal to the operation's defaults
    /// (`preserve_default=True`, `options={}`, ...) left out: what the overlap compares.
    pub args: Vec<Arg>,
    /// Every argument of the operation's call, as written: what the lint rules read.
    pub arguments: Vec<Argument>,
}

impl Operation {
    /// The argument bound to parameter `name` at position `index` of the operation's signature.
    pub fn argument(&self, index: usize, name: &str) -> Option<&str> {
        bound_argument(&self.arguments, index, name)
    }

    /// The whole call in normalised text: two operations that do the same thing, however they
    /// are written, have the same text.
    pub fn normalized(&self) -> String {
        call_text(&self.class, &self.args)
    }
}

/// The statically known content of one migration module.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Migration {
    pub dependencies: ListAttr,
    pub replaces: ListAttr,
    pub run_before: ListAttr,
    /// `initial = True/False`; `None` when absent or not a literal.
    pub initial: Option<bool>,
    /// `None` when `operations` is absent or not a literal list. Not kept by the parse cache,
    /// which holds modules read for the graph only.
    #[serde(skip)]
    pub operations: Option<Vec<Operation>>,
    /// 1-based line of `class Migration`.
    pub class_line: u32,
    /// `atomic = True/False`; `None` when absent or not a literal (Django's default: atomic).
    pub atomic: Option<bool>,
    /// What staged-deploy tooling reads (see `crate::deploy`).
    pub deploy: Deploy,
    /// Each line holding a `migmerge:` comment (a lint opt-out), with its 1-based number, as
    /// written: kept from the one read of the file, so that nothing reads it again for them.
    pub migmerge_comments: Vec<(u32, String)>,
}

/// What django-syzygy and django-safemigrate read from a migration module, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeployAttrs {
    /// The module imports `syzygy` (or one of its modules).
    pub imports_syzygy: bool,
    /// The module imports `django_safemigrate` (or one of its modules).
    pub imports_safemigrate: bool,
    /// `stage = ...` in the `Migration` class (`Stage.POST_DEPLOY`).
    pub stage: Option<DeployValue>,
    /// `safe = ...` in the `Migration` class (`Safe.always()`).
    pub safe: Option<DeployValue>,
    /// The `stage=` argument of each operation given one, by the operation's line.
    pub operation_stages: Vec<DeployValue>,
}

/// [`DeployAttrs`] as a migration keeps them: nothing on the heap for the usual module, which
/// has none of them (a large project holds one `Migration` per file for the whole run).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Deploy(Option<Box<DeployAttrs>>);

/// The attributes of a module that has none.
static NO_DEPLOY_ATTRS: DeployAttrs = DeployAttrs {
    imports_syzygy: false,
    imports_safemigrate: false,
    stage: None,
    safe: None,
    operation_stages: Vec::new(),
};

impl Deploy {
    /// The attributes, to change.
    pub fn make_mut(&mut self) -> &mut DeployAttrs {
        self.0.get_or_insert_with(Box::default)
    }

    /// Whether the attributes take room of their own.
    #[cfg(test)]
    pub(crate) fn on_heap(&self) -> bool {
        self.0.is_some()
    }
}

impl std::ops::Deref for Deploy {
    type Target = DeployAttrs;
    fn deref(&self) -> &DeployAttrs {
        self.0.as_deref().unwrap_or(&NO_DEPLOY_ATTRS)
    }
}

impl PartialEq for Deploy {
    fn eq(&self, other: &Deploy) -> bool {
        **self == **other
    }
}

impl Eq for Deploy {}

impl std::fmt::Debug for Deploy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// An expression as written, and its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployValue {
    pub text: String,
    pub line: u32,
}

/// Why a migration file could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    pub message: String,
}
