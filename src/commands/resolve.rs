//! `migmerge resolve`: turn each conflicting app of the work tree into one Django accepts.
//!
//! The decisions, plans and the write are the core's ([`crate::resolution`]); this command
//! adds the screen: per app, the branches and their overlap, the decision and why, the diff of
//! what each possible resolution writes, and (unless `--yes` or `--dry-run`) the question.
//! Everything accepted is written at the end in one transaction, then staged.

use std::io::{IsTerminal, Write as _};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

use crate::cli::{ResolveArgs, ResolveFormat, ResolveStrategy};
use crate::commands::{ExitStatus, Outcome};
use crate::config::Strategy;
use crate::diff;
use crate::edit::{FileUpdate, Plan};
use crate::prompt::{Prompt, Terminal};
use crate::report::{self, ConflictReport};
use crate::resolution::{Action, Candidate, Examined, Operation, Options, Session, WhenUnmovable};
use crate::source::{self, Source as _, WorkTree};

pub fn run(args: &ResolveArgs) -> Result<Outcome> {
    run_with(args, &mut Terminal)
}

/// [`run`], asking `prompt` the questions.
pub fn run_with(args: &ResolveArgs, prompt: &mut dyn Prompt) -> Result<Outcome> {
    let json = args.format == ResolveFormat::Json;
    let asking = !args.yes && !args.dry_run;
    // A resolution writes to the repository anyway; `--dry-run` writes nothing at all.
    if !args.dry_run {
        crate::project::parse_cache::keep_new_parses();
    }
    let no_terminal = asking && (json || !prompt.interactive());
    let worktree = WorkTree::new(&args.path)?;
    super::settle_interrupted_write(&args.path)?;
    if let Some(why) = crate::resolution::sparse_checkout_refusal(&args.path)? {
        bail!("{why}");
    }
    let strategy = args.strategy.map(|s| match s {
        ResolveStrategy::Auto => Strategy::Auto,
        ResolveStrategy::Merge => Strategy::Merge,
        ResolveStrategy::Renumber => Strategy::Renumber,
    });
    let options = Options {
        strategy,
        // An explicit strategy confirmed with --yes decides even what the overlap leaves to
        // a person: the user has seen it and chosen.
        forced: args.yes && matches!(strategy, Some(Strategy::Merge | Strategy::Renumber)),
        apps: args.app.clone(),
        when_unmovable: WhenUnmovable::Refuse,
    };
    let mut screen = Screen {
        text: String::new(),
        live: asking,
        color: !json && std::io::stdout().is_terminal(),
        json,
    };
    let mut session = Session::new(&worktree, Operation::Detect, options);
    let mut results = Vec::new();

    // Renames the other side made come first: an app with a reference to a missing migration
    // is not settled, so its sibling migrations only show as a conflict once it is followed.
    if let Some(followed) = session.follow_renames()? {
        if no_terminal {
            bail!(
                "references to renamed migrations to follow, but no terminal to ask on: pass \
                 --yes to write without asking, or --dry-run to only see the plan"
            );
        }
        let reason = format!(
            "dependencies name migrations that the other side of the merge renamed: {}",
            followed.what
        );
        screen.say(&format!("{}: {reason}\n", followed.apps));
        screen.diff(&followed.updates);
        let take = if screen.live {
            screen.flush()?;
            let items = vec![
                format!("follow the renames: {}", followed.what),
                "skip".to_owned(),
            ];
            prompt.select("Follow the renames?", &items, 0)? == Some(0)
        } else {
            true
        };
        if take {
            session.accept(&followed.updates);
        }
        results.push(AppResult {
            app: followed.apps.clone(),
            strategy: Some("follow-rename"),
            reason,
            plan: Some(followed.plan),
            written: false,
            resolved: take,
            summary: String::new(),
            done: format!("followed the rename of {}", followed.what),
            todo: format!("follow the rename of {}", followed.what),
            left: (!take).then(|| format!("skipped following the rename of {}", followed.what)),
        });
    }

    let apps = session.conflicting_apps()?;
    if apps.is_empty() && results.is_empty() {
        return nothing_to_resolve(args, &worktree);
    }
    if no_terminal && !apps.is_empty() {
        bail!(
            "{} app{} to resolve, but no terminal to ask on: pass --yes to write without asking, \
             or --dry-run to only see the plan",
            apps.len(),
            if apps.len() == 1 { "" } else { "s" }
        );
    }
    for app in &apps {
        let Some(examined) = session.examine(app)? else {
            continue;
        };
        let result = resolve_app(&mut session, &examined, &mut screen, prompt)?;
        results.push(result);
    }

    let write = !args.dry_run && !session.accepted().is_empty();
    let mut staging = None;
    if write {
        let mut journal = session
            .write_journaled()
            .context("writing the resolution (nothing was changed)")?;
        journal.mark_staging(None)?;
        crate::edit::journal::halt_point();
        staging = stage(&args.path, session.accepted()).err();
        crate::edit::journal::halt_point();
        journal
            .finish()
            .context("the resolution is written, but its journal could not be removed")?;
    }
    for result in &mut results {
        result.written = write && result.resolved;
        result.summary = result.summarize(args.dry_run);
        screen.text.push_str(&result.summary);
        screen.text.push('\n');
    }
    if let Some(err) = staging {
        screen.text.push_str(&format!(
            "The files are written, but the git index was not updated: {err}\n"
        ));
    }
    let status = if results.iter().all(|r| r.resolved) {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    let stdout = if json {
        serde_json::to_string_pretty(&JsonOut {
            source: worktree.describe(),
            apps: results,
        })? + "\n"
    } else {
        std::mem::take(&mut screen.text)
    };
    Ok(Outcome { stdout, status })
}

fn nothing_to_resolve(args: &ResolveArgs, worktree: &WorkTree) -> Result<Outcome> {
    let scope = if args.app.is_empty() {
        String::new()
    } else {
        format!(" (apps: {})", args.app.join(", "))
    };
    let stdout = if args.format == ResolveFormat::Json {
        serde_json::to_string_pretty(&JsonOut {
            source: worktree.describe(),
            apps: Vec::new(),
        })? + "\n"
    } else {
        format!(
            "No migration conflicts to resolve in {}{scope}.\n",
            worktree.describe()
        )
    };
    Ok(Outcome {
        stdout,
        status: ExitStatus::Success,
    })
}

/// Stages what was written: renames as renames, new files, and the files changed in place
/// at their final content; drafts git does not track stay untracked.
fn stage(path: &std::path::Path, updates: &[FileUpdate]) -> Result<()> {
    source::stage_resolution(path, None, updates)?;
    Ok(())
}

/// Output collected for the end, or, when asking questions, shown before each question so the
/// user sees what they answer about.
struct Screen {
    text: String,
    live: bool,
    color: bool,
    json: bool,
}

impl Screen {
    fn say(&mut self, text: &str) {
        if !self.json {
            self.text.push_str(text);
        }
    }

    fn diff(&mut self, updates: &[FileUpdate]) {
        if !self.json {
            self.text.push_str(&diff::unified(updates, self.color));
        }
    }

    fn flush(&mut self) -> Result<()> {
        if self.live {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(self.text.as_bytes())?;
            stdout.flush()?;
            self.text.clear();
        }
        Ok(())
    }
}

/// One app's outcome, as JSON shows it.
#[derive(Debug, Serialize)]
struct AppResult {
    app: String,
    /// `merge`, `renumber`, `follow-rename`, or `null` when nothing was chosen.
    strategy: Option<&'static str>,
    /// Why this strategy, in one line.
    reason: String,
    plan: Option<Plan>,
    written: bool,
    /// Whether the app is (or, with --dry-run, would be) resolved.
    resolved: bool,
    /// What was (or would be) done, in one line.
    summary: String,
    #[serde(skip)]
    done: String,
    #[serde(skip)]
    todo: String,
    /// Why the app is left as it is, when it is.
    #[serde(skip)]
    left: Option<String>,
}

impl AppResult {
    fn summarize(&self, dry_run: bool) -> String {
        match &self.left {
            Some(left) => format!("{}: {left}", self.app),
            None if dry_run => format!("{}: would {}", self.app, self.todo),
            None => format!("{}: {}", self.app, self.done),
        }
    }

    fn left(app: &str, reason: String, left: String) -> AppResult {
        AppResult {
            app: app.to_owned(),
            strategy: None,
            reason,
            plan: None,
            written: false,
            resolved: false,
            summary: String::new(),
            done: String::new(),
            todo: String::new(),
            left: Some(left),
        }
    }

    fn chosen(app: &str, reason: String, candidate: Candidate) -> AppResult {
        AppResult {
            app: app.to_owned(),
            strategy: Some(candidate.action.name()),
            reason,
            plan: Some(candidate.plan),
            written: false,
            resolved: true,
            summary: String::new(),
            done: candidate.done,
            todo: candidate.todo,
            left: None,
        }
    }
}

#[derive(Serialize)]
struct JsonOut {
    source: String,
    apps: Vec<AppResult>,
}

fn resolve_app(
    session: &mut Session<'_>,
    examined: &Examined,
    screen: &mut Screen,
    prompt: &mut dyn Prompt,
) -> Result<AppResult> {
    let app = examined.conflict.app.as_str();
    let decision = &examined.decision;
    screen.say(&report::conflict_human(&ConflictReport::new(
        examined.conflict.leaves.clone(),
        examined.analysis.clone(),
    )));

    let primary = match &decision.action {
        Action::Refuse => bail!("{app}: {}", decision.reason),
        Action::Human if !screen.live => {
            return Ok(AppResult::left(
                app,
                decision.reason.clone(),
                format!(
                    "not resolved: {}. Decide how they combine, then run `migmerge resolve \
                     --app {app} --strategy merge --yes` (or renumber)",
                    decision.reason
                ),
            ));
        }
        Action::Human => None,
        action => Some(
            session
                .propose(examined, action)
                .with_context(|| format!("{app}: cannot {}", action.name()))?,
        ),
    };

    if !screen.live {
        let primary = primary.expect("only a person's decision has no plan");
        screen.say(&format!("{app}: {}\n", decision.reason));
        screen.diff(&primary.updates);
        session.accept_candidate(&primary);
        return Ok(AppResult::chosen(app, decision.reason.clone(), primary));
    }

    // Interactive: each possible resolution as a diff, then the question. The alternative is
    // offered when it can be planned (the publication rule still holds); why not, otherwise.
    screen.say(&format!("{app}: {}\n", decision.reason));
    let mut candidates: Vec<Candidate> = primary.into_iter().collect();
    match session.alternative(examined) {
        Ok(alternative) => candidates.push(alternative),
        Err(err) => screen.say(&format!("({app}: no alternative: {err:#})\n")),
    }
    if decision.action == Action::Human
        && let Some(merge) = candidates
            .iter()
            .all(|c| c.action != Action::Merge)
            .then(|| session.propose(examined, &Action::Merge).ok())
            .flatten()
    {
        candidates.insert(0, merge);
    }
    for (i, c) in candidates.iter().enumerate() {
        screen.say(&format!(
            "\nOption {}, {}: {}\n",
            i + 1,
            c.action.name(),
            c.todo
        ));
        screen.diff(&c.updates);
    }
    screen.say("\n");
    screen.flush()?;
    let mut items: Vec<String> = candidates
        .iter()
        .map(|c| format!("{}: {}", c.action.name(), c.todo))
        .collect();
    items.push(format!("skip {app}"));
    // A person's decision defaults to skipping: nothing is chosen for them.
    let default = if decision.action == Action::Human {
        candidates.len()
    } else {
        0
    };
    let picked = prompt.select(&format!("Resolve {app} with"), &items, default)?;
    match picked {
        Some(i) if i < candidates.len() => {
            let picked = candidates.swap_remove(i);
            let reason = if picked.action == decision.action {
                decision.reason.clone()
            } else {
                format!(
                    "{} chosen instead ({})",
                    picked.action.name(),
                    decision.reason
                )
            };
            session.accept_candidate(&picked);
            Ok(AppResult::chosen(app, reason, picked))
        }
        _ => Ok(AppResult::left(
            app,
            "skipped".to_owned(),
            "skipped, still conflicting".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    //! The interactive screen, driven by a scripted prompt.
    use std::path::Path;

    use super::*;
    use crate::prompt::Scripted;

    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_tree(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }

    /// The siblings story merged by hand, outside any repository: two leaves, neither
    /// published, nobody known to have arrived.
    fn siblings() -> tempfile::TempDir {
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/siblings_add_phone_vs_add_avatar");
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&fixture.join("ours"), dir.path());
        copy_tree(&fixture.join("theirs"), dir.path());
        dir
    }

    fn args(root: &Path) -> ResolveArgs {
        ResolveArgs {
            path: root.to_path_buf(),
            strategy: None,
            app: Vec::new(),
            yes: false,
            dry_run: false,
            format: ResolveFormat::Human,
        }
    }

    #[test]
    fn the_screen_offers_the_decision_first_and_the_alternative_second() {
        let dir = siblings();
        let mut prompt = Scripted::new([Some(1)]);
        let out = run_with(&args(dir.path()), &mut prompt).unwrap();
        assert_eq!(out.status, ExitStatus::Success);
        let (question, items, default) = &prompt.asked[0];
        assert_eq!(question, "Resolve users with");
        assert_eq!(*default, 0);
        assert_eq!(items.len(), 3, "{items:?}");
        assert!(
            items[0].starts_with("merge: write 0006_merge_"),
            "{items:?}"
        );
        assert!(
            items[1].starts_with("renumber: renumber 0005_add_phone -> 0006_add_phone"),
            "{items:?}"
        );
        assert_eq!(items[2], "skip users");
        // The second option was taken: the leaf later by name moved (branches of equal
        // length, nobody known to have arrived), and no merge migration was written.
        let migrations = dir.path().join("users/migrations");
        assert!(migrations.join("0006_add_phone.py").exists());
        assert!(!migrations.join("0005_add_phone.py").exists());
        assert!(migrations.join("0005_add_avatar.py").exists());
        assert!(
            !migrations
                .join("0006_merge_0005_add_avatar_0005_add_phone.py")
                .exists()
        );
        assert!(
            out.stdout
                .contains("users: renumbered 0005_add_phone -> 0006_add_phone"),
            "{}",
            out.stdout
        );
    }

    #[test]
    fn skipping_writes_nothing_and_exits_one() {
        let dir = siblings();
        let before: Vec<_> = std::fs::read_dir(dir.path().join("users/migrations"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let mut prompt = Scripted::new([Some(2)]);
        let out = run_with(&args(dir.path()), &mut prompt).unwrap();
        assert_eq!(out.status, ExitStatus::Failure);
        assert!(out.stdout.contains("users: skipped, still conflicting"));
        let after: Vec<_> = std::fs::read_dir(dir.path().join("users/migrations"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(before, after);
    }
}
