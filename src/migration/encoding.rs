//! A Python source file's encoding, read as Python reads it (PEP 263): UTF-8 unless a
//! `coding:` declaration on line 1 or 2 names another; a UTF-8 byte order mark allows no other.
//!
//! Decoding gives the UTF-8 text the parser reads, and a map from offsets in that text back to
//! offsets in the file's own bytes, so that every span handed to the edit engine indexes the
//! file as it is on disk. Edits are encoded back into the file's encoding: a file keeps its
//! encoding, and every byte outside the edited ranges.
//!
//! The single-byte encodings Django projects meet (Latin-1 and Windows-1252, under their
//! Python names and aliases) are decoded; ASCII is UTF-8 restricted to ASCII. Any other codec
//! is refused with an error naming it, never guessed.

use std::borrow::Cow;

/// An encoding a migration file may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, the default (with or without a byte order mark).
    Utf8,
    /// ASCII: UTF-8 with no byte above 0x7F.
    Ascii,
    /// ISO-8859-1: each byte is the code point of the same value.
    Latin1,
    /// Windows-1252: Latin-1 with printable characters in 0x80..=0x9F (five bytes undefined).
    Cp1252,
}

/// Why a file's bytes are not text in its declared encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodingError {
    /// The byte offset the problem is at (in the file's bytes).
    pub offset: usize,
    pub message: String,
}

/// A file's text, decoded.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// UTF-8 text; borrowed when the file is UTF-8 already (byte order mark included).
    pub text: Cow<'a, str>,
    pub encoding: Encoding,
    /// For a transcoded file: the text offset of each character that takes more bytes in the
    /// text than in the file, with the extra bytes of that character and all before it.
    widened: Vec<(u32, u32)>,
}

impl Decoded<'_> {
    /// The offset in the file's bytes of `offset` in [`Decoded::text`] (a character boundary).
    pub fn original_offset(&self, offset: u32) -> u32 {
        // Characters starting before `offset` are wholly before it.
        let before = self.widened.partition_point(|&(at, _)| at < offset);
        match before.checked_sub(1).and_then(|i| self.widened.get(i)) {
            Some(&(_, extra)) => offset - extra,
            None => offset,
        }
    }

    /// Whether offsets in the text differ from offsets in the file.
    pub fn is_transcoded(&self) -> bool {
        !self.widened.is_empty()
    }
}

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Decodes a Python source file as Python would.
pub fn decode(source: &[u8]) -> Result<Decoded<'_>, EncodingError> {
    let encoding = declared(source)?;
    match encoding {
        Encoding::Utf8 | Encoding::Ascii => {
            let text = std::str::from_utf8(source).map_err(|err| {
                let offset = err.valid_up_to();
                let byte = source.get(offset).copied().unwrap_or_default();
                EncodingError {
                    offset,
                    message: format!(
                        "invalid UTF-8 (byte 0x{byte:02X}); the file declares no other encoding \
                         (PEP 263), so Python reads it as UTF-8"
                    ),
                }
            })?;
            if encoding == Encoding::Ascii
                && let Some(offset) = text.bytes().position(|b| !b.is_ascii())
            {
                return Err(EncodingError {
                    offset,
                    message: "a byte above 0x7F in a file declared ASCII".to_owned(),
                });
            }
            Ok(Decoded {
                text: Cow::Borrowed(text),
                encoding,
                widened: Vec::new(),
            })
        }
        Encoding::Latin1 | Encoding::Cp1252 => {
            let mut text = String::with_capacity(source.len());
            let mut widened = Vec::new();
            let mut extra = 0u32;
            for (offset, &byte) in source.iter().enumerate() {
                let c = decode_byte(byte, encoding).ok_or_else(|| EncodingError {
                    offset,
                    message: format!("byte 0x{byte:02X} has no character in cp1252"),
                })?;
                let at = u32::try_from(text.len()).unwrap_or(u32::MAX);
                text.push(c);
                let width = u32::try_from(c.len_utf8()).unwrap_or(1);
                if width > 1 {
                    extra += width - 1;
                    widened.push((at, extra));
                }
            }
            Ok(Decoded {
                text: Cow::Owned(text),
                encoding,
                widened,
            })
        }
    }
}

/// The encoding of a file's bytes: its declaration, or UTF-8.
pub fn declared(source: &[u8]) -> Result<Encoding, EncodingError> {
    let bom = source.starts_with(BOM);
    let mut lines = source.split_inclusive(|&b| b == b'\n');
    let mut offset = 0;
    let mut found = None;
    for index in 0..2 {
        let Some(line) = lines.next() else { break };
        let line_text = if index == 0 && bom {
            &line[BOM.len()..]
        } else {
            line
        };
        if let Some(name) = cookie(line_text) {
            found = Some((name, offset));
            break;
        }
        // Python looks at line 2 only when line 1 holds nothing but a comment.
        if !is_blank_or_comment(line_text) {
            break;
        }
        offset += line.len();
    }
    let Some((name, offset)) = found else {
        return Ok(Encoding::Utf8);
    };
    let encoding = by_name(&name).ok_or_else(|| EncodingError {
        offset,
        message: format!(
            "the coding declaration names `{name}`, an encoding migmerge does not read \
             (UTF-8, ASCII, Latin-1 and cp1252 it does)"
        ),
    })?;
    if bom && encoding != Encoding::Utf8 {
        return Err(EncodingError {
            offset,
            message: format!(
                "a UTF-8 byte order mark and a coding declaration of `{name}`: Python refuses \
                 the file"
            ),
        });
    }
    Ok(encoding)
}

/// The name in a `coding[:=]` declaration on a comment line, as Python's tokenizer finds it.
fn cookie(line: &[u8]) -> Option<String> {
    let start = line
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\x0c'))?;
    let comment = line.get(start..)?;
    if comment.first() != Some(&b'#') {
        return None;
    }
    let at = comment
        .windows(7)
        .position(|w| w.starts_with(b"coding") && matches!(w[6], b':' | b'='))?;
    let rest = &comment[at + 7..];
    let rest = &rest[rest
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count()..];
    let len = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        .count();
    (len > 0).then(|| String::from_utf8_lossy(&rest[..len]).into_owned())
}

fn is_blank_or_comment(line: &[u8]) -> bool {
    line.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\x0c' | b'\r' | b'\n'))
        .is_none_or(|&b| b == b'#')
}

/// The encoding a codec name stands for, with Python's normalisation (case, `_` for `-`) and
/// the aliases of its `codecs` module for these encodings.
fn by_name(name: &str) -> Option<Encoding> {
    let name = name.to_ascii_lowercase().replace('_', "-");
    let name = name.as_str();
    // Python's own shortcut: `utf-8-*` and `latin-1-*` / `iso-8859-1-*` are those codecs.
    if name == "utf-8" || name.starts_with("utf-8-") {
        return Some(Encoding::Utf8);
    }
    if ["latin-1", "iso-8859-1", "iso-latin-1"]
        .iter()
        .any(|n| name == *n || name.strip_prefix(n).is_some_and(|r| r.starts_with('-')))
    {
        return Some(Encoding::Latin1);
    }
    match name {
        "utf8" | "u8" | "utf" | "cp65001" => Some(Encoding::Utf8),
        "ascii" | "us-ascii" | "us" | "646" | "ansi-x3.4-1968" | "iso646-us" => {
            Some(Encoding::Ascii)
        }
        "latin1" | "latin" | "l1" | "iso8859-1" | "iso8859" | "8859" | "cp819" | "ibm819"
        | "iso-ir-100" | "csisolatin1" => Some(Encoding::Latin1),
        "cp1252" | "windows-1252" | "1252" => Some(Encoding::Cp1252),
        _ => None,
    }
}

/// Windows-1252's characters for 0x80..=0x9F; `None` for its undefined bytes.
const CP1252_HIGH: [Option<char>; 32] = [
    Some('\u{20AC}'),
    None,
    Some('\u{201A}'),
    Some('\u{0192}'),
    Some('\u{201E}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{02C6}'),
    Some('\u{2030}'),
    Some('\u{0160}'),
    Some('\u{2039}'),
    Some('\u{0152}'),
    None,
    Some('\u{017D}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{02DC}'),
    Some('\u{2122}'),
    Some('\u{0161}'),
    Some('\u{203A}'),
    Some('\u{0153}'),
    None,
    Some('\u{017E}'),
    Some('\u{0178}'),
];

fn decode_byte(byte: u8, encoding: Encoding) -> Option<char> {
    match (encoding, byte) {
        (Encoding::Cp1252, 0x80..=0x9F) => CP1252_HIGH[usize::from(byte - 0x80)],
        _ => Some(char::from(byte)),
    }
}

/// `text` in `encoding`; `None` when a character has no byte there.
pub fn encode(text: &str, encoding: Encoding) -> Option<Cow<'_, [u8]>> {
    match encoding {
        Encoding::Utf8 => Some(Cow::Borrowed(text.as_bytes())),
        Encoding::Ascii => text.is_ascii().then_some(Cow::Borrowed(text.as_bytes())),
        Encoding::Latin1 | Encoding::Cp1252 if text.is_ascii() => {
            Some(Cow::Borrowed(text.as_bytes()))
        }
        Encoding::Latin1 | Encoding::Cp1252 => text
            .chars()
            .map(|c| encode_char(c, encoding))
            .collect::<Option<Vec<u8>>>()
            .map(Cow::Owned),
    }
}

fn encode_char(c: char, encoding: Encoding) -> Option<u8> {
    if encoding == Encoding::Cp1252
        && let Some(i) = CP1252_HIGH.iter().position(|&h| h == Some(c))
    {
        return u8::try_from(i + 0x80).ok();
    }
    let byte = u8::try_from(u32::from(c)).ok()?;
    // In cp1252, 0x80..=0x9F are the characters above, not the C1 controls.
    (encoding == Encoding::Latin1 || !(0x80..=0x9F).contains(&byte)).then_some(byte)
}

/// Whether `encoding` has one byte per character, so that every offset is a boundary.
pub fn is_single_byte(encoding: Encoding) -> bool {
    matches!(
        encoding,
        Encoding::Latin1 | Encoding::Cp1252 | Encoding::Ascii
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_found_where_python_looks() {
        let enc = |s: &[u8]| declared(s).map_err(|e| e.message);
        assert_eq!(enc(b"x = 1\n"), Ok(Encoding::Utf8));
        assert_eq!(enc(b"# -*- coding: latin-1 -*-\n"), Ok(Encoding::Latin1));
        assert_eq!(
            enc(b"#!/usr/bin/env python\n# coding=cp1252\n"),
            Ok(Encoding::Cp1252)
        );
        assert_eq!(
            enc(b"# vim: set fileencoding=iso-8859-1 :\n"),
            Ok(Encoding::Latin1)
        );
        assert_eq!(enc(b"\n# coding: latin1\n"), Ok(Encoding::Latin1));
        assert_eq!(enc(b"  # coding: ISO_8859_1\r\n"), Ok(Encoding::Latin1));
        assert_eq!(enc(b"# coding: utf-8\n"), Ok(Encoding::Utf8));
        assert_eq!(enc(b"# coding: UTF8\n"), Ok(Encoding::Utf8));
        assert_eq!(enc(b"# coding: windows-1252\n"), Ok(Encoding::Cp1252));
        assert_eq!(enc(b"# coding: ascii\n"), Ok(Encoding::Ascii));
        // Not a comment, or too late: not a declaration.
        assert_eq!(enc(b"x = '# coding: latin-1'\n"), Ok(Encoding::Utf8));
        assert_eq!(enc(b"x = 1\n# coding: latin-1\n"), Ok(Encoding::Utf8));
        assert_eq!(enc(b"#\n#\n# coding: latin-1\n"), Ok(Encoding::Utf8));
        assert_eq!(enc(b"# coding latin-1\n"), Ok(Encoding::Utf8));
        // A byte order mark allows UTF-8 alone.
        assert_eq!(enc(b"\xef\xbb\xbf# coding: utf-8\n"), Ok(Encoding::Utf8));
        assert!(
            enc(b"\xef\xbb\xbf# coding: latin-1\n")
                .unwrap_err()
                .contains("byte order")
        );
        let unknown = enc(b"#\n# coding: euc-jp\n").unwrap_err();
        assert!(unknown.contains("`euc-jp`"), "{unknown}");
        assert_eq!(declared(b"#\n# coding: euc-jp\n").unwrap_err().offset, 2);
    }

    #[test]
    fn single_byte_text_maps_offsets_back() {
        let source = b"# coding: latin-1\nx = '\xe9t\xe9'  # caf\xe9\ny = 'z'\n";
        let decoded = decode(source).unwrap();
        assert_eq!(decoded.encoding, Encoding::Latin1);
        assert!(decoded.text.contains("'été'  # café"));
        let text = decoded.text.as_ref();
        for (needle, original) in [("x =", &b"x ="[..]), ("'z'", b"'z'"), ("t", b"t")] {
            let at = text.find(needle).unwrap();
            let back = decoded.original_offset(u32::try_from(at).unwrap()) as usize;
            assert_eq!(&source[back..back + original.len()], original, "{needle}");
        }
        assert_eq!(decoded.original_offset(0), 0);
        let end = u32::try_from(text.len()).unwrap();
        assert_eq!(decoded.original_offset(end) as usize, source.len());
    }

    #[test]
    fn cp1252_has_its_own_characters_and_holes() {
        let decoded = decode(b"# coding: cp1252\nx = '\x80\x96'\n").unwrap();
        assert!(decoded.text.contains("'\u{20AC}\u{2013}'"));
        let err = decode(b"# coding: cp1252\nx = '\x81'\n").unwrap_err();
        assert_eq!(err.offset, 22);
        assert_eq!(
            encode("\u{20AC}é", Encoding::Cp1252).as_deref(),
            Some(&b"\x80\xe9"[..])
        );
        assert_eq!(encode("\u{20AC}", Encoding::Latin1), None);
        assert_eq!(encode("\u{80}", Encoding::Cp1252), None);
        assert_eq!(encode("é", Encoding::Latin1).as_deref(), Some(&b"\xe9"[..]));
        assert_eq!(encode("é", Encoding::Ascii), None);
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255u8).collect();
        let mut latin = b"# coding: latin-1\n".to_vec();
        latin.extend(&all);
        let decoded = decode(&latin).unwrap();
        assert_eq!(
            encode(&decoded.text, Encoding::Latin1).as_deref(),
            Some(&latin[..])
        );
        let mut cp = b"# coding: cp1252\n".to_vec();
        cp.extend(
            all.iter()
                .filter(|b| ![0x81, 0x8D, 0x8F, 0x90, 0x9D].contains(*b)),
        );
        let decoded = decode(&cp).unwrap();
        assert_eq!(
            encode(&decoded.text, Encoding::Cp1252).as_deref(),
            Some(&cp[..])
        );
    }

    #[test]
    fn utf8_is_checked_and_borrowed() {
        let decoded = decode("x = 'é'\n".as_bytes()).unwrap();
        assert!(matches!(decoded.text, Cow::Borrowed(_)));
        assert!(!decoded.is_transcoded());
        let err = decode(b"x = '\xe9'\n").unwrap_err();
        assert_eq!(err.offset, 5);
        assert!(err.message.contains("UTF-8"), "{}", err.message);
        assert!(decode(b"# coding: ascii\nx = '\xc3\xa9'\n").is_err());
    }
}
