//! Surgical rewrites: a change to a file is a list of byte-range edits applied to its original
//! bytes, never a re-print of a syntax tree, so comments, quotes and layout outside the edited
//! ranges survive byte for byte (ruff's idea).
//!
//! Three layers:
//! - [`Edit`] and [`apply`]: one file's bytes and the edits to make to them;
//! - [`Plan`] and [`preview`]: the changes to several files (edits, renames, new files),
//!   computed entirely in memory so they can be shown, re-parsed and checked before anything
//!   is written;
//! - [`write_atomically`]: putting the previewed contents on disk with temp files and renames.
//!
//! [`replace_string_value`] and [`append_to_list`] are the two edits that know Python's
//! trivia: quote styles, escapes, trailing commas and the indentation of a bracketed list.

use std::collections::{BTreeSet, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::migration::encoding::{Encoding, encode, is_single_byte};
use crate::migration::{Span, StrLit};

pub mod journal;

pub use journal::Journal;

/// Replace the bytes of `range` with `replacement`. An empty range is an insertion, an empty
/// replacement a deletion.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Edit {
    pub range: Span,
    pub replacement: String,
}

impl Edit {
    pub fn replacement(range: Span, replacement: impl Into<String>) -> Edit {
        Edit {
            range,
            replacement: replacement.into(),
        }
    }

    pub fn insertion(at: u32, text: impl Into<String>) -> Edit {
        Edit::replacement(Span::new(at, at), text)
    }

    pub fn deletion(range: Span) -> Edit {
        Edit::replacement(range, String::new())
    }
}

/// Why a set of edits cannot be applied to a source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("edit range {start}..{end} ends before it starts")]
    Reversed { start: u32, end: u32 },
    #[error("edit range {start}..{end} lies outside the file ({len} bytes)")]
    OutOfBounds { start: u32, end: u32, len: usize },
    #[error("edit boundary {offset} falls inside a UTF-8 character")]
    NotCharBoundary { offset: u32 },
    #[error("edits {}..{} and {}..{} overlap", .first.start, .first.end, .second.start, .second.end)]
    Overlap { first: Span, second: Span },
    #[error("the file's encoding ({encoding:?}, from its coding declaration) cannot hold {text:?}")]
    Unencodable { text: String, encoding: Encoding },
}

/// Whether `offset` may start or end an edit: within `source` and not in the middle of a UTF-8
/// sequence. Continuation bytes are recognised on their own, so this holds (and stays cheap)
/// even for bytes that are not valid UTF-8.
fn is_boundary(source: &[u8], offset: usize) -> bool {
    match source.get(offset) {
        Some(&byte) => byte & 0b1100_0000 != 0b1000_0000,
        None => offset == source.len(),
    }
}

/// The edits, checked against `source` and sorted by position. Edits at the same position keep
/// their given order, so two insertions at one offset come out as they were listed, and an
/// insertion at the start of a replaced range goes before the replacement.
fn checked(source: &[u8], edits: &[Edit], encoding: Encoding) -> Result<Vec<Edit>, EditError> {
    for edit in edits {
        let Span { start, end } = edit.range;
        if start > end {
            return Err(EditError::Reversed { start, end });
        }
        if end as usize > source.len() {
            return Err(EditError::OutOfBounds {
                start,
                end,
                len: source.len(),
            });
        }
        for offset in [start, end] {
            // In a single-byte encoding every offset starts a character.
            if !is_single_byte(encoding) && !is_boundary(source, offset as usize) {
                return Err(EditError::NotCharBoundary { offset });
            }
        }
    }
    let mut sorted = edits.to_vec();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    for pair in sorted.windows(2) {
        if let [first, second] = pair
            && first.range.end > second.range.start
        {
            return Err(EditError::Overlap {
                first: first.range,
                second: second.range,
            });
        }
    }
    Ok(sorted)
}

/// Applies non-overlapping edits to `source`, copying every byte outside them unchanged.
pub fn apply(source: &[u8], edits: &[Edit]) -> Result<Vec<u8>, EditError> {
    apply_in(source, edits, Encoding::Utf8)
}

/// [`apply`] to a Python source in its declared encoding (PEP 263): the replacements are
/// written in that encoding, so the file keeps it.
pub fn apply_to_python(source: &[u8], edits: &[Edit]) -> Result<Vec<u8>, EditError> {
    // A file that does not decode was refused by the parse that planned the edits; its bytes
    // are edited as UTF-8, as they were before encodings were read.
    let encoding = crate::migration::encoding::declared(source).unwrap_or(Encoding::Utf8);
    apply_in(source, edits, encoding)
}

fn apply_in(source: &[u8], edits: &[Edit], encoding: Encoding) -> Result<Vec<u8>, EditError> {
    let sorted = checked(source, edits, encoding)?;
    let added: usize = sorted.iter().map(|e| e.replacement.len()).sum();
    let mut out = Vec::with_capacity(source.len() + added);
    let mut copied = 0usize;
    for edit in &sorted {
        let range = edit.range.range();
        let replacement =
            encode(&edit.replacement, encoding).ok_or_else(|| EditError::Unencodable {
                text: edit.replacement.clone(),
                encoding,
            })?;
        // `checked` proved every range in bounds and ordered; `get` keeps that a proof
        // rather than a promise.
        out.extend_from_slice(source.get(copied..range.start).unwrap_or_default());
        out.extend_from_slice(&replacement);
        copied = range.end;
    }
    out.extend_from_slice(source.get(copied..).unwrap_or_default());
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Plans: changes to several files.

/// One file's part in a plan. Paths are root-relative, with `/` separators, as in
/// [`crate::project::Project`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum FileChange {
    /// Edit a file in place.
    Edit { path: String, edits: Vec<Edit> },
    /// Move a file; `edits` apply to its original content (offsets index the old bytes).
    Rename {
        from: String,
        to: String,
        edits: Vec<Edit>,
    },
    /// Write a new file, which must not exist.
    Create { path: String, content: String },
    /// Make a `max_migration.txt` that names `from` name `to` instead. Only the name on its
    /// first non-blank line changes; planning needs no bytes of the file, and the preview
    /// refuses if the file no longer names `from`.
    MaxMigration {
        path: String,
        from: String,
        to: String,
    },
}

impl FileChange {
    /// The path the change reads, if any.
    pub fn before(&self) -> Option<&str> {
        match self {
            FileChange::Edit { path, .. } | FileChange::MaxMigration { path, .. } => Some(path),
            FileChange::Rename { from, .. } => Some(from),
            FileChange::Create { .. } => None,
        }
    }

    /// The path the change writes.
    pub fn after(&self) -> &str {
        match self {
            FileChange::Edit { path, .. }
            | FileChange::MaxMigration { path, .. }
            | FileChange::Create { path, .. } => path,
            FileChange::Rename { to, .. } => to,
        }
    }
}

/// Every change a resolution makes, at most one per file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    pub changes: Vec<FileChange>,
}

/// One file as a plan leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUpdate {
    /// Where the content was read from: `None` for a new file; differs from `after` for a
    /// rename.
    pub before: Option<String>,
    pub after: String,
    /// The content read (`None` for a new file).
    pub old: Option<Vec<u8>>,
    pub new: Vec<u8>,
}

impl FileUpdate {
    pub fn is_rename(&self) -> bool {
        self.before.as_deref().is_some_and(|b| b != self.after)
    }
}

/// Why a plan cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: {error}")]
    Edit { path: String, error: EditError },
    #[error("{path}: the file to change does not exist")]
    Missing { path: String },
    #[error("{path}: the file already exists and the plan does not replace it")]
    Exists { path: String },
    #[error("{path}: the plan changes this file twice")]
    Twice { path: String },
    #[error("{path}: not a path migmerge may write ({reason})")]
    UnsafePath { path: String, reason: &'static str },
    #[error("{path}: expected it to name {expected:?}; it changed since the plan was made")]
    MaxMigrationChanged { path: String, expected: String },
}

/// The only files a plan may touch: migration modules and `max_migration.txt`, by
/// root-relative paths that cannot climb out of the root.
fn check_path(path: &str) -> Result<(), PlanError> {
    let unsafe_path = |reason| PlanError::UnsafePath {
        path: path.to_owned(),
        reason,
    };
    if path.is_empty() || path.starts_with('/') || path.contains('\\') || path.contains('\0') {
        return Err(unsafe_path("not a relative path with `/` separators"));
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(unsafe_path("empty, `.` or `..` component"));
    }
    let file = path.rsplit('/').next().unwrap_or(path);
    if !(file.ends_with(".py") || file == crate::project::MAX_MIGRATION_FILE) {
        return Err(unsafe_path(
            "only migration modules and max_migration.txt are ever written",
        ));
    }
    Ok(())
}

/// Checks that no path is read twice or written twice. Returns the paths read.
fn check_paths<'a>(
    reads: impl Iterator<Item = Option<&'a str>>,
    writes: impl Iterator<Item = &'a str>,
) -> Result<HashSet<&'a str>, PlanError> {
    let mut read = HashSet::new();
    for path in reads.flatten() {
        check_path(path)?;
        if !read.insert(path) {
            return Err(PlanError::Twice {
                path: path.to_owned(),
            });
        }
    }
    let mut written = HashSet::new();
    for path in writes {
        check_path(path)?;
        if !written.insert(path) {
            return Err(PlanError::Twice {
                path: path.to_owned(),
            });
        }
    }
    Ok(read)
}

/// Computes every file's new content in memory, reading the current contents with `read`
/// (`None`: the file does not exist). Nothing is written. A target may exist only when the plan
/// also reads it (an edited file, or the source of another rename, as when a chain of renames
/// shifts names by one).
pub fn preview(
    plan: &Plan,
    read: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<Vec<FileUpdate>, PlanError> {
    let changes = &plan.changes;
    let sources = check_paths(
        changes.iter().map(FileChange::before),
        changes.iter().map(FileChange::after),
    )?;
    let read_existing = |path: &str| {
        read(path).ok_or_else(|| PlanError::Missing {
            path: path.to_owned(),
        })
    };
    let ensure_free = |path: &str| {
        if !sources.contains(path) && read(path).is_some() {
            return Err(PlanError::Exists {
                path: path.to_owned(),
            });
        }
        Ok(())
    };
    let edited = |path: &str, old: &[u8], edits: &[Edit]| {
        let applied = if path.ends_with(".py") {
            apply_to_python(old, edits)
        } else {
            apply(old, edits)
        };
        applied.map_err(|error| PlanError::Edit {
            path: path.to_owned(),
            error,
        })
    };

    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let update = match change {
            FileChange::Edit { path, edits } => {
                let old = read_existing(path)?;
                let new = edited(path, &old, edits)?;
                FileUpdate {
                    before: Some(path.clone()),
                    after: path.clone(),
                    old: Some(old),
                    new,
                }
            }
            FileChange::Rename { from, to, edits } => {
                let old = read_existing(from)?;
                ensure_free(to)?;
                let new = edited(from, &old, edits)?;
                FileUpdate {
                    before: Some(from.clone()),
                    after: to.clone(),
                    old: Some(old),
                    new,
                }
            }
            FileChange::Create { path, content } => {
                ensure_free(path)?;
                FileUpdate {
                    before: None,
                    after: path.clone(),
                    old: None,
                    new: content.clone().into_bytes(),
                }
            }
            FileChange::MaxMigration { path, from, to } => {
                let old = read_existing(path)?;
                let span = first_line_name(&old)
                    .filter(|&span| old.get(span.range()) == Some(from.as_bytes()))
                    .ok_or_else(|| PlanError::MaxMigrationChanged {
                        path: path.clone(),
                        expected: from.clone(),
                    })?;
                let new = edited(path, &old, &[Edit::replacement(span, to.as_str())])?;
                FileUpdate {
                    before: Some(path.clone()),
                    after: path.clone(),
                    old: Some(old),
                    new,
                }
            }
        };
        out.push(update);
    }
    Ok(out)
}

/// The span of the trimmed text of the first non-blank line: the name a `max_migration.txt`
/// holds, read as [`crate::project`] reads it.
fn first_line_name(bytes: &[u8]) -> Option<Span> {
    let mut start = 0usize;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i);
        let line = &bytes[start..end];
        let lead = line.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let trail = line
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        if lead < line.len() {
            let from = u32::try_from(start + lead).ok()?;
            let to = u32::try_from(end - trail).ok()?;
            return Some(Span::new(from, to));
        }
        start = end + 1;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// Puts previewed contents on disk under `root`, as one transaction: every file ends new, or
/// every file ends as it was.
///
/// How:
/// - Before anything is written, every source file is re-read and must still hold the bytes
///   the plan was computed from (so uncommitted changes made since are never overwritten), and
///   no target may exist unless the plan reads it.
/// - Then a [`journal`] of every path touched, as it is and as it will be, is written and
///   synced in the git directory: a process killed from here on leaves a tree that the next
///   migmerge command puts back.
/// - Every directory written to (targets', and renamed files' old ones) must take a new file,
///   and every new content is written and synced to a temp file beside its target.
/// - Each file then moves into place with one rename, which is atomic on POSIX filesystems:
///   a reader sees a file's old bytes or its new bytes, never a mix. Renames that shift names
///   (a to b while b moves to c) are ordered so that a file is only overwritten once its own
///   content has been moved on. Sources of renames are removed last.
/// - A failure anywhere puts every file back: each file the plan read gets its old bytes and
///   mode again, each file it created is removed, and no temp file stays. The error says so,
///   or, if putting back failed too (the disk gone read-only under it), which path is left;
///   the journal then stays, for the next run to try again.
///
/// Not covered: a power loss (directory entries of the tree are not fsynced).
pub fn write_atomically(root: &Path, updates: &[FileUpdate]) -> io::Result<()> {
    write_journaled(root, updates)?.finish()
}

/// [`write_atomically`], leaving the journal open for the caller to finish once what must go
/// with the write is done too (a hook's commit), or to roll back if that fails.
pub fn write_journaled(root: &Path, updates: &[FileUpdate]) -> io::Result<Journal> {
    let invalid = |err: PlanError| io::Error::new(io::ErrorKind::InvalidInput, err.to_string());
    let sources = check_paths(
        updates.iter().map(|u| u.before.as_deref()),
        updates.iter().map(|u| u.after.as_str()),
    )
    .map_err(invalid)?;

    // Compare-and-swap, as near to the swap as possible: the bytes planned from must still be
    // there, and a target the plan does not read must not have appeared.
    let mut originals = Vec::new();
    for update in updates {
        if let (Some(before), Some(old)) = (&update.before, &update.old) {
            let path = root.join(before);
            let meta = std::fs::symlink_metadata(&path).map_err(|e| context(before, e))?;
            if !meta.is_file() {
                return Err(io::Error::other(format!(
                    "{before}: not a regular file (a symlink?); refusing to replace it"
                )));
            }
            if std::fs::read(&path).map_err(|e| context(before, e))? != *old {
                return Err(io::Error::other(format!(
                    "{before}: changed since the plan was made; nothing was written"
                )));
            }
            originals.push(Original {
                path: before,
                permissions: meta.permissions(),
            });
        } else if update.before.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: a change of an existing file without its old bytes",
                    update.after
                ),
            ));
        }
        if !sources.contains(update.after.as_str()) {
            match std::fs::symlink_metadata(root.join(&update.after)) {
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(context(&update.after, err)),
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{}: already exists; refusing to overwrite it", update.after),
                    ));
                }
            }
        }
    }

    let modes: Vec<(String, u32)> = originals
        .iter()
        .filter_map(|o| journal::mode_of(&o.permissions).map(|m| (o.path.to_owned(), m)))
        .collect();
    let journal = Journal::begin(root, updates, &modes)?;
    journal::halt_point();
    match prepare_and_move(root, updates, &sources, &originals) {
        Ok(()) => Ok(journal),
        Err((path, err)) => Err(roll_back(journal, &path, err)),
    }
}

/// The temp files, the probes and the renames of [`write_journaled`]; on failure, the path it
/// failed at.
fn prepare_and_move(
    root: &Path,
    updates: &[FileUpdate],
    sources: &HashSet<&str>,
    originals: &[Original<'_>],
) -> Result<(), (String, io::Error)> {
    // Prepare every temp file before the first rename. Their names (`.migmerge-*.tmp`) are
    // neither migration modules nor importable, so one left behind by a killed process is
    // ignored by Django and by migmerge until the next run removes it.
    let mut prepared = Vec::with_capacity(updates.len());
    for update in updates {
        journal::halt_point();
        let target = root.join(&update.after);
        let dir = target.parent().unwrap_or(root);
        let fail = |e| (update.after.clone(), e);
        let mut temp = tempfile::Builder::new()
            .prefix(".migmerge-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(fail)?;
        temp.write_all(&update.new).map_err(fail)?;
        // tempfile creates files readable by their owner only; keep the mode the file had, or
        // for a new file the mode of its package's `__init__.py`.
        let like = match &update.before {
            Some(before) => Some(root.join(before)),
            None => Some(dir.join("__init__.py")),
        };
        if let Some(meta) = like.and_then(|p| std::fs::metadata(p).ok()) {
            temp.as_file()
                .set_permissions(meta.permissions())
                .map_err(fail)?;
        } else {
            set_default_permissions(temp.as_file()).map_err(fail)?;
        }
        temp.as_file().sync_all().map_err(fail)?;
        prepared.push(Some((temp, target, update)));
    }

    // A renamed file's old directory must take the removal: probed with a file of its own
    // when no new content goes there.
    let target_dirs: HashSet<PathBuf> = prepared
        .iter()
        .flatten()
        .filter_map(|(_, target, _)| target.parent().map(Path::to_path_buf))
        .collect();
    for original in originals {
        let dir = root.join(original.path);
        let dir = dir.parent().unwrap_or(root);
        if !target_dirs.contains(dir) {
            tempfile::Builder::new()
                .prefix(".migmerge-")
                .suffix(".tmp")
                .tempfile_in(dir)
                .map_err(|e| (original.path.to_owned(), e))?;
        }
    }

    move_into_place(root, updates, sources, prepared)
}

/// A file the plan reads, as it was before the write.
struct Original<'u> {
    path: &'u str,
    permissions: std::fs::Permissions,
}

/// A prepared update: its temp file, where it goes, and the update.
type Prepared<'u> = Option<(tempfile::NamedTempFile, PathBuf, &'u FileUpdate)>;

/// The renames and removals of [`write_atomically`]; on failure, the path it failed at. The
/// temp files not yet moved are removed when `prepared` is dropped.
fn move_into_place<'u>(
    root: &Path,
    updates: &'u [FileUpdate],
    sources: &HashSet<&str>,
    mut prepared: Vec<Prepared<'u>>,
) -> Result<(), (String, io::Error)> {
    // A target that another pending update still has to read from waits until that update is
    // in place. A cycle of renames (it takes a chain whose old numbers run against its
    // dependency order) falls back to plan order: every new content is in a temp file.
    let mut step = 0;
    loop {
        let pending_reads: HashSet<&str> = prepared
            .iter()
            .flatten()
            .filter_map(|(_, _, u)| u.before.as_deref().filter(|b| *b != u.after))
            .collect();
        let index = prepared
            .iter()
            .position(|p| {
                p.as_ref()
                    .is_some_and(|(_, _, u)| !pending_reads.contains(u.after.as_str()))
            })
            .or_else(|| prepared.iter().position(Option::is_some));
        let Some((temp, target, update)) = index.and_then(|i| prepared[i].take()) else {
            break;
        };
        let fail = |err| (update.after.clone(), err);
        journal::halt_point();
        fault::check(step).map_err(fail)?;
        step += 1;
        let result = if sources.contains(update.after.as_str()) {
            temp.persist(&target).map(drop)
        } else {
            temp.persist_noclobber(&target).map(drop)
        };
        result.map_err(|err| fail(err.error))?;
    }

    // Old names of renamed files go last: until then a failure leaves a file twice, not lost.
    let afters: HashSet<&str> = updates.iter().map(|u| u.after.as_str()).collect();
    let vacated: BTreeSet<&str> = updates
        .iter()
        .filter_map(|u| u.before.as_deref())
        .filter(|b| !afters.contains(b))
        .collect();
    for old in vacated {
        let fail = |err| (old.to_owned(), err);
        journal::halt_point();
        fault::check(step).map_err(fail)?;
        step += 1;
        std::fs::remove_file(root.join(old)).map_err(fail)?;
    }
    Ok(())
}

/// Puts every file back as the journal found it after `err` at `path`, and says so.
fn roll_back(journal: Journal, path: &str, err: io::Error) -> io::Error {
    let message = match journal.roll_back() {
        Ok(_) => format!("{err}; nothing was written (every file was put back as it was)"),
        Err(failure) => format!(
            "{err}; putting the files back failed too ({failure}); the next migmerge command \
             tries again"
        ),
    };
    context(path, io::Error::new(err.kind(), message))
}

/// A failure injected at a given step of the renames and removals, for the tests of the
/// roll-back; nothing outside tests.
mod fault {
    #[cfg(test)]
    thread_local! {
        pub static FAIL_AT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    }

    #[cfg(test)]
    pub fn check(step: usize) -> std::io::Result<()> {
        if FAIL_AT.get() == Some(step) {
            return Err(std::io::Error::other("injected failure"));
        }
        Ok(())
    }

    #[cfg(not(test))]
    #[inline]
    pub fn check(_step: usize) -> std::io::Result<()> {
        Ok(())
    }
}

/// An I/O error that names the root-relative path it happened at.
fn context(path: &str, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{path}: {err}"))
}

#[cfg(unix)]
fn set_default_permissions(file: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_default_permissions(_file: &std::fs::File) -> io::Result<()> {
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Python trivia.

/// The quote character of a string literal's source text (after any prefix such as `r`).
fn quote_char(literal: &[u8]) -> Option<char> {
    let prefix = literal
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    match literal.get(prefix)? {
        b'\'' => Some('\''),
        b'"' => Some('"'),
        _ => None,
    }
}

/// `value` as a Python string literal between `quote` characters (`'` or `"`), escaping what
/// must be: backslashes, the quote itself, and control characters.
pub fn python_string(value: &str, quote: char) -> String {
    let quote = if quote == '\'' { '\'' } else { '"' };
    let mut out = String::with_capacity(value.len() + 2);
    out.push(quote);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// An edit that makes `lit` (a literal in `source`) hold `new_value`, keeping its quote style.
///
/// When the characters between the quotes spell the value and `new_value` needs no escape in
/// that literal, only those characters change (`'0005_a'` -> `'0007_a'`). Otherwise the whole
/// literal is written anew with its original quote character (prefix and implicit
/// concatenation dropped, escapes added where needed).
pub fn replace_string_value(source: &[u8], lit: &StrLit, new_value: &str) -> Edit {
    let quote = source.get(lit.span.range()).and_then(quote_char);
    if let (Some(content), Some(quote)) = (lit.content, quote) {
        // Without backslashes, line breaks and the literal's own quote, the value reads the
        // same between any quotes of that kind, raw or not, triple or not.
        let plain = new_value
            .chars()
            .all(|c| c != '\\' && c != quote && c >= ' ' && c != '\x7f');
        if plain {
            return Edit::replacement(content, new_value);
        }
    }
    Edit::replacement(lit.span, python_string(new_value, quote.unwrap_or('"')))
}

/// Why an element cannot be appended to a list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("the list at {}..{} is not a bracketed list or tuple in the file", .0.start, .0.end)]
    NotBracketed(Span),
    #[error("the list at {}..{} has a layout migmerge does not rewrite (e.g. parentheses around its last element)", .0.start, .0.end)]
    UnusualLayout(Span),
}

/// Skips spaces, tabs, line continuations, newlines (when `newlines`) and comments from `at`.
fn skip_trivia(source: &[u8], mut at: usize, end: usize) -> usize {
    while at < end {
        match source[at] {
            b' ' | b'\t' | b'\x0c' | b'\r' | b'\n' => at += 1,
            b'\\' => at += 1,
            b'#' => {
                while at < end && source[at] != b'\n' && source[at] != b'\r' {
                    at += 1;
                }
            }
            _ => break,
        }
    }
    at
}

/// The end of the line holding `at` (the offset of its line break, or `end`), a comment on
/// it included.
fn line_end(source: &[u8], at: usize, end: usize) -> usize {
    (at..end)
        .find(|&i| source[i] == b'\n' || source[i] == b'\r')
        .unwrap_or(end)
}

/// The line break used at `at` (a line end), or `\n`.
fn line_break_at(source: &[u8], at: usize) -> &'static str {
    if source.get(at) == Some(&b'\r') && source.get(at + 1) == Some(&b'\n') {
        "\r\n"
    } else if source.get(at) == Some(&b'\r') {
        "\r"
    } else {
        "\n"
    }
}

/// The line break that ends just before `line_start`, or `\n`.
fn line_break_before(source: &[u8], line_start: usize) -> &'static str {
    let before = &source[..line_start];
    if before.ends_with(b"\r\n") {
        "\r\n"
    } else if before.ends_with(b"\r") {
        "\r"
    } else {
        "\n"
    }
}

/// The whitespace before `at` on its line, if only whitespace stands there.
fn indentation_before(source: &[u8], at: usize) -> Option<&str> {
    let line_start = source[..at]
        .iter()
        .rposition(|&b| b == b'\n' || b == b'\r')
        .map_or(0, |i| i + 1);
    let lead = &source[line_start..at];
    lead.iter()
        .all(|&b| b == b' ' || b == b'\t')
        .then(|| std::str::from_utf8(lead).ok())
        .flatten()
}

fn to_u32(offset: usize, span: Span) -> Result<u32, ListError> {
    u32::try_from(offset).map_err(|_| ListError::NotBracketed(span))
}

/// An edit that appends `new_entry` (the source text of one element, e.g.
/// `("users", "0007_x")`) to the list or tuple at `list` in `source`, whose elements are at
/// `entries`, laid out like the elements already there:
/// - one element per line (Django's layout): a new line with the last element's indentation,
///   the trailing comma kept if the list had one, added before the new line otherwise;
/// - a list on one line: `, new` after the last element (or after its trailing comma);
/// - an empty list: `[new]`, or `(new,)` for a tuple; one spread over lines (`[\n    ]`, as
///   Django writes it) gets the element on its own line, indented one level more than the
///   closing bracket.
///
/// Comments and the rest of the layout stay as they are.
pub fn append_to_list(
    source: &[u8],
    list: Span,
    entries: &[Span],
    new_entry: &str,
) -> Result<Edit, ListError> {
    let range = list.range();
    let (Some(&open), Some(&close)) = (
        source.get(range.start),
        source.get(range.end.wrapping_sub(1)),
    ) else {
        return Err(ListError::NotBracketed(list));
    };
    let tuple = match (open, close) {
        (b'[', b']') if range.len() >= 2 => false,
        (b'(', b')') if range.len() >= 2 => true,
        _ => return Err(ListError::NotBracketed(list)),
    };
    let close_at = range.end - 1;

    let Some(last) = entries.last() else {
        let inner = &source[range.start + 1..close_at];
        if inner.iter().any(|&b| b == b'\n' || b == b'\r') {
            // `[\n    ]`: the element goes on its own line before the closing bracket's.
            let indent =
                indentation_before(source, close_at).ok_or(ListError::UnusualLayout(list))?;
            let line_start = close_at - indent.len();
            let eol = line_break_before(source, line_start);
            return Ok(Edit::insertion(
                to_u32(line_start, list)?,
                format!("{indent}    {new_entry},{eol}"),
            ));
        }
        let text = if tuple {
            format!("{new_entry},")
        } else {
            new_entry.to_owned()
        };
        let inner_span = Span::new(to_u32(range.start + 1, list)?, to_u32(close_at, list)?);
        return Ok(Edit::replacement(inner_span, text));
    };

    let last_end = last.end as usize;
    if last_end <= range.start || last_end > close_at {
        return Err(ListError::UnusualLayout(list));
    }
    let after_last = skip_trivia(source, last_end, close_at);
    let comma = match source.get(after_last) {
        Some(b',') if after_last < close_at => Some(after_last),
        _ if after_last == close_at => None,
        // e.g. `(("a", "b"))`: the element's range stops inside its own parentheses.
        _ => return Err(ListError::UnusualLayout(list)),
    };
    if let Some(comma) = comma
        && skip_trivia(source, comma + 1, close_at) != close_at
    {
        return Err(ListError::UnusualLayout(list));
    }
    let multiline = source[last_end..close_at]
        .iter()
        .any(|&b| b == b'\n' || b == b'\r');

    if !multiline {
        return Ok(match comma {
            Some(comma) => Edit::insertion(to_u32(comma + 1, list)?, format!(" {new_entry},")),
            None => Edit::insertion(to_u32(last_end, list)?, format!(", {new_entry}")),
        });
    }

    let indent = indentation_before(source, last.start as usize)
        .map(str::to_owned)
        .or_else(|| indentation_before(source, close_at).map(|i| format!("{i}    ")))
        .ok_or(ListError::UnusualLayout(list))?;
    match comma {
        Some(comma) => {
            // After the comma's line, its comment included: `(..),  # why` stays on its line.
            let at = line_end(source, comma + 1, close_at);
            let eol = line_break_at(source, at);
            Ok(Edit::insertion(
                to_u32(at, list)?,
                format!("{eol}{indent}{new_entry},"),
            ))
        }
        None => {
            // Add the missing comma after the last element, keep what followed it on its line,
            // and put the new element on the next line without a trailing comma, as the list
            // had none.
            let at = line_end(source, last_end, close_at);
            let eol = line_break_at(source, at);
            let kept = std::str::from_utf8(&source[last_end..at])
                .map_err(|_| ListError::UnusualLayout(list))?;
            Ok(Edit::replacement(
                Span::new(to_u32(last_end, list)?, to_u32(at, list)?),
                format!(",{kept}{eol}{indent}{new_entry}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{ListAttr, Reference, parse};
    use proptest::prelude::*;

    fn apply_str(source: &str, edits: &[Edit]) -> Result<String, EditError> {
        apply(source.as_bytes(), edits).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn applies_edits_in_any_order() {
        let edits = [
            Edit::insertion(12, "!"),
            Edit::replacement(Span::new(0, 5), "Howdy"),
            Edit::deletion(Span::new(5, 6)),
        ];
        assert_eq!(apply_str("hello, world", &edits).unwrap(), "Howdy world!");
        assert_eq!(apply_str("", &[]).unwrap(), "");
        assert_eq!(
            apply_str("abc", &[Edit::insertion(3, "d")]).unwrap(),
            "abcd"
        );
    }

    #[test]
    fn edits_at_one_offset_keep_their_order() {
        let edits = [
            Edit::replacement(Span::new(1, 2), "B"),
            Edit::insertion(1, "1"),
            Edit::insertion(1, "2"),
            Edit::insertion(2, "3"),
        ];
        assert_eq!(apply_str("abc", &edits).unwrap(), "a12B3c");
    }

    #[test]
    fn rejects_bad_edits() {
        let overlap = [
            Edit::replacement(Span::new(0, 3), "x"),
            Edit::replacement(Span::new(2, 4), "y"),
        ];
        assert_eq!(
            apply_str("abcdef", &overlap),
            Err(EditError::Overlap {
                first: Span::new(0, 3),
                second: Span::new(2, 4)
            })
        );
        let same = [
            Edit::replacement(Span::new(1, 2), "x"),
            Edit::replacement(Span::new(1, 2), "y"),
        ];
        assert!(matches!(
            apply_str("abc", &same),
            Err(EditError::Overlap { .. })
        ));
        let inside = [
            Edit::replacement(Span::new(0, 3), "x"),
            Edit::insertion(1, "y"),
        ];
        assert!(matches!(
            apply_str("abc", &inside),
            Err(EditError::Overlap { .. })
        ));
        assert_eq!(
            apply_str("abc", &[Edit::deletion(Span::new(2, 4))]),
            Err(EditError::OutOfBounds {
                start: 2,
                end: 4,
                len: 3
            })
        );
        assert_eq!(
            apply_str("abc", &[Edit::deletion(Span::new(2, 1))]),
            Err(EditError::Reversed { start: 2, end: 1 })
        );
        // `é` is two bytes; offset 2 is inside it.
        assert_eq!(
            apply_str("aé", &[Edit::insertion(2, "x")]),
            Err(EditError::NotCharBoundary { offset: 2 })
        );
        assert_eq!(apply_str("aé", &[Edit::insertion(3, "x")]).unwrap(), "aéx");
    }

    proptest! {
        #[test]
        fn apply_never_panics(
            source in proptest::collection::vec(any::<u8>(), 0..64),
            edits in proptest::collection::vec((0u32..80, 0u32..80, ".{0,4}"), 0..6),
        ) {
            let edits: Vec<Edit> = edits
                .into_iter()
                .map(|(a, b, text)| Edit::replacement(Span::new(a, b), text))
                .collect();
            if let Ok(out) = apply(&source, &edits) {
                let delta: i64 = edits
                    .iter()
                    .map(|e| e.replacement.len() as i64 - i64::from(e.range.end - e.range.start))
                    .sum();
                prop_assert_eq!(out.len() as i64, source.len() as i64 + delta);
            }
        }

        #[test]
        fn disjoint_edits_apply_and_keep_the_rest(
            source in "\\PC{0,40}",
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..8),
            texts in proptest::collection::vec("\\PC{0,3}", 8),
        ) {
            // Sorted char boundaries, paired into disjoint ranges.
            let boundaries: Vec<usize> =
                source.char_indices().map(|(i, _)| i).chain([source.len()]).collect();
            let mut points: Vec<usize> =
                cuts.iter().map(|c| boundaries[c.index(boundaries.len())]).collect();
            points.sort_unstable();
            let mut edits = Vec::new();
            let mut expected = String::new();
            let mut copied = 0;
            for (pair, text) in points.chunks(2).zip(&texts) {
                let (start, end) = (pair[0], *pair.get(1).unwrap_or(&pair[0]));
                edits.push(Edit::replacement(Span::new(start as u32, end as u32), text.clone()));
                expected.push_str(&source[copied..start]);
                expected.push_str(text);
                copied = end;
            }
            expected.push_str(&source[copied..]);
            // The order the edits come in does not matter, except between insertions at one
            // offset, which keep theirs.
            edits.sort_by_key(|e| std::cmp::Reverse(e.range.start));
            let out = apply_str(&source, &edits).unwrap();
            let removed: usize = edits.iter().map(|e| (e.range.end - e.range.start) as usize).sum();
            let added: usize = edits.iter().map(|e| e.replacement.len()).sum();
            prop_assert_eq!(out.len(), source.len() - removed + added);
            prop_assert_eq!(out, expected);
        }
    }

    // -- plans ------------------------------------------------------------------------------

    type Reader = Box<dyn Fn(&str) -> Option<Vec<u8>>>;

    fn files(entries: &[(&str, &str)]) -> Reader {
        let map: std::collections::BTreeMap<String, Vec<u8>> = entries
            .iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
            .collect();
        Box::new(move |path: &str| map.get(path).cloned())
    }

    const A: &str = "app/migrations/0002_a.py";
    const B: &str = "app/migrations/0003_b.py";
    const MAX: &str = "app/migrations/max_migration.txt";

    fn rename(from: &str, to: &str) -> FileChange {
        FileChange::Rename {
            from: from.into(),
            to: to.into(),
            edits: vec![],
        }
    }

    fn create(path: &str, content: &str) -> FileChange {
        FileChange::Create {
            path: path.into(),
            content: content.into(),
        }
    }

    fn edit(path: &str, edits: Vec<Edit>) -> FileChange {
        FileChange::Edit {
            path: path.into(),
            edits,
        }
    }

    #[test]
    fn preview_computes_every_change() {
        let read = files(&[
            (A, "x = 'a'\n"),
            (B, "y = 'b'\n"),
            (MAX, "\n  0003_b  \r\n"),
        ]);
        let plan = Plan {
            changes: vec![
                edit(A, vec![Edit::replacement(Span::new(5, 6), "A")]),
                FileChange::Rename {
                    from: B.into(),
                    to: "app/migrations/0004_b.py".into(),
                    edits: vec![Edit::insertion(0, "# moved\n")],
                },
                create("app/migrations/0005_c.py", "z = 1\n"),
                FileChange::MaxMigration {
                    path: MAX.into(),
                    from: "0003_b".into(),
                    to: "0005_c".into(),
                },
            ],
        };
        let updates = preview(&plan, read).unwrap();
        let new: Vec<&str> = updates
            .iter()
            .map(|u| std::str::from_utf8(&u.new).unwrap())
            .collect();
        assert_eq!(
            new,
            [
                "x = 'A'\n",
                "# moved\ny = 'b'\n",
                "z = 1\n",
                "\n  0005_c  \r\n"
            ]
        );
        assert!(!updates[0].is_rename());
        assert!(updates[1].is_rename());
        assert_eq!(updates[1].before.as_deref(), Some(B));
        assert_eq!(updates[2].old, None);
    }

    #[test]
    fn preview_refuses_what_it_cannot_do_safely() {
        let run = |changes: Vec<FileChange>| {
            preview(
                &Plan { changes },
                files(&[(A, "a\n"), (B, "b\n"), (MAX, "0001_x\n")]),
            )
        };
        assert!(matches!(
            run(vec![rename(
                "app/migrations/0009_gone.py",
                "app/migrations/0010_x.py"
            )]),
            Err(PlanError::Missing { .. })
        ));
        assert!(matches!(
            run(vec![rename(A, B)]),
            Err(PlanError::Exists { .. })
        ));
        assert!(matches!(
            run(vec![create(A, "")]),
            Err(PlanError::Exists { .. })
        ));
        assert!(matches!(
            run(vec![edit(A, vec![]), rename(A, "app/migrations/0009_a.py")]),
            Err(PlanError::Twice { .. })
        ));
        assert!(matches!(
            run(vec![
                rename(A, "app/migrations/0009_x.py"),
                rename(B, "app/migrations/0009_x.py")
            ]),
            Err(PlanError::Twice { .. })
        ));
        for bad in [
            "../etc/x.py",
            "/abs/x.py",
            "app//x.py",
            "app/./x.py",
            "app/models.txt",
            "app\\x.py",
            "",
        ] {
            assert!(
                matches!(
                    run(vec![create(bad, "")]),
                    Err(PlanError::UnsafePath { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            run(vec![edit(A, vec![Edit::deletion(Span::new(0, 9))])]),
            Err(PlanError::Edit { .. })
        ));
        assert!(matches!(
            run(vec![FileChange::MaxMigration {
                path: MAX.into(),
                from: "0002_a".into(),
                to: "0003_b".into(),
            }]),
            Err(PlanError::MaxMigrationChanged { .. })
        ));
    }

    #[test]
    fn renames_may_shift_names_along_a_chain() {
        // 0002_a takes 0003_b's path while 0003_b moves on: the target is the source of
        // another rename.
        let plan = Plan {
            changes: vec![rename(A, B), rename(B, "app/migrations/0004_b.py")],
        };
        let updates = preview(&plan, files(&[(A, "a\n"), (B, "b\n")])).unwrap();
        assert_eq!(updates[0].new, b"a\n");
        assert_eq!(updates[1].new, b"b\n");
    }

    // -- writing ----------------------------------------------------------------------------

    fn disk(root: &Path, entries: &[(&str, &str)]) {
        for (path, text) in entries {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
    }

    fn listing(root: &Path) -> Vec<(String, String)> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    let rel = path.strip_prefix(root).unwrap();
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    out.push((rel, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(root, root, &mut out);
        out.sort();
        out
    }

    fn read_disk(root: &Path) -> impl Fn(&str) -> Option<Vec<u8>> + '_ {
        move |path: &str| std::fs::read(root.join(path)).ok()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn writes_edits_renames_and_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        disk(
            root,
            &[
                (A, "a = 1\n"),
                (B, "b = 2\n"),
                ("app/migrations/__init__.py", ""),
            ],
        );
        let plan = Plan {
            changes: vec![
                FileChange::Rename {
                    from: A.into(),
                    to: B.into(),
                    edits: vec![Edit::insertion(0, "#\n")],
                },
                FileChange::Rename {
                    from: B.into(),
                    to: "app/migrations/0004_b.py".into(),
                    edits: vec![Edit::replacement(Span::new(4, 5), "3")],
                },
                create("app/migrations/0005_c.py", "c = 4\n"),
            ],
        };
        let updates = preview(&plan, read_disk(root)).unwrap();
        write_atomically(root, &updates).unwrap();
        assert_eq!(
            listing(root),
            owned(&[
                ("app/migrations/0003_b.py", "#\na = 1\n"),
                ("app/migrations/0004_b.py", "b = 3\n"),
                ("app/migrations/0005_c.py", "c = 4\n"),
                ("app/migrations/__init__.py", ""),
            ])
        );
    }

    #[cfg(unix)]
    #[test]
    fn keeps_file_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let init = "app/migrations/__init__.py";
        disk(root, &[(A, "a\n"), (init, "")]);
        let set = |p: &str, mode| {
            std::fs::set_permissions(root.join(p), std::fs::Permissions::from_mode(mode)).unwrap()
        };
        let mode = |p: &str| {
            std::fs::metadata(root.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        set(A, 0o664);
        set(init, 0o640);
        let plan = Plan {
            changes: vec![
                rename(A, "app/migrations/0009_a.py"),
                create("app/migrations/0010_x.py", ""),
            ],
        };
        let updates = preview(&plan, read_disk(root)).unwrap();
        write_atomically(root, &updates).unwrap();
        assert_eq!(mode("app/migrations/0009_a.py"), 0o664);
        assert_eq!(mode("app/migrations/0010_x.py"), 0o640);
    }

    #[test]
    fn changes_nothing_when_a_file_changed_or_a_target_appeared() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        disk(root, &[(A, "a\n"), (B, "b\n")]);
        let plan = Plan {
            changes: vec![
                edit(A, vec![Edit::insertion(0, "x")]),
                rename(B, "app/migrations/0009_b.py"),
            ],
        };
        let updates = preview(&plan, read_disk(root)).unwrap();

        // The user edits a file after the plan was made.
        disk(root, &[(B, "b changed\n")]);
        let before = listing(root);
        let err = write_atomically(root, &updates).unwrap_err();
        assert!(err.to_string().contains("changed since the plan"), "{err}");
        assert_eq!(listing(root), before);

        // A file appears where the rename would go.
        disk(root, &[(B, "b\n"), ("app/migrations/0009_b.py", "mine\n")]);
        let before = listing(root);
        let err = write_atomically(root, &updates).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(listing(root), before);

        // Paths outside the root are refused outright.
        let escape = [FileUpdate {
            before: None,
            after: "../x.py".into(),
            old: None,
            new: vec![],
        }];
        let err = write_atomically(root, &escape).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(listing(root), before);
    }

    #[test]
    fn a_missing_directory_fails_before_any_rename() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        disk(root, &[(A, "a\n")]);
        let plan = Plan {
            changes: vec![
                edit(A, vec![Edit::insertion(0, "x")]),
                create("nowhere/migrations/0001_x.py", ""),
            ],
        };
        let updates = preview(&plan, read_disk(root)).unwrap();
        let before = listing(root);
        assert!(write_atomically(root, &updates).is_err());
        // The edit's temp file is gone and the edit not applied.
        assert_eq!(listing(root), before);
    }

    /// A plan that touches every kind of file: a chain of renames shifting names, an edit in
    /// place, a new file, in two directories.
    fn every_kind_of_change(root: &Path) -> Vec<FileUpdate> {
        disk(
            root,
            &[
                (A, "a = 1\n"),
                (B, "b = 2\n"),
                (MAX, "0003_b\n"),
                ("app/migrations/__init__.py", ""),
                ("other/migrations/__init__.py", ""),
                ("other/migrations/0001_x.py", "x = 1\n"),
            ],
        );
        let plan = Plan {
            changes: vec![
                FileChange::Rename {
                    from: A.into(),
                    to: B.into(),
                    edits: vec![Edit::insertion(0, "#\n")],
                },
                rename(B, "app/migrations/0004_b.py"),
                edit(MAX, vec![Edit::replacement(Span::new(3, 4), "4")]),
                edit(
                    "other/migrations/0001_x.py",
                    vec![Edit::insertion(0, "#\n")],
                ),
                create("other/migrations/0002_merge.py", "m\n"),
            ],
        };
        preview(&plan, read_disk(root)).unwrap()
    }

    #[test]
    fn a_failure_at_any_step_puts_every_file_back() {
        // Five renames into place, then one removal: fail at each of them.
        for step in 0..6 {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path();
            let updates = every_kind_of_change(root);
            let before = listing(root);
            fault::FAIL_AT.set(Some(step));
            let err = write_atomically(root, &updates).unwrap_err();
            fault::FAIL_AT.set(None);
            assert!(
                err.to_string().contains("every file was put back"),
                "step {step}: {err}"
            );
            // Same files, same bytes, no temp file, no new file, no file twice.
            assert_eq!(listing(root), before, "step {step}");
        }
        // And past the last step, everything is written.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let updates = every_kind_of_change(root);
        fault::FAIL_AT.set(Some(6));
        write_atomically(root, &updates).unwrap();
        fault::FAIL_AT.set(None);
        assert_eq!(
            std::fs::read_to_string(root.join("app/migrations/0004_b.py")).unwrap(),
            "b = 2\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_roll_back_keeps_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let updates = every_kind_of_change(root);
        std::fs::set_permissions(root.join(MAX), std::fs::Permissions::from_mode(0o600)).unwrap();
        fault::FAIL_AT.set(Some(4));
        assert!(write_atomically(root, &updates).is_err());
        fault::FAIL_AT.set(None);
        let mode = std::fs::metadata(root.join(MAX))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_directory_that_cannot_be_written_fails_before_any_rename() {
        // A target whose parent is a file: no write can happen there.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut updates = every_kind_of_change(root);
        disk(root, &[("blocked", "a file, not a directory\n")]);
        updates.push(FileUpdate {
            before: None,
            after: "blocked/migrations/0001_x.py".into(),
            old: None,
            new: b"x\n".to_vec(),
        });
        let before = listing(root);
        assert!(write_atomically(root, &updates).is_err());
        assert_eq!(listing(root), before);
    }

    /// `chattr +i` on a directory, undone on drop; `None` where the filesystem or the user
    /// cannot (not root, no chattr, tmpfs without attributes).
    struct Immutable(PathBuf);

    impl Immutable {
        fn set(dir: &Path) -> Option<Immutable> {
            let ok = std::process::Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .output()
                .is_ok_and(|o| o.status.success());
            ok.then(|| Immutable(dir.to_path_buf()))
        }
    }

    impl Drop for Immutable {
        fn drop(&mut self) {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&self.0)
                .output();
        }
    }

    #[test]
    fn an_immutable_directory_fails_before_any_rename() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let updates = every_kind_of_change(root);
        let before = listing(root);
        // Only the second directory is locked: the first one's renames must not happen.
        let Some(_locked) = Immutable::set(&root.join("other/migrations")) else {
            return;
        };
        let err = write_atomically(root, &updates).unwrap_err();
        assert!(err.to_string().contains("other/migrations/"), "{err}");
        drop(_locked);
        assert_eq!(listing(root), before);
    }

    // -- Python trivia ----------------------------------------------------------------------

    fn module(deps: &str) -> String {
        format!(
            "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    dependencies = {deps}\n"
        )
    }

    /// The migration name literals of the `dependencies` entries of a source.
    fn dependency_names(source: &str) -> Vec<StrLit> {
        parse(source.as_bytes())
            .unwrap()
            .dependencies
            .entries()
            .iter()
            .filter_map(|e| match &e.reference {
                Reference::Literal { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// `deps` with its first name replaced by `value`, checked to read back as `value`.
    fn replaced(deps: &str, value: &str) -> String {
        let source = module(deps);
        let lit = &dependency_names(&source)[0];
        let edit = replace_string_value(source.as_bytes(), lit, value);
        let out = apply_str(&source, &[edit]).unwrap();
        assert_eq!(dependency_names(&out)[0].value, value, "{out}");
        let prefix = module("");
        out[prefix.len() - 1..out.len() - 1].to_owned()
    }

    #[test]
    fn string_values_are_replaced_in_their_own_quotes() {
        assert_eq!(replaced("[('a', '0005_x')]", "0007_x"), "[('a', '0007_x')]");
        assert_eq!(
            replaced(r#"[("a", "0005_x")]"#, "0007_x"),
            r#"[("a", "0007_x")]"#
        );
        assert_eq!(
            replaced("[('a', r'0005_x')]", "0007_x"),
            "[('a', r'0007_x')]"
        );
        assert_eq!(
            replaced("[('a', '''0005_x''')]", "0007_x"),
            "[('a', '''0007_x''')]"
        );
        assert_eq!(
            replaced("[('a', u'0005_x')]", "0007_x"),
            "[('a', u'0007_x')]"
        );
        // A value that needs an escape in these quotes re-quotes the literal.
        assert_eq!(replaced("[('a', '0005_x')]", "it's"), r"[('a', 'it\'s')]");
        assert_eq!(
            replaced(r#"[('a', "0005_x")]"#, "it's"),
            r#"[('a', "it's")]"#
        );
        assert_eq!(replaced("[('a', r'0005_x')]", r"a\b"), r"[('a', 'a\\b')]");
        // Escapes or implicit concatenation in the original: re-quoted whole.
        assert_eq!(
            replaced(r"[('a', '0005\x5fx')]", "0007_x"),
            "[('a', '0007_x')]"
        );
        assert_eq!(
            replaced(r#"[('a', "0005" "_x")]"#, "0007_x"),
            r#"[('a', "0007_x")]"#
        );
    }

    #[test]
    fn python_strings_escape_what_they_must() {
        assert_eq!(
            python_string("a'b\"c\\d\n\t\x01é", '\''),
            r#"'a\'b"c\\d\n\t\x01é'"#
        );
        assert_eq!(python_string("a'b\"c", '"'), r#""a'b\"c""#);
    }

    /// `deps` with `entry` appended, checked to parse with the entry last.
    fn appended(deps: &str, entry: &str) -> String {
        let source = module(deps);
        let migration = parse(source.as_bytes()).unwrap();
        let ListAttr::Literal { entries, span, .. } = &migration.dependencies else {
            panic!("not a literal list: {deps}");
        };
        let spans: Vec<Span> = entries.iter().map(|e| e.span).collect();
        let edit = append_to_list(source.as_bytes(), *span, &spans, entry).unwrap();
        let out = apply_str(&source, &[edit]).unwrap();
        let reparsed = parse(out.as_bytes()).unwrap();
        let new_entries = reparsed.dependencies.entries();
        assert_eq!(new_entries.len(), entries.len() + 1, "{out}");
        let last = new_entries.last().unwrap();
        assert_eq!(&out[last.span.range()], entry, "{out}");
        out[module("").len() - 1..].to_owned()
    }

    const NEW: &str = "('shop', '0002_a')";

    #[test]
    fn appends_in_django_layout() {
        assert_eq!(
            appended("[\n        ('shop', '0001_initial'),\n    ]", NEW),
            "[\n        ('shop', '0001_initial'),\n        ('shop', '0002_a'),\n    ]\n"
        );
        // A comment after the last element stays on its line.
        assert_eq!(
            appended("[\n        ('shop', '0001_initial'),  # start\n    ]", NEW),
            "[\n        ('shop', '0001_initial'),  # start\n        ('shop', '0002_a'),\n    ]\n"
        );
        // No trailing comma: one is added, and the new element gets none.
        assert_eq!(
            appended("[\n        ('shop', '0001_initial')  # c\n    ]", NEW),
            "[\n        ('shop', '0001_initial'),  # c\n        ('shop', '0002_a')\n    ]\n"
        );
        // Windows line endings are kept.
        assert_eq!(
            appended("[\r\n        ('shop', '0001_initial'),\r\n    ]", NEW),
            "[\r\n        ('shop', '0001_initial'),\r\n        ('shop', '0002_a'),\r\n    ]\n"
        );
        // Django's empty list.
        assert_eq!(
            appended("[\n    ]", NEW),
            "[\n        ('shop', '0002_a'),\n    ]\n"
        );
        // An element sharing the opening line: indented from the closing bracket.
        assert_eq!(
            appended("[('a', '1'),\n    ]", NEW),
            "[('a', '1'),\n        ('shop', '0002_a'),\n    ]\n"
        );
    }

    #[test]
    fn appends_to_lists_on_one_line() {
        assert_eq!(appended("[]", NEW), "[('shop', '0002_a')]\n");
        assert_eq!(appended("[ ]", NEW), "[('shop', '0002_a')]\n");
        assert_eq!(appended("()", NEW), "(('shop', '0002_a'),)\n");
        assert_eq!(
            appended("[('a', '1')]", NEW),
            "[('a', '1'), ('shop', '0002_a')]\n"
        );
        assert_eq!(
            appended("[('a', '1'),]", NEW),
            "[('a', '1'), ('shop', '0002_a'),]\n"
        );
        // A one-element tuple keeps its comma.
        assert_eq!(
            appended("(('a', '1'),)", NEW),
            "(('a', '1'), ('shop', '0002_a'),)\n"
        );
        assert_eq!(
            appended("(('a', '1'), ('b', '2'))", NEW),
            "(('a', '1'), ('b', '2'), ('shop', '0002_a'))\n"
        );
    }

    #[test]
    fn append_refuses_what_it_does_not_understand() {
        let literal = |source: &str| {
            let migration = parse(source.as_bytes()).unwrap();
            let ListAttr::Literal { entries, span, .. } = migration.dependencies else {
                panic!("not a literal list");
            };
            (span, entries.iter().map(|e| e.span).collect::<Vec<_>>())
        };
        let source = module("[('a', '1')]");
        let (span, spans) = literal(&source);
        let wrong = Span::new(span.start + 1, span.end);
        assert_eq!(
            append_to_list(source.as_bytes(), wrong, &spans, NEW),
            Err(ListError::NotBracketed(wrong))
        );
        let outside = Span::new(0, 10_000);
        assert!(append_to_list(source.as_bytes(), outside, &spans, NEW).is_err());
        // The element's range stops inside the parentheses around it.
        let wrapped = module("[(('a', '1'))]");
        let (span, spans) = literal(&wrapped);
        assert_eq!(
            append_to_list(wrapped.as_bytes(), span, &spans, NEW),
            Err(ListError::UnusualLayout(span))
        );
    }
}

/// Updates written briefly, for the tests of the modules that take them.
#[cfg(test)]
pub(crate) mod testing {
    use super::FileUpdate;

    /// An update of `after` to `new`, read from `before` (holding `old`); `None`s for a new file.
    pub(crate) fn update(
        before: Option<&str>,
        after: &str,
        old: Option<&str>,
        new: &str,
    ) -> FileUpdate {
        FileUpdate {
            before: before.map(str::to_owned),
            after: after.to_owned(),
            old: old.map(|o| o.as_bytes().to_vec()),
            new: new.as_bytes().to_vec(),
        }
    }
}
