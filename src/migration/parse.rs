//! Reading one migration module into a [`Migration`]: decoding the bytes, the Python parse,
//! finding the `Migration` class and reading its `dependencies`, `replaces`, `run_before` and
//! `initial`; what `operations` says is read by the [`operations`] submodule. For the graph, and
//! for the operations as written, a module of the plain form `makemigrations` writes is read by
//! the [`plain`] submodule without a syntax tree, to the same result.

mod deploy;
mod evaluate;
mod operations;
mod plain;
pub(super) mod prescan;

use std::cell::Cell;

use rustpython_ruff_python_ast::{Expr, ExprStringLiteral, Stmt, StmtClassDef, StringFlags};
use rustpython_ruff_python_parser::parse_module;
use rustpython_ruff_text_size::{Ranged, TextRange, TextSize};

use super::{Detail, Entry, ListAttr, Migration, ParseError, Reference, Span, StrLit, encoding};

const BOM: &str = "\u{feff}";
/// The lines git writes around the sides of a conflicting hunk start with these.
const CONFLICT_MARKERS: [&str; 4] = ["<<<<<<<", "|||||||", "=======", ">>>>>>>"];

/// Reads the `Migration` class of a migration module, `operations` included.
///
/// Every [`Span`] in the result indexes `source` itself (a byte order mark, if any, included),
/// and lies on character boundaries.
pub fn parse(source: &[u8]) -> Result<Migration, ParseError> {
    parse_with(source, Detail::Full)
}

/// [`parse`], reading `operations` only when `detail` asks for it.
///
/// With [`Detail::Graph`], the insides of the `Migration` class's `operations = [...]` lists
/// are blanked before parsing (same length, line breaks kept, so every offset and line stays
/// true): they are most of a migration's text and the graph needs nothing from them. The rest of
/// the module is parsed as with [`Detail::Full`]; inside those lists, only what the prescan
/// checks (terminated strings, balanced brackets) is checked, and a syntax error there is
/// found by [`Detail::Full`] alone. With [`Detail::Graph`] or [`Detail::AsWritten`], a module of
/// the plain form `makemigrations` writes is read without a syntax tree, with the same result.
pub fn parse_with(source: &[u8], detail: Detail) -> Result<Migration, ParseError> {
    read_module(source, detail, true)
}

/// [`parse_with`]; `plain`: whether the plain reader may answer (the syntax tree answers alike,
/// so only the tests comparing the two tell them apart).
fn read_module(source: &[u8], detail: Detail, plain: bool) -> Result<Migration, ParseError> {
    let (decoded, scan) = prepare(source)?;
    let text = decoded.text.as_ref();
    // Most modules have a plain form that needs no syntax tree for the graph, nor for the
    // operations as written.
    let plain = match detail {
        Detail::Graph | Detail::AsWritten if plain => {
            // A function the plain reader skips is parsed on this thread, so only where the
            // whole module is shallow enough to be.
            let shallow = scan.depth <= INLINE_DEPTH;
            plain::read(text, &scan.operations, detail, shallow)
        }
        _ => None,
    };
    let mut migration = match plain {
        Some(migration) => migration,
        None if scan.depth > INLINE_DEPTH => on_parse_stack(|| parse_scanned(text, &scan, detail))?,
        None => parse_scanned(text, &scan, detail)?,
    };
    if decoded.is_transcoded() {
        to_file_offsets(&mut migration, &decoded);
    }
    fit_lists(&mut migration);
    Ok(migration)
}

/// Gives back the room the lists grew into while they were read: a project holds one
/// `Migration` per file for the whole run, and a two-entry `dependencies` list in a vector
/// grown to four entries is most of what a module read for the graph keeps.
fn fit_lists(migration: &mut Migration) {
    for list in [
        &mut migration.dependencies,
        &mut migration.replaces,
        &mut migration.run_before,
    ] {
        if let ListAttr::Literal { entries, .. } = list {
            entries.shrink_to_fit();
        }
    }
    migration.migmerge_comments.shrink_to_fit();
}

/// The source decoded and prescanned, or why it cannot be parsed at all.
fn prepare(source: &[u8]) -> Result<(encoding::Decoded<'_>, prescan::Prescan), ParseError> {
    // Syntax tree offsets are `u32`, so a larger file cannot be described by spans.
    if u32::try_from(source.len()).is_err() {
        return Err(error_at_start("file is too large (4 GiB or more)"));
    }
    let decoded = decode(source)?;
    let text = decoded.text.as_ref();
    let scan = prescan::prescan(text);
    if let Some(offset) = scan.too_deep {
        let (line, column) = position(text, offset);
        return Err(ParseError {
            line,
            column,
            message: "nested too deeply (brackets, operator or attribute chains, calls, \
                      subscripts or indentation) to parse safely"
                .to_owned(),
        });
    }
    Ok((decoded, scan))
}

/// Moves every span of `migration` from offsets in the decoded text to offsets in the file's
/// own bytes, which the edit engine rewrites.
fn to_file_offsets(migration: &mut Migration, decoded: &encoding::Decoded<'_>) {
    let span = |span: &mut Span| {
        *span = Span::new(
            decoded.original_offset(span.start),
            decoded.original_offset(span.end),
        );
    };
    let literal = |lit: &mut StrLit| {
        span(&mut lit.span);
        if let Some(content) = &mut lit.content {
            span(content);
        }
    };
    for list in [
        &mut migration.dependencies,
        &mut migration.replaces,
        &mut migration.run_before,
    ] {
        if let ListAttr::Literal {
            entries,
            span: list_span,
            ..
        } = list
        {
            span(list_span);
            for entry in entries {
                span(&mut entry.span);
                if let Reference::Literal { app, name } = &mut entry.reference {
                    literal(app);
                    literal(name);
                }
            }
        }
    }
}

/// Up to this prescan depth (a third of [`prescan::LIMIT`], which was measured to fit a 2 MiB
/// stack in a debug build with room to spare) the parse runs on the caller's thread: starting a
/// thread costs more than parsing most migrations.
const INLINE_DEPTH: u32 = prescan::LIMIT / 3;

/// The stack the parse of a deeply nested file runs on: room far beyond what the prescan lets
/// through, so that no input reaches a stack overflow, which aborts the process (in a git hook,
/// a merge driver). Only touched pages cost memory.
const PARSE_STACK: usize = 256 << 20;

/// Runs `parse` (the parser and everything walking its syntax tree, dropping it included) on
/// a thread of its own with [`PARSE_STACK`]. Where no thread can be started, on this one: the
/// prescan's bound still holds.
fn on_parse_stack<T: Send>(parse: impl FnOnce() -> T + Send) -> T {
    let slot = std::sync::Mutex::new(Some(parse));
    let run = || {
        let parse = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        parse.map(|parse| parse())
    };
    let ran = std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("migmerge-parse".to_owned())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, run)
            .ok()?;
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    // `None` only when the thread could not start: the parse is still in the slot.
    match ran.or_else(run) {
        Some(result) => result,
        None => unreachable!("the parse runs on the new thread or on this one"),
    }
}

/// The parse proper, once the source is decoded and its nesting known to be within bounds.
fn parse_scanned(
    text: &str,
    scan: &prescan::Prescan,
    detail: Detail,
) -> Result<Migration, ParseError> {
    // A migration with a syntax error is an error, so the parser's first error is the answer,
    // and there is nothing to gain from its recovered tree.
    let skimmed = match detail {
        Detail::Graph => blank(text, &scan.operations),
        Detail::Full | Detail::AsWritten => None,
    };
    let parsed =
        parse_module(skimmed.as_deref().unwrap_or(text)).map_err(|err| syntax_error(text, &err))?;
    let src = Source::new(text, detail);
    let module = &parsed.syntax().body;
    // As in Python, a later definition of the class replaces an earlier one.
    let class = module
        .iter()
        .rev()
        .find_map(|stmt| match stmt {
            Stmt::ClassDef(class) if class.name.id.as_str() == "Migration" => Some(class),
            _ => None,
        })
        .ok_or_else(|| error_at_start("no `Migration` class"))?;
    let mut migration = read_class(&src, module, class)?;
    migration.deploy = deploy::read(&src, &parsed.syntax().body, class)?;
    migration.migmerge_comments = migmerge_comments(text);
    Ok(migration)
}

/// The lines of `text` where a comment may speak to migmerge (`# migmerge: ...`), numbered
/// from 1. One substring search answers for the files that have none: nearly all of them.
fn migmerge_comments(text: &str) -> Vec<(u32, String)> {
    const MARKER: &str = "migmerge:";
    if !text.contains(MARKER) {
        return Vec::new();
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.contains('#') && line.contains(MARKER))
        .map(|(i, line)| (u32::try_from(i + 1).unwrap_or(u32::MAX), line.to_owned()))
        .collect()
}

/// `text` with the insides of `ranges` turned to spaces, line breaks kept; `None` when there is
/// nothing to blank, or when a range holds a NUL byte, which Python refuses anywhere and so must
/// stay visible to the parser.
fn blank(text: &str, ranges: &[std::ops::Range<usize>]) -> Option<String> {
    if ranges.is_empty() {
        return None;
    }
    let mut bytes = text.as_bytes().to_vec();
    for range in ranges {
        let region = bytes.get_mut(range.clone())?;
        if region.contains(&0) {
            return None;
        }
        for byte in region {
            // A select, not a branch: the loop compiles to vector code.
            *byte = if matches!(*byte, b'\n' | b'\r') {
                *byte
            } else {
                b' '
            };
        }
    }
    // The ranges lie between ASCII brackets, so whole characters were replaced.
    String::from_utf8(bytes).ok()
}

/// Reads `class`, one of the top-level statements of `module`: the list attributes by
/// evaluating the module ([`evaluate`]), `initial` and `operations` from the class body.
fn read_class(
    src: &Source<'_>,
    module: &[Stmt],
    class: &StmtClassDef,
) -> Result<Migration, ParseError> {
    let mut migration = Migration {
        class_line: src.line(class.name.range.start()),
        ..Migration::default()
    };
    evaluate::class_lists(src, module, class, &mut migration)?;
    for stmt in &class.body {
        match stmt {
            Stmt::Assign(assign) => {
                for target in &assign.targets {
                    assign_to(src, &mut migration, target, Value::Known(&assign.value))?;
                }
            }
            Stmt::AnnAssign(assign) => {
                // A bare annotation (`dependencies: list`) binds nothing.
                if let Some(value) = &assign.value {
                    assign_to(src, &mut migration, &assign.target, Value::Known(value))?;
                }
            }
            // `operations += [...]` extends a value the class body cannot see: not a literal.
            Stmt::AugAssign(assign) => {
                assign_to(src, &mut migration, &assign.target, Value::Opaque)?;
            }
            _ => {}
        }
    }
    Ok(migration)
}

/// What a name gets bound to.
#[derive(Clone, Copy)]
enum Value<'e> {
    Known(&'e Expr),
    /// Something not known statically (an augmented assignment, an unpacking that does not
    /// line up).
    Opaque,
}

/// Binds `target` to `value` as Python would.
fn assign_to(
    src: &Source<'_>,
    migration: &mut Migration,
    target: &Expr,
    value: Value<'_>,
) -> Result<(), ParseError> {
    let name = match target {
        Expr::Name(name) => name.id.as_str(),
        Expr::Tuple(_) | Expr::List(_) => {
            let targets = match target {
                Expr::Tuple(tuple) => &tuple.elts,
                Expr::List(list) => &list.elts,
                _ => return Ok(()),
            };
            let values = match value {
                Value::Known(Expr::Tuple(tuple)) => Some(&tuple.elts),
                Value::Known(Expr::List(list)) => Some(&list.elts),
                _ => None,
            };
            let starred = |elts: &[Expr]| elts.iter().any(Expr::is_starred_expr);
            match values {
                Some(values)
                    if values.len() == targets.len() && !starred(values) && !starred(targets) =>
                {
                    for (target, value) in targets.iter().zip(values) {
                        assign_to(src, migration, target, Value::Known(value))?;
                    }
                }
                _ => {
                    for target in targets {
                        let target = match target {
                            Expr::Starred(starred) => &starred.value,
                            other => other,
                        };
                        assign_to(src, migration, target, Value::Opaque)?;
                    }
                }
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    if let Some(flag) = flag(migration, name) {
        *flag = match value {
            Value::Known(Expr::BooleanLiteral(literal)) => Some(literal.value),
            _ => None,
        };
        return Ok(());
    }
    match name {
        // Left as it is (`None`) when not wanted: the caller asked for the graph only.
        "operations" if src.detail != Detail::Graph => {
            migration.operations = match value {
                Value::Known(value) => operations::read_list(src, value)?,
                Value::Opaque => None,
            };
        }
        _ => {}
    }
    Ok(())
}

/// The class attributes holding references to other migrations, by name.
const REFERENCE_LISTS: [&str; 3] = ["dependencies", "replaces", "run_before"];

/// Where the class attribute `name` (one of [`REFERENCE_LISTS`]) is kept.
fn reference_list<'m>(migration: &'m mut Migration, name: &str) -> Option<&'m mut ListAttr> {
    match name {
        "dependencies" => Some(&mut migration.dependencies),
        "replaces" => Some(&mut migration.replaces),
        "run_before" => Some(&mut migration.run_before),
        _ => None,
    }
}

/// Where the class attribute `name` is kept when it is one Django reads as a flag: `Some(b)`
/// for `True`/`False` as written, `None` for anything else.
fn flag<'m>(migration: &'m mut Migration, name: &str) -> Option<&'m mut Option<bool>> {
    match name {
        "initial" => Some(&mut migration.initial),
        "atomic" => Some(&mut migration.atomic),
        _ => None,
    }
}

fn list_attr(src: &Source<'_>, value: &Expr) -> Result<ListAttr, ParseError> {
    let elts = match value {
        Expr::List(list) => &list.elts,
        Expr::Tuple(tuple) => &tuple.elts,
        _ => {
            return Ok(ListAttr::Unknown {
                text: src.slice(value.range())?.to_owned(),
                line: src.line(value.start()),
            });
        }
    };
    // Lines are looked up in source order, which keeps each lookup short.
    let line = src.line(value.start());
    let mut entries = Vec::with_capacity(elts.len());
    for elt in elts {
        entries.push(Entry {
            line: src.line(elt.start()),
            reference: reference(src, elt)?,
            span: src.span(elt.range())?,
        });
    }
    Ok(ListAttr::Literal {
        entries,
        span: src.span(value.range())?,
        line,
    })
}

fn reference(src: &Source<'_>, elt: &Expr) -> Result<Reference, ParseError> {
    let pair = match elt {
        Expr::Tuple(tuple) => Some(&tuple.elts),
        Expr::List(list) => Some(&list.elts),
        _ => None,
    };
    if let Some([Expr::StringLiteral(app), Expr::StringLiteral(name)]) = pair.map(Vec::as_slice) {
        return Ok(Reference::Literal {
            app: src.str_lit(app)?,
            name: src.str_lit(name)?,
        });
    }
    if let Some(swapper) = swapper_dependency(src, elt)? {
        return Ok(swapper);
    }
    if let Expr::Call(call) = elt
        && call.arguments.keywords.is_empty()
        && let [Expr::Attribute(setting)] = &*call.arguments.args
        && let Some(swappable) = swappable_dependency(callee_name(&call.func), &setting.attr)
    {
        return Ok(swappable);
    }
    Ok(Reference::Unknown {
        text: src.slice(elt.range())?.to_owned(),
    })
}

/// Django's `migrations.swappable_dependency(settings.AUTH_USER_MODEL)`: a call whose callee's
/// last name is `callee` and whose one (positional) argument is an attribute whose last name is
/// `setting`. `None` when the callee is another function.
fn swappable_dependency(callee: Option<&str>, setting: &str) -> Option<Reference> {
    (callee == Some("swappable_dependency")).then(|| Reference::Swappable {
        setting: setting.to_owned(),
        default: None,
    })
}

/// django-swapper's `swapper.dependency("app", "Model")`: Django's `swappable_dependency` of
/// the setting `APP_MODEL_MODEL` (swapper's name for it), or of `app.Model` when that setting
/// is not set. An app prefix set with `swapper.set_app_prefix` changes the setting's name at
/// run time, which a static reading cannot see.
fn swapper_dependency(src: &Source<'_>, elt: &Expr) -> Result<Option<Reference>, ParseError> {
    let Expr::Call(call) = elt else {
        return Ok(None);
    };
    let is_swapper = matches!(&*call.func, Expr::Attribute(attribute)
        if attribute.attr.id.as_str() == "dependency"
            && matches!(&*attribute.value, Expr::Name(module) if module.id.as_str() == "swapper"));
    if !is_swapper || !call.arguments.keywords.is_empty() {
        return Ok(None);
    }
    let [Expr::StringLiteral(app), Expr::StringLiteral(model)] = &*call.arguments.args else {
        return Ok(None);
    };
    let (app, model) = (src.str_lit(app)?.value, src.str_lit(model)?.value);
    Ok(Some(Reference::Swappable {
        setting: format!("{}_{}_MODEL", app.to_uppercase(), model.to_uppercase()),
        default: Some(format!("{app}.{model}")),
    }))
}

/// The last dotted part of a callee (`migrations.AddField` -> `AddField`), when it has one.
fn callee_name(func: &Expr) -> Option<&str> {
    match func {
        Expr::Name(name) => Some(name.id.as_str()),
        Expr::Attribute(attribute) => Some(attribute.attr.id.as_str()),
        _ => None,
    }
}

/// The decoded source with the positions questions the syntax tree raises.
struct Source<'a> {
    text: &'a str,
    detail: Detail,
    /// The last line lookup, `(offset, line)`: lookups come mostly in source order, so each
    /// one only counts the line breaks since the previous one.
    cursor: Cell<(usize, u32)>,
}

impl<'a> Source<'a> {
    fn new(text: &'a str, detail: Detail) -> Self {
        Source {
            text,
            detail,
            cursor: Cell::new((0, 1)),
        }
    }

    /// The source text of a syntax tree range, checked rather than trusted.
    fn slice(&self, range: TextRange) -> Result<&'a str, ParseError> {
        self.text
            .get(range.start().to_usize()..range.end().to_usize())
            .ok_or_else(|| self.bad_range(range))
    }

    /// A range as a [`Span`], checked to lie within the source and on character boundaries.
    fn span(&self, range: TextRange) -> Result<Span, ParseError> {
        self.slice(range)?;
        Ok(Span::new(range.start().into(), range.end().into()))
    }

    fn bad_range(&self, range: TextRange) -> ParseError {
        ParseError {
            line: self.line(range.start()),
            column: 1,
            message: "internal error: the syntax tree points outside the source".to_owned(),
        }
    }

    /// 1-based line of a byte offset.
    fn line(&self, offset: TextSize) -> u32 {
        let offset = offset.to_usize().min(self.text.len());
        let (from, mut line) = self.cursor.get();
        let from = if offset < from {
            line = 1;
            0
        } else {
            from
        };
        line = line.saturating_add(line_breaks(self.text.as_bytes(), from, offset));
        self.cursor.set((offset, line));
        line
    }

    fn str_lit(&self, literal: &ExprStringLiteral) -> Result<StrLit, ParseError> {
        let content = match literal.value.as_slice() {
            [part] => {
                let start =
                    u32::from(part.range.start()).checked_add(part.flags.opener_len().into());
                let end = u32::from(part.range.end()).checked_sub(part.flags.closer_len().into());
                match (start, end) {
                    (Some(start), Some(end)) if start <= end => {
                        let inner = TextRange::new(start.into(), end.into());
                        // Escapes, line continuations and the like make the raw text differ
                        // from the value; then a rewrite must re-quote the whole literal.
                        (self.slice(inner)? == &*part.value)
                            .then(|| self.span(inner))
                            .transpose()?
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        Ok(StrLit {
            value: literal.value.to_str().to_owned(),
            span: self.span(literal.range)?,
            content,
        })
    }
}

/// Line breaks in `bytes[from..to]`: `\n`, `\r\n`, and a lone `\r`, as Python reads them.
fn line_breaks(bytes: &[u8], from: usize, to: usize) -> u32 {
    let Some(segment) = bytes.get(from..to) else {
        return 0;
    };
    let mut breaks = segment.iter().filter(|&&b| b == b'\n').count();
    // Most files have no `\r` at all, which one word-at-a-time search tells.
    if !segment.contains(&b'\r') {
        return u32::try_from(breaks).unwrap_or(u32::MAX);
    }
    for (i, _) in segment.iter().enumerate().filter(|&(_, &b)| b == b'\r') {
        if bytes.get(from + i + 1) != Some(&b'\n') {
            breaks += 1;
        }
    }
    u32::try_from(breaks).unwrap_or(u32::MAX)
}

/// 1-based line and column (in characters) of a byte offset of `text`.
fn position(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let bytes = text.as_bytes();
    let line = 1u32.saturating_add(line_breaks(bytes, 0, offset));
    let line_start = bytes
        .get(..offset)
        .and_then(|before| before.iter().rposition(|&b| b == b'\n' || b == b'\r'))
        .map_or(0, |i| i + 1);
    // Editors do not count a byte order mark as a column.
    let line_start = if line_start == 0 && text.starts_with(BOM) {
        BOM.len().min(offset)
    } else {
        line_start
    };
    let column = text
        .get(line_start..offset)
        .map_or(0, |before| before.chars().count());
    (
        line,
        u32::try_from(column).unwrap_or(u32::MAX).saturating_add(1),
    )
}

fn error_at_start(message: &str) -> ParseError {
    ParseError {
        line: 1,
        column: 1,
        message: message.to_owned(),
    }
}

/// The file's text, decoded as Python decodes it (see [`encoding`]).
fn decode(source: &[u8]) -> Result<encoding::Decoded<'_>, ParseError> {
    let decoded = encoding::decode(source).map_err(|err| {
        // The bytes before the problem are ASCII-compatible up to a line break, which is all
        // a line number needs.
        let before = String::from_utf8_lossy(source.get(..err.offset).unwrap_or_default());
        let (line, column) = position(&before, before.len());
        ParseError {
            line,
            column,
            message: err.message,
        }
    })?;
    // Python refuses such a file outright, even where the parser would take the byte as part
    // of a string, so Django could not load it either.
    let text = decoded.text.as_ref();
    // `contains` searches a word at a time; the position is wanted only when there is one.
    if text.as_bytes().contains(&0)
        && let Some(nul) = text.bytes().position(|b| b == 0)
    {
        let (line, column) = position(text, nul);
        return Err(ParseError {
            line,
            column,
            message: "the file contains a NUL byte, which Python refuses".to_owned(),
        });
    }
    Ok(decoded)
}

fn syntax_error(text: &str, err: &rustpython_ruff_python_parser::ParseError) -> ParseError {
    let (line, column) = position(text, err.location.start().to_usize());
    let mut message = format!("syntax error: {}", err.error);
    if let Some(marker_line) = conflict_marker_line(text) {
        message.push_str(&format!(
            " (line {marker_line} is a git conflict marker: the file holds an unresolved merge \
             conflict)"
        ));
    }
    ParseError {
        line,
        column,
        message,
    }
}

/// The 1-based line of the first line that looks like a git conflict marker.
fn conflict_marker_line(text: &str) -> Option<u32> {
    let mut line = 0u32;
    let mut rest = text.strip_prefix(BOM).unwrap_or(text);
    // Splitting at '\n' leaves a CRLF line's '\r', which the marker test tolerates; with lone
    // '\r' line endings a marker goes unnoticed, which costs a hint, not correctness.
    while !rest.is_empty() {
        line = line.saturating_add(1);
        let (current, next) = rest.split_once('\n').unwrap_or((rest, ""));
        rest = next;
        let is_marker = CONFLICT_MARKERS.iter().any(|marker| {
            current
                .strip_prefix(marker)
                .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\r', '\t']))
        });
        if is_marker {
            return Some(line);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A migration as `makemigrations` writes it, with a few hand edits.
    pub(super) const REALISTIC: &str = r#"# Generated by Django 5.1 on 2024-05-01 12:00

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def forwards(apps, schema_editor):
    User = apps.get_model("users", "User")
    for user in User.objects.all():
        user.slug = f"{user.pk}-{"x"}"
        user.save()


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("users", "0001_initial"),  # the first one
        ('auth', '__latest__'),
    ]

    operations = [
        migrations.CreateModel(
            name="Profile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("bio", models.TextField(blank=True)),
                ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.AddField(
            model_name="profile",
            name="avatar",
            field=models.ImageField(null=True, upload_to="avatars/"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
"#;

    fn parse_str(source: &str) -> Migration {
        match parse(source.as_bytes()) {
            Ok(migration) => migration,
            Err(err) => panic!("{err}\n{source}"),
        }
    }

    fn literal(reference: &Reference) -> (&StrLit, &StrLit) {
        match reference {
            Reference::Literal { app, name } => (app, name),
            other => panic!("not a literal: {other:?}"),
        }
    }

    fn pairs(attr: &ListAttr) -> Vec<(String, String)> {
        attr.entries()
            .iter()
            .map(|entry| {
                let (app, name) = literal(&entry.reference);
                (app.value.clone(), name.value.clone())
            })
            .collect()
    }

    fn text(source: &[u8], span: Span) -> &str {
        std::str::from_utf8(&source[span.range()]).unwrap()
    }

    fn deps(source: &str) -> Vec<(String, String)> {
        pairs(&parse_str(source).dependencies)
    }

    fn pair(app: &str, name: &str) -> (String, String) {
        (app.to_owned(), name.to_owned())
    }

    /// Every span the result holds.
    fn spans(migration: &Migration) -> Vec<Span> {
        let mut out = Vec::new();
        for attr in [
            &migration.dependencies,
            &migration.replaces,
            &migration.run_before,
        ] {
            if let ListAttr::Literal { span, .. } = attr {
                out.push(*span);
            }
            {
                for entry in attr.entries() {
                    out.push(entry.span);
                    if let Reference::Literal { app, name } = &entry.reference {
                        for lit in [app, name] {
                            out.push(lit.span);
                            out.extend(lit.content);
                        }
                    }
                }
            }
        }
        out
    }

    fn assert_spans_valid(source: &[u8], migration: &Migration) {
        let text = std::str::from_utf8(source).expect("parsed, so UTF-8");
        for span in spans(migration) {
            assert!(span.start <= span.end, "{span:?}");
            assert!(
                text.get(span.range()).is_some(),
                "{span:?} off bounds or boundaries"
            );
        }
    }

    #[test]
    fn realistic_migration() {
        let m = parse_str(REALISTIC);
        assert_eq!(m.initial, Some(true));
        assert_eq!(m.class_line, 15);
        assert_eq!(m.dependencies.entries().len(), 3);
        assert_eq!(
            m.dependencies.entries()[0].reference,
            Reference::Swappable {
                setting: "AUTH_USER_MODEL".into(),
                default: None,
            }
        );
        assert_eq!(m.dependencies.entries()[1].line, 21);
        let (app, name) = literal(&m.dependencies.entries()[2].reference);
        assert_eq!(
            (app.value.as_str(), name.value.as_str()),
            ("auth", "__latest__")
        );
        assert_eq!(text(REALISTIC.as_bytes(), name.span), "'__latest__'");
        assert_eq!(
            text(REALISTIC.as_bytes(), name.content.unwrap()),
            "__latest__"
        );
        assert_eq!(m.replaces, ListAttr::Absent);
        assert_eq!(m.run_before, ListAttr::Absent);
        let ops = m.operations.as_deref().unwrap();
        let classes: Vec<_> = ops.iter().map(|op| op.class.as_str()).collect();
        assert_eq!(classes, ["CreateModel", "AddField", "RunPython"]);
        assert_eq!(ops[0].line, 26);
        assert_spans_valid(REALISTIC.as_bytes(), &m);
    }

    #[test]
    fn graph_detail_reads_all_but_operations() {
        let full = parse_str(REALISTIC);
        let graph = parse_with(REALISTIC.as_bytes(), Detail::Graph).unwrap();
        assert!(full.operations.is_some());
        assert_eq!(graph.operations, None);
        assert_eq!(
            graph,
            Migration {
                operations: None,
                ..full
            }
        );
        // Both levels parse the whole module, so both refuse a syntax error anywhere.
        let broken = format!("def helper(:\n    pass\n{REALISTIC}");
        assert!(parse_with(broken.as_bytes(), Detail::Graph).is_err());
    }

    #[test]
    fn graph_detail_skips_only_the_operations_lists() {
        // A syntax error inside `operations` is the full level's to find.
        let broken = REALISTIC.replace(
            "migrations.RunPython(forwards, migrations.RunPython.noop),",
            "migrations.RunPython(forwards,, noop),",
        );
        assert_ne!(broken, REALISTIC);
        let err = parse(broken.as_bytes()).unwrap_err();
        assert_eq!(err.line, 39, "{err}");
        let graph = parse_with(broken.as_bytes(), Detail::Graph).unwrap();
        assert_eq!(graph.dependencies, parse_str(REALISTIC).dependencies);

        // What must reach the parser still does: unterminated strings and brackets, conflict
        // markers, NUL bytes, and anything outside the lists.
        for (from, to) in [
            ("upload_to=\"avatars/\"", "upload_to=\"avatars/"),
            ("name=\"avatar\",", "name=(\"avatar\","),
            ("name=\"avatar\",", "name=\"avatar\"],"),
            (
                "        migrations.AddField(",
                "<<<<<<< HEAD\n        migrations.AddField(",
            ),
            ("name=\"avatar\",", "name=\"avatar\0\","),
            ("initial = True", "initial = = True"),
        ] {
            let source = REALISTIC.replace(from, to);
            assert_ne!(source, REALISTIC);
            let full = parse(source.as_bytes()).unwrap_err();
            let graph = parse_with(source.as_bytes(), Detail::Graph).unwrap_err();
            assert_eq!(full, graph, "{to}");
        }
    }

    #[test]
    fn list_and_tuple_dependencies() {
        let list = "class Migration:\n    dependencies = [('a', '0001'), ['b', '0002']]\n";
        let tuple = "class Migration:\n    dependencies = (('a', '0001'), ('b', '0002'),)\n";
        let bare = "class Migration:\n    dependencies = ('a', '0001'), ('b', '0002')\n";
        for source in [list, tuple, bare] {
            assert_eq!(
                deps(source),
                [pair("a", "0001"), pair("b", "0002")],
                "{source}"
            );
        }
        let m = parse_str(list);
        let ListAttr::Literal { span, line, .. } = &m.dependencies else {
            panic!()
        };
        assert_eq!(
            text(list.as_bytes(), *span),
            "[('a', '0001'), ['b', '0002']]"
        );
        assert_eq!(*line, 2);
        let entry = &m.dependencies.entries()[1];
        assert_eq!(text(list.as_bytes(), entry.span), "['b', '0002']");
        let empty = parse_str("class Migration:\n    dependencies = []\n");
        assert!(
            matches!(empty.dependencies, ListAttr::Literal { ref entries, .. } if entries.is_empty())
        );
    }

    #[test]
    fn quotes_of_every_kind() {
        let source = "class Migration:\n    dependencies = [\n        ('a', \"0001_x\"),\n        (\"\"\"b\"\"\", '''0002_y'''),\n    ]\n";
        let m = parse_str(source);
        assert_eq!(
            pairs(&m.dependencies),
            [pair("a", "0001_x"), pair("b", "0002_y")]
        );
        let (app, name) = literal(&m.dependencies.entries()[1].reference);
        assert_eq!(text(source.as_bytes(), app.span), "\"\"\"b\"\"\"");
        assert_eq!(text(source.as_bytes(), app.content.unwrap()), "b");
        assert_eq!(text(source.as_bytes(), name.content.unwrap()), "0002_y");
        let (_, name) = literal(&m.dependencies.entries()[0].reference);
        assert_eq!(text(source.as_bytes(), name.span), "\"0001_x\"");
    }

    #[test]
    fn trailing_commas_comments_and_continuations() {
        let source = "class Migration(migrations.Migration):\n    dependencies = \\\n        [\n        # ('x', '0009'),\n        ('a', # app\n         '0001'),  # trailing\n        ('b', \\\n'0002'),\n    ]  # done\n";
        let m = parse_str(source);
        assert_eq!(
            pairs(&m.dependencies),
            [pair("a", "0001"), pair("b", "0002")]
        );
        assert_eq!(m.dependencies.entries()[0].line, 5);
        assert_eq!(m.dependencies.entries()[1].line, 7);
        let (_, name) = literal(&m.dependencies.entries()[1].reference);
        assert_eq!(text(source.as_bytes(), name.span), "'0002'");
    }

    #[test]
    fn crlf_spans_slice_the_original_bytes() {
        let source = REALISTIC.replace('\n', "\r\n");
        let m = parse_str(&source);
        let bytes = source.as_bytes();
        let entry = &m.dependencies.entries()[1];
        assert_eq!(entry.line, 21);
        assert_eq!(text(bytes, entry.span), "(\"users\", \"0001_initial\")");
        let (app, name) = literal(&entry.reference);
        assert_eq!(text(bytes, app.span), "\"users\"");
        assert_eq!(text(bytes, name.content.unwrap()), "0001_initial");
        assert_eq!(m.operations.as_deref().unwrap()[1].line, 34);
        assert_spans_valid(bytes, &m);
    }

    #[test]
    fn lone_carriage_returns_end_lines() {
        let source = "class Migration:\r    dependencies = [\r        ('a', '0001'),\r    ]\r";
        let m = parse_str(source);
        assert_eq!(m.dependencies.entries()[0].line, 3);
    }

    #[test]
    fn bom_is_skipped_but_spans_count_it() {
        let source = format!("\u{feff}{REALISTIC}");
        let m = parse_str(&source);
        let (_, name) = literal(&m.dependencies.entries()[1].reference);
        assert_eq!(text(source.as_bytes(), name.span), "\"0001_initial\"");
        assert_eq!(m.class_line, 15);
        let err = parse("\u{feff}x = (\n".as_bytes()).unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn non_ascii_names() {
        let source = "class Migration:\n    dependencies = [(\"café\", \"0002_café\"), ('ünï', '0003_naïve')]\n";
        let m = parse_str(source);
        assert_eq!(
            pairs(&m.dependencies),
            [pair("café", "0002_café"), pair("ünï", "0003_naïve")]
        );
        let (_, name) = literal(&m.dependencies.entries()[1].reference);
        assert_eq!(text(source.as_bytes(), name.content.unwrap()), "0003_naïve");
        assert_spans_valid(source.as_bytes(), &m);
    }

    #[test]
    fn swappable_dependencies() {
        let source = "class Migration:\n    dependencies = [\n        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n        swappable_dependency(settings.OTHER_MODEL),\n        migrations.swappable_dependency(MODEL),\n        ('a', '__first__'),\n    ]\n";
        let m = parse_str(source);
        let refs: Vec<_> = m
            .dependencies
            .entries()
            .iter()
            .map(|e| &e.reference)
            .collect();
        assert_eq!(
            refs[0],
            &Reference::Swappable {
                setting: "AUTH_USER_MODEL".into(),
                default: None,
            }
        );
        assert_eq!(
            refs[1],
            &Reference::Swappable {
                setting: "OTHER_MODEL".into(),
                default: None,
            }
        );
        assert_eq!(
            refs[2],
            &Reference::Unknown {
                text: "migrations.swappable_dependency(MODEL)".into()
            }
        );
        let (app, name) = literal(refs[3]);
        assert_eq!(
            (app.value.as_str(), name.value.as_str()),
            ("a", "__first__")
        );
    }

    #[test]
    fn replaces_run_before_initial() {
        let source = "class Migration:\n    replaces = [('a', '0001'), ('a', '0002')]\n    run_before = [('b', '0003')]\n    initial = False\n";
        let m = parse_str(source);
        assert_eq!(pairs(&m.replaces), [pair("a", "0001"), pair("a", "0002")]);
        assert_eq!(pairs(&m.run_before), [pair("b", "0003")]);
        assert_eq!(m.initial, Some(false));
        assert_eq!(m.dependencies, ListAttr::Absent);
        assert_eq!(m.operations, None);
        let computed = parse_str("class Migration:\n    initial = not False\n");
        assert_eq!(computed.initial, None);
    }

    #[test]
    fn last_assignment_wins_and_annotations_count() {
        let source = "class Migration:\n    dependencies = [('a', '0001')]\n    initial = True\n    dependencies: list = [('b', '0002')]\n    initial = flag\n    replaces: list\n";
        let m = parse_str(source);
        assert_eq!(pairs(&m.dependencies), [pair("b", "0002")]);
        assert_eq!(m.initial, None);
        assert_eq!(m.replaces, ListAttr::Absent);
        let chained = parse_str("class Migration:\n    run_before = replaces = [('a', '1')]\n");
        assert_eq!(pairs(&chained.replaces), [pair("a", "1")]);
        assert_eq!(pairs(&chained.run_before), [pair("a", "1")]);
        let unpacked = parse_str("class Migration:\n    initial, replaces = True, [('a', '1')]\n");
        assert_eq!(unpacked.initial, Some(true));
        assert_eq!(pairs(&unpacked.replaces), [pair("a", "1")]);
    }

    #[test]
    fn the_last_migration_class_counts() {
        let source = "class Migration:\n    initial = True\n\nclass Migration(Base, metaclass=M):\n    initial = False\n";
        let m = parse_str(source);
        assert_eq!(m.initial, Some(false));
        assert_eq!(m.class_line, 4);
    }

    #[test]
    fn escapes_concatenation_and_prefixes() {
        let source = "class Migration:\n    dependencies = [\n        ('a', '0001_\\x61'),\n        ('a', '0002' '_b'),\n        (u'a', r'0003'),\n        ('a', '0004_\\\n'),\n    ]\n";
        let m = parse_str(source);
        let entries = m.dependencies.entries();
        let (_, escaped) = literal(&entries[0].reference);
        assert_eq!(escaped.value, "0001_a");
        assert_eq!(escaped.content, None);
        let (_, joined) = literal(&entries[1].reference);
        assert_eq!(joined.value, "0002_b");
        assert_eq!(joined.content, None);
        assert_eq!(text(source.as_bytes(), joined.span), "'0002' '_b'");
        let (app, raw) = literal(&entries[2].reference);
        assert_eq!(text(source.as_bytes(), app.content.unwrap()), "a");
        assert_eq!(text(source.as_bytes(), raw.content.unwrap()), "0003");
        let (_, continued) = literal(&entries[3].reference);
        assert_eq!(continued.value, "0004_");
        assert_eq!(continued.content, None);
    }

    #[test]
    fn computed_values_are_unknown() {
        let source = "class Migration:\n    dependencies = BASE + [('a', '0001')]\n    run_before = [*OTHERS, ('a', '0002'), ('a', NAME), ('a',), get()]\n    replaces = [x for x in y]\n    operations = OPS\n";
        let m = parse_str(source);
        // `BASE` is bound nowhere: an unknown part beside the literal one.
        assert_eq!(read(&m.dependencies), ["?BASE", "a.0001"]);
        assert!(matches!(m.dependencies, ListAttr::Computed { line: 2, .. }));
        assert_eq!(
            read(&m.run_before),
            ["?*OTHERS", "a.0002", "?('a', NAME)", "?('a',)", "?get()"]
        );
        assert_eq!(
            m.replaces,
            ListAttr::Unknown {
                text: "[x for x in y]".into(),
                line: 4
            }
        );
        assert_eq!(m.operations, None);
        assert_spans_valid(source.as_bytes(), &m);
    }

    /// Each attribute's entries: `app.name` for a literal pair, `?text` for an unknown one,
    /// `$SETTING` (or `$SETTING|default`) for a swappable dependency.
    fn read(attr: &ListAttr) -> Vec<String> {
        attr.entries()
            .iter()
            .map(|entry| match &entry.reference {
                Reference::Literal { app, name } => format!("{}.{}", app.value, name.value),
                Reference::Unknown { text } => format!("?{text}"),
                Reference::Swappable { setting, default } => match default {
                    Some(default) => format!("${setting}|{default}"),
                    None => format!("${setting}"),
                },
            })
            .collect()
    }

    /// The entry whose literal pair names `name`, and the text its name's span covers.
    fn written<'s>(source: &'s str, attr: &ListAttr, name: &str) -> (&'s str, u32) {
        let entry = attr
            .entries()
            .iter()
            .find(|e| matches!(&e.reference, Reference::Literal { name: n, .. } if n.value == name))
            .unwrap_or_else(|| panic!("no entry {name}"));
        let (_, lit) = literal(&entry.reference);
        (text(source.as_bytes(), lit.content.unwrap()), entry.line)
    }

    #[test]
    fn module_level_lists_keep_their_spans() {
        let source = "BASE = [\n    ('a', '0001_base'),\n]\nDEP = ('b', '0002_dep')\n\nclass Migration:\n    dependencies = BASE + [DEP, ('c', '0003')]\n    run_before = BASE\n";
        let m = parse_str(source);
        assert_eq!(
            read(&m.dependencies),
            ["a.0001_base", "b.0002_dep", "c.0003"]
        );
        assert!(matches!(m.dependencies, ListAttr::Computed { line: 7, .. }));
        // Each entry's span is where its literal is written, outside the class.
        assert_eq!(
            written(source, &m.dependencies, "0001_base"),
            ("0001_base", 2)
        );
        assert_eq!(
            written(source, &m.dependencies, "0002_dep"),
            ("0002_dep", 4)
        );
        assert_eq!(written(source, &m.dependencies, "0003"), ("0003", 7));
        // A name bound to an untouched literal is that literal, brackets and all.
        let ListAttr::Literal { span, line, .. } = &m.run_before else {
            panic!("{:?}", m.run_before);
        };
        assert_eq!(
            (text(source.as_bytes(), *span), *line),
            ("[\n    ('a', '0001_base'),\n]", 1)
        );
        assert_spans_valid(source.as_bytes(), &m);
    }

    #[test]
    fn appends_and_extends_under_conditions() {
        let source = "from django.conf import settings\n\nDEPS = [('a', '0001')]\nif settings.USE_B:\n    DEPS.append(('b', '0001'))\nelif settings.USE_C:\n    DEPS.extend([('c', '0001'), ('c', '0002')])\ntry:\n    import d\n    DEPS += [('d', '0001')]\nexcept ImportError:\n    DEPS.insert(0, ('e', '0001'))\n\nclass Migration:\n    dependencies = DEPS\n";
        let m = parse_str(source);
        assert_eq!(
            read(&m.dependencies),
            ["a.0001", "b.0001", "c.0001", "c.0002", "d.0001", "e.0001"]
        );
        assert_spans_valid(source.as_bytes(), &m);
    }

    #[test]
    fn conditionals_are_a_union_of_both_branches() {
        let source = "class Migration:\n    dependencies = [('a', '1')] if settings.X else [('b', '2')]\n    if settings.Y:\n        replaces = [('a', '3')]\n    else:\n        replaces = (('a', '4'),)\n    run_before = OTHER or [('c', '5')]\n";
        let m = parse_str(source);
        assert_eq!(read(&m.dependencies), ["a.1", "b.2"]);
        assert_eq!(read(&m.replaces), ["a.3", "a.4"]);
        assert_eq!(read(&m.run_before), ["?OTHER", "c.5"]);
        // An `if` without `else` may leave the attribute as it was.
        let partial = parse_str(
            "class Migration:\n    dependencies = [('a', '1')]\n    if X:\n        dependencies = [('b', '2')]\n",
        );
        assert_eq!(read(&partial.dependencies), ["a.1", "b.2"]);
        assert_spans_valid(source.as_bytes(), &m);
    }

    #[test]
    fn helpers_leave_an_unknown_part() {
        let source = "class Migration:\n    replaces = [('a', '0001'), ('a', '0002')] + helper('a', 3)\n    dependencies = [('a', '0003')]\n    dependencies += extra()\n";
        let m = parse_str(source);
        assert_eq!(read(&m.replaces), ["a.0001", "a.0002", "?helper('a', 3)"]);
        assert_eq!(m.replaces.unknowns(), [("helper('a', 3)", 2)]);
        assert_eq!(read(&m.dependencies), ["a.0003", "?extra()"]);
        assert!(matches!(m.dependencies, ListAttr::Computed { line: 4, .. }));
        let whole = parse_str("class Migration:\n    dependencies = get_dependencies()\n");
        assert_eq!(whole.dependencies.unknowns(), [("get_dependencies()", 2)]);
    }

    #[test]
    fn lists_are_shared_as_in_python() {
        // The class holds BASE itself, which changes after the class body ran; copies do not.
        let source = "BASE = [('a', '1')]\nclass Migration:\n    dependencies = BASE\n    run_before = list(BASE)\nBASE.append(('b', '2'))\nMigration.replaces = []\nMigration.replaces.append(('c', '3'))\n";
        let m = parse_str(source);
        assert_eq!(read(&m.dependencies), ["a.1", "b.2"]);
        assert_eq!(read(&m.run_before), ["a.1"]);
        // The class body never bound `replaces`; the later assignment is an attribute of the
        // class object, which Django reads too.
        assert_eq!(read(&m.replaces), ["c.3"]);
        // Loops run any number of times; their variables are unknown.
        let looped = parse_str(
            "DEPS = []\nfor app in APPS:\n    DEPS.append((app, '0001_initial'))\nclass Migration:\n    dependencies = DEPS + DEPS\n",
        );
        assert_eq!(read(&looped.dependencies), ["?(app, '0001_initial')"]);
        // A list handed to a function may come back holding anything.
        let handed = parse_str(
            "DEPS = [('a', '1')]\nadd_more(DEPS)\nclass Migration:\n    dependencies = DEPS\n",
        );
        assert_eq!(read(&handed.dependencies), ["a.1", "?add_more(DEPS)"]);
    }

    #[test]
    fn swapper_dependencies_are_swappable() {
        let source = "import swapper\n\nclass Migration:\n    dependencies = [\n        swapper.dependency('openwisp_users', 'Organization'),\n        swapper.dependency(APP, 'Model'),\n        ('a', '0001'),\n    ]\n";
        let m = parse_str(source);
        assert_eq!(
            read(&m.dependencies),
            [
                "$OPENWISP_USERS_ORGANIZATION_MODEL|openwisp_users.Organization",
                "?swapper.dependency(APP, 'Model')",
                "a.0001"
            ]
        );
    }

    #[test]
    fn pep701_fstrings_parse() {
        let source = "def f(x):\n    return f\"{\"a\"}\" + f'{x[\"k\"]:>{\"w\"}}' + f\"{f\"{f\"{x}\"}\"}\"\n\nclass Migration:\n    dependencies = [('a', '0001')]\n";
        assert_eq!(deps(source), [pair("a", "0001")]);
    }

    #[test]
    fn invalid_utf8_is_located() {
        let mut source = b"class Migration:\n    x = 'ab".to_vec();
        source.extend([0xff, b'\'', b'\n']);
        let err = parse(&source).unwrap_err();
        assert_eq!((err.line, err.column), (2, 12));
        assert!(err.message.contains("UTF-8"), "{err}");
        let err = parse("é\n\u{e9}x".as_bytes().split_last().unwrap().1).unwrap_err();
        assert!(
            err.message.contains("syntax") || err.message.contains("Migration"),
            "{err}"
        );
        let err = parse(&[b'a', 0xc3]).unwrap_err();
        assert_eq!((err.line, err.column), (1, 2));
        let err = parse(b"class Migration:\n    x = 'a\x00'\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 11));
        assert!(err.message.contains("NUL"), "{err}");
    }

    #[test]
    fn syntax_errors_are_located() {
        let source = "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    dependencies = [\n        ('a', '0001')\n        ('a', '0002'),\n    ]\n    operations = [\n        migrations.RunSQL('x'\n    ]\n";
        let err = parse(source.as_bytes()).unwrap_err();
        assert_eq!(err.line, 10, "{err}");
        assert!(err.message.starts_with("syntax error"), "{err}");
        assert!(!err.message.contains("conflict"), "{err}");
        let err = parse(b"class Migration:\n    x = 1 +\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 12), "{err}");
    }

    #[test]
    fn conflict_markers_are_named() {
        let source = "class Migration:\n    dependencies = [\n<<<<<<< HEAD\n        ('a', '0004_x'),\n=======\n        ('a', '0004_y'),\n>>>>>>> feature\n    ]\n";
        let err = parse(source.as_bytes()).unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.message.contains("conflict marker"), "{err}");
        let crlf = source.replace('\n', "\r\n").replace("<<<<<<< HEAD\r\n", "");
        let err = parse(crlf.as_bytes()).unwrap_err();
        assert!(
            err.message.contains("line 4 is a git conflict marker"),
            "{err}"
        );
    }

    #[test]
    fn missing_migration_class() {
        for source in [
            "",
            "x = 1\n",
            "def Migration():\n    pass\n",
            "if x:\n    class Migration:\n        pass\n",
        ] {
            let err = parse(source.as_bytes()).unwrap_err();
            assert_eq!((err.line, err.column), (1, 1));
            assert_eq!(err.message, "no `Migration` class");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_crashed() {
        let deep = format!(
            "class Migration:\n    x = {}1{}\n",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let err = parse(deep.as_bytes()).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("nested too deeply"), "{err}");
        let unary = format!("class Migration:\n    x = {}1\n", "-".repeat(100_000));
        assert!(
            parse(unary.as_bytes())
                .unwrap_err()
                .message
                .contains("nested too deeply")
        );
        let moderate = format!(
            "class Migration:\n    x = {}1{}\n    y = {}2\n    dependencies = [('a', '1')]\n",
            "[".repeat(150),
            "]".repeat(150),
            "-".repeat(500)
        );
        assert_eq!(deps(&moderate), [pair("a", "1")]);
        let in_strings = format!(
            "class Migration:\n    x = '{0}' \"{0}\" '''{0}''' f'{{{{{0}' # {0}\n    dependencies = [('a', '1')]\n",
            "(".repeat(5000)
        );
        assert_eq!(deps(&in_strings), [pair("a", "1")]);
    }

    #[test]
    fn large_files() {
        let mut source = String::from(REALISTIC);
        source.push_str("\nDATA = [\n");
        while source.len() < 4_000_000 {
            source.push_str(
                "    {\"id\": -1, \"name\": \"caf\u{e9} (x)\", \"sql\": '''SELECT (1)'''},\n",
            );
        }
        source.push_str("]\n");
        let m = parse_str(&source);
        assert_eq!(m.dependencies.entries().len(), 3);
    }

    fn mutated_source() -> impl Strategy<Value = Vec<u8>> {
        let len = REALISTIC.len();
        prop_oneof![
            (0..=len).prop_map(|cut| REALISTIC.as_bytes()[..cut].to_vec()),
            (0..=len, proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| {
                let mut source = REALISTIC.as_bytes().to_vec();
                source.splice(at..at, bytes);
                source
            }),
            (0..len, 1..16usize).prop_map(move |(at, n)| {
                let mut source = REALISTIC.as_bytes().to_vec();
                source.drain(at..(at + n).min(len));
                source
            }),
            (0..=len, "[()\\[\\]{}'\"#\\\\\n\r fr:=,-]{1,12}").prop_map(|(at, text)| {
                let mut source = REALISTIC.as_bytes().to_vec();
                source.splice(at..at, text.into_bytes());
                source
            }),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(source in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(m) = parse(&source) {
                assert_spans_valid(&source, &m);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(source in "(class Migration:\n    |[\\[\\]()'\",a-z0-9 \n\\\\#=:{}]|\u{e9}|\u{feff}|\r\n){0,80}") {
            if let Ok(m) = parse(source.as_bytes()) {
                assert_spans_valid(source.as_bytes(), &m);
            }
        }

        #[test]
        fn mutations_never_panic(source in mutated_source()) {
            match parse(&source) {
                Ok(m) => assert_spans_valid(&source, &m),
                Err(err) => prop_assert!(err.line >= 1 && err.column >= 1),
            }
        }

        /// The graph level reads what the full level reads, `operations` aside, and refuses
        /// what it refuses, except for an error inside an `operations` list it skipped.
        #[test]
        fn graph_detail_agrees_with_full(source in mutated_source()) {
            // Whether an error of the full level lies in an `operations` list the graph level
            // skipped.
            let skipped = |err: &ParseError| {
                let Ok(text) = std::str::from_utf8(&source) else {
                    return false;
                };
                prescan::prescan(text).operations.iter().any(|range| {
                    let first = position(text, range.start).0;
                    let last = position(text, range.end).0;
                    (first..=last).contains(&err.line)
                })
            };
            match (parse(&source), parse_with(&source, Detail::Graph)) {
                (Ok(full), Ok(graph)) => {
                    prop_assert_eq!(graph, Migration { operations: None, ..full });
                }
                (Err(full), Err(graph)) => {
                    prop_assert!(full == graph || skipped(&full), "{} / {}", full, graph);
                }
                (Ok(_), Err(err)) => prop_assert!(false, "only the graph level refuses: {}", err),
                (Err(err), Ok(_)) => prop_assert!(skipped(&err), "error outside the lists: {}", err),
            }
        }
    }
}
