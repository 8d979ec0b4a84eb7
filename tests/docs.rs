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

/// The lines between a README's `readme-recipe:NAME` markers, code fences left out.
fn readme_recipe(name: &str) -> Vec<String> {
    let readme = fs::read_to_string(project_root().join("README.md")).unwrap();
    let begin = format!("<!-- readme-recipe:{name}:begin -->\n");
    let end = format!("<!-- readme-recipe:{name}:end -->");
    let start = readme.find(&begin).expect("the begin marker") + begin.len();
    let stop = start + readme[start..].find(&end).expect("the end marker");
    readme[start..stop]
        .lines()
        .filter(|line| !line.starts_with("```"))
        .map(str::to_owned)
        .collect()
}

/// Commit hashes as the README writes them (`1a2b3c4`), so that lines compare across runs.
fn without_hashes(line: &str) -> String {
    let mut out = String::new();
    for word in line.split_inclusive([' ', ')']) {
        let bare = word.trim_end_matches([' ', ')']);
        if bare.len() == 7 && bare.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push_str(&word.replacen(bare, "<commit>", 1));
        } else {
            out.push_str(word);
        }
    }
    out
}

/// The Quickstart's two merges, run as it tells them: merging into the published `main`
/// renumbers the incoming migration, merging into an unpublished topic branch writes a merge
/// migration; each hook line is the one the README prints, reason included.
#[test]
fn quickstart_merges_print_the_readme_lines() {
    use crate::git_flows::{git_ok, install, migmerge_lines};
    let recipe = readme_recipe("quickstart");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |name: &str, text: &str| {
        let path = root.join("users/migrations").join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    let add = |name: &str, parent: &str, field: &str| {
        write(
            &format!("{name}.py"),
            &format!(
                "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    \
                 dependencies = [(\"users\", \"{parent}\")]\n\n    operations = [\n        \
                 migrations.AddField(model_name=\"profile\", name=\"{field}\", field=models.IntegerField(null=True)),\n    ]\n"
            ),
        );
        git_ok(root, &["add", "-A"]);
        git_ok(root, &["commit", "-q", "-m", name]);
    };
    git_ok(root, &["init", "-q", "-b", "main"]);
    write("__init__.py", "");
    fs::write(root.join("users/__init__.py"), "").unwrap();
    write(
        "0001_initial.py",
        "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    initial = True\n    dependencies = []\n    operations = []\n",
    );
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-q", "-m", "initial"]);
    add(
        "0004_alter_profile_display_name",
        "0001_initial",
        "display_name",
    );
    git_ok(root, &["switch", "-q", "-c", "feature"]);
    add(
        "0005_add_avatar",
        "0004_alter_profile_display_name",
        "avatar",
    );
    git_ok(root, &["switch", "-q", "-c", "topic", "main"]);
    add("0005_add_email", "0004_alter_profile_display_name", "email");
    git_ok(root, &["switch", "-q", "main"]);
    add("0005_add_phone", "0004_alter_profile_display_name", "phone");
    install(root, &[]);

    let mut printed = Vec::new();
    for line in &recipe {
        if let Some(command) = line.strip_prefix("$ ") {
            printed.push(line.clone());
            for step in command.split(" && ") {
                let words: Vec<&str> = step.split_whitespace().collect();
                assert_eq!(words[0], "git", "{line}");
                let mut args = words[1..].to_vec();
                if args[0] == "merge" {
                    args.insert(1, "--no-edit");
                }
                let text = git_ok(root, &args);
                printed.extend(migmerge_lines(&text).into_iter().map(without_hashes));
            }
        }
    }
    let expected: Vec<String> = recipe.iter().map(|line| without_hashes(line)).collect();
    assert_eq!(printed, expected);
    assert!(
        expected
            .iter()
            .filter(|l| l.starts_with("migmerge: "))
            .count()
            == 2,
        "{expected:?}"
    );
}

/// The README's `repo: local` pre-commit hook runs what the repository's own hooks run, on the
/// same files, with a command line the CLI accepts.
#[test]
fn readme_pre_commit_local_hook_matches_the_offered_hooks() {
    use clap::Parser;
    let recipe = readme_recipe("pre-commit");
    let value = |key: &str, lines: &[String]| -> String {
        let prefix = format!("{key}: ");
        let found: Vec<String> = lines
            .iter()
            .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix(&prefix))
            .map(str::to_owned)
            .collect();
        assert_eq!(found.len(), 1, "{key}: {found:?}");
        found[0].clone()
    };
    assert_eq!(value("repo", &recipe), "local");
    assert_eq!(value("language", &recipe), "system");
    let hooks: Vec<String> = fs::read_to_string(project_root().join(".pre-commit-hooks.yaml"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let system = hooks
        .split(|l| l.is_empty())
        .find(|block| block.iter().any(|l| l == "- id: migmerge-check-system"))
        .expect("the migmerge-check-system hook");
    for key in ["entry", "files", "pass_filenames", "name"] {
        assert_eq!(value(key, &recipe), value(key, system), "{key}");
    }
    let entry = value("entry", &recipe);
    let words: Vec<&str> = entry.split_whitespace().collect();
    assert!(
        migmerge::cli::Cli::try_parse_from(&words).is_ok(),
        "{entry}"
    );
}
