//! Unified diffs of what a plan would write. The only user of `similar`, so the diff library
//! can be swapped.

use std::fmt::Write as _;

use similar::TextDiff;

use crate::edit::FileUpdate;

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The unified diff of every update, `git diff` style: a new file comes from `/dev/null`, a
/// renamed one from its old path. `color` adds ANSI colours (only for a terminal).
pub fn unified(updates: &[FileUpdate], color: bool) -> String {
    let mut out = String::new();
    for update in updates {
        let old = update
            .old
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let new = String::from_utf8_lossy(&update.new);
        let from = match &update.before {
            Some(before) => format!("a/{before}"),
            None => "/dev/null".to_owned(),
        };
        let to = format!("b/{}", update.after);
        if update.is_rename() {
            let line = format!(
                "rename {} -> {}",
                update.before.as_deref().unwrap_or_default(),
                update.after
            );
            push_line(&mut out, &line, color.then_some(BOLD), color);
        }
        let diff = TextDiff::from_lines(old.as_ref(), new.as_ref());
        let text = diff
            .unified_diff()
            .context_radius(3)
            .header(&from, &to)
            .to_string();
        if text.is_empty() {
            continue;
        }
        for line in text.lines() {
            let style = if !color {
                None
            } else if line.starts_with("+++") || line.starts_with("---") {
                Some(BOLD)
            } else if line.starts_with("@@") {
                Some(CYAN)
            } else if line.starts_with('+') {
                Some(GREEN)
            } else if line.starts_with('-') {
                Some(RED)
            } else {
                None
            };
            push_line(&mut out, line, style, color);
        }
    }
    out
}

fn push_line(out: &mut String, line: &str, style: Option<&str>, color: bool) {
    match style {
        Some(style) if color => {
            let _ = writeln!(out, "{style}{line}{RESET}");
        }
        _ => {
            let _ = writeln!(out, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::testing::update;

    #[test]
    fn new_file_comes_from_dev_null() {
        let text = unified(&[update(None, "a/m/0002_x.py", None, "x = 1\n")], false);
        assert!(
            text.contains("--- /dev/null\n+++ b/a/m/0002_x.py\n"),
            "{text}"
        );
        assert!(text.contains("+x = 1\n"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
    }

    #[test]
    fn rename_is_announced_and_colored_on_request() {
        let text = unified(
            &[update(
                Some("m/0002_a.py"),
                "m/0003_a.py",
                Some("d = '0001'\n"),
                "d = '0002'\n",
            )],
            true,
        );
        assert!(text.contains("rename m/0002_a.py -> m/0003_a.py"), "{text}");
        assert!(text.contains(&format!("{RED}-d = '0001'{RESET}")), "{text}");
        assert!(
            text.contains(&format!("{GREEN}+d = '0002'{RESET}")),
            "{text}"
        );
    }
}
