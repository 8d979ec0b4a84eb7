//! The command line, as clap sees it. No logic lives here.
#![deny(missing_docs)]

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// `0.1.0 (abc1234 2026-12-01)`: the version and the commit the binary was built from, or
/// `(unknown)` when built outside a git checkout of migmerge (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("MIGMERGE_BUILD_COMMIT"),
    ")"
);

/// Ends Django migration conflicts between git branches.
#[derive(Debug, Parser)]
#[command(name = "migmerge", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// migmerge's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report apps with more than one leaf migration, how their branches overlap, and broken
    /// graphs. Writes nothing.
    #[command(
        after_help = "Exit status: 0 no conflict and no problem; 1 conflicts or problems \
found; 2 could not run (bad arguments, not a repository, unreadable or unparsable migration)."
    )]
    Check(CheckArgs),
    /// Report migrations that cannot be rolled back, or cannot run while the previous
    /// release's code still serves requests (dropped or renamed columns and tables, NOT NULL
    /// columns without a default, irreversible RunPython/RunSQL, locking index builds and
    /// rewrites). By default only the migrations the branch adds since it forked from the
    /// first protected ref. Writes nothing. A comment `# migmerge: allow RULE -- REASON` on an
    /// operation's line or the line above silences that rule there (docs/lint.md).
    #[command(
        after_help = "Exit status: 0 no finding (info findings do not count); 1 findings; 2 could \
not run (bad arguments, no protected ref or repository for the default scope, unparsable \
migration)."
    )]
    Lint(LintArgs),
    /// Show the migration graph as Django builds it (squashes applied).
    Graph(GraphArgs),
    /// Show the project model: each app's label, directory, migrations and leaves, where each
    /// fact comes from (apps.py, settings, the migrations' own references, the directory name),
    /// the settings files read, and every note. Writes nothing.
    #[command(
        after_help = "Exit status: 0 the project was read; 2 could not run (bad arguments, not a \
repository, unreadable or unparsable migration)."
    )]
    Apps(AppsArgs),
    /// Resolve conflicting migrations in the work tree: write a merge migration, or renumber
    /// the unpublished branch's migrations to follow the other leaf. Shows a diff first.
    #[command(
        after_help = "Exit status: 0 nothing left to resolve (or --dry-run showed every plan); \
1 an app was left unresolved (overlap conflict under --strategy auto, or skipped); 2 could not \
run (bad arguments, no terminal without --yes, a plan that would not resolve the conflict)."
    )]
    Resolve(ResolveArgs),
    /// Build a throwaway repository with two branches adding sibling migrations, merge them
    /// with git, and show what migmerge sees at each step.
    Demo(DemoArgs),
    /// Set migmerge up in a repository: the merge driver for max_migration.txt (git config and
    /// attributes) and the hooks that resolve migrations after merge, pull and rebase.
    Install(InstallArgs),
    /// Undo `migmerge install`: remove the driver, the attributes line and the hook shims, and
    /// put back any hook that was there before.
    Uninstall(UninstallArgs),
    /// Print a completion script for a shell, generated from these very definitions.
    #[command(after_help = "Install, for example:
  bash: migmerge completions bash > ~/.local/share/bash-completion/completions/migmerge
  zsh:  migmerge completions zsh > ~/.zfunc/_migmerge   (with ~/.zfunc in fpath)
  fish: migmerge completions fish > ~/.config/fish/completions/migmerge.fish")]
    Completions(CompletionsArgs),
    /// Print the man page (roff), every command included.
    #[command(after_help = "Read it with: migmerge man | man -l -
Install it with: migmerge man > ~/.local/share/man/man1/migmerge.1")]
    Man,
    /// Run by the hook shims that `migmerge install` writes.
    #[command(hide = true)]
    Hook(HookArgs),
    /// The interpreter of the direct hook shims (`#!<migmerge> run-hook`): the kernel runs
    /// `migmerge run-hook <hook file> <git's arguments>`.
    #[command(hide = true, disable_help_flag = true)]
    RunHook(RunHookArgs),
    /// The merge driver git runs for max_migration.txt (registered by `migmerge install`).
    // Labels come from branch names and commit subjects (`git am -3`): no value, `--help`
    // included, may be taken for an option, or git would keep ours and drop theirs.
    #[command(hide = true, disable_help_flag = true)]
    MergeDriver(MergeDriverArgs),
}

/// Arguments of `migmerge install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The repository (default: the one holding the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Write the attributes line to .gitattributes and stage it, for everyone who clones the
    /// repository (commit it). Without it, the line goes to the repository's own
    /// .git/info/attributes, which is never committed and never in a merge's way.
    #[arg(long, conflicts_with = "local")]
    pub shared: bool,
    /// The attributes line in .git/info/attributes: the default, accepted for scripts that
    /// name it.
    #[arg(long)]
    pub local: bool,
    /// Show what would change, change nothing.
    #[arg(long)]
    pub print: bool,
}

/// Arguments of `migmerge uninstall`.
#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// The repository (default: the one holding the current directory).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Show what would change, change nothing.
    #[arg(long)]
    pub print: bool,
}

/// Arguments of `migmerge hook`.
#[derive(Debug, clap::Args)]
pub struct HookArgs {
    /// The git hook being run: post-merge, post-rewrite, pre-commit, prepare-commit-msg.
    pub name: String,
    /// The hook's own arguments, as git passed them.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    pub args: Vec<String>,
}

/// Arguments of `migmerge run-hook`.
#[derive(Debug, clap::Args)]
pub struct RunHookArgs {
    /// The hook file git ran (a direct shim, which names its hook).
    pub file: PathBuf,
    /// The hook's own arguments, as git passed them.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    pub args: Vec<String>,
}

/// Arguments of `migmerge merge-driver`, in the order the registered command line passes them
/// (after a `--`; lines installed before it had none, and every value may start with `-`).
#[derive(Debug, clap::Args)]
pub struct MergeDriverArgs {
    /// %O: the common ancestor's version.
    #[arg(allow_hyphen_values = true)]
    pub base: PathBuf,
    /// %A: our version; the merged result is written here.
    #[arg(allow_hyphen_values = true)]
    pub ours: PathBuf,
    /// %B: their version.
    #[arg(allow_hyphen_values = true)]
    pub theirs: PathBuf,
    /// %L: the conflict marker size.
    #[arg(allow_hyphen_values = true, default_value_t = 7)]
    pub marker_size: usize,
    /// %S: the ancestor's label.
    #[arg(allow_hyphen_values = true, default_value = "base")]
    pub base_label: String,
    /// %X: our label.
    #[arg(allow_hyphen_values = true, default_value = "ours")]
    pub ours_label: String,
    /// %Y: their label.
    #[arg(allow_hyphen_values = true, default_value = "theirs")]
    pub theirs_label: String,
    /// %P: the path being merged, as in the repository.
    #[arg(allow_hyphen_values = true, default_value = "")]
    pub path: String,
}

/// Arguments of `migmerge completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Shells `completions` writes scripts for. Our own list rather than the generator crate's, so
/// that the command line does not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash (bash-completion).
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// Elvish.
    Elvish,
    /// PowerShell.
    Powershell,
}

/// Arguments of `migmerge demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the throwaway repository instead of deleting it.
    #[arg(long)]
    pub keep: bool,
}

/// Where the migrations are read from.
#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// The project directory (default: the current one).
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Read the migrations at this git revision instead of the work tree.
    #[arg(long, value_name = "REV", conflicts_with = "against")]
    pub rev: Option<String>,
    /// Check what merging this revision into HEAD (or --head) would produce, in memory.
    #[arg(long, value_name = "REV")]
    pub against: Option<String>,
    /// With --against: the revision being merged into (default: HEAD).
    #[arg(long, value_name = "REV", requires = "against")]
    pub head: Option<String>,
    /// Read the files staged for the next commit (git's index) instead of the work tree: what a
    /// pre-commit hook checks. Honours GIT_INDEX_FILE, which git sets for its hooks.
    #[arg(long, conflicts_with_all = ["rev", "against"])]
    pub staged: bool,
}

/// Arguments of `migmerge check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Where to read migrations from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Text for people, grouped by app, branches side by side.
    Human,
    /// One JSON object (documented in the README).
    Json,
    /// GitHub Actions workflow annotations.
    Github,
}

/// Arguments of `migmerge lint`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// The project directory (default: the current one); its work tree is read.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Lint the migrations absent at this revision or changed since (default: since the
    /// merge base of HEAD and the first protected ref).
    #[arg(long, value_name = "REV", conflicts_with = "all")]
    pub since: Option<String>,
    /// Lint every migration.
    #[arg(long)]
    pub all: bool,
    /// Lint the in-memory merge of HEAD with REV instead of the work tree (nothing is written):
    /// also reports what one branch removes or renames while the other still uses it.
    #[arg(long, value_name = "REV")]
    pub against: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    pub format: LintFormat,
}

/// Output formats of `lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// `file:line: rule severity message`, one finding a line.
    Human,
    /// `{"findings": [...]}` (documented in the README).
    Json,
    /// GitHub Actions workflow annotations.
    Github,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

/// Arguments of `migmerge resolve`.
#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The project directory (default: the current one). Its work tree is changed.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// How to resolve (default: `strategy` from the configuration, else auto).
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub strategy: Option<ResolveStrategy>,
    /// Only this app (repeatable).
    #[arg(long, value_name = "LABEL")]
    pub app: Vec<String>,
    /// Write without asking (no terminal needed). With an explicit --strategy, also resolves
    /// apps whose branches change the same thing.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print what would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ResolveFormat::Human)]
    pub format: ResolveFormat,
}

/// Strategies of `resolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResolveStrategy {
    /// Renumber when exactly one side is unpublished (not on a protected ref), else merge.
    Auto,
    /// Write a merge migration depending on every leaf.
    Merge,
    /// Move one branch's migrations after the other leaf (two leaves only).
    Renumber,
}

/// Output formats of `resolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResolveFormat {
    /// The decision, a unified diff and one summary line per app.
    Human,
    /// The plans as one JSON object, no diff.
    Json,
}

/// Arguments of `migmerge graph`.
#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// Where to read migrations from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only this app.
    #[arg(long, value_name = "LABEL")]
    pub app: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

/// Output formats of `graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// One line per migration with its dependencies.
    Text,
    /// Graphviz.
    Dot,
    /// Nodes, parents, leaves and problems as JSON.
    Json,
}

/// Arguments of `migmerge apps`.
#[derive(Debug, clap::Args)]
pub struct AppsArgs {
    /// Where to read the project from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AppsFormat::Human)]
    pub format: AppsFormat,
}

/// Output formats of `apps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppsFormat {
    /// A table of apps, then settings, swappable settings and notes.
    Human,
    /// One JSON object: `apps`, `settings_files`, `swappable`, `notes`.
    Json,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
