//! Resolutions, planned in memory: what the merge and renumber strategies would change, as an
//! [`edit::Plan`](crate::edit::Plan), and the check that a previewed plan really leaves Django
//! a graph without conflict.
//!
//! Nothing here writes: [`crate::edit::preview`] turns a plan into new contents,
//! [`Overlay`] shows those contents to [`crate::project::load`] as if they were on disk, and
//! [`verify`] compares the graphs before and after. Only then should the caller write, with
//! [`crate::edit::write_atomically`].

pub mod follow;
pub mod merge;
pub mod renumber;

use std::collections::{BTreeMap, BTreeSet};

use crate::edit::FileUpdate;
use crate::graph::Graph;
use crate::problem::ProblemKind;
use crate::project::Project;
use crate::source::{ConflictedPath, PathFilter, Source, SourceError};

pub use follow::{FollowedRename, Following, follow_renames, settles};
pub use merge::{
    DeployLines, Layout, MergeError, MergePlan, NewMigration, Style, Timestamp, merge_migration,
    merge_plan,
};
pub use renumber::{RenumberError, Renumbering, chain_members, renumber};

/// Django's number of a migration name (`Autodetector.parse_number`): for a squashed migration
/// such as `0001_squashed_0042_x`, the number after the last `_squashed_` (42); otherwise the
/// leading digits; `None` without any, or when the number does not fit a `u32`.
///
/// Python's `\d` also matches non-ASCII decimal digits; migration names with those are not
/// supported here (they count as having no number).
pub fn parse_number(name: &str) -> Option<u32> {
    number_digits(name)?.parse().ok()
}

/// The digits [`parse_number`] reads, as written (leading zeros kept), of any length.
pub(crate) fn number_digits(name: &str) -> Option<&str> {
    // Django searches `.*_squashed_(\d+)`: the greedy `.*` makes it the last occurrence, and
    // since `.` stops at line breaks, the last one of the first line that has one.
    const SQUASHED: &str = "_squashed_";
    for line in name.split('\n') {
        let found = (0..line.len())
            .rev()
            .filter_map(|at| line.get(at..)?.strip_prefix(SQUASHED))
            .map(leading_digits)
            .find(|digits| !digits.is_empty());
        if found.is_some() {
            return found;
        }
    }
    let digits = leading_digits(name);
    (!digits.is_empty()).then_some(digits)
}

fn leading_digits(text: &str) -> &str {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    &text[..end]
}

/// A migration name's numeric prefix and the rest: `0005_add_phone` -> (`0005`, `_add_phone`).
pub(crate) fn split_number(name: &str) -> Option<(&str, &str)> {
    let digits = leading_digits(name);
    (!digits.is_empty()).then(|| name.split_at(digits.len()))
}

/// A snapshot with a plan's new contents laid over it: what [`crate::project::load`] would read
/// once the plan is written. Renamed files are gone from their old paths.
pub struct Overlay<'a> {
    base: &'a dyn Source,
    written: BTreeMap<&'a str, &'a [u8]>,
    removed: BTreeSet<&'a str>,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a dyn Source, updates: &'a [FileUpdate]) -> Overlay<'a> {
        let written: BTreeMap<&str, &[u8]> = updates
            .iter()
            .map(|u| (u.after.as_str(), u.new.as_slice()))
            .collect();
        let removed = updates
            .iter()
            .filter_map(|u| u.before.as_deref())
            .filter(|b| !written.contains_key(b))
            .collect();
        Overlay {
            base,
            written,
            removed,
        }
    }
}

impl Source for Overlay<'_> {
    fn describe(&self) -> String {
        format!("{} with the planned changes", self.base.describe())
    }

    fn list(&self, wanted: PathFilter<'_>) -> Result<Vec<String>, SourceError> {
        let mut paths: BTreeSet<String> = self
            .base
            .list(wanted)?
            .into_iter()
            .filter(|p| !self.removed.contains(p.as_str()))
            .collect();
        paths.extend(
            self.written
                .keys()
                .filter(|p| wanted(p))
                .map(|p| (*p).to_owned()),
        );
        Ok(paths.into_iter().collect())
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        if let Some(bytes) = self.written.get(path) {
            return Ok(Some(bytes.to_vec()));
        }
        if self.removed.contains(path) {
            return Ok(None);
        }
        self.base.read(path)
    }

    fn blob_id(&self, path: &str) -> Option<git2::Oid> {
        if self.written.contains_key(path) || self.removed.contains(path) {
            return None;
        }
        self.base.blob_id(path)
    }

    fn stamp(&self, path: &str) -> Option<crate::source::Stamp> {
        if self.written.contains_key(path) || self.removed.contains(path) {
            return None;
        }
        self.base.stamp(path)
    }

    fn parse_cache_dir(&self) -> Option<std::path::PathBuf> {
        self.base.parse_cache_dir()
    }

    fn conflicted(&self) -> &[ConflictedPath] {
        self.base.conflicted()
    }
}

/// Why a previewed resolution is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the planned change would not resolve {app}: {}", .reasons.join("; "))]
pub struct VerifyError {
    pub app: String,
    pub reasons: Vec<String>,
}

/// Checks a resolution of `app`: with the plan applied (`after`, loaded through an
/// [`Overlay`]), the app has one leaf, no migration left the graph, `max_migration.txt` (if
/// any) names the leaf, and no dangling reference or cycle appeared. `old` is the graph before
/// the plan. Returns the new graph.
pub fn verify(old: &Graph, after: &Project, app: &str) -> Result<Graph, VerifyError> {
    let new = Graph::build(after);
    let mut reasons = Vec::new();

    // As `check` counts them: a leaf that only an unknown reference hides is no conflict.
    if let Some(conflict) = new.conflicts().iter().find(|c| c.app == app) {
        reasons.push(format!(
            "it would still have leaves {}",
            conflict.leaves.join(", ")
        ));
    }
    let (old_count, new_count) = (old.migrations().len(), new.migrations().len());
    if new_count < old_count {
        reasons.push(format!(
            "the graph would hold {new_count} migrations instead of {old_count}"
        ));
    }
    let count = problem_count;
    for kind in [
        ProblemKind::Dangling,
        ProblemKind::Cycle,
        ProblemKind::SquashCycle,
    ] {
        if count(&new, kind) > count(old, kind) {
            let messages: Vec<&str> = new
                .problems
                .iter()
                .filter(|p| p.kind == kind)
                .map(|p| p.message.as_str())
                .collect();
            reasons.push(messages.join("; "));
        }
    }
    let max_path = after
        .apps
        .iter()
        .find(|a| a.label == app)
        .and_then(|a| a.max_migration.as_ref())
        .map(|m| m.path.as_str());
    for problem in &new.problems {
        if problem.kind == ProblemKind::MaxMigration && problem.file.as_deref() == max_path {
            reasons.push(problem.message.clone());
        }
    }
    if reasons.is_empty() {
        Ok(new)
    } else {
        Err(VerifyError {
            app: app.to_owned(),
            reasons,
        })
    }
}

/// How many problems of `kind` a graph has.
pub(crate) fn problem_count(graph: &Graph, kind: ProblemKind) -> usize {
    graph.problems.iter().filter(|p| p.kind == kind).count()
}

#[cfg(test)]
pub(crate) mod testing {
    //! Small projects built in memory, loaded with the real loader.

    use std::collections::BTreeMap;

    use crate::edit::{FileUpdate, Plan, preview};
    use crate::project::{self, Project};
    use crate::source::{PathFilter, Source, SourceError};

    #[derive(Debug, Clone, Default)]
    pub struct Tree {
        pub files: BTreeMap<String, Vec<u8>>,
    }

    impl Tree {
        pub fn new(files: &[(&str, &str)]) -> Tree {
            let mut tree = Tree::default();
            for (path, text) in files {
                tree.add(path, text);
            }
            tree
        }

        /// Adds a file, and an `__init__.py` beside it so its directory is a package.
        pub fn add(&mut self, path: &str, text: &str) {
            if let Some((dir, _)) = path.rsplit_once('/') {
                self.files.entry(format!("{dir}/__init__.py")).or_default();
            }
            self.files.insert(path.to_owned(), text.as_bytes().to_vec());
        }

        pub fn project(&self) -> Project {
            project::load(self).expect("test project loads")
        }

        pub fn read(&self, path: &str) -> Option<Vec<u8>> {
            self.files.get(path).cloned()
        }

        pub fn preview(&self, plan: &Plan) -> Vec<FileUpdate> {
            preview(plan, |p| self.read(p)).expect("plan previews")
        }

        /// The tree as it is once `updates` are written.
        pub fn applied(&self, updates: &[FileUpdate]) -> Tree {
            let mut out = self.clone();
            for u in updates {
                if let Some(before) = &u.before {
                    out.files.remove(before);
                }
            }
            for u in updates {
                out.files.insert(u.after.clone(), u.new.clone());
            }
            out
        }

        pub fn text(&self, path: &str) -> &str {
            std::str::from_utf8(self.files.get(path).expect("file exists")).expect("utf-8")
        }
    }

    impl Source for Tree {
        fn describe(&self) -> String {
            "a test tree".to_owned()
        }

        fn list(&self, wanted: PathFilter<'_>) -> Result<Vec<String>, SourceError> {
            Ok(self.files.keys().filter(|p| wanted(p)).cloned().collect())
        }

        fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SourceError> {
            Ok(self.files.get(path).cloned())
        }
    }

    /// A migration module in Django's layout with the given dependencies source text.
    pub fn migration(dependencies: &str) -> String {
        format!(
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n\n    dependencies = {dependencies}\n\n    operations = []\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Tree, migration};
    use super::*;

    #[test]
    fn numbers_follow_django_parse_number() {
        assert_eq!(parse_number("0001_initial"), Some(1));
        assert_eq!(parse_number("0042"), Some(42));
        assert_eq!(parse_number("00012_x"), Some(12));
        assert_eq!(parse_number("0001_squashed_0042_x"), Some(42));
        assert_eq!(
            parse_number("0001_squashed_0004_auto_20160101_1200"),
            Some(4)
        );
        // The last `_squashed_` followed by digits wins (a squash of a squash).
        assert_eq!(parse_number("0001_squashed_0004_squashed_0009_x"), Some(9));
        assert_eq!(parse_number("0001_squashed_initial"), Some(1));
        assert_eq!(parse_number("x_squashed_0007"), Some(7));
        assert_eq!(parse_number("initial"), None);
        assert_eq!(parse_number("_0001"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("99999999999999999999_x"), None);
        assert_eq!(
            number_digits("99999999999999999999_x"),
            Some("99999999999999999999")
        );
        assert_eq!(parse_number("٠٠٠١_arabic_digits"), None);
    }

    #[test]
    fn split_number_keeps_the_suffix() {
        assert_eq!(split_number("0005_add_phone"), Some(("0005", "_add_phone")));
        assert_eq!(split_number("00012"), Some(("00012", "")));
        assert_eq!(split_number("add_phone"), None);
    }

    #[test]
    fn overlay_shows_renames_and_new_files() {
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_a.py",
                &migration("[('shop', '0001_initial')]"),
            ),
        ]);
        let updates = vec![
            FileUpdate {
                before: Some("shop/migrations/0002_a.py".into()),
                after: "shop/migrations/0003_a.py".into(),
                old: Some(tree.files["shop/migrations/0002_a.py"].clone()),
                new: migration("[('shop', '0001_initial')]").into_bytes(),
            },
            FileUpdate {
                before: None,
                after: "shop/migrations/max_migration.txt".into(),
                old: None,
                new: b"0003_a\n".to_vec(),
            },
        ];
        let overlay = Overlay::new(&tree, &updates);
        let project = crate::project::load(&overlay).unwrap();
        let names: Vec<&str> = project.migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["0001_initial", "0003_a"]);
        assert_eq!(
            project.apps[0]
                .max_migration
                .as_ref()
                .map(|m| m.name.as_str()),
            Some("0003_a")
        );
        assert_eq!(overlay.read("shop/migrations/0002_a.py").unwrap(), None);
    }
}
