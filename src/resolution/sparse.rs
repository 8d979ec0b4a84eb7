//! Sparse checkouts: a resolution is planned from the work tree, so an app the sparse checkout
//! leaves out is invisible to it. Renaming a migration that such an app depends on would leave
//! that dependency on the old name, in a commit. So when the checkout leaves out anything the
//! project loader reads (a migrations package, an `apps.py`, a package's `__init__.py`, a
//! settings module, migmerge's configuration), nothing is resolved, and the line says why and
//! what to do. A sparse checkout that leaves out only other files changes nothing.

use std::path::Path;

use anyhow::Result;

use crate::config::{Config, MIGMERGE_TOML, PYPROJECT};
use crate::project;
use crate::source::{self, Source as _, WorkTree};

/// Why the tree at `root` is not resolved (a sentence, without the `migmerge:` a hook puts
/// before it), when its sparse checkout leaves out files
/// the resolution depends on; `None` when it leaves out none (or is no sparse checkout).
pub fn sparse_checkout_refusal(root: &Path) -> Result<Option<String>> {
    let excluded = source::sparse_excluded(root)?;
    if excluded.is_empty() {
        return Ok(None);
    }
    let tree = WorkTree::new(root)?;
    let config = Config::load(
        tree.read(PYPROJECT)?.as_deref(),
        tree.read(MIGMERGE_TOML)?.as_deref(),
    )?;
    let custom_dirs = project::custom_migrations_dirs(&config);
    Ok(refusal(&excluded, |path| {
        path == PYPROJECT
            || path == MIGMERGE_TOML
            || project::may_change_migrations(path, &custom_dirs)
    }))
}

/// The refusal for `excluded` paths, of which `matters` tells those the loader reads.
fn refusal(excluded: &[String], matters: impl Fn(&str) -> bool) -> Option<String> {
    let relevant: Vec<&str> = excluded
        .iter()
        .map(String::as_str)
        .filter(|p| matters(p))
        .collect();
    let first = relevant.first()?;
    let more = match relevant.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Some(format!(
        "not resolved: the sparse checkout leaves out files the migrations depend on \
         ({first}{more}), so a resolution could leave their dependencies on old names. Nothing \
         was changed: run `git sparse-checkout disable` (or add those directories), then \
         `migmerge resolve`."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_loader_reads_counts() {
        let paths = |list: &[&str]| list.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        let matters = |p: &str| p.contains("/migrations/");
        assert_eq!(refusal(&paths(&["docs/a.md", "web/app.js"]), matters), None);
        let line = refusal(
            &paths(&[
                "docs/a.md",
                "shop/migrations/0001_initial.py",
                "shop/migrations/__init__.py",
            ]),
            matters,
        )
        .unwrap();
        assert!(
            line.contains("(shop/migrations/0001_initial.py and 1 more)"),
            "{line}"
        );
        assert!(line.contains("git sparse-checkout disable"), "{line}");
    }
}
