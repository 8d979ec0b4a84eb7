//! The documentation and packaging files against the code they describe: every configuration key
//! in the README, our own pyproject.toml readable by migmerge, the pre-commit hooks' command line
//! accepted by the CLI.

use std::fs;

use crate::common::project_root;

/// The field names of `struct Config` in src/config.rs, as the TOML keys they are (kebab-case).
fn config_keys() -> Vec<String> {
    let source = fs::read_to_string(project_root().join("src/config.rs")).unwrap();
    let start = source
        .find("pub struct Config {")
        .expect("src/config.rs defines `pub struct Config {`");
    let body = &source[start..];
    // The struct ends at the first closing brace at the start of a line.
    let end = body.find("\n}").expect("the end of struct Config");
    let keys: Vec<String> = body[..end]
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub "))
        .filter_map(|rest| rest.split_once(':'))
        .filter(|(name, _)| !name.contains(' '))
        .map(|(name, _)| name.replace('_', "-"))
        .collect();
    assert!(
        keys.len() >= 8,
        "parsed too few fields from struct Config: {keys:?}"
    );
    keys
}

#[test]
fn readme_documents_every_configuration_key() {
    let readme = fs::read_to_string(project_root().join("README.md")).unwrap();
    let start = readme
        .find("\n## Configuration")
        .expect("README.md has a Configuration section");
    let section = &readme[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    for key in config_keys() {
        assert!(
            section.contains(&format!("\n| `{key}` |")),
            "README.md's Configuration table has no row for `{key}`"
        );
    }
}

#[test]
fn our_pyproject_builds_the_binary_and_leaves_migmerge_unconfigured() {
    let text = fs::read_to_string(project_root().join("pyproject.toml")).unwrap();
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(
        parsed["build-system"]["build-backend"].as_str(),
        Some("maturin")
    );
    assert_eq!(parsed["tool"]["maturin"]["bindings"].as_str(), Some("bin"));
    assert_eq!(parsed["project"]["name"].as_str(), Some("migmerge"));
    // migmerge run in this repository reads this file: no [tool.migmerge], and nothing it
    // would refuse.
    assert!(parsed["tool"].get("migmerge").is_none());
    let config = migmerge::config::Config::load(Some(text.as_bytes()), None).unwrap();
    assert!(config.protected.is_none() && config.exclude.is_empty());
}

#[test]
fn pre_commit_hooks_run_a_command_line_the_cli_accepts() {
    use clap::Parser;
    let text = fs::read_to_string(project_root().join(".pre-commit-hooks.yaml")).unwrap();
    let entries: Vec<&str> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("entry: "))
        .collect();
    assert!(!entries.is_empty(), "no hook entries");
    for entry in entries {
        let words: Vec<&str> = entry.split_whitespace().collect();
        assert_eq!(words[0], "migmerge", "{entry}");
        let parsed = migmerge::cli::Cli::try_parse_from(&words);
        assert!(parsed.is_ok(), "{entry}: {}", parsed.err().unwrap());
    }
    assert!(text.contains("- id: migmerge-check\n"));
    assert!(text.contains("- id: migmerge-lint\n"));
}
