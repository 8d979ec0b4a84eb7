//! The merge strategy: one new, empty migration depending on every leaf of a conflicting app,
//! named and written as Django 6.1's `makemigrations --merge` does.
//!
//! Django's rules (`Command.handle_merge`, `MigrationWriter.as_string`):
//! - number: one more than the largest `parse_number` of the leaves (a squash counts by its
//!   last number), 1 when none has a number (so `0002`), printed with `%04i`: at least four
//!   digits, so leaves numbered `00012` give `0013`;
//! - name: `NNNN_merge_` and the leaf names, sorted and joined by `_`, or the time as
//!   `YYYYMMDD_HHMM` when that join is longer than 47 characters;
//! - content: the header comment, `from django.db import migrations`, and a `Migration` class
//!   whose `dependencies` lines are sorted as text, and whose `operations` list is empty.
//!   Django then runs `black` on the file when it is installed; [`Layout`] says which of the
//!   two results to write.
//!
//! Django takes the time in the name from the project's `TIME_ZONE` and the one in the header
//! from UTC (with `USE_TZ`); migmerge has no settings to read, so both come from the
//! [`Timestamp`] given.

use crate::deploy::{self, Stage};
use crate::edit::{FileChange, Plan, python_string};
use crate::project::Project;

use super::number_digits;

/// How the written file is formatted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub style: Style,
    /// A blank line after `class Migration(...):`, as Django writes it; projects whose
    /// formatter removes it get none.
    pub blank_after_class: bool,
}

/// What formatter the written file looks as if it went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// What `MigrationWriter` writes when `black` is not installed: `repr` quotes
    /// (`('shop', '0002_a')`) and `operations = [` / `]` on two lines.
    Django,
    /// The same file after `black --fast`, which `makemigrations` runs when it finds black:
    /// double quotes, `operations = []`, and a dependency longer than 88 characters split over
    /// lines.
    #[default]
    Black,
}

impl Default for Layout {
    fn default() -> Self {
        Layout::BLACK
    }
}

impl Layout {
    /// Exactly what `makemigrations --merge` writes without black.
    pub const DJANGO: Layout = Layout {
        style: Style::Django,
        blank_after_class: true,
    };
    /// Exactly what `makemigrations --merge` writes with black.
    pub const BLACK: Layout = Layout {
        style: Style::Black,
        blank_after_class: true,
    };

    /// The layout the project's migrations seem to use, from their sources (the leaves', the
    /// files next to the one to write), each trait by majority: the quote character of the app
    /// labels in their `dependencies` ([`Style::Black`] without evidence), and whether the line
    /// after `class Migration(...):` is blank (as Django writes it, without evidence).
    pub fn guess<'a>(sources: impl IntoIterator<Item = &'a [u8]>) -> Layout {
        let (mut single, mut double) = (0usize, 0usize);
        let (mut blank, mut tight) = (0usize, 0usize);
        for source in sources {
            let Ok(migration) = crate::migration::parse(source) else {
                continue;
            };
            for entry in migration.dependencies.entries() {
                if let crate::migration::Reference::Literal { app, .. } = &entry.reference {
                    match source.get(app.span.start as usize) {
                        Some(b'\'') => single += 1,
                        Some(b'"') => double += 1,
                        _ => {}
                    }
                }
            }
            match blank_after_line(source, migration.class_line) {
                Some(true) => blank += 1,
                Some(false) => tight += 1,
                None => {}
            }
        }
        Layout {
            style: if single > double {
                Style::Django
            } else {
                Style::Black
            },
            blank_after_class: blank >= tight,
        }
    }
}

/// Whether the line after the 1-based `line` of `source` is blank; `None` when there is no such
/// line, or when `line` does not end the class header (a header over several lines).
fn blank_after_line(source: &[u8], line: u32) -> Option<bool> {
    let mut lines = source.split(|&b| b == b'\n');
    let header = lines.nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    if !header.trim_ascii_end().ends_with(b":") {
        return None;
    }
    Some(lines.next()?.trim_ascii().is_empty())
}

/// The lines that staged-deploy tooling wants in a merge migration (see [`crate::deploy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeployLines {
    /// `stage = Stage.POST_DEPLOY`: a parent is post-deploy, and syzygy's
    /// `migrate --pre-deploy` refuses a pre-deploy migration (a merge without a stage is one)
    /// that depends on it.
    pub post_deploy: bool,
    /// `safe = Safe.always()`: django-safemigrate's check refuses a migration without `safe`.
    pub safe: bool,
}

impl DeployLines {
    /// None: the file is exactly Django's.
    pub const NONE: DeployLines = DeployLines {
        post_deploy: false,
        safe: false,
    };

    /// What the project's tooling wants in the merge of `app`'s `leaves`.
    pub fn for_merge(project: &Project, app: &str, leaves: &[&str]) -> DeployLines {
        let tooling = deploy::tooling(project);
        let post_deploy = tooling.syzygy
            && project.migrations.iter().any(|file| {
                file.app == app
                    && leaves.contains(&file.name.as_str())
                    && deploy::migration_stage(&file.migration) == Stage::PostDeploy
            });
        DeployLines {
            post_deploy,
            safe: tooling.safemigrate,
        }
    }
}

/// A UTC minute: what the header and a timestamped name show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
}

impl Timestamp {
    /// The UTC time of a Unix timestamp in seconds.
    pub fn from_unix(seconds: i64) -> Timestamp {
        let days = seconds.div_euclid(86_400);
        let in_day = seconds.rem_euclid(86_400);
        // Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year eras
        // (146,097 days each) that start on March 1st, so that the leap day ends a year.
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153; // 0 = March
        let day = day_of_year - (153 * month_index + 2) / 5 + 1;
        let month = if month_index < 10 {
            month_index + 3
        } else {
            month_index - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Timestamp {
            year,
            // Each value is within its range by construction; the fallbacks are never taken.
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
            hour: u8::try_from(in_day / 3_600).unwrap_or(0),
            minute: u8::try_from(in_day % 3_600 / 60).unwrap_or(0),
        }
    }

    /// Now, in UTC.
    pub fn now() -> Timestamp {
        let seconds = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        };
        Timestamp::from_unix(seconds)
    }

    /// `YYYY-MM-DD HH:MM`, as in the header.
    pub fn header(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }

    /// `YYYYMMDD_HHMM`, Django's `get_migration_name_timestamp`.
    pub fn name_part(&self) -> String {
        format!(
            "{:04}{:02}{:02}_{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }
}

/// A migration to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMigration {
    pub name: String,
    pub content: String,
}

/// Why no merge migration can be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("a merge migration needs at least two leaves, got {0}")]
    TooFewLeaves(usize),
    #[error("leaf {0} is listed twice")]
    DuplicateLeaf(String),
    #[error("no app labelled {0:?} has a migrations package")]
    UnknownApp(String),
    #[error("{app} already has a migration named {name}; Django would overwrite it")]
    NameTaken { app: String, name: String },
    #[error(
        "{app}.{name} is listed in the `replaces` of {squash}, so Django would treat the new migration as replaced by that squash"
    )]
    NameReplaced {
        app: String,
        name: String,
        squash: String,
    },
}

/// Adds one to a decimal number written with ASCII digits, whatever its length.
fn increment(digits: &str) -> String {
    let mut out: Vec<u8> = digits.bytes().collect();
    for byte in out.iter_mut().rev() {
        if *byte == b'9' {
            *byte = b'0';
        } else {
            *byte += 1;
            return String::from_utf8(out).unwrap_or_default();
        }
    }
    out.insert(0, b'1');
    String::from_utf8(out).unwrap_or_default()
}

/// The merge number Django picks for these leaves, formatted with `%04i`.
fn merge_number(leaves: &[&str]) -> String {
    // Compare numbers of any size as text: without leading zeros, longer is larger.
    let biggest = leaves
        .iter()
        .filter_map(|leaf| number_digits(leaf))
        .map(|digits| {
            let trimmed = digits.trim_start_matches('0');
            if trimmed.is_empty() { "0" } else { trimmed }
        })
        .max_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)))
        .unwrap_or("1");
    format!("{:0>4}", increment(biggest))
}

/// The name Django's `makemigrations --merge` gives the merge of these leaves.
pub fn merge_name(leaves: &[&str], now: Timestamp) -> String {
    let mut sorted = leaves.to_vec();
    sorted.sort_unstable();
    let joined = sorted.join("_");
    // Python's `len` counts characters.
    let tail = if joined.chars().count() > 47 {
        now.name_part()
    } else {
        joined
    };
    format!("{}_merge_{tail}", merge_number(leaves))
}

/// Python's `repr` of a string, close enough for migration names: single quotes unless the
/// value holds a single quote and no double quote.
fn python_repr(value: &str) -> String {
    let quote = if value.contains('\'') && !value.contains('"') {
        '"'
    } else {
        '\''
    };
    python_string(value, quote)
}

/// A string as black leaves it: double quotes unless that needs more escapes than single ones.
fn black_string(value: &str) -> String {
    let singles = value.matches('\'').count();
    let doubles = value.matches('"').count();
    python_string(value, if doubles > singles { '\'' } else { '"' })
}

/// Black's line length, which it measures in characters.
const BLACK_LINE_LENGTH: usize = 88;

/// The file Django 6.1 writes for a merge migration of `app` depending on `leaves`, with the
/// `deploy` lines (and their imports) added. `generator` fills the header
/// (`# Generated by {generator} on ...`); `None` leaves the header out, as
/// `makemigrations --no-header` does.
pub fn merge_content(
    app: &str,
    leaves: &[&str],
    generator: Option<&str>,
    now: Timestamp,
    layout: Layout,
    deploy: DeployLines,
) -> String {
    // Django sorts the serialized `        ('app', 'name'),` lines; black only reformats them.
    let mut lines: Vec<(String, &str)> = leaves
        .iter()
        .map(|leaf| {
            (
                format!("        ({}, {}),", python_repr(app), python_repr(leaf)),
                *leaf,
            )
        })
        .collect();
    lines.sort();

    let mut out = String::new();
    if let Some(generator) = generator {
        out.push_str(&format!(
            "# Generated by {generator} on {}\n\n",
            now.header()
        ));
    }
    // In isort's order, as the tools' documentation writes them.
    out.push_str("from django.db import migrations\n");
    if deploy.safe {
        out.push_str("from django_safemigrate import Safe\n");
    }
    if deploy.post_deploy {
        out.push_str("from syzygy import Stage\n");
    }
    out.push_str("\n\nclass Migration(migrations.Migration):\n");
    if layout.blank_after_class {
        out.push('\n');
    }
    if deploy.post_deploy {
        out.push_str("    stage = Stage.POST_DEPLOY\n");
    }
    if deploy.safe {
        out.push_str("    safe = Safe.always()\n");
    }
    if deploy != DeployLines::NONE {
        out.push('\n');
    }
    out.push_str("    dependencies = [\n");
    for (django_line, leaf) in &lines {
        match layout.style {
            Style::Django => {
                out.push_str(django_line);
                out.push('\n');
            }
            Style::Black => {
                let (app, leaf) = (black_string(app), black_string(leaf));
                let line = format!("        ({app}, {leaf}),");
                if line.chars().count() > BLACK_LINE_LENGTH {
                    out.push_str(&format!(
                        "        (\n            {app},\n            {leaf},\n        ),\n"
                    ));
                } else {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
        }
    }
    out.push_str("    ]\n\n");
    out.push_str(match layout.style {
        Style::Django => "    operations = [\n    ]\n",
        Style::Black => "    operations = []\n",
    });
    out
}

/// The merge migration of `app`'s `leaves`: name and content as Django 6.1 writes them, with
/// the `deploy` lines added.
pub fn merge_migration(
    app: &str,
    leaves: &[&str],
    generator: Option<&str>,
    now: Timestamp,
    layout: Layout,
    deploy: DeployLines,
) -> Result<NewMigration, MergeError> {
    if leaves.len() < 2 {
        return Err(MergeError::TooFewLeaves(leaves.len()));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = leaves.iter().find(|leaf| !seen.insert(**leaf)) {
        return Err(MergeError::DuplicateLeaf((*twice).to_owned()));
    }
    Ok(NewMigration {
        name: merge_name(leaves, now),
        content: merge_content(app, leaves, generator, now, layout, deploy),
    })
}

/// A merge migration and the plan that writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergePlan {
    pub migration: NewMigration,
    /// Root-relative path of the new file.
    pub path: String,
    pub plan: Plan,
}

/// Plans the merge migration of `app` in `project`: the new file in the app's migrations
/// package, and `max_migration.txt` naming it when the app keeps one. Refuses a name that an
/// existing migration has, or that a squash of the app replaces. The file carries what the
/// project's staged-deploy tooling wants ([`DeployLines::for_merge`]).
pub fn merge_plan(
    project: &Project,
    app: &str,
    leaves: &[&str],
    generator: Option<&str>,
    now: Timestamp,
    layout: Layout,
) -> Result<MergePlan, MergeError> {
    let app_info = project
        .apps
        .iter()
        .find(|a| a.label == app)
        .ok_or_else(|| MergeError::UnknownApp(app.to_owned()))?;
    let deploy = DeployLines::for_merge(project, app, leaves);
    let migration = merge_migration(app, leaves, generator, now, layout, deploy)?;
    check_name_free(project, app, &migration.name).map_err(|taken| match taken {
        NameClash::Exists => MergeError::NameTaken {
            app: app.to_owned(),
            name: migration.name.clone(),
        },
        NameClash::Replaced { squash } => MergeError::NameReplaced {
            app: app.to_owned(),
            name: migration.name.clone(),
            squash,
        },
    })?;
    let path = join(&app_info.migrations_dir, &format!("{}.py", migration.name));
    let mut changes = vec![FileChange::Create {
        path: path.clone(),
        content: migration.content.clone(),
    }];
    if let Some(max) = &app_info.max_migration {
        changes.push(FileChange::MaxMigration {
            path: max.path.clone(),
            from: max.name.clone(),
            to: migration.name.clone(),
        });
    }
    Ok(MergePlan {
        migration,
        path,
        plan: Plan { changes },
    })
}

/// Why a new migration name cannot be used.
pub(crate) enum NameClash {
    /// A migration module of the app has that name.
    Exists,
    /// A squash of the app lists that name in `replaces`.
    Replaced { squash: String },
}

/// Whether `name` is free for a new migration of `app`.
pub(crate) fn check_name_free(project: &Project, app: &str, name: &str) -> Result<(), NameClash> {
    for file in &project.migrations {
        if file.app == app && file.name == name {
            return Err(NameClash::Exists);
        }
        for entry in file.migration.replaces.entries() {
            if let crate::migration::Reference::Literal { app: a, name: n } = &entry.reference
                && a.value == app
                && n.value == name
            {
                return Err(NameClash::Replaced {
                    squash: format!("{}.{}", file.app, file.name),
                });
            }
        }
    }
    Ok(())
}

/// `dir/file`, for root-relative paths.
pub(crate) fn join(dir: &str, file: &str) -> String {
    if dir.is_empty() {
        file.to_owned()
    } else {
        format!("{dir}/{file}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::{Tree, migration};

    const NOW: Timestamp = Timestamp {
        year: 2026,
        month: 11,
        day: 21,
        hour: 19,
        minute: 17,
    };

    #[test]
    fn timestamps_from_unix_seconds() {
        let t = Timestamp::from_unix(0);
        assert_eq!(t.header(), "1970-01-01 00:00");
        // 2026-11-22 01:17:51 UTC.
        let t = Timestamp::from_unix(1_795_310_271);
        assert_eq!(t.header(), "2026-11-22 01:17");
        assert_eq!(t.name_part(), "20261122_0117");
        // A leap day, and the day after it.
        assert_eq!(
            Timestamp::from_unix(951_782_400).header(),
            "2000-02-29 00:00"
        );
        assert_eq!(
            Timestamp::from_unix(951_868_800).header(),
            "2000-03-01 00:00"
        );
        assert_eq!(Timestamp::from_unix(-60).header(), "1969-12-31 23:59");
        // No panic at the extremes.
        let _ = Timestamp::from_unix(i64::MAX);
        let _ = Timestamp::from_unix(i64::MIN);
    }

    #[test]
    fn numbers_and_names_follow_django() {
        assert_eq!(
            merge_name(&["0002_b", "0002_a"], NOW),
            "0003_merge_0002_a_0002_b"
        );
        // No number among the leaves: Django starts from 1.
        assert_eq!(
            merge_name(&["add_a", "add_b"], NOW),
            "0002_merge_add_a_add_b"
        );
        assert_eq!(
            merge_name(&["add_a", "0007_b"], NOW),
            "0008_merge_0007_b_add_a"
        );
        assert_eq!(
            merge_name(&["9999_a", "0002_b"], NOW),
            "10000_merge_0002_b_9999_a"
        );
        // Five digits in, `%04i` out.
        assert_eq!(
            merge_name(&["00012_a", "00003_b"], NOW),
            "0013_merge_00003_b_00012_a"
        );
        assert_eq!(
            merge_name(&["0000099999999999999999999_a", "0002_b"], NOW),
            "100000000000000000000_merge_0000099999999999999999999_a_0002_b"
        );
        // 47 characters joined is fine, 48 is not.
        let forty = "0002_add_phone_number_to_customer_profil";
        assert_eq!(format!("{forty}_0002_b").len(), 47);
        assert_eq!(
            merge_name(&[forty, "0002_b"], NOW),
            format!("0003_merge_{forty}_0002_b")
        );
        assert_eq!(
            merge_name(
                &["0002_add_phone_number_to_customer_profile", "0002_b"],
                NOW
            ),
            "0003_merge_20261121_1917"
        );
        // Characters, not bytes.
        let accented = format!("0002_{}", "é".repeat(30));
        assert!(format!("{accented}_0002_b").len() > 47);
        assert_eq!(
            merge_name(&[&accented, "0002_b"], NOW),
            format!("0003_merge_0002_b_{accented}")
        );
    }

    /// Real Django 6.1.3 output (`makemigrations --merge --noinput`), with and without black
    /// on the PATH, for three leaves with five-digit numbers, one of them a squash.
    #[test]
    fn three_leaves_five_digits_and_a_squash_match_django() {
        let leaves = ["00010_c", "00002_squashed_00012_b", "00011_d"];
        let header = Some("Django 6.1.3");
        let now = Timestamp {
            year: 2026,
            month: 11,
            day: 22,
            hour: 1,
            minute: 17,
        };
        let made = merge_migration(
            "users",
            &leaves,
            header,
            now,
            Layout::DJANGO,
            DeployLines::NONE,
        )
        .unwrap();
        assert_eq!(
            made.name,
            "0013_merge_00002_squashed_00012_b_00010_c_00011_d"
        );
        assert_eq!(
            made.content,
            "# Generated by Django 6.1.3 on 2026-11-22 01:17\n\
             \n\
             from django.db import migrations\n\
             \n\
             \n\
             class Migration(migrations.Migration):\n\
             \n\
             \x20   dependencies = [\n\
             \x20       ('users', '00002_squashed_00012_b'),\n\
             \x20       ('users', '00010_c'),\n\
             \x20       ('users', '00011_d'),\n\
             \x20   ]\n\
             \n\
             \x20   operations = [\n\
             \x20   ]\n"
        );
        let black = merge_migration(
            "users",
            &leaves,
            header,
            now,
            Layout::BLACK,
            DeployLines::NONE,
        )
        .unwrap();
        assert_eq!(black.name, made.name);
        assert_eq!(
            black.content,
            "# Generated by Django 6.1.3 on 2026-11-22 01:17\n\
             \n\
             from django.db import migrations\n\
             \n\
             \n\
             class Migration(migrations.Migration):\n\
             \n\
             \x20   dependencies = [\n\
             \x20       (\"users\", \"00002_squashed_00012_b\"),\n\
             \x20       (\"users\", \"00010_c\"),\n\
             \x20       (\"users\", \"00011_d\"),\n\
             \x20   ]\n\
             \n\
             \x20   operations = []\n"
        );
    }

    /// Black splits a dependency longer than 88 characters, and only then (checked with
    /// black 26.10.1 on Django 6.1.3's output).
    #[test]
    fn black_splits_long_dependencies() {
        let at_limit = format!("0002_{}", "x".repeat(62));
        let over = format!("0003_{}", "y".repeat(63));
        let content = merge_content(
            "shop",
            &[&over, &at_limit],
            None,
            NOW,
            Layout::BLACK,
            DeployLines::NONE,
        );
        assert_eq!(
            content,
            format!(
                "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n\n\
                 \x20   dependencies = [\n\
                 \x20       (\"shop\", \"{at_limit}\"),\n\
                 \x20       (\n\
                 \x20           \"shop\",\n\
                 \x20           \"{over}\",\n\
                 \x20       ),\n\
                 \x20   ]\n\n\
                 \x20   operations = []\n"
            )
        );
    }

    #[test]
    fn quotes_inside_names_are_escaped_like_python() {
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("a\"b"), "'a\"b'");
        assert_eq!(python_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(black_string("a\"b"), "'a\"b'");
        assert_eq!(black_string("it's"), "\"it's\"");
        assert_eq!(black_string("a'b\"c"), "\"a'b\\\"c\"");
    }

    #[test]
    fn refuses_odd_leaf_lists() {
        let one = merge_migration(
            "shop",
            &["0002_a"],
            None,
            NOW,
            Layout::BLACK,
            DeployLines::NONE,
        );
        assert_eq!(one, Err(MergeError::TooFewLeaves(1)));
        let twice = merge_migration(
            "shop",
            &["0002_a", "0002_a"],
            None,
            NOW,
            Layout::BLACK,
            DeployLines::NONE,
        );
        assert_eq!(twice, Err(MergeError::DuplicateLeaf("0002_a".into())));
    }

    #[test]
    fn layout_is_guessed_from_quotes() {
        let single = migration("[('shop', '0001_initial')]");
        let double = migration("[(\"shop\", \"0001_initial\")]");
        assert_eq!(Layout::guess([single.as_bytes()]), Layout::DJANGO);
        assert_eq!(Layout::guess([double.as_bytes()]), Layout::BLACK);
        assert_eq!(Layout::guess([]), Layout::BLACK);
    }

    #[test]
    fn a_blank_line_after_the_class_line_follows_the_files_next_to_it() {
        let blank = migration("[(\"shop\", \"0001_initial\")]");
        let tight = blank.replace("):\n\n", "):\n");
        assert!(Layout::guess([blank.as_bytes()]).blank_after_class);
        assert!(!Layout::guess([tight.as_bytes()]).blank_after_class);
        assert!(
            !Layout::guess([tight.as_bytes(), tight.as_bytes(), blank.as_bytes()])
                .blank_after_class
        );
        // A header over two lines says nothing.
        let long = tight.replace("(migrations.Migration)", "(\n    migrations.Migration\n)");
        assert!(Layout::guess([long.as_bytes()]).blank_after_class);
        let layout = Layout {
            blank_after_class: false,
            ..Layout::BLACK
        };
        let content = merge_content(
            "shop",
            &["0002_a", "0002_b"],
            None,
            NOW,
            layout,
            DeployLines::NONE,
        );
        assert!(
            content.contains("class Migration(migrations.Migration):\n    dependencies = [\n"),
            "{content}"
        );
    }

    /// A migration module with django-syzygy's and django-safemigrate's imports, and `body`.
    fn staged(dependencies: &str, body: &str) -> String {
        format!(
            "from django.db import migrations\nfrom django_safemigrate import Safe\n\n\n\
             class Migration(migrations.Migration):\n\n    safe = Safe.always()\n\n    \
             dependencies = {dependencies}\n\n    operations = [\n{body}    ]\n"
        )
    }

    #[test]
    fn merge_migrations_carry_what_staged_deploy_tooling_wants() {
        let remove = "        migrations.RemoveField(\"book\", \"title\"),\n";
        let add = "        migrations.AddField(\"book\", \"isbn\", models.TextField()),\n";
        let parent = "[(\"shop\", \"0001_initial\")]";
        let tree = |a: &str, syzygy: bool| {
            let import = if syzygy { "import syzygy\n" } else { "" };
            Tree::new(&[
                ("shop/migrations/0001_initial.py", &staged("[]", "")),
                (
                    "shop/migrations/0002_a.py",
                    &format!("{import}{}", staged(parent, a)),
                ),
                ("shop/migrations/0002_b.py", &staged(parent, add)),
            ])
        };
        let write = |tree: &Tree| {
            let project = tree.project();
            let planned = merge_plan(
                &project,
                "shop",
                &["0002_a", "0002_b"],
                None,
                NOW,
                Layout::BLACK,
            )
            .unwrap();
            let FileChange::Create { content, .. } = &planned.plan.changes[0] else {
                panic!("{planned:?}");
            };
            content.clone()
        };

        // A post-deploy leaf under syzygy: the merge is post-deploy too, and safe to run.
        let content = write(&tree(remove, true));
        assert_eq!(
            content,
            "from django.db import migrations\nfrom django_safemigrate import Safe\n\
             from syzygy import Stage\n\n\nclass Migration(migrations.Migration):\n\n    \
             stage = Stage.POST_DEPLOY\n    safe = Safe.always()\n\n    dependencies = [\n        \
             (\"shop\", \"0002_a\"),\n        (\"shop\", \"0002_b\"),\n    ]\n\n    operations = []\n"
        );
        let parsed = crate::migration::parse(content.as_bytes()).unwrap();
        assert_eq!(deploy::migration_stage(&parsed), Stage::PostDeploy);

        // Both leaves pre-deploy: no stage. No syzygy: no stage, whatever the operations.
        for (a, syzygy) in [(add, true), (remove, false)] {
            let content = write(&tree(a, syzygy));
            assert!(!content.contains("stage"), "{content}");
            assert!(
                content.contains("    safe = Safe.always()\n\n    dependencies"),
                "{content}"
            );
        }
    }

    #[test]
    fn plan_creates_the_file_updates_max_migration_and_resolves() {
        let tree = Tree::new(&[
            ("shop/migrations/0001_initial.py", &migration("[]")),
            (
                "shop/migrations/0002_a.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            (
                "shop/migrations/0002_b.py",
                &migration("[('shop', '0001_initial')]"),
            ),
            ("shop/migrations/max_migration.txt", "0002_a\n"),
        ]);
        let project = tree.project();
        let planned = merge_plan(
            &project,
            "shop",
            &["0002_a", "0002_b"],
            Some("migmerge 0.1.0"),
            NOW,
            Layout::BLACK,
        )
        .unwrap();
        assert_eq!(planned.path, "shop/migrations/0003_merge_0002_a_0002_b.py");
        let updates = tree.preview(&planned.plan);
        let after = tree.applied(&updates);
        assert_eq!(
            after.text("shop/migrations/max_migration.txt"),
            "0003_merge_0002_a_0002_b\n"
        );
        let overlay = crate::plan::Overlay::new(&tree, &updates);
        let new_project = crate::project::load(&overlay).unwrap();
        let graph =
            crate::plan::verify(&crate::graph::Graph::build(&project), &new_project, "shop")
                .unwrap();
        assert!(graph.conflicts().is_empty());
        assert!(graph.problems.is_empty(), "{:?}", graph.problems);

        // Planning again on the result finds the name taken.
        let again = merge_plan(
            &after.project(),
            "shop",
            &["0002_a", "0002_b"],
            None,
            NOW,
            Layout::BLACK,
        );
        assert!(matches!(again, Err(MergeError::NameTaken { .. })));
        let unknown = merge_plan(&project, "nope", &["a", "b"], None, NOW, Layout::BLACK);
        assert_eq!(unknown, Err(MergeError::UnknownApp("nope".into())));
    }

    #[test]
    fn plan_refuses_a_name_a_squash_replaces() {
        let tree = Tree::new(&[
            (
                "shop/migrations/0001_squashed_0003_merge_0002_a_0002_b.py",
                &format!(
                    "{}    replaces = [('shop', '0003_merge_0002_a_0002_b')]\n",
                    migration("[]")
                ),
            ),
            (
                "shop/migrations/0002_a.py",
                &migration("[('shop', '0001_squashed_0003_merge_0002_a_0002_b')]"),
            ),
            (
                "shop/migrations/0002_b.py",
                &migration("[('shop', '0001_squashed_0003_merge_0002_a_0002_b')]"),
            ),
        ]);
        let result = merge_plan(
            &tree.project(),
            "shop",
            &["0002_a", "0002_b"],
            None,
            NOW,
            Layout::BLACK,
        );
        assert!(
            matches!(result, Err(MergeError::NameReplaced { .. })),
            "{result:?}"
        );
    }
}
