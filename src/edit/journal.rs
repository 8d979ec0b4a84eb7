//! The write journal: a record, made before the first byte of a resolution reaches the tree, of
//! every file the write touches as it was and as it will be, so that a process killed between
//! two renames (`kill -9`, a closed terminal, a crash) leaves nothing half-done for long.
//!
//! The journal is one file in the git directory (`.git/migmerge/write-journal.json`; outside a
//! repository, `.migmerge-write-journal.json` at the root written to). It is written and synced
//! before the first temp file is created and removed once the write and what records it (the
//! index, a hook's commit) are complete. Any later migmerge run that finds it left behind
//! settles it (see [`crate::git::recover`]): every file put back as the journal found it, or,
//! when the run had got as far as the index or a commit, all of it kept; the temp files go,
//! and one line says what was done.
//!
//! Only files in one of the two states the journal names (as before, as after) are put back:
//! a file changed by hand since the interrupted run is never overwritten; the journal is kept
//! and the file named instead.

use std::collections::BTreeSet;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::FileUpdate;

/// The journal's file name, in the git directory's `migmerge/`.
const IN_STATE_DIR: &str = "write-journal.json";
/// The journal's file name at the root, outside a repository.
const AT_ROOT: &str = ".migmerge-write-journal.json";

/// One path the write touches: its bytes before and after (`None`: no file there) and, for a
/// file that existed, its mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    path: String,
    #[serde(with = "hex_bytes")]
    before: Option<Vec<u8>>,
    #[serde(with = "hex_bytes")]
    after: Option<Vec<u8>>,
    mode: Option<u32>,
}

/// What the journal file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    /// The directory the paths are relative to, absolute.
    root: PathBuf,
    /// The process writing, so that a run that is still going is not rolled back under it.
    pid: u32,
    /// The updates as planned, to stage them again when the write completed but the run was
    /// killed before it was done with the index.
    updates: Vec<UpdateRecord>,
    entries: Vec<Entry>,
    /// Set by a hook once the commit holding the resolution exists: if `HEAD` reached it, the
    /// resolution is in history and is kept.
    commit: Option<String>,
    /// Set just before the resolution is staged: the index it goes to (`index: None`, the
    /// repository's own). If that index holds it, the resolution is kept.
    #[serde(default)]
    staging: Option<Staging>,
}

/// The index a resolution is being staged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staging {
    pub index: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UpdateRecord {
    before: Option<String>,
    after: String,
    #[serde(with = "hex_bytes")]
    old: Option<Vec<u8>>,
    #[serde(with = "hex_bytes")]
    new: Option<Vec<u8>>,
}

/// Where the journal of a write under `root` lives: in the git directory of the repository
/// holding `root` (found as git finds it from a directory: a `.git` directory, or a `.git` file
/// naming one), else at `root`. Every writer and every reader asks here, so they agree.
pub fn location(root: &Path) -> PathBuf {
    match crate::git::cmd::enclosing_git_dir(root) {
        Some(git_dir) => git_dir.join(crate::git::STATE_DIR).join(IN_STATE_DIR),
        None => std::path::absolute(root)
            .unwrap_or_else(|_| root.to_path_buf())
            .join(AT_ROOT),
    }
}

/// A journal being kept for a write in progress.
///
/// Dropped without [`Journal::finish`] or [`Journal::roll_back`] (an early return on an error
/// path), a journal this process began puts the files back itself, unless a commit already
/// holds them; the next run would otherwise do it. A journal read back from disk is never
/// acted on by a drop: only [`Leftover::roll_back`] decides for it.
#[derive(Debug)]
pub struct Journal {
    file: PathBuf,
    record: Record,
    /// Whether this process began the write and has not closed it yet.
    open: bool,
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Staged or committed, the resolution may be in the index or in history: the next run
        // tells which.
        if self.open && self.record.commit.is_none() && self.record.staging.is_none() {
            // Best effort: what cannot be put back here is put back by the next run.
            if restore_entries(&self.record).is_ok() {
                let _ = remove(&self.file);
            }
        }
    }
}

impl Journal {
    /// Records `updates` (to be written under `root`) and syncs the record, before anything is
    /// written. `modes` gives the mode of each existing file read. Refuses when a journal is
    /// already there: another run is writing, or one was interrupted and not yet recovered.
    pub(super) fn begin(
        root: &Path,
        updates: &[FileUpdate],
        modes: &[(String, u32)],
    ) -> io::Result<Journal> {
        let file = location(root);
        let record = Record {
            root: std::path::absolute(root)?,
            pid: std::process::id(),
            updates: updates.iter().map(UpdateRecord::from).collect(),
            entries: entries(updates, modes),
            commit: None,
            staging: None,
        };
        let mut journal = Journal {
            file,
            record,
            open: false,
        };
        journal.save(false)?;
        journal.open = true;
        Ok(journal)
    }

    /// Notes that `commit` holds the resolution; from here on an interrupted run is judged by
    /// whether `HEAD` reached it.
    pub fn mark_committed(&mut self, commit: &str) -> io::Result<()> {
        let was = self.record.commit.replace(commit.to_owned());
        // Unsaved, the mark must not stand in memory either (a drop then puts the files back).
        self.save(true)
            .inspect_err(|_| self.record.commit = was.clone())
    }

    /// Notes that the resolution is about to be staged in `index` (the repository's own when
    /// `None`); from here on an interrupted run is judged by whether that index holds it.
    pub fn mark_staging(&mut self, index: Option<&Path>) -> io::Result<()> {
        let was = self.record.staging.replace(Staging {
            index: index.map(Path::to_path_buf),
        });
        self.save(true)
            .inspect_err(|_| self.record.staging = was.clone())
    }

    /// The write is complete: the journal goes.
    pub fn finish(mut self) -> io::Result<()> {
        self.open = false;
        remove(&self.file)
    }

    /// Puts every file back as the journal found it, then removes the journal. On failure the
    /// journal stays, for the next run to try again.
    pub fn roll_back(mut self) -> Result<usize, RecoveryError> {
        self.open = false;
        let put_back = restore_entries(&self.record)?;
        remove(&self.file).map_err(|source| RecoveryError::Journal {
            file: self.file.clone(),
            source,
        })?;
        Ok(put_back)
    }

    /// Writes the record to a temp file beside the journal, syncs it, and moves it into place:
    /// replacing the journal (`replace`), or only when there is none.
    fn save(&self, replace: bool) -> io::Result<()> {
        let dir = self.file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec(&self.record).map_err(io::Error::other)?;
        let mut temp = tempfile::Builder::new()
            .prefix(".migmerge-journal-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        temp.write_all(&json)?;
        temp.as_file().sync_all()?;
        if replace {
            temp.persist(&self.file).map_err(|e| e.error)?;
        } else {
            temp.persist_noclobber(&self.file).map_err(|e| {
                if e.error.kind() == io::ErrorKind::AlreadyExists {
                    io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!(
                            "{} exists: another migmerge run is writing, or one was \
                             interrupted (the next migmerge command puts its files back)",
                            self.file.display()
                        ),
                    )
                } else {
                    e.error
                }
            })?;
        }
        sync_dir(dir);
        Ok(())
    }
}

/// Why an interrupted write could not be put back.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(
        "{path}: changed since an interrupted migmerge run wrote it, so it was not put back; \
         the journal {} is kept: look at the file, then delete the journal",
        .journal.display()
    )]
    ChangedSince { path: String, journal: PathBuf },
    #[error("{path}: cannot put it back after an interrupted migmerge run: {source}")]
    Restore {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{}: cannot read or remove the write journal: {source}", .file.display())]
    Journal {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A journal an interrupted run left behind.
#[derive(Debug)]
pub struct Leftover {
    journal: Journal,
}

/// The journal left behind for `root`, if any, unless the run that wrote it is still going.
pub fn leftover(root: &Path) -> Result<Option<Leftover>, RecoveryError> {
    let file = location(root);
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(RecoveryError::Journal { file, source }),
    };
    let record: Record = serde_json::from_slice(&bytes).map_err(|e| RecoveryError::Journal {
        file: file.clone(),
        source: io::Error::new(io::ErrorKind::InvalidData, e),
    })?;
    if record.pid != std::process::id() && is_running(record.pid) {
        return Ok(None);
    }
    Ok(Some(Leftover {
        journal: Journal {
            file,
            record,
            open: false,
        },
    }))
}

impl Leftover {
    /// The commit a hook made of the resolution, if it got that far.
    pub fn commit(&self) -> Option<&str> {
        self.journal.record.commit.as_deref()
    }

    /// The index the interrupted run was staging the resolution in, if it got that far.
    pub fn staging(&self) -> Option<&Staging> {
        self.journal.record.staging.as_ref()
    }

    /// The directory the write was under.
    pub fn root(&self) -> &Path {
        &self.journal.record.root
    }

    /// The updates the interrupted run was writing.
    pub fn updates(&self) -> Vec<FileUpdate> {
        self.journal
            .record
            .updates
            .iter()
            .map(UpdateRecord::to_update)
            .collect()
    }

    /// Whether every file already holds what the write was to put there.
    pub fn is_complete(&self) -> bool {
        self.journal
            .record
            .entries
            .iter()
            .all(|e| current(&self.journal.record.root, &e.path).is_ok_and(|now| now == e.after))
    }

    /// Puts every file back as it was before the interrupted run and removes its temp files
    /// and the journal. Returns how many files were put back.
    pub fn roll_back(self) -> Result<usize, RecoveryError> {
        let record = &self.journal.record;
        // Every file first, so that nothing is half put back because of one changed file.
        for entry in &record.entries {
            let now =
                current(&record.root, &entry.path).map_err(|source| RecoveryError::Restore {
                    path: entry.path.clone(),
                    source,
                })?;
            if now != entry.before && now != entry.after {
                return Err(RecoveryError::ChangedSince {
                    path: entry.path.clone(),
                    journal: self.journal.file.clone(),
                });
            }
        }
        sweep_temp_files(record);
        self.journal.roll_back()
    }

    /// The write completed and was recorded: only its temp files and the journal go.
    pub fn settle(self) -> Result<(), RecoveryError> {
        sweep_temp_files(&self.journal.record);
        let file = self.journal.file.clone();
        self.journal
            .finish()
            .map_err(|source| RecoveryError::Journal { file, source })
    }
}

/// Puts each entry's `before` back where the tree differs from it. Returns how many paths
/// changed.
fn restore_entries(record: &Record) -> Result<usize, RecoveryError> {
    let mut put_back = 0;
    let mut failed = None;
    for entry in &record.entries {
        let fail = |source| RecoveryError::Restore {
            path: entry.path.clone(),
            source,
        };
        let target = record.root.join(&entry.path);
        let now = match current(&record.root, &entry.path) {
            Ok(now) => now,
            Err(err) => {
                failed.get_or_insert(fail(err));
                continue;
            }
        };
        if now == entry.before {
            continue;
        }
        let result = match &entry.before {
            Some(bytes) => restore_file(&target, bytes, entry.mode),
            None => std::fs::remove_file(&target),
        };
        match result {
            Ok(()) => put_back += 1,
            // Keep going: every file that can be put back is.
            Err(err) => {
                failed.get_or_insert(fail(err));
            }
        }
    }
    match failed {
        Some(err) => Err(err),
        None => Ok(put_back),
    }
}

/// A path's bytes now, `None` when nothing is there.
fn current(root: &Path, path: &str) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(root.join(path)) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Writes `bytes` (with `mode`) to `target` with a temp file and a rename.
fn restore_file(target: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".migmerge-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    if let Some(mode) = mode {
        set_mode(temp.as_file(), mode)?;
    }
    temp.as_file().sync_all()?;
    temp.persist(target).map_err(|e| e.error)?;
    Ok(())
}

/// Removes the `.migmerge-*.tmp` files an interrupted write may have left in the directories
/// it wrote to. Neither Django nor migmerge reads them; they are only clutter.
fn sweep_temp_files(record: &Record) {
    let dirs: BTreeSet<PathBuf> = record
        .entries
        .iter()
        .filter_map(|e| record.root.join(&e.path).parent().map(Path::to_path_buf))
        .collect();
    for dir in dirs {
        let Ok(listing) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in listing.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file && name.starts_with(".migmerge-") && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Every path `updates` read or write, with its bytes before and after.
fn entries(updates: &[FileUpdate], modes: &[(String, u32)]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut entry = |path: &str| -> usize {
        if let Some(i) = entries.iter().position(|e| e.path == path) {
            return i;
        }
        entries.push(Entry {
            path: path.to_owned(),
            before: None,
            after: None,
            mode: modes.iter().find(|(p, _)| p == path).map(|(_, m)| *m),
        });
        entries.len() - 1
    };
    let mut indexes = Vec::new();
    for update in updates {
        if let (Some(before), Some(old)) = (&update.before, &update.old) {
            let i = entry(before);
            indexes.push((i, Some(old.clone()), None));
        }
        let i = entry(&update.after);
        indexes.push((i, None, Some(update.new.clone())));
    }
    for (i, before, after) in indexes {
        if before.is_some() {
            entries[i].before = before;
        }
        if after.is_some() {
            entries[i].after = after;
        }
    }
    entries
}

impl From<&FileUpdate> for UpdateRecord {
    fn from(update: &FileUpdate) -> UpdateRecord {
        UpdateRecord {
            before: update.before.clone(),
            after: update.after.clone(),
            old: update.old.clone(),
            new: Some(update.new.clone()),
        }
    }
}

impl UpdateRecord {
    fn to_update(&self) -> FileUpdate {
        FileUpdate {
            before: self.before.clone(),
            after: self.after.clone(),
            old: self.old.clone(),
            new: self.new.clone().unwrap_or_default(),
        }
    }
}

fn remove(file: &Path) -> io::Result<()> {
    match std::fs::remove_file(file) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => {
            if let Some(dir) = file.parent() {
                sync_dir(dir);
            }
            Ok(())
        }
    }
}

/// Syncs a directory's entries (the journal's creation or removal), where the platform can.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Whether a process with this id is running (Linux: `/proc`; elsewhere it is taken as gone,
/// so a journal is never left forever).
fn is_running(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("migmerge"))
}

#[cfg(unix)]
pub(super) fn mode_of(permissions: &std::fs::Permissions) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(permissions.mode())
}

#[cfg(not(unix))]
pub(super) fn mode_of(_permissions: &std::fs::Permissions) -> Option<u32> {
    None
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &std::fs::File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Bytes as a hex string in the journal (file contents are not always UTF-8).
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => {
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                let mut text = String::with_capacity(bytes.len() * 2);
                for byte in bytes {
                    text.push(char::from(DIGITS[usize::from(byte >> 4)]));
                    text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
                }
                s.serialize_some(&text)
            }
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let digits = text.as_bytes();
        if digits.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd number of hex digits"));
        }
        digits
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
                    .ok_or_else(|| serde::de::Error::custom("not a hex digit"))
            })
            .collect::<Result<Vec<u8>, _>>()
            .map(Some)
    }
}

// ---------------------------------------------------------------------------------------------
// Halting points, a test aid.

/// `MIGMERGE_TEST_HALT_AT=N` (with `MIGMERGE_TEST_HALT_FILE=path`): a test aid, documented as
/// such. At the N-th halting point of the process (counted from 0: the journal written, each
/// temp file, each rename, each removal, then marking and moving to the commit a hook makes,
/// and staging), migmerge writes its process id to the file and waits there, for a test to
/// kill it with SIGKILL at a known point of a write. Unset, each point costs one relaxed
/// atomic increment.
pub fn halt_point() {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    static TARGET: std::sync::OnceLock<Option<(usize, PathBuf)>> = std::sync::OnceLock::new();
    let step = COUNT.fetch_add(1, Ordering::Relaxed);
    let target = TARGET.get_or_init(|| {
        let at = std::env::var("MIGMERGE_TEST_HALT_AT").ok()?.parse().ok()?;
        let file = std::env::var_os("MIGMERGE_TEST_HALT_FILE")?;
        Some((at, PathBuf::from(file)))
    });
    if let Some((at, file)) = target
        && *at == step
    {
        // Written whole, then renamed, so the test never reads half an id.
        let temp = file.with_extension("part");
        if std::fs::write(&temp, std::process::id().to_string()).is_ok() {
            let _ = std::fs::rename(&temp, file);
        }
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::testing::update;

    #[test]
    fn a_chain_of_renames_is_recorded_path_by_path() {
        // a -> b while b -> c: b is both read and written, a only read, c only written.
        let updates = [
            update(Some("a.py"), "b.py", Some("A"), "A2"),
            update(Some("b.py"), "c.py", Some("B"), "B2"),
        ];
        let got = entries(&updates, &[("a.py".to_owned(), 0o644)]);
        let got: Vec<_> = got
            .iter()
            .map(|e| (e.path.as_str(), e.before.clone(), e.after.clone(), e.mode))
            .collect();
        let bytes = |s: &str| Some(s.as_bytes().to_vec());
        assert_eq!(
            got,
            vec![
                ("a.py", bytes("A"), None, Some(0o644)),
                ("b.py", bytes("B"), bytes("A2"), None),
                ("c.py", None, bytes("B2"), None),
            ]
        );
    }

    #[test]
    fn the_journal_round_trips_and_only_one_is_kept_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join(".git")).unwrap();
        let updates = [update(Some("a.py"), "b.py", Some("\u{e9}\0"), "x")];
        let journal = Journal::begin(root, &updates, &[]).unwrap();
        assert_eq!(
            location(root),
            root.join(".git/migmerge/write-journal.json")
        );
        assert!(location(root).exists());
        let err = Journal::begin(root, &updates, &[]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        // Written by this process: found all the same (the process is not another run).
        let leftover = leftover(root).unwrap().unwrap();
        assert_eq!(leftover.updates(), updates.to_vec());
        assert_eq!(leftover.commit(), None);
        journal.finish().unwrap();
        assert!(super::leftover(root).unwrap().is_none());
    }

    #[test]
    fn a_journal_dropped_open_puts_the_files_back_unless_committed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.py"), "A").unwrap();
        let updates = [update(Some("a.py"), "b.py", Some("A"), "A2")];
        let journal = Journal::begin(root, &updates, &[]).unwrap();
        std::fs::rename(root.join("a.py"), root.join("b.py")).unwrap();
        drop(journal);
        assert_eq!(std::fs::read_to_string(root.join("a.py")).unwrap(), "A");
        assert!(!root.join("b.py").exists());
        assert!(!location(root).exists());

        // Once a commit holds the write, a drop leaves it to the next run's judgement.
        let mut journal = Journal::begin(root, &updates, &[]).unwrap();
        std::fs::rename(root.join("a.py"), root.join("b.py")).unwrap();
        journal.mark_committed("0123abc").unwrap();
        drop(journal);
        assert!(root.join("b.py").exists());
        assert_eq!(leftover(root).unwrap().unwrap().commit(), Some("0123abc"));
    }

    #[test]
    fn a_file_changed_since_is_not_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.py"), "A").unwrap();
        let updates = [update(Some("a.py"), "a.py", Some("A"), "A2")];
        let _journal = Journal::begin(root, &updates, &[]).unwrap();
        std::fs::write(root.join("a.py"), "mine").unwrap();
        let err = leftover(root).unwrap().unwrap().roll_back().unwrap_err();
        assert!(matches!(err, RecoveryError::ChangedSince { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(root.join("a.py")).unwrap(), "mine");
        assert!(location(root).exists());
        // Once the file is as the run found it or left it, the roll-back goes through.
        std::fs::write(root.join("a.py"), "A2").unwrap();
        std::fs::write(root.join(".migmerge-x.tmp"), "half").unwrap();
        assert_eq!(leftover(root).unwrap().unwrap().roll_back().unwrap(), 1);
        assert_eq!(std::fs::read_to_string(root.join("a.py")).unwrap(), "A");
        assert!(!root.join(".migmerge-x.tmp").exists());
        assert!(!location(root).exists());
    }
}
