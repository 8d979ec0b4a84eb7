//! Opt-outs: `# migmerge: allow <rule> -- <reason>` on an operation's line or the line above
//! silences that rule there. The reason is what a reviewer reads later, so an opt-out without
//! one does not count, and says so.

use super::Rule;

const MARKER: &str = "migmerge: allow";

/// The opt-outs of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptOuts {
    /// (1-based line of the comment, rule) for each opt-out that counts.
    allowed: Vec<(u32, Rule)>,
    /// `line: message` for each comment that does not count.
    pub notes: Vec<String>,
}

impl OptOuts {
    /// Whether `rule` is silenced for an operation starting on `line`.
    pub fn allows(&self, rule: Rule, line: u32) -> bool {
        self.allowed
            .iter()
            .any(|&(at, allowed)| allowed == rule && (at == line || at + 1 == line))
    }
}

/// Reads every opt-out comment of a file's text.
pub fn read(text: &str) -> OptOuts {
    read_lines(
        text.lines()
            .enumerate()
            .map(|(i, line)| (u32::try_from(i + 1).unwrap_or(u32::MAX), line)),
    )
}

/// Reads the opt-out comments of a file's lines, given as (1-based number, text): all of them,
/// or only those [`crate::migration::Migration::migmerge_comments`] kept.
pub fn read_lines<'t>(lines: impl IntoIterator<Item = (u32, &'t str)>) -> OptOuts {
    let mut out = OptOuts::default();
    for (number, line) in lines {
        let Some(hash) = line.find('#') else { continue };
        let comment = line[hash + 1..].trim_start();
        let Some(rest) = comment.strip_prefix(MARKER) else {
            continue;
        };
        let (codes, reason) = match rest.split_once("--") {
            Some((codes, reason)) => (codes, reason.trim()),
            None => (rest, ""),
        };
        let codes: Vec<&str> = codes
            .split([',', ' '])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if codes.is_empty() {
            out.notes.push(format!(
                "{number}: opt-out names no rule: `# migmerge: allow <rule> -- <reason>`"
            ));
            continue;
        }
        if reason.is_empty() {
            out.notes.push(format!(
                "{number}: opt-out of {} has no reason and does not count: add `-- <why this is safe>`",
                codes.join(", ")
            ));
            continue;
        }
        for code in codes {
            match Rule::from_code(code) {
                Some(rule) => out.allowed.push((number, rule)),
                None => out
                    .notes
                    .push(format!("{number}: opt-out names no known rule `{code}`")),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opt_out_with_a_reason_covers_its_line_and_the_next() {
        let text = "a\n    # migmerge: allow drop-column -- column unused since 2.3\n    op\n";
        let opt = read(text);
        assert!(opt.allows(Rule::DropColumn, 2));
        assert!(opt.allows(Rule::DropColumn, 3));
        assert!(!opt.allows(Rule::DropColumn, 4));
        assert!(!opt.allows(Rule::DropTable, 3));
        assert!(opt.notes.is_empty());
    }

    #[test]
    fn an_opt_out_without_a_reason_does_not_count_and_says_so() {
        for text in [
            "op  # migmerge: allow drop-column\n",
            "op  # migmerge: allow drop-column --   \n",
        ] {
            let opt = read(text);
            assert!(!opt.allows(Rule::DropColumn, 1), "{text}");
            assert_eq!(opt.notes.len(), 1, "{text}");
            assert!(opt.notes[0].contains("no reason"), "{:?}", opt.notes);
        }
    }

    #[test]
    fn a_parsed_migration_keeps_the_lines_its_opt_outs_are_on() {
        let text = "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    operations = [\n        # migmerge: allow drop-table -- never released\n        migrations.DeleteModel('Tag'),\n        migrations.RemoveField('book', 'pages'),  # migmerge: allow drop-column\n    ]\n";
        let migration = crate::migration::parse(text.as_bytes()).unwrap();
        let kept = read_lines(
            migration
                .migmerge_comments
                .iter()
                .map(|(line, text)| (*line, text.as_str())),
        );
        assert_eq!(kept, read(text));
        assert!(kept.allows(Rule::DropTable, 7));
        assert!(!kept.allows(Rule::DropColumn, 8));
        assert_eq!(kept.notes.len(), 1, "{:?}", kept.notes);
        assert!(kept.notes[0].starts_with("8: "), "{:?}", kept.notes);
    }

    #[test]
    fn several_rules_and_unknown_codes() {
        let opt = read("# migmerge: allow drop-table, rename-table, drop-tabel -- legacy\n");
        assert!(opt.allows(Rule::DropTable, 2));
        assert!(opt.allows(Rule::RenameTable, 1));
        assert_eq!(opt.notes.len(), 1);
        assert!(opt.notes[0].contains("drop-tabel"));
    }
}
