//! One pass over a module's bytes before the Python parser, with two answers.
//!
//! - How deep the parser's recursion would go: sources nested beyond what a thread's stack can
//!   take are refused. The parser has no depth limit of its own, so a file of a few thousand
//!   brackets or minus signs would otherwise overflow the stack and abort the process (in a git
//!   hook). The estimate errs upward: brackets, f-strings and their replacement fields,
//!   indentation levels, and the operators and postfix forms that nest one node in the next
//!   (`-x`, `not`, `await`, `lambda`, `**`, the ternary `if`, every binary operator but
//!   comparisons and `and`/`or`, which chain flat, each `.attribute`, call and subscript)
//!   since the last comma, semicolon or logical line end. Whatever the parser builds as a loop,
//!   the syntax tree still nests, and dropping or walking it recurses. The limit stays near CPython's own (200 nested brackets, 100 indentation
//!   levels), which no migration comes close to.
//! - Where the `operations = [...]` lists of the module's top-level `Migration` classes lie.
//!   Reading the graph needs every other statement of the class but not those lists, which are
//!   most of a migration's text and of the parser's work: the caller may blank their insides
//!   before parsing. The lists are given only when the whole scan met nothing it cannot vouch
//!   for (an unterminated string, an unbalanced or mismatched bracket, a stray backslash), so
//!   that a blanked list is exactly the bracketed group Python's tokenizer would see.

use std::ops::Range;

/// The bytes of a name, keyword, number or string prefix: one load per byte in the scan's
/// hottest loop, not a chain of range tests.
const IN_WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'_' | 0x80..);
        b += 1;
    }
    table
};

/// A bracket-like level costs the parser several frames, an operator about one.
const LEVEL_COST: u32 = 3;
/// Measured: the parser in a debug build takes this much nesting within a 2 MiB thread stack
/// (rayon's and the test harness's default) with room to spare.
pub(in crate::migration) const LIMIT: u32 = 600;

/// What the scan found.
pub(in crate::migration) struct Prescan {
    /// The byte offset where the source gets nested deeper than the parser can safely take.
    pub too_deep: Option<usize>,
    /// The deepest nesting estimate met (at most a little above [`LIMIT`]): how much stack the
    /// parse needs, in the units of [`LIMIT`].
    pub depth: u32,
    /// The insides (brackets excluded) of the `operations = [...]` or `(...)` lists assigned at
    /// the top level of a `class Migration` body, in source order. Empty whenever the scan
    /// found anything unusual, and when nesting is too deep.
    pub operations: Vec<Range<usize>>,
}

/// The byte offset where the source gets nested deeper than the parser can safely take.
pub(in crate::migration) fn too_deep(text: &str) -> Option<usize> {
    prescan(text).too_deep
}

/// Scans the whole source once; see the module documentation.
pub(in crate::migration) fn prescan(text: &str) -> Prescan {
    let mut scanner = Scanner::new(text.as_bytes());
    let too_deep = scanner.run();
    let trusted = too_deep.is_none() && !scanner.anomaly;
    Prescan {
        too_deep,
        depth: scanner.peak,
        operations: if trusted {
            scanner.operations
        } else {
            Vec::new()
        },
    }
}

#[derive(Clone, Copy)]
enum Frame {
    /// `(`, `[` or `{` in code, with the byte that opened it.
    Bracket { saved: u32, open: u8 },
    /// The literal text of an f-string (or t-string).
    FString {
        saved: u32,
        quote: u8,
        triple: bool,
        raw: bool,
    },
    /// A `{...}` replacement field of an f-string; `spec` once past its top-level `:`.
    Field { saved: u32, spec: bool },
}

impl Frame {
    fn saved(self) -> u32 {
        match self {
            Frame::Bracket { saved, .. }
            | Frame::FString { saved, .. }
            | Frame::Field { saved, .. } => saved,
        }
    }
}

/// How far the current logical line has gone towards `operations = [` in a migration class
/// body, or `class Migration` at the top level. Any other token ends the attempt.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Statement {
    /// Nothing to look for until the next logical line.
    Other,
    /// A line at column 0: `class` may come.
    TopLevel,
    /// `class` at column 0: `Migration` may come.
    ClassKeyword,
    /// A line at the indentation of a migration class body: `operations` may come.
    BodyLine,
    /// `operations` opening a body line: `=` may come.
    OperationsName,
    /// `operations =`: an opening bracket may come.
    OperationsAssigned,
}

/// Where the scan stands with respect to a `class Migration` body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClassBody {
    Outside,
    /// `class Migration` was seen: its body's indentation comes with the next line.
    Expected,
    /// Inside the body, whose statements start at this indentation.
    At(u32),
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    frames: Vec<Frame>,
    /// Open prefix operators at the current level, and their sum over the enclosing levels.
    chain: u32,
    saved_chains: u32,
    indents: Vec<u32>,
    /// Whether the previous token ends an operand, which tells `-x` from `a - x`.
    after_operand: bool,
    statement: Statement,
    class_body: ClassBody,
    /// Where the inside of the `operations` list being scanned starts.
    operations_start: Option<usize>,
    operations: Vec<Range<usize>>,
    /// Something the parser will reject, or that the scan does not model, was seen.
    anomaly: bool,
    /// The deepest estimate met.
    peak: u32,
}

impl<'a> Scanner<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let pos = if bytes.starts_with("\u{feff}".as_bytes()) {
            3
        } else {
            0
        };
        Scanner {
            bytes,
            pos,
            frames: Vec::new(),
            chain: 0,
            saved_chains: 0,
            indents: Vec::new(),
            after_operand: false,
            statement: Statement::Other,
            class_body: ClassBody::Outside,
            operations_start: None,
            operations: Vec::new(),
            anomaly: false,
            peak: 0,
        }
    }

    fn cost(&self) -> u32 {
        let levels = u32::try_from(self.frames.len()).unwrap_or(u32::MAX);
        let indents = u32::try_from(self.indents.len()).unwrap_or(u32::MAX);
        levels
            .saturating_mul(LEVEL_COST)
            .saturating_add(self.saved_chains)
            .saturating_add(self.chain)
            .saturating_add(indents)
    }

    /// Whether the nesting so far is within [`LIMIT`]; records the deepest point.
    fn within_limit(&mut self) -> bool {
        let cost = self.cost();
        self.peak = self.peak.max(cost);
        cost <= LIMIT
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos.saturating_add(ahead)).copied()
    }

    /// Enters a level; `false` when that goes past the limit.
    fn push(&mut self, frame: Frame) -> bool {
        self.saved_chains = self.saved_chains.saturating_add(frame.saved());
        self.chain = 0;
        self.frames.push(frame);
        self.within_limit()
    }

    fn pop(&mut self) {
        if let Some(frame) = self.frames.pop() {
            self.saved_chains = self.saved_chains.saturating_sub(frame.saved());
            self.chain = frame.saved();
        }
    }

    fn prefix_operator(&mut self) -> bool {
        self.chain = self.chain.saturating_add(1);
        self.after_operand = false;
        self.within_limit()
    }

    /// Takes the statement state for a token: whatever it was looking for, the next token
    /// starts from [`Statement::Other`] unless the caller moves it on.
    fn token(&mut self) -> Statement {
        std::mem::replace(&mut self.statement, Statement::Other)
    }

    fn run(&mut self) -> Option<usize> {
        if !self.line_start() {
            return Some(self.pos);
        }
        while self.pos < self.bytes.len() {
            let ok = match self.frames.last().copied() {
                Some(Frame::FString {
                    quote, triple, raw, ..
                }) => self.fstring_text(quote, triple, raw),
                Some(Frame::Field { spec: true, .. }) => self.format_spec(),
                _ => self.code(),
            };
            if !ok {
                return Some(self.pos.min(self.bytes.len()));
            }
        }
        // A bracket or string still open at the end: the parser reports it.
        if !self.frames.is_empty() {
            self.anomaly = true;
        }
        None
    }

    /// Scans one token of code.
    fn code(&mut self) -> bool {
        let Some(byte) = self.peek(0) else {
            return true;
        };
        match byte {
            b' ' | b'\t' | b'\x0c' => {
                let rest = self.bytes.get(self.pos..).unwrap_or_default();
                self.pos += rest
                    .iter()
                    .position(|&b| !matches!(b, b' ' | b'\t' | b'\x0c'))
                    .unwrap_or(rest.len());
            }
            b'\\' => {
                self.pos += 1;
                if matches!(self.peek(0), Some(b'\n' | b'\r')) {
                    self.skip_newline();
                } else {
                    // Only a line break may follow a backslash in code.
                    self.anomaly = true;
                }
            }
            b'\n' | b'\r' => {
                self.skip_newline();
                // Inside brackets too: a list cut by a merge conflict must reach the parser,
                // whose error names the marker.
                if self.at_conflict_marker() {
                    self.anomaly = true;
                }
                if self.frames.is_empty() {
                    self.chain = 0;
                    self.after_operand = false;
                    return self.line_start();
                }
            }
            b'#' => {
                let rest = self.bytes.get(self.pos..).unwrap_or_default();
                self.pos += rest
                    .iter()
                    .position(|&b| matches!(b, b'\n' | b'\r'))
                    .unwrap_or(rest.len());
            }
            b'\'' | b'"' => {
                self.token();
                return self.string(byte, b"");
            }
            b'(' | b'[' | b'{' => {
                self.pos += 1;
                // A call or a subscript nests what came before it inside a new node, as
                // `f()()()` or `x[0][0]` does with each pair.
                if self.after_operand && byte != b'{' {
                    self.chain = self.chain.saturating_add(1);
                }
                self.after_operand = false;
                if self.token() == Statement::OperationsAssigned && byte != b'{' {
                    self.operations_start = Some(self.pos);
                }
                return self.push(Frame::Bracket {
                    saved: self.chain,
                    open: byte,
                });
            }
            b')' | b']' | b'}' => {
                self.token();
                self.close(byte);
            }
            b'=' => {
                self.pos += 1;
                self.after_operand = false;
                let assigns = self.peek(0) != Some(b'=');
                if self.token() == Statement::OperationsName && assigns {
                    self.statement = Statement::OperationsAssigned;
                }
                if !assigns {
                    self.pos += 1;
                }
            }
            b',' | b';' => {
                self.token();
                self.pos += 1;
                self.chain = 0;
                self.after_operand = false;
            }
            b':' => {
                self.token();
                self.pos += 1;
                self.after_operand = false;
                if let Some(Frame::Field { spec, .. }) = self.frames.last_mut() {
                    *spec = true;
                }
            }
            b'-' | b'+' | b'~' | b'*' => {
                self.token();
                self.pos += 1;
                if byte == b'*' && self.peek(0) == Some(b'*') {
                    // `a ** b` recurses to the right, `**kwargs` unpacks: either way one more.
                    self.pos += 1;
                    return self.prefix_operator();
                }
                if self.peek(0) == Some(b'=') || (byte == b'-' && self.peek(0) == Some(b'>')) {
                    self.pos += 1;
                    self.after_operand = false;
                } else {
                    // Prefix (`-x`) or binary (`a - x`): either way one more node around what
                    // follows, since a chain of binary operators nests to the left.
                    return self.prefix_operator();
                }
            }
            b'/' | b'%' | b'@' | b'&' | b'|' | b'^' | b'<' | b'>' => {
                self.token();
                let binary = self.after_operand;
                self.pos += 1;
                let doubled = matches!(byte, b'/' | b'<' | b'>') && self.peek(0) == Some(byte);
                if doubled {
                    self.pos += 1;
                }
                self.after_operand = false;
                if self.peek(0) == Some(b'=') {
                    // An augmented assignment, `<=` or `>=`.
                    self.pos += 1;
                } else if binary && (doubled || !matches!(byte, b'<' | b'>')) {
                    // Comparisons chain flat (`a < b < c` is one node); the others nest.
                    return self.prefix_operator();
                }
            }
            b'.' => {
                self.token();
                self.pos += 1;
                // `a.b.c` nests one attribute node per dot.
                let attribute = self.after_operand;
                self.after_operand = true;
                if attribute {
                    self.chain = self.chain.saturating_add(1);
                    return self.within_limit();
                }
            }
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'_' | 0x80.. => return self.word(),
            _ => {
                self.token();
                self.pos += 1;
                self.after_operand = false;
            }
        }
        true
    }

    /// Whether a git conflict marker (`<<<<<<<`, `|||||||`, `=======`, `>>>>>>>`) starts here.
    fn at_conflict_marker(&self) -> bool {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        match rest.first() {
            Some(&first @ (b'<' | b'|' | b'=' | b'>')) => rest
                .get(..7)
                .is_some_and(|marker| marker.iter().all(|&b| b == first)),
            _ => false,
        }
    }

    /// A closing bracket under the cursor.
    fn close(&mut self, byte: u8) {
        self.pos += 1;
        self.after_operand = true;
        match self.frames.last().copied() {
            Some(Frame::Bracket { open, .. }) => {
                if closer(open) != byte {
                    self.anomaly = true;
                }
                self.pop();
                if self.frames.is_empty()
                    && let Some(start) = self.operations_start.take()
                {
                    self.operations.push(start..self.pos - 1);
                }
            }
            Some(Frame::Field { .. }) if byte == b'}' => self.pop(),
            // Unbalanced: the parser reports it.
            _ => self.anomaly = true,
        }
    }

    /// A name, keyword, number, or a string's prefix.
    fn word(&mut self) -> bool {
        let start = self.pos;
        // Names are most of a migration's bytes: one search over the slice, not a bounds-checked
        // step per byte.
        let rest = self.bytes.get(start..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| !IN_WORD[usize::from(b)])
            .unwrap_or(rest.len());
        self.pos += len;
        let word = rest.get(..len).unwrap_or_default();
        let statement = self.token();
        if let Some(quote @ (b'\'' | b'"')) = self.peek(0)
            && is_string_prefix(word)
        {
            return self.string(quote, word);
        }
        self.statement = match (statement, word) {
            (Statement::TopLevel, b"class") => Statement::ClassKeyword,
            (Statement::ClassKeyword, b"Migration") => {
                self.class_body = ClassBody::Expected;
                Statement::Other
            }
            (Statement::BodyLine, b"operations") => Statement::OperationsName,
            _ => Statement::Other,
        };
        let after_operand = self.after_operand;
        self.after_operand = true;
        match word {
            b"lambda" | b"await" => self.prefix_operator(),
            // `not` after an operand is `not in`; `if` after one is a conditional expression.
            b"not" if !after_operand => self.prefix_operator(),
            b"if" if after_operand => self.prefix_operator(),
            b"and" | b"or" | b"in" | b"is" | b"not" | b"if" | b"elif" | b"else" | b"return"
            | b"yield" | b"while" | b"for" | b"assert" | b"del" | b"raise" | b"from"
            | b"import" | b"with" | b"as" => {
                self.after_operand = false;
                true
            }
            _ => true,
        }
    }

    /// A string literal starting at the quote under the cursor.
    fn string(&mut self, quote: u8, prefix: &[u8]) -> bool {
        let has = |c: u8| prefix.iter().any(|b| b.eq_ignore_ascii_case(&c));
        let raw = has(b'r');
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        if has(b'f') || has(b't') {
            return self.push(Frame::FString {
                saved: self.chain,
                quote,
                triple,
                raw,
            });
        }
        loop {
            // Most of a string is plain text: jump to the next byte that matters.
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            let plain = rest
                .iter()
                .position(|&b| b == quote || matches!(b, b'\\' | b'\n' | b'\r'))
                .unwrap_or(rest.len());
            self.pos += plain;
            match self.peek(0) {
                None => {
                    // Unterminated: the parser reports it.
                    self.anomaly = true;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.skip_escaped();
                }
                Some(b'\n' | b'\r') if !triple => {
                    self.anomaly = true;
                    break;
                }
                Some(b) if b == quote && self.closes(quote, triple) => {
                    self.pos += if triple { 3 } else { 1 };
                    break;
                }
                Some(_) => self.pos += 1,
            }
        }
        self.after_operand = true;
        true
    }

    fn closes(&self, quote: u8, triple: bool) -> bool {
        !triple || self.peek(1) == Some(quote) && self.peek(2) == Some(quote)
    }

    /// Scans the literal text of an f-string up to a replacement field or its end.
    fn fstring_text(&mut self, quote: u8, triple: bool, raw: bool) -> bool {
        loop {
            match self.peek(0) {
                None => return true,
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek(0) {
                        // `\N{NAME}` is an escape, not a field.
                        Some(b'N') if !raw && self.peek(1) == Some(b'{') => {
                            while !matches!(self.peek(0), None | Some(b'}' | b'\n')) {
                                self.pos += 1;
                            }
                        }
                        // A backslash does not escape a brace.
                        Some(b'{' | b'}') | None => {}
                        Some(_) => self.skip_escaped(),
                    }
                }
                Some(b'{') if self.peek(1) == Some(b'{') => self.pos += 2,
                Some(b'}') if self.peek(1) == Some(b'}') => self.pos += 2,
                Some(b'{') => {
                    self.pos += 1;
                    self.after_operand = false;
                    return self.push(Frame::Field {
                        saved: self.chain,
                        spec: false,
                    });
                }
                Some(b'\n' | b'\r') if !triple => {
                    // Unterminated: the parser reports it.
                    self.anomaly = true;
                    self.pop();
                    return true;
                }
                Some(b) if b == quote && self.closes(quote, triple) => {
                    self.pos += if triple { 3 } else { 1 };
                    self.pop();
                    self.after_operand = true;
                    return true;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Scans a format spec (`{x:>{width}}`) up to a nested field or the field's end.
    fn format_spec(&mut self) -> bool {
        loop {
            match self.peek(0) {
                None => return true,
                Some(b'{') => {
                    self.pos += 1;
                    self.after_operand = false;
                    return self.push(Frame::Field {
                        saved: self.chain,
                        spec: false,
                    });
                }
                Some(b'}') => {
                    self.pos += 1;
                    self.pop();
                    return true;
                }
                // The f-string's own quote cannot appear in a spec: it ends the string, so the
                // text scanner takes over and finds the end.
                Some(b'\'' | b'"' | b'\n' | b'\r') => {
                    self.pop();
                    return true;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Skips the character after a backslash, a line break counting as one.
    fn skip_escaped(&mut self) {
        if matches!(self.peek(0), Some(b'\n' | b'\r')) {
            self.skip_newline();
        } else {
            self.pos += 1;
        }
    }

    fn skip_newline(&mut self) {
        if self.peek(0) == Some(b'\r') {
            self.pos += 1;
        }
        if self.peek(0) == Some(b'\n') {
            self.pos += 1;
        }
    }

    /// Measures the indentation of a logical line; `false` when it nests too deep.
    fn line_start(&mut self) -> bool {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let spaces = rest
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b'\x0c'))
            .unwrap_or(rest.len());
        self.pos += spaces;
        let width = u32::try_from(spaces).unwrap_or(u32::MAX);
        if matches!(self.peek(0), None | Some(b'\n' | b'\r' | b'#')) {
            // A blank or comment-only line has no indentation of its own in Python.
            self.statement = Statement::Other;
            return true;
        }
        while self.indents.last().is_some_and(|&top| top > width) {
            self.indents.pop();
        }
        if width > self.indents.last().copied().unwrap_or(0) {
            self.indents.push(width);
        }
        self.statement = self.logical_line(width);
        self.within_limit()
    }

    /// What a logical line starting at indentation `width` may hold, as far as finding
    /// `class Migration` and its `operations` goes.
    fn logical_line(&mut self, width: u32) -> Statement {
        self.class_body = match self.class_body {
            // The first line after `class Migration...:` sets the body's indentation; a
            // one-line class (`class Migration: pass`) has no indented body.
            ClassBody::Expected if width > 0 => ClassBody::At(width),
            ClassBody::At(body) if width >= body => ClassBody::At(body),
            _ => ClassBody::Outside,
        };
        if width == 0 {
            Statement::TopLevel
        } else if self.class_body == ClassBody::At(width) {
            Statement::BodyLine
        } else {
            Statement::Other
        }
    }
}

/// The byte that closes a bracket.
fn closer(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

fn is_string_prefix(word: &[u8]) -> bool {
    const PREFIXES: [&[u8]; 11] = [
        b"r", b"u", b"b", b"f", b"t", b"br", b"rb", b"fr", b"rf", b"tr", b"rt",
    ];
    PREFIXES
        .iter()
        .any(|prefix| prefix.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(prefix: &str, n: usize, suffix: &str) -> String {
        format!("x = {}1{}\n", prefix.repeat(n), suffix.repeat(n))
    }

    #[test]
    fn ordinary_code_passes() {
        assert_eq!(too_deep(super::super::tests::REALISTIC), None);
        assert_eq!(too_deep(""), None);
        assert_eq!(too_deep("\u{feff}x = 1\n"), None);
    }

    #[test]
    fn each_kind_of_nesting_is_caught() {
        for (prefix, suffix) in [
            ("(", ")"),
            ("[", "]"),
            ("{", "}"),
            ("f(", ")"),
            ("-", ""),
            ("not ", ""),
            ("lambda: ", ""),
            ("1 if 1 else ", ""),
            ("1 ** ", ""),
            ("await ", ""),
        ] {
            assert_eq!(too_deep(&deep(prefix, 150, suffix)), None, "{prefix} 150");
            let bracket = !suffix.is_empty();
            assert_eq!(
                too_deep(&deep(prefix, 250, suffix)).is_some(),
                bracket,
                "{prefix} 250"
            );
            assert!(
                too_deep(&deep(prefix, 1000, suffix)).is_some(),
                "{prefix} 1000"
            );
        }
        let mut fstring = String::from("1");
        for _ in 0..200 {
            fstring = format!("f\"{{{fstring}}}\"");
        }
        assert!(too_deep(&format!("x = {fstring}\n")).is_some());
        let mut blocks = String::new();
        for level in 0..700 {
            blocks.push_str(&format!("{}if x:\n", " ".repeat(level)));
        }
        assert!(too_deep(&blocks).is_some());
    }

    #[test]
    fn flat_repetition_is_not_nesting() {
        let long_list = format!("x = [{}]\n", "-1, (2), not a, b - -c, ".repeat(10_000));
        assert_eq!(too_deep(&long_list), None);
        let many_lines = "if x:\n    y = -(-(1))\n".repeat(10_000);
        assert_eq!(too_deep(&many_lines), None);
        let items = format!("x = [{}]\n", "a.b.c(d)[e] - f * g, ".repeat(10_000));
        assert_eq!(too_deep(&items), None);
        // Comparisons and boolean operators are one node however long the chain.
        let flat = format!("x = 1{}\n", " < a and b or c <= d".repeat(10_000));
        assert_eq!(too_deep(&flat), None);
        let dedented = (0..1000)
            .map(|i| format!("{}x = 1\n", if i % 2 == 0 { "" } else { "    " }))
            .collect::<String>();
        assert_eq!(too_deep(&format!("if x:\n{dedented}")), None);
    }

    #[test]
    fn chains_that_nest_in_the_syntax_tree_are_caught() {
        let chain = |head: &str, link: &str, n: usize| format!("x = {head}{}\n", link.repeat(n));
        for (head, link) in [
            ("a", ".b"),
            ("f", "()"),
            ("f", "(1)"),
            ("x", "[0]"),
            ("1", " + 1"),
            ("1", "-1"),
            ("1", " * 1"),
            ("1", " / 1"),
            ("1", " // 1"),
            ("1", " % 1"),
            ("a", " @ a"),
            ("1", " & 1"),
            ("1", " | 1"),
            ("1", " ^ 1"),
            ("1", " << 1"),
            ("1", " >> 1"),
            ("'a'", ".join(x)"),
        ] {
            assert_eq!(too_deep(&chain(head, link, 150)), None, "{head}{link} 150");
            for n in [1000, 50_000, 100_000] {
                assert!(
                    too_deep(&chain(head, link, n)).is_some(),
                    "{head}{link} {n}"
                );
            }
        }
        // A comma starts a new element: long lists of short chains are fine.
        assert_eq!(
            too_deep(&format!("x = [{}]\n", "a.b + 1, ".repeat(50_000))),
            None
        );
    }

    /// The texts of the `operations` lists the prescan gives.
    fn operations(source: &str) -> Vec<&str> {
        prescan(source)
            .operations
            .into_iter()
            .map(|range| &source[range])
            .collect()
    }

    #[test]
    fn operations_lists_of_migration_classes_are_found() {
        let realistic = super::super::tests::REALISTIC;
        let found = operations(realistic);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("\n        migrations.CreateModel("));
        assert!(found[0].ends_with("migrations.RunPython.noop),\n    "));

        let source = "class Migration(migrations.Migration):\n    \"\"\"Doc.\"\"\"\n\n    # ops\n    operations = ( 1, [2] )\n    x = 1\nclass Migration:\n\tdependencies = []\n\toperations=[3]\n";
        assert_eq!(operations(source), [" 1, [2] ", "3"]);
        let crlf = "class Migration:\r\n    operations = [\r\n        'x',\r\n    ]\r\n";
        assert_eq!(operations(crlf), ["\r\n        'x',\r\n    "]);
        let bom = "\u{feff}class Migration:\n    operations = [1]\n";
        assert_eq!(operations(bom), ["1"]);
    }

    #[test]
    fn other_operations_are_left_alone() {
        for source in [
            // Not the class body's own statement.
            "class Migration:\n    def f(self):\n        operations = [1]\n",
            "class Migration:\n    if x:\n        operations = [1]\n",
            "class Other:\n    operations = [1]\n",
            "if x:\n    class Migration:\n        operations = [1]\n",
            "operations = [1]\n",
            "class Migration: operations = [1]\n",
            "class Migration:\n    pass\noperations = [1]\n",
            "class MigrationBase:\n    operations = [1]\n",
            // Not a plain assignment of a list or tuple display.
            "class Migration:\n    operations == [1]\n",
            "class Migration:\n    operations: list = [1]\n",
            "class Migration:\n    operations += [1]\n",
            "class Migration:\n    operations = list([1])\n",
            "class Migration:\n    operations = {1}\n",
            "class Migration:\n    x = operations = [1]\n",
            "class Migration:\n    operations.x = [1]\n",
        ] {
            assert_eq!(operations(source), Vec::<&str>::new(), "{source}");
        }
    }

    #[test]
    fn anything_unusual_gives_no_lists() {
        for source in [
            "class Migration:\n    operations = [1)\n",
            "class Migration:\n    operations = [1]]\n",
            "class Migration:\n    operations = [1\n",
            "class Migration:\n    operations = ['x\n    ]\n",
            "class Migration:\n    operations = [1]\nx = '''\n",
            "class Migration:\n    operations = [1]\nx = f'{1\n",
            "class Migration:\n    operations = [1 \\ 2]\n",
            "class Migration:\n    operations = [f'{1)}']\n",
            "class Migration:\n    operations = [\n<<<<<<< HEAD\n1,\n=======\n2,\n>>>>>>> x\n]\n",
        ] {
            assert_eq!(operations(source), Vec::<&str>::new(), "{source}");
        }
        let deep = format!(
            "class Migration:\n    operations = [1]\nx = {}\n",
            "(".repeat(1000)
        );
        assert!(prescan(&deep).operations.is_empty());
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let opens = "(".repeat(1000);
        for source in [
            format!("x = '{opens}'\n"),
            format!("x = \"{opens}\"\n"),
            format!("x = '''\n{opens}\n'''\n"),
            format!("x = r'\\'{opens}'\n"),
            format!("x = b'{opens}'\n"),
            format!("# {opens}\nx = 1\n"),
            format!("x = f'{{{{{opens}}}}}'\n"),
            format!("x = f'{{a!r:{opens}}}'\n"),
            format!("x = f'{{\"{opens}\"}}'\n"),
            format!("x = f'\\N{{DASH}}{opens}'\n"),
            format!("x = 'a\\\r\n{opens}'\n"),
        ] {
            assert_eq!(too_deep(&source), None, "{source}");
        }
    }
}
