//! Reading a plain migration module without the Python parser.
//!
//! Nearly every migration module has the form `makemigrations` writes, give or take the usual
//! hand edits: comments, blank lines, docstrings, `import` and `from ... import` statements,
//! and one top-level `class Migration(<dotted base>):` whose body only binds names to simple
//! values (`True`, `False`, `None`, plain strings, dotted names and their argument-less calls,
//! lists and tuples of `("app", "name")` pairs and `swappable_dependency(settings.X)` calls)
//! besides the `operations` list, which the prescan has already delimited. The graph does not
//! read that list; the operations as written ([`Detail::AsWritten`], what `lint` reads) are read
//! from it by the [`values`] and [`operations`] submodules, for the calls and values
//! `makemigrations` writes there. Building a syntax tree for such a module is most of what
//! loading a large project costs, and reading this form directly is a fraction of it.
//!
//! The reader answers for [`Detail::Graph`] and [`Detail::AsWritten`] (the normalised arguments
//! of [`Detail::Full`] are the syntax tree path's alone), and exactly what the syntax tree path
//! answers there. It accepts only text it has recognised, whole, as valid Python of this form:
//! at the first thing it does not know (another statement or expression, a string prefix or
//! escape, a line continuation, a semicolon, a tab in indentation, a non-ASCII name, ...) it
//! gives up, and the module is parsed as before, which also reports any syntax error as before.

use std::ops::Range;

use rustpython_ruff_text_size::TextSize;

use super::super::{DeployValue, Detail, Entry, ListAttr, Migration, Reference, Span, StrLit};
use super::{BOM, Source, deploy, flag, migmerge_comments, reference_list, swappable_dependency};

/// Reads `text` (decoded, byte order mark included) when it has the plain form; `operations`
/// are the insides of the `operations` lists the prescan found. `None`: not that form, the
/// syntax tree path must read it.
///
/// `functions`: whether top-level `def` statements may be skipped (see [`Reader::function`]);
/// each is then checked by the Python parser on the caller's thread.
pub(super) fn read(
    text: &str,
    operations: &[Range<usize>],
    detail: Detail,
    functions: bool,
) -> Option<Migration> {
    // The full detail's normalised arguments are the syntax tree path's alone.
    if detail == Detail::Full {
        return None;
    }
    let mut reader = Reader {
        src: Source::new(text, detail),
        detail,
        text,
        bytes: text.as_bytes(),
        pos: 0,
        operations,
        migration: Migration::default(),
        class_seen: false,
        futures_allowed: true,
        functions_allowed: functions,
        functions: Vec::new(),
    };
    reader.module()?;
    let mut migration = reader.migration;
    migration.migmerge_comments = migmerge_comments(text);
    Some(migration)
}

/// Where the block of a top-level statement that starts on the line holding `from` ends: at
/// the start of the first later line whose first byte is code (not a space, a tab, a line break
/// or a comment), else at the end of the text.
fn block_end(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    loop {
        // The next line's start.
        match bytes
            .get(at..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n' || b == b'\r'))
        {
            Some(offset) => at += offset,
            None => return bytes.len(),
        }
        if bytes.get(at) == Some(&b'\r') && bytes.get(at + 1) == Some(&b'\n') {
            at += 1;
        }
        at += 1;
        match bytes.get(at) {
            None => return bytes.len(),
            Some(b' ' | b'\t' | b'\n' | b'\r' | b'#') => {}
            Some(_) => return at,
        }
    }
}

/// Python's hard keywords: never a name.
const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Whether `word` is one of [`KEYWORDS`]. Names are looked up at every dotted part, and most
/// share no first letter with any keyword: that test spares nearly every string comparison.
fn is_keyword(word: &str) -> bool {
    let Some(&first) = word.as_bytes().first() else {
        return false;
    };
    KEYWORDS
        .iter()
        .any(|keyword| keyword.as_bytes()[0] == first && *keyword == word)
}

/// The `__future__` features whose import changes nothing this form can hold.
const FUTURES: [&str; 9] = [
    "annotations",
    "absolute_import",
    "division",
    "generator_stop",
    "generators",
    "nested_scopes",
    "print_function",
    "unicode_literals",
    "with_statement",
];

/// Where the next logical line starts.
enum Line {
    End,
    /// Its first token, after this many spaces.
    At(usize),
}

/// What a class body assignment binds, as far as the graph cares.
enum Value {
    Bool(bool),
    /// A list or tuple of references.
    Seq(Vec<Entry>),
    /// Any other value of the form.
    Other,
}

/// A dotted name as written, without spaces (`migrations.Migration`).
struct Dotted<'a> {
    text: &'a str,
    last: &'a str,
    parts: usize,
}

struct Reader<'a> {
    src: Source<'a>,
    /// [`Detail::Graph`] skips the `operations` lists, [`Detail::AsWritten`] reads them.
    detail: Detail,
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    operations: &'a [Range<usize>],
    migration: Migration,
    class_seen: bool,
    /// Whether a `from __future__ import` may still come: only the module docstring and other
    /// such imports may stand before one.
    futures_allowed: bool,
    /// Whether top-level functions may be skipped, and those skipped: name and whole block.
    functions_allowed: bool,
    functions: Vec<(&'a str, Range<usize>)>,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn line_at(&self, offset: usize) -> u32 {
        self.src
            .line(TextSize::new(u32::try_from(offset).unwrap_or(u32::MAX)))
    }

    fn span(from: usize, to: usize) -> Span {
        let offset = |at: usize| u32::try_from(at).unwrap_or(u32::MAX);
        Span::new(offset(from), offset(to))
    }

    fn module(&mut self) -> Option<()> {
        if self.text.starts_with(BOM) {
            self.pos = BOM.len();
        }
        let mut line = self.line()?;
        let mut first = true;
        loop {
            match line {
                Line::End => break,
                Line::At(0) => line = self.top_statement(first)?,
                Line::At(_) => return None,
            }
            first = false;
        }
        if !self.class_seen || self.functions.iter().any(|f| self.mentioned_elsewhere(f.0)) {
            return None;
        }
        Some(())
    }

    /// Whether `name` stands as a word outside the skipped functions and the `operations`
    /// lists. The lists hold a function's name only as text (`RunPython(forwards)`), read as
    /// written on both paths; anywhere else a name a function rebinds could change what a
    /// name means (`settings`, `swappable_dependency`, `Migration`), which only the syntax
    /// tree path follows. A mention in a comment or a string counts too: that errs on giving up.
    fn mentioned_elsewhere(&self, name: &str) -> bool {
        let skipped = |at: usize| {
            self.functions.iter().any(|(_, block)| block.contains(&at))
                || self.operations.iter().any(|list| list.contains(&at))
        };
        let word = |at: Option<&u8>| {
            at.is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
        };
        self.text.match_indices(name).any(|(at, _)| {
            let before = at.checked_sub(1).and_then(|i| self.bytes.get(i));
            let after = self.bytes.get(at + name.len());
            !word(before) && !word(after) && !skipped(at)
        })
    }

    /// One statement at the top level, then where the next line starts.
    fn top_statement(&mut self, first: bool) -> Option<Line> {
        if matches!(self.peek(), Some(b'\'' | b'"')) {
            self.string(true)?;
            self.futures_allowed &= first;
            self.end()?;
            return self.line();
        }
        let start = self.pos;
        match self.word()? {
            "def" if self.functions_allowed => {
                self.futures_allowed = false;
                return self.function(start);
            }
            "import" => {
                self.futures_allowed = false;
                self.import()?;
            }
            "from" => self.import_from()?,
            "class" if !self.class_seen => {
                self.futures_allowed = false;
                return self.class();
            }
            _ => return None,
        }
        self.line()
    }

    /// A top-level `def` (from `start`, its keyword): a `RunPython` function, most of the
    /// time. Neither the graph nor the operations read a function's body, so the block, up to
    /// the next line that starts with code at column 0, is checked by the Python parser alone
    /// and skipped; then where that line starts. A block the cut leaves unfinished (a string
    /// or bracket running past it, a continued line) fails that parse, and so does the
    /// module's plain reading.
    fn function(&mut self, start: usize) -> Option<Line> {
        if !matches!(self.peek(), Some(b' ')) {
            return None;
        }
        self.space();
        let name = self.name()?;
        let end = block_end(self.bytes, self.pos);
        let block = self.text.get(start..end)?;
        rustpython_ruff_python_parser::parse_module(block).ok()?;
        self.functions.push((name, start..end));
        self.pos = end;
        self.line()
    }

    /// Skips blank and comment-only lines (whose indentation does not count) and the
    /// indentation of the next logical line.
    fn line(&mut self) -> Option<Line> {
        loop {
            let start = self.pos;
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            match self.peek() {
                None => return Some(Line::End),
                Some(b'\n' | b'\r') => self.newline(),
                Some(b'#') => {
                    self.comment()?;
                    self.newline();
                }
                // Tabs and form feeds make indentation a matter of Python's tab rules.
                Some(b'\t' | b'\x0c') => return None,
                Some(_) => return Some(Line::At(self.pos - start)),
            }
        }
    }

    /// One line break (`\n`, `\r\n` or a lone `\r`), if one is under the cursor.
    fn newline(&mut self) {
        // After a `\r`, a `\n` belongs to the same break; without one, a `\n` is the break.
        self.eat(b'\r');
        self.eat(b'\n');
    }

    /// A comment up to its line's end; control characters other than tabs give up.
    fn comment(&mut self) -> Option<()> {
        let rest = self.bytes.get(self.pos..)?;
        let len = rest
            .iter()
            .position(|&b| b < 0x20 && b != b'\t')
            .unwrap_or(rest.len());
        self.pos += len;
        matches!(self.peek(), None | Some(b'\n' | b'\r')).then_some(())
    }

    /// Spaces between the tokens of a logical line.
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Space, line breaks and comments between tokens inside brackets.
    fn gap(&mut self) -> Option<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'#') => self.comment()?,
                _ => return Some(()),
            }
        }
    }

    /// The end of a statement: an optional comment, then a line break or the end of the file.
    fn end(&mut self) -> Option<()> {
        self.space();
        if self.peek() == Some(b'#') {
            self.comment()?;
        }
        match self.peek() {
            None => Some(()),
            Some(b'\n' | b'\r') => {
                self.newline();
                Some(())
            }
            Some(_) => None,
        }
    }

    /// An ASCII identifier or keyword.
    fn word(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let rest = self.bytes.get(start..)?;
        if !rest
            .first()
            .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
        {
            return None;
        }
        let len = rest
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
            .unwrap_or(rest.len());
        // A non-ASCII character continuing the name: Unicode identifier rules.
        if rest.get(len).is_some_and(|&b| b >= 0x80) {
            return None;
        }
        self.pos += len;
        self.text.get(start..self.pos)
    }

    /// An identifier that is not a keyword.
    fn name(&mut self) -> Option<&'a str> {
        self.word().filter(|word| !is_keyword(word))
    }

    /// The keyword `keyword` when it is the next word.
    fn keyword(&mut self, keyword: &str) -> bool {
        let start = self.pos;
        if self.word() == Some(keyword) {
            return true;
        }
        self.pos = start;
        false
    }

    fn dotted(&mut self) -> Option<Dotted<'a>> {
        let start = self.pos;
        let mut last = self.name()?;
        let mut parts = 1;
        while self.eat(b'.') {
            last = self.name()?;
            parts += 1;
        }
        Some(Dotted {
            text: self.text.get(start..self.pos)?,
            last,
            parts,
        })
    }

    /// `import a.b as c, d`, after `import`.
    fn import(&mut self) -> Option<()> {
        loop {
            self.space();
            let module = self.dotted()?;
            deploy::note_import(&mut self.migration.deploy, module.text);
            self.space();
            if self.keyword("as") {
                self.space();
                self.name()?;
                self.space();
            }
            if !self.eat(b',') {
                return self.end();
            }
        }
    }

    /// `from a.b import c as d, e` or `from a import (\n c,\n)`, after `from`.
    fn import_from(&mut self) -> Option<()> {
        self.space();
        // Relative imports name their module differently in the syntax tree.
        let module = self.dotted()?;
        let future = module.text == "__future__";
        if !future {
            self.futures_allowed = false;
        } else if !self.futures_allowed {
            return None;
        }
        deploy::note_import(&mut self.migration.deploy, module.text);
        self.space();
        if !self.keyword("import") {
            return None;
        }
        self.space();
        if self.eat(b'(') {
            self.gap()?;
            loop {
                self.imported(future, true)?;
                self.gap()?;
                let comma = self.eat(b',');
                self.gap()?;
                if self.eat(b')') {
                    break;
                }
                if !comma {
                    return None;
                }
            }
        } else {
            loop {
                self.imported(future, false)?;
                self.space();
                if !self.eat(b',') {
                    break;
                }
                self.space();
            }
        }
        self.end()
    }

    /// One name of a `from` import, with its `as` name if any.
    fn imported(&mut self, future: bool, bracketed: bool) -> Option<()> {
        let name = self.name()?;
        if future && !FUTURES.contains(&name) {
            return None;
        }
        let after = self.pos;
        if bracketed {
            self.gap()?;
        } else {
            self.space();
        }
        if self.keyword("as") {
            if bracketed {
                self.gap()?;
            } else {
                self.space();
            }
            self.name()?;
        } else {
            self.pos = after;
        }
        Some(())
    }

    /// `class Migration(base):` and its body, after `class`; then where the line after the
    /// body starts.
    fn class(&mut self) -> Option<Line> {
        self.space();
        let name_start = self.pos;
        if self.name()? != "Migration" {
            return None;
        }
        self.migration.class_line = self.line_at(name_start);
        self.space();
        if !self.eat(b'(') {
            return None;
        }
        self.gap()?;
        self.dotted()?;
        self.gap()?;
        if self.eat(b',') {
            self.gap()?;
        }
        if !self.eat(b')') {
            return None;
        }
        self.space();
        if !self.eat(b':') {
            return None;
        }
        self.end()?;
        self.class_seen = true;
        let Line::At(indent @ 1..) = self.line()? else {
            return None;
        };
        loop {
            self.class_statement()?;
            match self.line()? {
                Line::At(next) if next == indent => {}
                Line::At(0) => return Some(Line::At(0)),
                Line::End => return Some(Line::End),
                Line::At(_) => return None,
            }
        }
    }

    /// One statement of the class body: a docstring, `pass`, or `name = value`.
    fn class_statement(&mut self) -> Option<()> {
        if matches!(self.peek(), Some(b'\'' | b'"')) {
            self.string(true)?;
            return self.end();
        }
        let name = self.word()?;
        if name == "pass" {
            return self.end();
        }
        if is_keyword(name) {
            return None;
        }
        self.space();
        if !self.eat(b'=') || self.peek() == Some(b'=') {
            return None;
        }
        self.space();
        let start = self.pos;
        if name == "operations" {
            match self.detail {
                // The graph path parses these lists blanked: nothing in them counts.
                Detail::Graph => self.skip_operations()?,
                _ => self.read_operations()?,
            }
            return self.end();
        }
        let line = self.line_at(start);
        let value = self.value()?;
        let span = Self::span(start, self.pos);
        if let Some(flag) = flag(&mut self.migration, name) {
            *flag = match value {
                Value::Bool(value) => Some(value),
                _ => None,
            };
        } else if let Some(list) = reference_list(&mut self.migration, name) {
            let Value::Seq(entries) = value else {
                return None;
            };
            *list = ListAttr::Literal {
                entries,
                span,
                line,
            };
        } else if let Some(slot) = deploy::class_value(&mut self.migration.deploy, name) {
            *slot = Some(DeployValue {
                text: self.text.get(span.range())?.to_owned(),
                line,
            });
        }
        self.end()
    }

    /// An `operations` list or tuple that the prescan delimited.
    fn skip_operations(&mut self) -> Option<()> {
        let close = closer(self.peek()?)?;
        let inside = self.pos + 1;
        let range = self.operations.iter().find(|range| range.start == inside)?;
        if self.bytes.get(range.end) != Some(&close) {
            return None;
        }
        self.pos = range.end + 1;
        Some(())
    }

    /// An `operations` list or tuple that the prescan delimited, read whole; the last one
    /// assigned is the class's, as in Python.
    fn read_operations(&mut self) -> Option<()> {
        let inside = self.pos + 1;
        let range = self.operations.iter().find(|range| range.start == inside)?;
        let list = self.node(0)?;
        if list.end != range.end + 1 {
            return None;
        }
        let (values::Kind::List(items) | values::Kind::Tuple(items)) = &list.kind else {
            return None;
        };
        let (read, stages) = operations::read_list(self, items)?;
        self.migration.operations = Some(read);
        deploy::set_operation_stages(&mut self.migration.deploy, stages);
        Some(())
    }

    fn value(&mut self) -> Option<Value> {
        match self.peek()? {
            b'\'' | b'"' => {
                self.string(false)?;
                Some(Value::Other)
            }
            b'[' | b'(' => self.sequence().map(Value::Seq),
            _ => match self.word()? {
                "True" => Some(Value::Bool(true)),
                "False" => Some(Value::Bool(false)),
                "None" => Some(Value::Other),
                word if is_keyword(word) => None,
                _ => {
                    while self.eat(b'.') {
                        self.name()?;
                    }
                    if self.eat(b'(') {
                        self.gap()?;
                        if !self.eat(b')') {
                            return None;
                        }
                    }
                    Some(Value::Other)
                }
            },
        }
    }

    /// A list or tuple of references.
    fn sequence(&mut self) -> Option<Vec<Entry>> {
        let open = self.peek()?;
        let close = closer(open)?;
        self.pos += 1;
        let mut entries = Vec::new();
        let mut commas = 0;
        self.gap()?;
        while !self.eat(close) {
            entries.push(self.entry()?);
            self.gap()?;
            if self.eat(b',') {
                commas += 1;
                self.gap()?;
            } else if self.eat(close) {
                break;
            } else {
                return None;
            }
        }
        // `(x)` is `x` in parentheses, not a tuple.
        if open == b'(' && commas == 0 && !entries.is_empty() {
            return None;
        }
        Some(entries)
    }

    fn entry(&mut self) -> Option<Entry> {
        let start = self.pos;
        let line = self.line_at(start);
        let reference = match self.peek()? {
            b'(' | b'[' => self.pair()?,
            _ => self.call()?,
        };
        Some(Entry {
            reference,
            span: Self::span(start, self.pos),
            line,
        })
    }

    /// `("app", "name")` or `["app", "name"]`.
    fn pair(&mut self) -> Option<Reference> {
        let close = closer(self.peek()?)?;
        self.pos += 1;
        self.gap()?;
        let app = self.str_lit()?;
        self.gap()?;
        if !self.eat(b',') {
            return None;
        }
        self.gap()?;
        let name = self.str_lit()?;
        self.gap()?;
        if self.eat(b',') {
            self.gap()?;
        }
        if !self.eat(close) {
            return None;
        }
        Some(Reference::Literal { app, name })
    }

    /// `callee(argument)`, both dotted names, as `swappable_dependency(settings.X)` is written.
    fn call(&mut self) -> Option<Reference> {
        let start = self.pos;
        let callee = self.dotted()?;
        if !self.eat(b'(') {
            return None;
        }
        self.gap()?;
        let argument = self.dotted()?;
        self.gap()?;
        if self.eat(b',') {
            self.gap()?;
        }
        if !self.eat(b')') {
            return None;
        }
        // A one-part argument is a name, not the attribute the decision is about.
        let swappable = (argument.parts > 1)
            .then(|| swappable_dependency(Some(callee.last), argument.last))
            .flatten();
        Some(swappable.unwrap_or_else(|| {
            Reference::Unknown {
                text: self
                    .text
                    .get(start..self.pos)
                    .unwrap_or_default()
                    .to_owned(),
            }
        }))
    }

    /// A plain string literal, whose value is exactly its text between the quotes.
    fn str_lit(&mut self) -> Option<StrLit> {
        let (start, inside) = self.string(false)?;
        let value = self.text.get(inside.clone())?.to_owned();
        Some(StrLit {
            value,
            span: Self::span(start, self.pos),
            content: Some(Self::span(inside.start, inside.end)),
        })
    }

    /// A string literal without prefix or backslash, on one line unless it is triple-quoted
    /// and `multiline`; its start and the range between its quotes.
    fn string(&mut self, multiline: bool) -> Option<(usize, Range<usize>)> {
        let start = self.pos;
        let syntax = StringSyntax {
            escapes: false,
            multiline,
        };
        let scanned = scan_string(self.bytes, start, syntax)?;
        self.pos = scanned.end;
        Some((start, scanned.inside))
    }
}

/// How much of Python's string syntax [`scan_string`] takes; anything else declines.
#[derive(Clone, Copy)]
struct StringSyntax {
    /// Backslash escapes that stand for one character each (`\\`, `\'`, `\n`, ...): never an
    /// invalid one, a line continuation or a numbered one.
    escapes: bool,
    /// Triple-quoted literals over several lines.
    multiline: bool,
}

/// A string literal scanned: the range between its quotes, where it ends, and whether that
/// range spells its value exactly (no escape, no carriage return, which Python reads as a
/// line break of its own).
struct ScannedString {
    inside: Range<usize>,
    end: usize,
    exact: bool,
}

/// The string literal without prefix at `start` (its opening quote), within `syntax`.
fn scan_string(bytes: &[u8], start: usize, syntax: StringSyntax) -> Option<ScannedString> {
    let quote = *bytes.get(start).filter(|b| matches!(b, b'\'' | b'"'))?;
    let triple = bytes.get(start + 1) == Some(&quote) && bytes.get(start + 2) == Some(&quote);
    let quotes = if triple { 3 } else { 1 };
    let inside = start + quotes;
    let mut at = inside;
    let mut exact = true;
    loop {
        match *bytes.get(at)? {
            b'\\' if !syntax.escapes => return None,
            b'\\' => {
                if !matches!(
                    bytes.get(at + 1)?,
                    b'\\' | b'\'' | b'"' | b'n' | b't' | b'r' | b'a' | b'b' | b'f' | b'v'
                ) {
                    return None;
                }
                exact = false;
                at += 1;
            }
            b'\n' | b'\r' if !(triple && syntax.multiline) => return None,
            b'\r' => exact = false,
            b'\n' => {}
            b if b == quote
                && (!triple
                    || (bytes.get(at + 1) == Some(&quote)
                        && bytes.get(at + 2) == Some(&quote))) =>
            {
                break;
            }
            b if b < 0x20 && b != b'\t' => return None,
            _ => {}
        }
        at += 1;
    }
    Some(ScannedString {
        inside: inside..at,
        end: at + quotes,
        exact,
    })
}

fn closer(open: u8) -> Option<u8> {
    match open {
        b'[' => Some(b']'),
        b'(' => Some(b')'),
        _ => None,
    }
}

mod operations;
#[cfg(test)]
mod tests;
mod values;
