//! What an automatic resolution leaves behind in the git directory: `migmerge/last.json` (the
//! last action, with how to undo it), `migmerge/log` (one line per action), and the note that
//! `prepare-commit-msg` adds to the message of a commit `pre-commit` resolved.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The note `pre-commit` leaves for `prepare-commit-msg`, which runs right after it in the same
/// `git commit`. Older notes belong to a commit that never happened.
const NOTE: &str = "commit-note";
const NOTE_MAX_AGE: Duration = Duration::from_secs(300);

/// One automatic action.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub hook: &'a str,
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub summary: &'a str,
    pub paths: &'a [String],
    pub head_before: Option<&'a str>,
    pub head_after: Option<&'a str>,
    /// A command that puts things back as git left them.
    pub undo: &'a str,
}

fn dir(git_dir: &Path) -> PathBuf {
    git_dir.join(super::STATE_DIR)
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes `last.json` and appends to `log`.
pub fn write(git_dir: &Path, record: &Record<'_>) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = dir(git_dir);
    std::fs::create_dir_all(&dir)?;
    let json = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("last.json"), json + "\n")?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("log"))?;
    writeln!(
        log,
        "{} {}: {} (undo: {})",
        record.time, record.hook, record.summary, record.undo
    )
}

/// Leaves a line for the commit message of the commit being made.
pub fn leave_note(git_dir: &Path, note: &str) -> std::io::Result<()> {
    let dir = dir(git_dir);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(NOTE), note)
}

/// Whether a note is waiting, fresh or not: one `stat`, for `prepare-commit-msg` to return at
/// once from the commits `pre-commit` resolved nothing in.
pub fn has_note(git_dir: &Path) -> bool {
    dir(git_dir).join(NOTE).exists()
}

/// Takes the note left by `pre-commit`, if it is fresh; a stale one is dropped.
pub fn take_note(git_dir: &Path) -> Option<String> {
    let path = dir(git_dir).join(NOTE);
    let fresh = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < NOTE_MAX_AGE);
    let note = std::fs::read_to_string(&path).ok();
    let _ = std::fs::remove_file(&path);
    note.filter(|n| fresh && !n.trim().is_empty())
}

/// The commit message with `note` added as its own paragraph, before git's comment lines so
/// that it survives their removal.
pub fn add_note(message: &str, note: &str) -> String {
    let note = note.trim();
    if message.lines().any(|l| l.trim() == note) {
        return message.to_owned();
    }
    let cut = message
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain(std::iter::once(0))
        .filter(|&i| message[i..].starts_with('#'))
        .min()
        .unwrap_or(message.len());
    let (body, comments) = message.split_at(cut);
    let body = body.trim_end();
    let sep = if body.is_empty() { "" } else { "\n\n" };
    let after = if comments.is_empty() { "\n" } else { "\n\n" };
    format!("{body}{sep}{note}{after}{comments}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_goes_before_comments() {
        let msg = "Merge branch 'x'\n\n# Conflicts:\n#\tmodels.py\n";
        assert_eq!(
            add_note(msg, "migmerge: users: renumbered a -> b"),
            "Merge branch 'x'\n\nmigmerge: users: renumbered a -> b\n\n# Conflicts:\n#\tmodels.py\n"
        );
        assert_eq!(add_note("Merge\n", "n"), "Merge\n\nn\n");
        assert_eq!(add_note("Merge\n\nn\n", "n"), "Merge\n\nn\n");
    }

    #[test]
    fn notes_are_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_note(dir.path()));
        leave_note(dir.path(), "hello").unwrap();
        assert!(has_note(dir.path()));
        assert_eq!(take_note(dir.path()).as_deref(), Some("hello"));
        assert!(!has_note(dir.path()));
        assert_eq!(take_note(dir.path()), None);
    }
}
