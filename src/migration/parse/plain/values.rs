//! The values an `operations` list of the plain form holds, read into a small tree: the
//! operation calls and the arguments `makemigrations` writes for them.
//!
//! The grammar is a strict subset of Python's expressions: plain strings (no prefix, a few
//! simple escapes), decimal integers and floats (a minus sign in front allowed), `True`,
//! `False`, `None`, dotted names, calls of dotted names with positional then keyword
//! arguments, lists, tuples, dicts and sets of these, with spaces, line breaks and comments
//! between the tokens, trailing commas, parentheses around a value and strings side by side.
//! Anything else (another operator, `*args`, a string prefix, a repeated keyword, nesting
//! deeper than [`MAX_DEPTH`]) gives up, so that what is read is what Python, and the syntax tree
//! path, read.

use std::ops::Range;

use super::{Reader, StringSyntax, is_keyword, scan_string};

/// Deeper values give up: the prescan bounds nesting already, this keeps the reader's own
/// recursion far from any stack's end.
const MAX_DEPTH: u32 = 100;

/// More keyword arguments in one call give up (no constructor `makemigrations` writes takes
/// nearly so many): looking for a repeated one costs the square of their number.
const MAX_KEYWORDS: usize = 64;

/// A value and the bytes it spans, as the syntax tree's range does (a list's or tuple's
/// brackets included, the parentheses around a value not).
pub(super) struct Node<'a> {
    pub start: usize,
    pub end: usize,
    pub kind: Kind<'a>,
}

pub(super) enum Kind<'a> {
    /// A string literal, or several side by side: the value when it is one literal whose text
    /// between the quotes spells it exactly (no escape, no carriage return, which a multi-line
    /// string's value may not keep).
    Str(Option<&'a str>),
    None,
    /// Numbers, `True`, `False`, dotted names, dicts and sets: what no operation reads into.
    Opaque,
    List(Vec<Node<'a>>),
    Tuple(Vec<Node<'a>>),
    Call(Call<'a>),
}

/// A call of a dotted name.
pub(super) struct Call<'a> {
    /// The callee's last dotted part (`CharField` of `models.CharField`).
    pub name: &'a str,
    /// Positional arguments, which all come before the keyword arguments.
    pub positional: Vec<Node<'a>>,
    /// Keyword arguments in the order written, each keyword once.
    pub keywords: Vec<(&'a str, Node<'a>)>,
}

impl<'a> Reader<'a> {
    /// One value under the cursor, `depth` brackets deep.
    pub(super) fn node(&mut self, depth: u32) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let start = self.pos;
        let kind = match self.peek()? {
            b'\'' | b'"' => Kind::Str(self.strings()?),
            b'[' => {
                let (items, _) = self.items(b']', depth)?;
                Kind::List(items)
            }
            b'(' => {
                let (mut items, commas) = self.items(b')', depth)?;
                // `(x)` is `x` in parentheses, which the tree's range for it leaves out.
                if commas == 0 && items.len() == 1 {
                    return items.pop();
                }
                Kind::Tuple(items)
            }
            b'{' => {
                self.braces(depth)?;
                Kind::Opaque
            }
            b'-' => {
                self.pos += 1;
                self.number()?;
                Kind::Opaque
            }
            b'0'..=b'9' => {
                self.number()?;
                Kind::Opaque
            }
            _ => match self.word()? {
                "None" => Kind::None,
                "True" | "False" => Kind::Opaque,
                word if is_keyword(word) => return None,
                _ => {
                    self.pos = start;
                    let dotted = self.dotted()?;
                    if self.peek() == Some(b'(') {
                        Kind::Call(self.arguments(dotted.last, depth)?)
                    } else {
                        Kind::Opaque
                    }
                }
            },
        };
        Some(Node {
            start,
            end: self.pos,
            kind,
        })
    }

    /// The items of a list or tuple, from its opening bracket to `close`, and how many commas
    /// separate them.
    fn items(&mut self, close: u8, depth: u32) -> Option<(Vec<Node<'a>>, usize)> {
        self.pos += 1;
        let mut items = Vec::new();
        let mut commas = 0;
        loop {
            self.gap()?;
            if self.eat(close) {
                break;
            }
            items.push(self.node(depth + 1)?);
            self.gap()?;
            if self.eat(b',') {
                commas += 1;
            } else if self.eat(close) {
                break;
            } else {
                return None;
            }
        }
        Some((items, commas))
    }

    /// A dict (`{key: value, ...}`) or a set (`{item, ...}`), from its opening brace.
    fn braces(&mut self, depth: u32) -> Option<()> {
        self.pos += 1;
        // Whether this is a dict, once the first item tells.
        let mut dict = None;
        loop {
            self.gap()?;
            if self.eat(b'}') {
                return Some(());
            }
            self.node(depth + 1)?;
            self.gap()?;
            let pair = self.peek() == Some(b':');
            if *dict.get_or_insert(pair) != pair {
                return None;
            }
            if pair {
                self.pos += 1;
                self.gap()?;
                self.node(depth + 1)?;
                self.gap()?;
            }
            if !self.eat(b',') {
                self.gap()?;
                return self.eat(b'}').then_some(());
            }
        }
    }

    /// The arguments of a call of `name`, from the opening parenthesis.
    fn arguments(&mut self, name: &'a str, depth: u32) -> Option<Call<'a>> {
        self.pos += 1;
        let mut call = Call {
            name,
            positional: Vec::new(),
            keywords: Vec::new(),
        };
        loop {
            self.gap()?;
            if self.eat(b')') {
                break;
            }
            let keyword = self.keyword_argument()?;
            let value = self.node(depth + 1)?;
            match keyword {
                Some(keyword) => {
                    // Python refuses a repeated keyword argument. Each is compared with those
                    // before it, so a call with very many is left to the tree.
                    if call.keywords.len() >= MAX_KEYWORDS
                        || call.keywords.iter().any(|(k, _)| *k == keyword)
                    {
                        return None;
                    }
                    call.keywords.push((keyword, value));
                }
                // And a positional argument after a keyword one.
                None if call.keywords.is_empty() => call.positional.push(value),
                None => return None,
            }
            self.gap()?;
            if !self.eat(b',') {
                self.gap()?;
                if self.eat(b')') {
                    break;
                }
                return None;
            }
        }
        Some(call)
    }

    /// `name =` under the cursor, which it passes; `Some(None)` (the cursor unmoved) when the
    /// argument is positional.
    fn keyword_argument(&mut self) -> Option<Option<&'a str>> {
        let start = self.pos;
        if let Some(name) = self.name() {
            self.gap()?;
            if self.peek() == Some(b'=') && self.bytes.get(self.pos + 1) != Some(&b'=') {
                self.pos += 1;
                self.gap()?;
                return Some(Some(name));
            }
        }
        self.pos = start;
        Some(None)
    }

    /// A decimal integer (`0`, `42`) or float (`1.5`), without underscores, exponent or suffix.
    fn number(&mut self) -> Option<()> {
        let digits = |reader: &mut Self| {
            let from = reader.pos;
            while reader.peek().is_some_and(|b| b.is_ascii_digit()) {
                reader.pos += 1;
            }
            from..reader.pos
        };
        let whole = digits(self);
        let text = self.bytes.get(whole.clone())?;
        // Python refuses leading zeros in a nonzero decimal integer (`007`).
        if text.is_empty() || (text[0] == b'0' && text.iter().any(|&b| b != b'0')) {
            return None;
        }
        if self.eat(b'.') && digits(self).is_empty() {
            return None;
        }
        match self.peek() {
            Some(b) if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b >= 0x80 => None,
            _ => Some(()),
        }
    }

    /// One string literal, or several side by side (which Python joins into one): the value
    /// when it is one literal whose text spells it.
    fn strings(&mut self) -> Option<Option<&'a str>> {
        let mut value = self.literal()?;
        loop {
            let after = self.pos;
            // Inside brackets, which every value of an `operations` list is, the literals may
            // stand on different lines.
            self.gap()?;
            if !matches!(self.peek(), Some(b'\'' | b'"')) {
                self.pos = after;
                return Some(value);
            }
            self.literal()?;
            value = None;
        }
    }

    /// A string literal without prefix, triple-quoted ones over several lines; its value when
    /// the text between the quotes spells it (see [`Kind::Str`]).
    fn literal(&mut self) -> Option<Option<&'a str>> {
        let syntax = StringSyntax {
            escapes: true,
            multiline: true,
        };
        let scanned = scan_string(self.bytes, self.pos, syntax)?;
        self.pos = scanned.end;
        Some(
            scanned
                .exact
                .then(|| self.text.get(scanned.inside))
                .flatten(),
        )
    }

    /// The source text of `node`.
    pub(super) fn text_of(&self, node: &Node<'_>) -> Option<&'a str> {
        self.text.get(Range {
            start: node.start,
            end: node.end,
        })
    }
}
