//! `migmerge merge-driver`: git's merge driver for `max_migration.txt`.
//!
//! The file names the app's leaf migration. Both sides of a merge (or a rebased commit and its
//! new base) rewrote it to name their own new migration, so git alone stops on a conflict. The
//! driver writes one name instead: the app's only leaf when the merged migrations have one; else
//! the name Django numbers highest, which the hooks replace with the resolution's leaf when they
//! resolve the sibling migrations. When the two sides' migrations change the same thing (an
//! overlap of severity `conflict`), it decides nothing: conflict markers and an explanation, and
//! exit 1 so that git stops and a human runs `migmerge resolve`.
//!
//! It is never worse than git: it acts only on the `max_migration.txt` of a migrations package
//! (an `__init__.py` beside it) whose two sides each hold one migration name; anything else, and
//! whatever it cannot make sense of, goes to `git merge-file`, the same three-way merge git would
//! have done without a driver, with git's exit status.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::cli::MergeDriverArgs;
use crate::commands::{ExitStatus, Outcome, check};
use crate::git::driver::{highest, one_name};
use crate::project::MigrationsDirs;
use crate::report;
use crate::source::{GitMerge, Source as _};

pub fn run(args: &MergeDriverArgs) -> Result<Outcome> {
    // The driver writes in the git directory anyway; what it parses, the hooks read next.
    crate::project::parse_cache::keep_new_parses();
    let status = if std::env::var("MIGMERGE").as_deref() == Ok("0") {
        merge_file(args)?
    } else {
        match merge(args) {
            Ok(status) => status,
            Err(err) => {
                say(&format!(
                    "migmerge: {}: {err:#}; merging it as git would",
                    args.path
                ));
                merge_file(args)?
            }
        }
    };
    Ok(Outcome {
        stdout: String::new(),
        status,
    })
}

#[allow(clippy::print_stderr)]
fn say(line: &str) {
    eprintln!("{line}");
}

fn merge(args: &MergeDriverArgs) -> Result<ExitStatus> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let (ours, theirs) = (read(&args.ours)?, read(&args.theirs)?);
    // Anything but one name on each side (a notes file, a side with several lines or with
    // conflict markers) is text, and text is merged as git merges it.
    let (Some(our_name), Some(their_name)) = (one_name(&ours), one_name(&theirs)) else {
        return merge_file(args);
    };
    let root = std::env::current_dir().context("cannot read the current directory")?;
    let incoming = incoming_commit(&root, &args.theirs_label);
    if !in_migrations_package(&root, &args.path, incoming.as_deref()) {
        return merge_file(args);
    }
    // Both sides wrote the same bytes: git's result is "ours" as it is.
    if ours == theirs {
        return Ok(ExitStatus::Success);
    }
    // The same name laid out differently (line endings, blank lines): git's merge decides.
    if our_name == their_name {
        return merge_file(args);
    }
    // The name written here is only half of the resolution: the hooks write the other half.
    // Where they will refuse, git's own conflict must stand, so the merge stops as it would
    // without migmerge instead of committing two leaves. That depends on the work tree, which
    // may change between two merges of the same commits: judged once per merge process.
    // Every max_migration.txt of the merge also asks the same question of the same two
    // commits: answered once, by the first invocation, for all of them.
    let view = MergeView::of(&root, incoming.as_deref());
    if let Some(why) = &view.refusal {
        say(&format!(
            "migmerge: {}: merged as git would, because the hooks will not resolve this merge: {why}",
            args.path
        ));
        return merge_file(args);
    }
    if let Some(why) = view.unreadable() {
        say(&format!(
            "migmerge: {}: merged as git would, because the merged migrations cannot be read: {why}",
            args.path
        ));
        return merge_file(args);
    }
    let layout = Layout::of(&ours);
    let name = match view.file(&args.path) {
        Some(View::Leaf(leaf)) => leaf.clone(),
        Some(View::Overlap { app, explanation }) => {
            say(&format!(
                "migmerge: {}: left conflict markers: both branches change the same thing in \
                 {app}, so migmerge does not decide how they combine. After the merge stops, \
                 run `migmerge resolve` (it shows both sides and writes the fix).\n{explanation}",
                args.path
            ));
            merge_file(args)?;
            return Ok(ExitStatus::Failure);
        }
        None => {
            let both = [our_name.to_owned(), their_name.to_owned()];
            highest(&both).cloned().unwrap_or_default()
        }
    };
    write(args, &name, layout)
}

/// Whether `path` (as in the repository) is the `max_migration.txt` of a migrations package:
/// an `__init__.py` beside it, in the work tree or in one of the trees being merged.
fn in_migrations_package(root: &Path, path: &str, incoming: Option<&str>) -> bool {
    let path = Path::new(path);
    if path.file_name().is_none_or(|n| n != "max_migration.txt") {
        return false;
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    if dir.file_name().is_none_or(|n| n != "migrations") {
        return false;
    }
    let init = dir.join("__init__.py");
    if root.join(&init).is_file() {
        return true;
    }
    let Ok(git) = crate::git::Git::discover(root) else {
        return false;
    };
    let init = init.to_string_lossy().replace('\\', "/");
    std::iter::once("HEAD").chain(incoming).any(|rev| {
        git.output(&["cat-file", "-e", &format!("{rev}:{init}")])
            .is_ok_and(|o| o.status.success())
    })
}

/// How the file being written lays out its line: the line break it uses, and whether the
/// last line has one. The merged name keeps "ours"'s layout, as git keeps untouched bytes.
#[derive(Clone, Copy)]
struct Layout {
    crlf: bool,
    final_newline: bool,
}

impl Layout {
    fn of(bytes: &[u8]) -> Layout {
        Layout {
            crlf: bytes.windows(2).any(|w| w == b"\r\n"),
            final_newline: bytes.ends_with(b"\n"),
        }
    }
}

fn write(args: &MergeDriverArgs, name: &str, layout: Layout) -> Result<ExitStatus> {
    let newline = match (layout.final_newline, layout.crlf) {
        (false, _) => "",
        (true, true) => "\r\n",
        (true, false) => "\n",
    };
    // Written beside %A and renamed over it, so that a driver killed half-way leaves %A as git
    // gave it and the installed line's `git merge-file` fallback merges the real sides. Not
    // synced: %A is git's scratch file, which git reads back at once and writes to the work
    // tree without syncing either.
    let dir = args.ours.parent().filter(|d| !d.as_os_str().is_empty());
    let mut temp = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new(".")))
        .with_context(|| format!("cannot write beside {}", args.ours.display()))?;
    std::io::Write::write_all(&mut temp, format!("{name}{newline}").as_bytes())
        .with_context(|| format!("cannot write {}", args.ours.display()))?;
    temp.persist(&args.ours)
        .with_context(|| format!("cannot write {}", args.ours.display()))?;
    Ok(ExitStatus::Success)
}

/// What the merged migrations say about the app of one `max_migration.txt`; a file without
/// an entry gets the highest of the two names, which the hooks correct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum View {
    /// The app has one leaf: the file names it.
    Leaf(String),
    /// Both sides change the same thing in `app`: the explanation to show.
    Overlap { app: String, explanation: String },
}

/// What the driver's invocations for one merge share: whether the hooks will refuse, which
/// holds for one merge process, and what merging the incoming commit into HEAD gives for every
/// `max_migration.txt`, a function of the two commits alone.
#[derive(Debug, Default, Serialize, Deserialize)]
struct MergeView {
    head: String,
    incoming: String,
    /// The merge process the refusal was judged for (see [`merge_process`]).
    process: Option<String>,
    /// Why the hooks that finish this merge will change nothing (see [`hooks_would_refuse`]).
    refusal: Option<String>,
    /// What the merged migrations say; `None` when the incoming commit is not known.
    merged: Option<Merged>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Merged {
    /// Why the merged migrations cannot be read (so the hooks will not resolve either).
    unreadable: Option<String>,
    /// By root-relative path of a `max_migration.txt`.
    files: BTreeMap<String, View>,
    /// The merged project's migrations directories not named `migrations`, whose untracked
    /// files the hooks judge too.
    #[serde(default)]
    relocated: MigrationsDirs,
}

impl MergeView {
    /// The view of merging `theirs` into HEAD: read from the git directory, where the first
    /// invocation of this merge left it, or worked out and left there. Without a known
    /// incoming commit, only the refusal is judged, and every name is a guess.
    fn of(root: &Path, theirs: Option<&str>) -> MergeView {
        let Some(theirs) = theirs else {
            return MergeView {
                refusal: hooks_would_refuse(root, None, &MigrationsDirs::named()),
                ..MergeView::default()
            };
        };
        let process = merge_process();
        let cache = cache_of(root);
        let head = cache
            .as_ref()
            .map(|(_, head)| head.clone())
            .unwrap_or_default();
        let kept = cache
            .as_ref()
            .and_then(|(path, _)| std::fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice::<MergeView>(&bytes).ok())
            .filter(|view| view.head == head && view.incoming == theirs);
        let mut view = match kept {
            // The same merge process: everything stands.
            Some(view) if process.is_some() && view.process == process => return view,
            // The same commits merged again: the work tree may have changed since.
            Some(view) => view,
            None => MergeView {
                head,
                incoming: theirs.to_owned(),
                ..MergeView::default()
            },
        };
        view.process = process;
        if let Some(merged) = &view.merged {
            let dirs = merged.relocated.clone().and_named();
            view.refusal = hooks_would_refuse(root, Some(theirs), &dirs);
        } else {
            // Both answers are needed (the hooks nearly always go on) and neither depends on
            // the other: worked out side by side, since git waits for its driver.
            let (mut refusal, merged) = std::thread::scope(|scope| {
                let dirs = MigrationsDirs::named();
                let refusal = scope.spawn(move || hooks_would_refuse(root, Some(theirs), &dirs));
                let merged = Merged::of(root, theirs);
                let refusal = refusal
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (refusal, merged)
            });
            // Directories `MIGRATION_MODULES` renames are known once the merged project is: git
            // is asked about them then (rarely needed).
            if refusal.is_none() && !merged.relocated.is_empty() {
                refusal = untracked_refusal(root, theirs, &merged.relocated);
            }
            view.refusal = refusal;
            // A view worked out for a merge the hooks refuse is kept all the same: the next
            // merge of the same commits may not be refused.
            view.merged = Some(merged);
        }
        // Without the cache, each invocation works the view out again: slower, not wrong.
        if let Some((path, _)) = &cache {
            let _ = keep(path, &view);
        }
        view
    }

    /// What the merged migrations say for the `max_migration.txt` at `path`.
    fn file(&self, path: &str) -> Option<&View> {
        self.merged.as_ref()?.files.get(path)
    }

    fn unreadable(&self) -> Option<&str> {
        self.merged.as_ref()?.unreadable.as_deref()
    }
}

impl Merged {
    fn of(root: &Path, theirs: &str) -> Merged {
        match merged_views(root, theirs) {
            Ok((files, relocated)) => Merged {
                unreadable: None,
                files,
                relocated,
            },
            Err(why) => Merged {
                unreadable: Some(why),
                ..Merged::default()
            },
        }
    }
}

/// The git process running this merge, as `pid:start time`: the driver runs under git's
/// `sh -c`, so it is the parent of the driver's parent. Every invocation of one merge names
/// the same process, and no later merge does (a reused process id has another start time).
/// `None` where it cannot be told (no Linux `/proc`, or the driver was not started by git
/// through one shell), and each invocation then judges for itself.
fn merge_process() -> Option<String> {
    #[cfg(unix)]
    {
        let shell = std::os::unix::process::parent_id();
        let git = stat_field(shell, 4)?;
        let comm = std::fs::read_to_string(format!("/proc/{git}/comm")).ok()?;
        if comm.trim_end() != "git" {
            return None;
        }
        let started = stat_field(git.parse().ok()?, 22)?;
        Some(format!("{git}:{started}"))
    }
    #[cfg(not(unix))]
    None
}

/// Field `number` (1-based, as proc(5) numbers them) of `/proc/<pid>/stat`.
#[cfg(unix)]
fn stat_field(pid: u32, number: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and parentheses.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    rest.split_whitespace()
        .nth(number.checked_sub(3)?)
        .map(str::to_owned)
}

/// Where the view of the merge in progress is kept, and the commit HEAD names, which with the
/// incoming commit tells whether a kept view is this merge's.
fn cache_of(root: &Path) -> Option<(PathBuf, String)> {
    let repo = git2::Repository::discover(root).ok()?;
    let head = repo.head().ok()?.target()?.to_string();
    Some((
        repo.path()
            .join(crate::git::STATE_DIR)
            .join("merge-view.json"),
        head,
    ))
}

fn keep(path: &Path, view: &MergeView) -> Result<()> {
    let dir = path.parent().context("no directory")?;
    std::fs::create_dir_all(dir)?;
    let temp = tempfile::NamedTempFile::new_in(dir)?;
    // One write, not one per JSON token.
    let mut out = std::io::BufWriter::new(temp);
    serde_json::to_writer(&mut out, view)?;
    out.into_inner()
        .map_err(std::io::IntoInnerError::into_error)?
        .persist(path)?;
    Ok(())
}

/// Why the hooks that finish this merge will change nothing, when something already tells:
/// migmerge's configuration does not load, or migration directories hold files git does not
/// track that the incoming commit does not bring (the hooks never build on a user's drafts;
/// git may already have written the incoming side's new files, untracked until the merge
/// ends). Without a known incoming commit, untracked files are not judged. Untracked files are
/// looked for in `dirs`.
fn hooks_would_refuse(
    root: &Path,
    incoming: Option<&str>,
    dirs: &MigrationsDirs,
) -> Option<String> {
    let read = |file: &str| std::fs::read(root.join(file)).ok();
    if let Err(err) = crate::config::Config::load(
        read(crate::config::PYPROJECT).as_deref(),
        read(crate::config::MIGMERGE_TOML).as_deref(),
    ) {
        return Some(err.to_string());
    }
    untracked_refusal(root, incoming?, dirs)
}

/// Why the hooks will refuse on account of files of `dirs` that git does not track and
/// `incoming` does not bring: only those that can be migration work count, as for the hooks
/// ([`MigrationsDirs::holds_work`]).
fn untracked_refusal(root: &Path, incoming: &str, dirs: &MigrationsDirs) -> Option<String> {
    let git = crate::git::Git::discover(root).ok()?;
    let pathspecs = dirs.pathspecs();
    let mut args = vec!["ls-files", "--others", "--exclude-standard", "-z", "--"];
    args.extend(pathspecs.iter().map(String::as_str));
    let untracked = git.run(&args).ok()?;
    let brought = |path: &str| {
        git.output(&["cat-file", "-e", &format!("{incoming}:{path}")])
            .is_ok_and(|o| o.status.success())
    };
    let untracked: Vec<&str> = untracked
        .split('\0')
        .filter(|p| !p.is_empty() && dirs.holds_work(p) && !brought(p))
        .collect();
    match untracked.as_slice() {
        [] => None,
        [first, rest @ ..] => Some(format!(
            "migration files git does not track ({first}{})",
            if rest.is_empty() {
                String::new()
            } else {
                format!(" and {} more", rest.len())
            }
        )),
    }
}

/// What each `max_migration.txt` should hold, by path, and the merged project's relocated
/// migrations directories.
type Views = (BTreeMap<String, View>, MigrationsDirs);

/// Merges HEAD with the commit being merged, in memory, and says what each app's
/// `max_migration.txt` should hold, and which of the merged project's migrations directories
/// are not named `migrations`; `Err` says why the merged migrations cannot be read. Empty when
/// that commit cannot be known or merged: every name is then a guess.
fn merged_views(root: &Path, theirs: &str) -> Result<Views, String> {
    let mut views = BTreeMap::new();
    let Ok(merged) = GitMerge::open(root, "HEAD", theirs) else {
        return Ok((views, MigrationsDirs::default()));
    };
    let (project, graph) = crate::resolution::load(&merged).map_err(|err| err.to_string())?;
    let report = check::analyze(&project, &graph, merged.describe(), |_| Vec::new());
    let leaves = graph.leaves();
    for app in &project.apps {
        let Some(max) = &app.max_migration else {
            continue;
        };
        let view = match report.conflicts.iter().find(|c| c.app == app.label) {
            Some(conflict) if conflict.consequence.needs_human() => Some(View::Overlap {
                app: conflict.app.clone(),
                explanation: report::conflict_human(conflict),
            }),
            Some(_) => None,
            None => match leaves.get(app.label.as_str()).map(Vec::as_slice) {
                Some([leaf]) => Some(View::Leaf((*leaf).to_owned())),
                _ => None,
            },
        };
        if let Some(view) = view {
            views.insert(max.path.clone(), view);
        }
    }
    Ok((views, MigrationsDirs::relocated_in(&project.apps)))
}

/// The commit whose changes are coming in: `git merge` names it in a `GITHEAD_<hash>`
/// variable; a rebase or cherry-pick is picking the last commit of its todo list that is
/// done; else the label, when it starts with a commit (`1a2b3c4 (subject)`).
fn incoming_commit(root: &Path, label: &str) -> Option<String> {
    if let Some(hash) =
        std::env::vars().find_map(|(k, _)| k.strip_prefix("GITHEAD_").map(str::to_owned))
    {
        return Some(hash);
    }
    let git_dir = crate::git::Git::discover(root)
        .ok()?
        .git_dir()
        .to_path_buf();
    let done = std::fs::read_to_string(git_dir.join("rebase-merge/done")).ok();
    if let Some(hash) = done.as_deref().and_then(|d| {
        d.lines()
            .rev()
            .filter_map(|l| l.split_whitespace().nth(1))
            .find(|h| h.len() >= 7 && h.chars().all(|c| c.is_ascii_hexdigit()))
    }) {
        return Some(hash.to_owned());
    }
    label
        .split_whitespace()
        .next()
        .filter(|h| h.len() >= 7 && h.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_owned)
}

/// `git merge-file`, as git merges a file without a driver: the result (with conflict markers
/// in the configured style) goes to "ours"; the status is git's (0 merged, 1 conflicts).
fn merge_file(args: &MergeDriverArgs) -> Result<ExitStatus> {
    let status = Command::new("git")
        .arg("merge-file")
        .args(["-L", &args.ours_label, "-L", &args.base_label])
        .args(["-L", &args.theirs_label])
        .arg(format!("--marker-size={}", args.marker_size))
        .arg(&args.ours)
        .arg(&args.base)
        .arg(&args.theirs)
        .status()
        .context("cannot run git merge-file")?;
    Ok(match status.code() {
        Some(0) => ExitStatus::Success,
        Some(c) if c > 0 && c < 128 => ExitStatus::Failure,
        _ => ExitStatus::Error,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::cli::{Cli, Command};

    fn parsed(argv: &[&str]) -> crate::cli::MergeDriverArgs {
        let argv = ["migmerge", "merge-driver"].iter().chain(argv);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::MergeDriver(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn labels_and_paths_that_look_like_options_stay_positional() {
        let tail = ["%O", "%A", "%B", "7", "base", "HEAD"];
        for label in ["--help", "-hotfix the login", "-h", "--", "-V"] {
            // The installed line since `--`, and lines installed before it.
            for dashes in [true, false] {
                if label == "--" && !dashes {
                    continue;
                }
                let mut argv: Vec<&str> = if dashes { vec!["--"] } else { vec![] };
                argv.extend(tail);
                argv.extend([label, "-x/migrations/max_migration.txt"]);
                let args = parsed(&argv);
                assert_eq!(args.theirs_label, label);
                assert_eq!(args.path, "-x/migrations/max_migration.txt");
                assert_eq!(args.ours.to_str(), Some("%A"));
            }
        }
        let args = parsed(&["--", "-o", "-a", "-b", "7", "-s", "-x", "-y", "-p"]);
        assert_eq!(args.base.to_str(), Some("-o"));
        assert_eq!(args.base_label, "-s");
        assert_eq!(args.path, "-p");
    }
}
