//! What the merge driver knows about `max_migration.txt` without any repository: the name a
//! version of the file holds, and which of two names to keep.
//!
//! The file names the app's leaf migration, alone on its line. A version that holds anything
//! else is not one the driver understands.

use crate::plan::parse_number;

/// The one migration name a version of the file holds: a single non-blank line that is a
/// migration name, and nothing else. Any other content (a notes file, several lines, conflict
/// markers) is text for `git merge-file`. Stops at the second non-blank line, so a file of any
/// size costs one look at its start.
pub fn one_name(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let name = lines.next()?;
    (lines.next().is_none() && is_migration_name(name)).then_some(name)
}

/// The name that sorts last as Django numbers migrations (number first, then name): the leaf
/// of a linear history, and the best guess before the hooks know the real resolution.
pub fn highest<'a>(names: impl IntoIterator<Item = &'a String>) -> Option<&'a String> {
    names
        .into_iter()
        .max_by(|a, b| (parse_number(a), a.as_str()).cmp(&(parse_number(b), b.as_str())))
}

/// Whether a name can be a migration module's (so that a file of prose is never taken for a
/// `max_migration.txt` the driver understands).
pub fn is_migration_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_is_read_and_anything_else_is_text() {
        assert_eq!(one_name(b"0005_add_phone\n"), Some("0005_add_phone"));
        assert_eq!(
            one_name(b"\n  0005_add_phone  \r\n\n"),
            Some("0005_add_phone")
        );
        assert_eq!(one_name(b"0005_add_phone"), Some("0005_add_phone"));
        assert_eq!(one_name(b""), None);
        assert_eq!(one_name(b"0005_a\n0006_b\n"), None);
        assert_eq!(one_name(b"notes about 0005_a\n"), None);
        let merge = b"<<<<<<< HEAD\n0005_a\n=======\n0005_b\n>>>>>>> theirs\n";
        assert_eq!(one_name(merge), None);
        assert_eq!(one_name(b"0005_\xff\n"), None);
    }

    #[test]
    fn one_name_stops_at_the_second_line_of_a_large_file() {
        let big = "0001_a\n".repeat(1_000_000);
        let started = std::time::Instant::now();
        assert_eq!(one_name(big.as_bytes()), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn the_highest_number_wins_then_the_name() {
        let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let v = list(&["0005_add_phone", "0006_a", "0005_zzz"]);
        assert_eq!(highest(&v).unwrap(), "0006_a");
        let v = list(&["0005_add_avatar", "0005_add_phone"]);
        assert_eq!(highest(&v).unwrap(), "0005_add_phone");
        let v = list(&["0001_squashed_0042_x", "0010_y"]);
        assert_eq!(highest(&v).unwrap(), "0001_squashed_0042_x");
    }

    #[test]
    fn migration_names_are_identifiers() {
        assert!(is_migration_name("0005_add_phone"));
        assert!(!is_migration_name("<<<<<<< HEAD"));
        assert!(!is_migration_name("two words"));
        assert!(!is_migration_name(""));
    }
}
