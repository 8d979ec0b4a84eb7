//! Migration modules as parsed for the graph, kept between runs in the repository's git
//! directory (`.git/migmerge/parse-cache`), by content.
//!
//! A project's migrations hardly change from one run to the next: every hook, merge driver and
//! `check` reads the same thousand files and parses them again, and the parse is most of a
//! load's work. The cache answers for a module whose bytes it has seen, with the `Migration`
//! those bytes parsed to.
//!
//! What keeps its answers right:
//! - An entry is found by a 128-bit hash of the module's whole bytes, seeded with a secret
//!   drawn when the cache file was made, so that no file can be written to collide with
//!   another's entry; the length is part of the key too. A module read from git objects (a
//!   revision, the index, an in-memory merge) is also found by its blob id, which names those
//!   bytes exactly, so that a kept parse spares inflating the blob as well: that key is the
//!   seeded hash of the id, with a length no file has.
//! - A work-tree file is also found by its stamp (see [`Stamp`]): its absolute path and what
//!   the filesystem says of it (times to the nanosecond, size, inode, device, mode), kept with
//!   the key of the bytes read under that stamp. A file whose stamp is unchanged is not read.
//!   As git trusts its index, a stamp is kept only once it has settled (its times more than
//!   [`crate::source::SETTLED`] old when it was taken): a write after it was taken changes it, even on a
//!   filesystem whose clock ticks in seconds.
//! - A cache made by another build of migmerge is not read (the parser may differ): the file
//!   names the executable that wrote it (size, modification time and, on Unix, its inode).
//! - Only modules read for the graph ([`Detail::Graph`]) are kept, and only those that parse:
//!   an error is always reported by a parse of its own.
//! - A file that cannot be read, is truncated, or does not decode is an empty cache; a cache
//!   that cannot be written is not written. Either way the answers are the parser's, only
//!   slower: the cache never fails a run.
//! - Written to a temporary file and moved into place, so a reader sees a whole cache, old or
//!   new; of two runs saving at once, the last one's stays.
//!
//! Every run reads the cache; only the runs that write to the repository anyway (the merge
//! driver, the hooks, `resolve`) add to it, after [`keep_new_parses`]. `check`, `lint` and the
//! other readers write nothing, as they promise.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use xxhash_rust::xxh3::xxh3_128_with_seed;

use crate::migration::{self, Detail, Migration, ParseError};
use crate::source::{Stamp, Status};

/// The file in the git directory's `migmerge` directory.
const FILE: &str = "parse-cache";
/// What a cache file starts with; the number changes with the layout.
const MAGIC: &[u8; 16] = b"migmerge-parse\x002";
/// Entries of earlier runs that this one did not meet are kept up to this many times the
/// entries it met (a repository's other projects, a branch checked out a moment ago), and at
/// least [`KEEP_AT_LEAST`] in all.
const KEEP_FACTOR: usize = 2;
const KEEP_AT_LEAST: usize = 4096;

/// Whether this process adds what it parses to the cache (see [`keep_new_parses`]).
static KEEP_NEW: AtomicBool = AtomicBool::new(false);

/// Lets the loads of this process add the modules they parse to the cache: for the commands
/// that write to the repository anyway.
pub fn keep_new_parses() {
    KEEP_NEW.store(true, Ordering::Relaxed);
}

/// An entry's key: the module's hash and length, or for a blob id, the id's hash and
/// [`BLOB_KEY`].
type Key = (u128, u64);
/// The length part of a blob id's key: no file is this long, so no module's key is one.
const BLOB_KEY: u64 = u64::MAX;
/// What a blob id is hashed after, so that its hash is not that of a module of the same bytes.
const BLOB_DOMAIN: &[u8] = b"git blob id\0";
/// Where each entry's encoded `Migration` lies in a cache file's bytes, in file order.
type Stored = Vec<(Key, Range<usize>)>;
/// The stamps kept: by absolute path, the file's status and the key of its bytes.
type Stamps = HashMap<Vec<u8>, (Status, Key)>;

/// What a run knows of a module's bytes before reading them, which finds their kept parse.
pub enum Known<'a> {
    /// The id of the git blob holding them (see [`crate::source::Source::blob_id`]).
    Blob(&'a [u8]),
    /// The work-tree file's stamp (see [`crate::source::Source::stamp`]).
    Stamp(&'a Stamp),
    /// Nothing: the bytes alone find it.
    Nothing,
}

/// The cache of one run: what the file held, and what the run met and added.
pub struct ParseCache {
    file: PathBuf,
    identity: u64,
    seed: u64,
    /// The file's bytes, which the entries point into.
    stored: Vec<u8>,
    /// Each stored entry's encoded `Migration`, in file order.
    entries: HashMap<Key, Range<usize>>,
    order: Vec<Key>,
    met: Mutex<HashSet<Key>>,
    /// Whether this run adds its parses (see [`keep_new_parses`]).
    keep: bool,
    added: Mutex<Vec<(Key, Vec<u8>)>>,
    /// The file read, and where its stamps start: they are read again from it into
    /// [`ParseCache::stamps`] the first time they are asked for, and not kept in `stored`
    /// meanwhile. A run reading git's objects never asks, and a large project's stamps are
    /// megabytes of paths, held through the whole parse for nothing.
    stamps_at: Option<(std::fs::File, u64)>,
    stamps: OnceLock<Stamps>,
    /// The stamps this run took of the files it read.
    stamped: Mutex<Vec<(Vec<u8>, Status, Key)>>,
}

impl ParseCache {
    /// The cache kept in `migmerge_dir` (a git directory's `migmerge`), empty when there is
    /// none yet or it cannot be used.
    pub fn open(migmerge_dir: &Path) -> ParseCache {
        Self::open_keeping(migmerge_dir, KEEP_NEW.load(Ordering::Relaxed))
    }

    /// [`ParseCache::open`]; `keep`: whether this run's parses are added.
    fn open_keeping(migmerge_dir: &Path, keep: bool) -> ParseCache {
        let file = migmerge_dir.join(FILE);
        let identity = executable_identity();
        let read = std::fs::File::open(&file).ok().and_then(|mut handle| {
            let mut stored = Vec::new();
            std::io::Read::read_to_end(&mut handle, &mut stored).ok()?;
            let decoded = decode(&stored, identity)?;
            // The entries alone stay in memory; the same file (even once another run has
            // replaced it under this name) gives the stamps later.
            stored.truncate(decoded.stamps_at);
            stored.shrink_to_fit();
            let at = u64::try_from(decoded.stamps_at).ok()?;
            Some((stored, decoded, (handle, at)))
        });
        let (stored, seed, entries, stamps_at) = match read {
            Some((stored, Decoded { seed, entries, .. }, stamps_at)) => {
                (stored, seed, entries, Some(stamps_at))
            }
            None => (Vec::new(), fresh_seed(), Vec::new(), None),
        };
        ParseCache {
            file,
            identity,
            seed,
            stored,
            // Only a run that saves needs the file's order.
            order: if keep {
                entries.iter().map(|(key, _)| *key).collect()
            } else {
                Vec::new()
            },
            entries: entries.into_iter().collect(),
            met: Mutex::new(HashSet::new()),
            keep,
            added: Mutex::new(Vec::new()),
            stamps_at,
            stamps: OnceLock::new(),
            stamped: Mutex::new(Vec::new()),
        }
    }

    /// The stamps the file held (none when they cannot be read again).
    fn stamps(&self) -> &Stamps {
        self.stamps.get_or_init(|| {
            self.stamps_at
                .as_ref()
                .and_then(|(handle, at)| stamps_in(handle, *at))
                .unwrap_or_default()
        })
    }

    /// Whether the cache can do anything for this run: answer from entries, or keep parses.
    pub fn is_useful(&self) -> bool {
        self.keep || !self.entries.is_empty()
    }

    fn key(&self, bytes: &[u8]) -> Key {
        (xxh3_128_with_seed(bytes, self.seed), bytes.len() as u64)
    }

    fn blob_key(&self, id: &[u8]) -> Key {
        let mut domained = Vec::with_capacity(BLOB_DOMAIN.len() + id.len());
        domained.extend_from_slice(BLOB_DOMAIN);
        domained.extend_from_slice(id);
        (xxh3_128_with_seed(&domained, self.seed), BLOB_KEY)
    }

    /// The kept entry of `key`, encoded, marked met.
    fn found(&self, key: Key) -> Option<&[u8]> {
        let encoded = self.stored.get(self.entries.get(&key)?.clone())?;
        // Only a run that saves needs to know what it met.
        if self.keep {
            lock(&self.met).insert(key);
        }
        Some(encoded)
    }

    /// The parse kept for a module, found by what is `known` of its bytes without reading
    /// them; `None` when there is none, and the module is read and given to
    /// [`ParseCache::parse_for_graph`].
    pub fn cached(&self, known: &Known<'_>) -> Option<Migration> {
        let key = match known {
            Known::Blob(id) => self.blob_key(id),
            Known::Stamp(stamp) => match self.stamps().get(&stamp.file)? {
                (status, key) if *status == stamp.status => *key,
                _ => return None,
            },
            Known::Nothing => return None,
        };
        postcard::from_bytes(self.found(key)?).ok()
    }

    /// `bytes` parsed for the graph ([`Detail::Graph`]): the cached answer when there is one,
    /// else the parser's, which is kept. What was `known` of them keeps the parse findable
    /// without them next time: by the blob's id (the same bytes may have been parsed from the
    /// work tree already), or with the file's stamp once it has settled.
    pub fn parse_for_graph(
        &self,
        bytes: &[u8],
        known: &Known<'_>,
    ) -> Result<Migration, ParseError> {
        let key = self.key(bytes);
        let blob = match known {
            Known::Blob(id) => Some(self.blob_key(id)),
            Known::Stamp(_) | Known::Nothing => None,
        };
        let parsed = self.parse_keyed(bytes, key, blob)?;
        if self.keep
            && let Known::Stamp(stamp) = known
            && stamp.settled
        {
            lock(&self.stamped).push((stamp.file.clone(), stamp.status, key));
        }
        Ok(parsed)
    }

    /// The parse of `bytes`, whose key is `key`: kept or made, and kept under `blob` too.
    fn parse_keyed(
        &self,
        bytes: &[u8],
        key: Key,
        blob: Option<Key>,
    ) -> Result<Migration, ParseError> {
        if let Some(encoded) = self.found(key)
            && let Ok(migration) = postcard::from_bytes::<Migration>(encoded)
        {
            if self.keep
                && let Some(blob) = blob
            {
                lock(&self.added).push((blob, encoded.to_vec()));
            }
            return Ok(migration);
        }
        let parsed = migration::parse_with(bytes, Detail::Graph)?;
        if self.keep
            && let Ok(encoded) = postcard::to_allocvec(&parsed)
        {
            let mut added = lock(&self.added);
            if let Some(blob) = blob {
                added.push((blob, encoded.clone()));
            }
            added.push((key, encoded));
        }
        Ok(parsed)
    }

    /// Writes the cache back when this run added to it (a parse, or a file's new stamp): the
    /// entries it added or met, and as many of the others as `KEEP_FACTOR` allows, each once
    /// (two files of the same bytes parsed side by side are added twice), with the stamps of
    /// the entries written. Failures leave the old file.
    pub fn save(self) {
        self.stamps();
        let ParseCache {
            file,
            identity,
            seed,
            stored,
            entries,
            order,
            met,
            keep: _,
            added,
            stamps_at: _,
            stamps,
            stamped,
        } = self;
        let stamps = stamps.into_inner().unwrap_or_default();
        let added = added.into_inner().unwrap_or_else(PoisonError::into_inner);
        let stamped = stamped.into_inner().unwrap_or_else(PoisonError::into_inner);
        // A stamp taken again as it was kept changes nothing.
        let new_stamps = stamped
            .iter()
            .any(|(file, status, key)| stamps.get(file) != Some(&(*status, *key)));
        if added.is_empty() && !new_stamps {
            return;
        }
        let met = met.into_inner().unwrap_or_else(PoisonError::into_inner);
        let fresh: HashSet<Key> = added.iter().map(|(key, _)| *key).collect();
        let live = met.len() + fresh.len();
        let room = (live * KEEP_FACTOR).max(KEEP_AT_LEAST);
        let mut kept_others = 0;
        let mut out = encode_header(identity, seed);
        // The number of entries goes here once they are written.
        let count_at = out.len();
        out.extend_from_slice(&0u64.to_le_bytes());
        let mut written: HashSet<Key> = HashSet::new();
        let mut write_entry = |out: &mut Vec<u8>, key: Key, encoded: &[u8]| {
            if written.insert(key) {
                put_key(out, key);
                out.extend_from_slice(&(encoded.len() as u64).to_le_bytes());
                out.extend_from_slice(encoded);
            }
        };
        for (key, encoded) in &added {
            write_entry(&mut out, *key, encoded);
        }
        for key in &order {
            if fresh.contains(key) {
                continue;
            }
            if !met.contains(key) {
                if live + kept_others >= room {
                    continue;
                }
                kept_others += 1;
            }
            if let Some(encoded) = entries.get(key).and_then(|range| stored.get(range.clone())) {
                write_entry(&mut out, *key, encoded);
            }
        }
        out[count_at..count_at + 8].copy_from_slice(&(written.len() as u64).to_le_bytes());
        // The stamps of entries kept: this run's over the file's, by path.
        let mut rows: HashMap<Vec<u8>, (Status, Key)> = stamps;
        for (path, status, key) in stamped {
            rows.insert(path, (status, key));
        }
        rows.retain(|_, (_, key)| written.contains(key));
        out.extend_from_slice(&(rows.len() as u64).to_le_bytes());
        for (path, (status, key)) in &rows {
            out.extend_from_slice(&(path.len() as u64).to_le_bytes());
            out.extend_from_slice(path);
            for field in status {
                out.extend_from_slice(&field.to_le_bytes());
            }
            put_key(&mut out, *key);
        }
        let _ = write_replacing(&file, &out);
    }
}

/// The header: magic, the writing executable's identity, the key seed.
fn encode_header(identity: u64, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&identity.to_le_bytes());
    out.extend_from_slice(&seed.to_le_bytes());
    out
}

/// Appends `key` as [`Cursor::key`] reads it back.
fn put_key(out: &mut Vec<u8>, key: Key) {
    out.extend_from_slice(&key.0.to_le_bytes());
    out.extend_from_slice(&key.1.to_le_bytes());
}

/// What a cache file holds besides the bytes of its entries.
struct Decoded {
    seed: u64,
    /// Each entry's key and the range of its encoded `Migration` in the file.
    entries: Stored,
    /// Where the stamps start (see [`stamps_in`]), which are checked, not read.
    stamps_at: usize,
}

/// The seed, entries and stamps of a cache file written by the executable `identity`; `None`
/// for any other file.
fn decode(stored: &[u8], identity: u64) -> Option<Decoded> {
    let mut cursor = Cursor {
        bytes: stored,
        at: 0,
    };
    if cursor.take(MAGIC.len())? != MAGIC {
        return None;
    }
    if cursor.u64()? != identity {
        return None;
    }
    let seed = cursor.u64()?;
    // Counts are bounded by the bytes left, so that a damaged count allocates nothing huge.
    let count = usize::try_from(cursor.u64()?).ok()?;
    let mut entries = Vec::with_capacity(count.min(stored.len() / 32));
    for _ in 0..count {
        let key = cursor.key()?;
        let size = usize::try_from(cursor.u64()?).ok()?;
        let start = cursor.at;
        cursor.take(size)?;
        entries.push((key, start..cursor.at));
    }
    let stamps_at = cursor.at;
    read_stamps(&mut cursor, |_, _, _| {})?;
    Some(Decoded {
        seed,
        entries,
        stamps_at,
    })
}

/// The stamps of the cache file `handle`, which start at `at` (as [`decode`] found them).
fn stamps_in(mut handle: &std::fs::File, at: u64) -> Option<Stamps> {
    std::io::Seek::seek(&mut handle, std::io::SeekFrom::Start(at)).ok()?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut handle, &mut bytes).ok()?;
    let mut cursor = Cursor {
        bytes: &bytes,
        at: 0,
    };
    let mut stamps = Stamps::new();
    read_stamps(&mut cursor, |path, status, key| {
        stamps.insert(path.to_vec(), (status, key));
    })?;
    Some(stamps)
}

/// Reads the stamps from `cursor` to the end of the file, each given to `each`; `None` when they
/// do not end exactly where the file does.
fn read_stamps(cursor: &mut Cursor<'_>, mut each: impl FnMut(&[u8], Status, Key)) -> Option<()> {
    let rows = cursor.u64()?;
    for _ in 0..rows {
        let size = usize::try_from(cursor.u64()?).ok()?;
        let path = cursor.take(size)?;
        let mut status = Status::default();
        for field in &mut status {
            *field = cursor.u64()?;
        }
        each(path, status, cursor.key()?);
    }
    // Anything after the last stamp is not a file this build wrote.
    (cursor.at == cursor.bytes.len()).then_some(())
}

/// Reads a cache file front to back; `None` past its end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let bytes = self.bytes.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }

    fn key(&mut self) -> Option<Key> {
        let hash = u128::from_le_bytes(self.take(16)?.try_into().ok()?);
        Some((hash, self.u64()?))
    }
}

/// Who wrote a cache: this executable's size, modification time and inode, hashed. Another
/// build (or an executable that cannot be looked at, which matches nothing) starts afresh.
fn executable_identity() -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(env!("CARGO_PKG_VERSION").as_bytes());
    match std::env::current_exe().and_then(std::fs::metadata) {
        Ok(meta) => {
            hasher.write_u64(meta.len());
            if let Ok(modified) = meta.modified()
                && let Ok(since) = modified.duration_since(std::time::UNIX_EPOCH)
            {
                hasher.write_u128(since.as_nanos());
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                hasher.write_u64(meta.ino());
                hasher.write_u64(meta.dev());
            }
        }
        // Unknown: a value no written cache has, so nothing is trusted.
        Err(_) => hasher.write_u64(fresh_seed()),
    }
    hasher.finish()
}

/// A random number, from the standard library's per-process random hasher keys.
fn fresh_seed() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Writes `bytes` to `file` through a temporary file in its directory and a rename.
fn write_replacing(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".parse-cache-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every migration module of the fixtures: real shapes, odd ones included.
    fn fixture_modules() -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        let mut pending = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "py")
                    && path.parent().is_some_and(|p| p.ends_with("migrations"))
                {
                    found.push((path.clone(), std::fs::read(&path).unwrap()));
                }
            }
        }
        found.sort();
        found
    }

    fn parsed_by(cache: &ParseCache, bytes: &[u8]) -> Result<Migration, ParseError> {
        cache.parse_for_graph(bytes, &Known::Nothing)
    }

    #[test]
    fn a_cached_module_is_what_the_parser_makes_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let modules = fixture_modules();
        assert!(modules.len() > 100, "{} fixture modules", modules.len());
        let first = ParseCache::open_keeping(dir.path(), true);
        for (path, bytes) in &modules {
            let direct = migration::parse_with(bytes, Detail::Graph);
            assert_eq!(parsed_by(&first, bytes), direct, "{}", path.display());
        }
        first.save();
        let second = ParseCache::open_keeping(dir.path(), true);
        // Fixtures share modules byte for byte: one entry each.
        let parsed = modules
            .iter()
            .filter(|(_, bytes)| migration::parse_with(bytes, Detail::Graph).is_ok())
            .map(|(_, bytes)| bytes.as_slice())
            .collect::<HashSet<_>>()
            .len();
        assert_eq!(second.entries.len(), parsed);
        for (path, bytes) in &modules {
            let direct = migration::parse_with(bytes, Detail::Graph);
            assert_eq!(parsed_by(&second, bytes), direct, "{}", path.display());
        }
        // Every answer came from the file: nothing was added, so nothing is written again.
        assert!(lock(&second.added).is_empty());
        assert_eq!(lock(&second.met).len(), parsed);
    }

    #[test]
    fn changed_bytes_are_parsed_again() {
        let dir = tempfile::tempdir().unwrap();
        let old = b"class Migration(migrations.Migration):\n    dependencies = [('shop', '0001_initial')]\n";
        let new = b"class Migration(migrations.Migration):\n    dependencies = [('shop', '0002_initial')]\n";
        let cache = ParseCache::open_keeping(dir.path(), true);
        parsed_by(&cache, old).unwrap();
        cache.save();
        let cache = ParseCache::open_keeping(dir.path(), true);
        assert_eq!(
            parsed_by(&cache, new).unwrap(),
            migration::parse_with(new, Detail::Graph).unwrap()
        );
        assert!(lock(&cache.met).is_empty());
    }

    #[test]
    fn a_damaged_or_foreign_file_is_an_empty_cache() {
        let dir = tempfile::tempdir().unwrap();
        let module = b"class Migration(migrations.Migration):\n    dependencies = []\n";
        let cache = ParseCache::open_keeping(dir.path(), true);
        parsed_by(&cache, module).unwrap();
        cache.save();
        let file = dir.path().join(FILE);
        let whole = std::fs::read(&file).unwrap();
        assert_eq!(ParseCache::open_keeping(dir.path(), false).entries.len(), 1);
        // Cut anywhere, the file holds no entry that could be trusted.
        for cut in [0, 5, MAGIC.len() + 3, whole.len() - 1] {
            std::fs::write(&file, &whole[..cut]).unwrap();
            let cache = ParseCache::open_keeping(dir.path(), false);
            assert!(cache.entries.is_empty(), "cut at {cut}");
            assert!(parsed_by(&cache, module).is_ok());
        }
        // Written by another build of migmerge.
        let mut foreign = whole.clone();
        foreign[MAGIC.len()] ^= 1;
        std::fs::write(&file, &foreign).unwrap();
        assert!(
            ParseCache::open_keeping(dir.path(), false)
                .entries
                .is_empty()
        );
        // An entry that does not decode is parsed afresh: its last byte is the one before the
        // count of stamps (none here).
        let mut garbled = whole;
        let last = garbled.len() - 9;
        garbled[last] = 0xff;
        std::fs::write(&file, &garbled).unwrap();
        let cache = ParseCache::open_keeping(dir.path(), false);
        assert_eq!(
            parsed_by(&cache, module).unwrap(),
            migration::parse_with(module, Detail::Graph).unwrap()
        );
    }

    #[test]
    fn modules_of_the_same_bytes_are_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let module = b"class Migration(migrations.Migration):\n    dependencies = []\n";
        let cache = ParseCache::open_keeping(dir.path(), true);
        for _ in 0..3 {
            parsed_by(&cache, module).unwrap();
        }
        cache.save();
        let stored = decode(
            &std::fs::read(dir.path().join(FILE)).unwrap(),
            executable_identity(),
        )
        .unwrap();
        assert_eq!(stored.entries.len(), 1);
    }

    #[test]
    fn a_run_that_does_not_keep_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ParseCache::open_keeping(dir.path(), false);
        parsed_by(
            &cache,
            b"class Migration(migrations.Migration):\n    pass\n",
        )
        .unwrap();
        cache.save();
        assert!(!dir.path().join(FILE).exists());
    }

    #[test]
    fn entries_a_run_did_not_meet_are_kept_within_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let module = |n: usize| {
            format!(
                "class Migration(migrations.Migration):\n    dependencies = [('a', '{n:04}_x')]\n"
            )
        };
        let cache = ParseCache::open_keeping(dir.path(), true);
        for n in 0..KEEP_AT_LEAST + 10 {
            parsed_by(&cache, module(n).as_bytes()).unwrap();
        }
        cache.save();
        // A run meeting one new module keeps it and as many others as the bound allows.
        let cache = ParseCache::open_keeping(dir.path(), true);
        parsed_by(&cache, module(999_999).as_bytes()).unwrap();
        cache.save();
        let cache = ParseCache::open_keeping(dir.path(), true);
        assert_eq!(cache.entries.len(), KEEP_AT_LEAST);
        parsed_by(&cache, module(999_999).as_bytes()).unwrap();
        assert_eq!(lock(&cache.met).len(), 1);
    }

    /// A blob id as git computes it for `bytes`.
    fn blob_id_of(bytes: &[u8]) -> git2::Oid {
        git2::Oid::hash_object(git2::ObjectType::Blob, bytes).unwrap()
    }

    #[test]
    fn a_blob_parsed_once_is_found_by_its_id_alone() {
        let dir = tempfile::tempdir().unwrap();
        let modules = fixture_modules();
        let first = ParseCache::open_keeping(dir.path(), true);
        for (path, bytes) in &modules {
            let id = blob_id_of(bytes);
            assert_eq!(
                first.cached(&Known::Blob(id.as_bytes())),
                None,
                "{}",
                path.display()
            );
            let direct = migration::parse_with(bytes, Detail::Graph);
            assert_eq!(
                first.parse_for_graph(bytes, &Known::Blob(id.as_bytes())),
                direct,
                "{}",
                path.display()
            );
        }
        first.save();
        let second = ParseCache::open_keeping(dir.path(), false);
        for (path, bytes) in &modules {
            let direct = migration::parse_with(bytes, Detail::Graph).ok();
            let id = blob_id_of(bytes);
            assert_eq!(
                second.cached(&Known::Blob(id.as_bytes())),
                direct,
                "{}",
                path.display()
            );
            // The same bytes read from a work tree find their entry by content.
            if let Some(direct) = direct {
                assert_eq!(parsed_by(&second, bytes).unwrap(), direct);
            }
        }
    }

    #[test]
    fn bytes_first_parsed_from_the_work_tree_are_kept_by_blob_id_when_read_from_git() {
        let dir = tempfile::tempdir().unwrap();
        let module = b"class Migration(migrations.Migration):\n    dependencies = [('shop', '0001_initial')]\n";
        let id = blob_id_of(module);
        let cache = ParseCache::open_keeping(dir.path(), true);
        parsed_by(&cache, module).unwrap();
        cache.save();
        let cache = ParseCache::open_keeping(dir.path(), true);
        assert_eq!(cache.cached(&Known::Blob(id.as_bytes())), None);
        let parsed = cache
            .parse_for_graph(module, &Known::Blob(id.as_bytes()))
            .unwrap();
        // Found by content: nothing parsed, the id's entry added.
        assert_eq!(lock(&cache.added).len(), 1);
        cache.save();
        let cache = ParseCache::open_keeping(dir.path(), false);
        assert_eq!(cache.cached(&Known::Blob(id.as_bytes())), Some(parsed));
        assert_eq!(cache.entries.len(), 2);
    }

    #[test]
    fn a_blob_id_names_no_module_and_no_other_blob() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ParseCache::open_keeping(dir.path(), true);
        let module = b"class Migration(migrations.Migration):\n    dependencies = []\n";
        let id = blob_id_of(module);
        // A module whose bytes are a blob id, with or without the domain, keys differently.
        let mut domained = BLOB_DOMAIN.to_vec();
        domained.extend_from_slice(id.as_bytes());
        for bytes in [id.as_bytes(), domained.as_slice()] {
            assert_ne!(cache.key(bytes), cache.blob_key(id.as_bytes()));
        }
        cache
            .parse_for_graph(module, &Known::Blob(id.as_bytes()))
            .unwrap();
        let other = blob_id_of(b"something else");
        assert_eq!(cache.cached(&Known::Blob(other.as_bytes())), None);
    }

    fn stamp(file: &str, status: Status, settled: bool) -> Stamp {
        Stamp {
            file: file.as_bytes().to_vec(),
            status,
            settled,
        }
    }

    #[test]
    fn a_settled_stamp_finds_its_parse_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let module = b"class Migration(migrations.Migration):\n    dependencies = [('shop', '0001_initial')]\n";
        let direct = migration::parse_with(module, Detail::Graph).unwrap();
        let at = stamp(
            "/p/shop/migrations/0002_x.py",
            [1, 2, 3, 4, 5, 6, 7, 8],
            true,
        );
        let cache = ParseCache::open_keeping(dir.path(), true);
        assert_eq!(cache.cached(&Known::Stamp(&at)), None);
        assert_eq!(
            cache.parse_for_graph(module, &Known::Stamp(&at)).unwrap(),
            direct
        );
        cache.save();
        let cache = ParseCache::open_keeping(dir.path(), true);
        assert_eq!(cache.cached(&Known::Stamp(&at)), Some(direct.clone()));
        // Its entry was met: it is kept.
        assert_eq!(lock(&cache.met).len(), 1);
        // Another status, or another file of the same status, is not this one.
        let mut changed = at.clone();
        changed.status[1] += 1;
        assert_eq!(cache.cached(&Known::Stamp(&changed)), None);
        let other = stamp("/p/shop/migrations/0003_y.py", at.status, true);
        assert_eq!(cache.cached(&Known::Stamp(&other)), None);
        // Nothing new: the file is not written again.
        let before = std::fs::read(dir.path().join(FILE)).unwrap();
        cache.save();
        assert_eq!(std::fs::read(dir.path().join(FILE)).unwrap(), before);
    }

    #[test]
    fn an_unsettled_stamp_or_a_reader_keeps_no_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let module = b"class Migration(migrations.Migration):\n    dependencies = []\n";
        let fresh = stamp("/p/a/migrations/0001_initial.py", [9; 8], false);
        let cache = ParseCache::open_keeping(dir.path(), true);
        cache
            .parse_for_graph(module, &Known::Stamp(&fresh))
            .unwrap();
        cache.save();
        let cache = ParseCache::open_keeping(dir.path(), false);
        assert!(cache.stamps().is_empty());
        // Found by content all the same.
        assert!(parsed_by(&cache, module).is_ok());
        assert!(cache.found(cache.key(module)).is_some());
        let settled = stamp("/p/a/migrations/0001_initial.py", [9; 8], true);
        cache
            .parse_for_graph(module, &Known::Stamp(&settled))
            .unwrap();
        cache.save();
        assert!(
            ParseCache::open_keeping(dir.path(), false)
                .stamps()
                .is_empty()
        );
    }

    #[test]
    fn a_stamp_found_by_content_is_kept_and_a_new_status_replaces_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let old = b"class Migration(migrations.Migration):\n    dependencies = []\n";
        let new = b"class Migration(migrations.Migration):\n    dependencies = [('a', '0001')]\n";
        let cache = ParseCache::open_keeping(dir.path(), true);
        parsed_by(&cache, old).unwrap();
        cache.save();
        // Bytes already kept, read under a settled stamp: the stamp alone is new, and saved.
        let first = stamp("/p/a/migrations/0002_b.py", [1; 8], true);
        let cache = ParseCache::open_keeping(dir.path(), true);
        cache.parse_for_graph(old, &Known::Stamp(&first)).unwrap();
        assert!(lock(&cache.added).is_empty());
        cache.save();
        let cache = ParseCache::open_keeping(dir.path(), true);
        assert!(cache.cached(&Known::Stamp(&first)).is_some());
        // The file changed: its new stamp points at the new bytes, the old one is gone.
        let second = stamp("/p/a/migrations/0002_b.py", [2; 8], true);
        assert_eq!(cache.cached(&Known::Stamp(&second)), None);
        cache.parse_for_graph(new, &Known::Stamp(&second)).unwrap();
        cache.save();
        let cache = ParseCache::open_keeping(dir.path(), false);
        assert_eq!(cache.stamps().len(), 1);
        assert_eq!(cache.cached(&Known::Stamp(&first)), None);
        assert_eq!(
            cache.cached(&Known::Stamp(&second)),
            Some(migration::parse_with(new, Detail::Graph).unwrap())
        );
    }
}
