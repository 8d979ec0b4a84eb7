//! The one decision: how a conflicting app is resolved, and why, from facts alone.
//!
//! Every caller (`migmerge resolve`, each git hook) gathers the same [`Facts`] and calls
//! [`decide`]; nothing else chooses a side. The rule that matters most is the publication
//! rule: a migration that any protected ref held before the operation is never moved, whatever
//! the strategy, flag or flow, because every database that applied it would then see a new,
//! unapplied name (or an applied migration whose dependency is not applied).

use crate::config::Strategy;
use crate::deploy::Stage;

/// One migration that renumbering a side would move (rename, or re-parent onto the other leaf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// The first protected ref that held it before the operation; `None`: unpublished.
    pub published_on: Option<String>,
    pub stage: Option<Stage>,
}

/// One branch of the conflicting app, ending at `leaf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub leaf: String,
    /// The migrations of the app that renumbering this side would move, in dependency order:
    /// every one the leaf depends on (itself included) and the other leaf does not.
    pub members: Vec<Member>,
    /// Why renumbering this side cannot be planned at all (a squashed migration in the chain, a
    /// name already taken), when it cannot.
    pub unmovable: Option<String>,
    /// Whether the operation brought this side in: the merged branch's migrations (absent from
    /// the history the merge started from), or the commits a rebase replays (absent from its
    /// upstream). `None` when nothing tells.
    pub arriving: Option<bool>,
    /// The leaf's deploy stage, in projects that stage their migrations.
    pub stage: Option<Stage>,
}

impl Side {
    /// The first member a protected ref holds, with that ref.
    pub fn first_published(&self) -> Option<(&str, &str)> {
        self.members
            .iter()
            .find_map(|m| m.published_on.as_deref().map(|on| (m.name.as_str(), on)))
    }

    fn is_unpublished(&self) -> bool {
        self.first_published().is_none()
    }

    /// The first member that runs before deploy, when the tooling stages migrations.
    fn first_pre_deploy(&self) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.stage == Some(Stage::PreDeploy))
            .map(|m| m.name.as_str())
    }
}

/// Where the strategy came from: what the reason says, and whether the user can be told to
/// pick another on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Nobody chose: `auto`.
    Default,
    /// `strategy` in `[tool.migmerge]`.
    Configured,
    /// `--strategy` on the command line.
    Asked,
}

/// What to do when renumbering was asked for and no side may be moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnmovable {
    /// Stop and say why (`migmerge resolve`: the user asked, the user chooses again).
    Refuse,
    /// Write a merge migration instead and say why (the hooks: nobody is there to ask, and a
    /// merge migration renames nothing).
    Merge,
}

/// Everything the decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub app: String,
    /// One per leaf, leaves sorted by name.
    pub sides: Vec<Side>,
    pub strategy: Strategy,
    pub origin: Origin,
    /// What the overlap leaves to a human (an order of the branches exists in which `migrate`
    /// fails), in one line; `None` when nothing does.
    pub needs_human: Option<String>,
    /// The strategy was asked for explicitly and confirmed (`--strategy X --yes`): proceed even
    /// when the overlap needs a human.
    pub forced: bool,
    pub when_unmovable: WhenUnmovable,
    /// The protected refs, as named to the user ("origin/main"); empty when none exists.
    pub protected: Vec<String>,
}

/// What is done with the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A merge migration depending on every leaf.
    Merge,
    /// `moving`'s branch is renumbered to follow `stay`.
    Renumber { stay: String, moving: String },
    /// Both branches change the same thing: a person decides.
    Human,
    /// Renumbering was asked for and no side may be moved.
    Refuse,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Merge => "merge",
            Action::Renumber { .. } => "renumber",
            Action::Human => "human",
            Action::Refuse => "refuse",
        }
    }
}

/// An action and the one line that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub reason: String,
}

/// Decides how the app is resolved. Pure: the same facts always give the same decision.
pub fn decide(facts: &Facts) -> Decision {
    // A copy of an app that no settings module installs beside the first is checked under an
    // internal name (`label@directory`); a merge migration or a renumbering would write that
    // name into migrations, where Django would read a label that does not exist.
    if let Some((label, directory)) = facts.app.split_once('@') {
        return Decision {
            action: Action::Human,
            reason: format!(
                "{directory} is a copy of the app `{label}`, checked on its own; resolve it in \
                 the project that installs it (a `labels` entry in [tool.migmerge] names it)"
            ),
        };
    }
    if let Some(what) = &facts.needs_human
        && !facts.forced
    {
        return Decision {
            action: Action::Human,
            reason: format!("both branches change the same thing ({what}); a person decides"),
        };
    }
    match facts.strategy {
        Strategy::Merge => Decision {
            action: Action::Merge,
            reason: format!(
                "writing a merge migration of {} ({})",
                leaves(facts),
                match facts.origin {
                    Origin::Asked => "as asked",
                    _ => "the configured strategy",
                }
            ),
        },
        Strategy::Renumber => decide_renumber(facts),
        Strategy::Auto => decide_auto(facts),
    }
}

fn leaves(facts: &Facts) -> String {
    let names: Vec<&str> = facts.sides.iter().map(|s| s.leaf.as_str()).collect();
    names.join(", ")
}

fn protected(facts: &Facts) -> String {
    if facts.protected.is_empty() {
        "no protected ref exists".to_owned()
    } else {
        facts.protected.join(", ")
    }
}

/// Why a side may not be moved, or `None` when it may follow `stay`.
fn why_not_movable(side: &Side, stay: &Side) -> Option<String> {
    if let Some((name, on)) = side.first_published() {
        return Some(format!("{name} is published (on {on})"));
    }
    if let Some(why) = &side.unmovable {
        return Some(why.clone());
    }
    if stay.stage == Some(Stage::PostDeploy)
        && let Some(pre) = side.first_pre_deploy()
    {
        return Some(format!(
            "{pre} runs before deploy and {} after, so renumbering would make a pre-deploy \
             migration depend on a post-deploy one",
            stay.leaf
        ));
    }
    None
}

fn renumber(moving: &Side, stay: &Side, why: String) -> Decision {
    Decision {
        action: Action::Renumber {
            stay: stay.leaf.clone(),
            moving: moving.leaf.clone(),
        },
        reason: format!("renumbering {} after {}: {why}", moving.leaf, stay.leaf),
    }
}

fn decide_renumber(facts: &Facts) -> Decision {
    let [a, b] = facts.sides.as_slice() else {
        return unmovable(
            facts,
            format!(
                "renumbering moves one branch after another, so it joins two, and {} has {} \
                 leaves ({})",
                facts.app,
                facts.sides.len(),
                leaves(facts)
            ),
        );
    };
    match (why_not_movable(a, b), why_not_movable(b, a)) {
        (None, None) => {
            // Both may move: the side the operation brought in moves, so that what was
            // there stays as it was; else the shorter branch (fewer renames); else the later
            // name.
            let (moving, stay, why) = match (a.arriving, b.arriving) {
                (Some(true), Some(false)) => (a, b, "it came in with this merge or rebase"),
                (Some(false), Some(true)) => (b, a, "it came in with this merge or rebase"),
                _ if a.members.len() < b.members.len() => (a, b, "its branch is the shorter one"),
                _ if b.members.len() < a.members.len() => (b, a, "its branch is the shorter one"),
                _ => (b, a, "branches of equal length, and it is later by name"),
            };
            renumber(
                moving,
                stay,
                format!("{why}; neither side is published ({})", protected(facts)),
            )
        }
        (None, Some(why)) => renumber(a, b, format!("{} cannot move: {why}", b.leaf)),
        (Some(why), None) => renumber(b, a, format!("{} cannot move: {why}", a.leaf)),
        (Some(why_a), Some(why_b)) => unmovable(
            facts,
            format!(
                "no side may be renumbered: {} cannot move ({why_a}) and {} cannot move \
                 ({why_b})",
                a.leaf, b.leaf
            ),
        ),
    }
}

fn unmovable(facts: &Facts, why: String) -> Decision {
    match facts.when_unmovable {
        WhenUnmovable::Merge => Decision {
            action: Action::Merge,
            reason: format!("writing a merge migration instead of renumbering: {why}"),
        },
        WhenUnmovable::Refuse => Decision {
            action: Action::Refuse,
            reason: format!(
                "{why}. A merge migration renames nothing: `migmerge resolve --strategy merge`"
            ),
        },
    }
}

fn decide_auto(facts: &Facts) -> Decision {
    let merge = |reason: String| Decision {
        action: Action::Merge,
        reason: format!("writing a merge migration: {reason}"),
    };
    let [a, b] = facts.sides.as_slice() else {
        return merge(format!(
            "{} branches can only be joined by one",
            facts.sides.len()
        ));
    };
    match (a.is_unpublished(), b.is_unpublished()) {
        (true, false) | (false, true) => {
            let (moving, stay) = if a.is_unpublished() { (a, b) } else { (b, a) };
            let (name, on) = stay.first_published().unwrap_or_default();
            match why_not_movable(moving, stay) {
                None => renumber(
                    moving,
                    stay,
                    format!(
                        "its migrations are on no protected ref ({}); {name} is (on {on})",
                        protected(facts)
                    ),
                ),
                Some(why) => merge(format!(
                    "{} is the unpublished side, but it cannot be renumbered: {why}",
                    moving.leaf
                )),
            }
        }
        (false, false) => {
            let (name_a, on_a) = a.first_published().unwrap_or_default();
            let (name_b, on_b) = b.first_published().unwrap_or_default();
            merge(format!(
                "both sides are published ({name_a} on {on_a}, {name_b} on {on_b}), so neither \
                 may be renamed"
            ))
        }
        (true, true) => merge(format!(
            "neither {} nor {} is published ({}), so no side is known to be the one to move",
            a.leaf,
            b.leaf,
            protected(facts)
        )),
    }
}

#[cfg(test)]
mod tests {
    //! The decision over the matrix: strategy × flow × publication. A flow enters the facts
    //! only through which side arrived and what the protected refs held before it; the table
    //! builds those facts as each flow's gathering does (see `flow_facts`), and the git-flow
    //! integration tests check the gathering itself with real git.
    use super::*;

    /// The flows of the matrix, as the facts they produce: which side the operation brought in.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Flow {
        /// On main, `git merge feature`: the feature side arrives.
        MergeFeatureIntoMain,
        /// On feature, `git merge main`: main's side arrives.
        MergeMainIntoFeature,
        /// On feature, `git pull` (origin/feature's or origin/main's side arrives).
        Pull,
        /// On feature, `git pull --rebase` / `git rebase main`: the feature's commits are
        /// replayed, so the feature side "arrives" on top of the upstream.
        Rebase,
        /// `git merge --no-commit` / a textual conflict, then `git commit`: as a merge, read
        /// before the merge commit exists.
        ConcludedByHand,
        /// `migmerge resolve` with no operation in progress: nothing tells who arrived.
        Manual,
    }

    /// Publication cases: which of main's and feature's sides protected refs hold.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Published {
        NoSide,
        MainOnly,
        Both,
        /// main itself has two leaves after two pull requests were merged on the forge; the
        /// feature's leaf builds on one of them, so its chain holds a published migration.
        MainWithTwoLeaves,
        /// A second protected ref (`release`) holds the feature's migration.
        SecondRef,
    }

    fn member(name: &str, on: Option<&str>) -> Member {
        Member {
            name: name.to_owned(),
            published_on: on.map(str::to_owned),
            stage: None,
        }
    }

    /// Leaves sorted by name: `0003_main_side` (main's) and `0003_zfeature` (the feature's).
    fn flow_facts(strategy: Strategy, flow: Flow, published: Published) -> Facts {
        let main_on = match published {
            Published::NoSide => None,
            _ => Some("origin/main"),
        };
        let feature_members = match published {
            Published::Both => vec![member("0003_zfeature", Some("origin/main"))],
            Published::MainWithTwoLeaves => vec![
                member("0003_other_pr", Some("origin/main")),
                member("0004_zfeature", None),
            ],
            Published::SecondRef => vec![member("0003_zfeature", Some("release"))],
            _ => vec![member("0003_zfeature", None)],
        };
        let feature_leaf = feature_members.last().unwrap().name.clone();
        let (main_arrives, feature_arrives) = match flow {
            Flow::MergeFeatureIntoMain | Flow::ConcludedByHand => (Some(false), Some(true)),
            Flow::MergeMainIntoFeature | Flow::Pull => (Some(true), Some(false)),
            Flow::Rebase => (Some(false), Some(true)),
            Flow::Manual => (None, None),
        };
        Facts {
            app: "users".to_owned(),
            sides: vec![
                Side {
                    leaf: "0003_main_side".to_owned(),
                    members: vec![member("0003_main_side", main_on)],
                    unmovable: None,
                    arriving: main_arrives,
                    stage: None,
                },
                Side {
                    leaf: feature_leaf,
                    members: feature_members,
                    unmovable: None,
                    arriving: feature_arrives,
                    stage: None,
                },
            ],
            strategy,
            origin: Origin::Configured,
            needs_human: None,
            forced: false,
            when_unmovable: WhenUnmovable::Merge,
            protected: vec!["origin/main".to_owned(), "release".to_owned()],
        }
    }

    /// Every migration a decision would move.
    fn moved<'f>(facts: &'f Facts, decision: &Decision) -> Vec<&'f Member> {
        match &decision.action {
            Action::Renumber { moving, .. } => facts
                .sides
                .iter()
                .filter(|s| &s.leaf == moving)
                .flat_map(|s| &s.members)
                .collect(),
            _ => Vec::new(),
        }
    }

    const STRATEGIES: [Strategy; 3] = [Strategy::Auto, Strategy::Merge, Strategy::Renumber];
    const FLOWS: [Flow; 6] = [
        Flow::MergeFeatureIntoMain,
        Flow::MergeMainIntoFeature,
        Flow::Pull,
        Flow::Rebase,
        Flow::ConcludedByHand,
        Flow::Manual,
    ];
    const PUBLISHED: [Published; 5] = [
        Published::NoSide,
        Published::MainOnly,
        Published::Both,
        Published::MainWithTwoLeaves,
        Published::SecondRef,
    ];

    #[test]
    fn no_decision_in_the_whole_matrix_moves_a_published_migration() {
        for strategy in STRATEGIES {
            for flow in FLOWS {
                for published in PUBLISHED {
                    for when_unmovable in [WhenUnmovable::Merge, WhenUnmovable::Refuse] {
                        let mut facts = flow_facts(strategy, flow, published);
                        facts.when_unmovable = when_unmovable;
                        let decision = decide(&facts);
                        for m in moved(&facts, &decision) {
                            assert_eq!(
                                m.published_on, None,
                                "{strategy:?} {flow:?} {published:?} moves {}: {}",
                                m.name, decision.reason
                            );
                        }
                        assert!(!decision.reason.is_empty());
                    }
                }
            }
        }
    }

    /// The expected action of every cell: `M` merge, `R` renumber the feature, `r` renumber
    /// main's side, `X` refuse (only with `WhenUnmovable::Refuse`; hooks merge instead).
    fn expected(strategy: Strategy, flow: Flow, published: Published) -> char {
        use Published::*;
        match (strategy, published) {
            (Strategy::Merge, _) => 'M',
            (Strategy::Auto, NoSide | Both | MainWithTwoLeaves | SecondRef) => 'M',
            (Strategy::Auto, MainOnly) => 'R',
            (Strategy::Renumber, MainOnly) => 'R',
            (Strategy::Renumber, Both | MainWithTwoLeaves | SecondRef) => 'X',
            (Strategy::Renumber, NoSide) => match flow {
                // main's side arrived: it moves, the feature stays as it was.
                Flow::MergeMainIntoFeature | Flow::Pull => 'r',
                Flow::MergeFeatureIntoMain | Flow::ConcludedByHand | Flow::Rebase => 'R',
                // Nothing tells who arrived: equal lengths, the later name (the feature).
                Flow::Manual => 'R',
            },
        }
    }

    #[test]
    fn the_matrix_decides_as_the_table_says() {
        for strategy in STRATEGIES {
            for flow in FLOWS {
                for published in PUBLISHED {
                    for when_unmovable in [WhenUnmovable::Merge, WhenUnmovable::Refuse] {
                        let mut facts = flow_facts(strategy, flow, published);
                        facts.when_unmovable = when_unmovable;
                        let decision = decide(&facts);
                        let got = match &decision.action {
                            Action::Merge => 'M',
                            Action::Refuse => 'X',
                            Action::Human => 'H',
                            Action::Renumber { moving, .. } if moving.contains("zfeature") => 'R',
                            Action::Renumber { .. } => 'r',
                        };
                        let mut want = expected(strategy, flow, published);
                        if want == 'X' && when_unmovable == WhenUnmovable::Merge {
                            want = 'M';
                        }
                        assert_eq!(
                            got, want,
                            "{strategy:?} {flow:?} {published:?} {when_unmovable:?}: {}",
                            decision.reason
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_refusal_names_the_published_migration_and_where_and_offers_merge() {
        let mut facts = flow_facts(
            Strategy::Renumber,
            Flow::MergeMainIntoFeature,
            Published::MainWithTwoLeaves,
        );
        facts.when_unmovable = WhenUnmovable::Refuse;
        let decision = decide(&facts);
        assert_eq!(decision.action, Action::Refuse);
        assert!(
            decision
                .reason
                .contains("0003_other_pr is published (on origin/main)"),
            "{}",
            decision.reason
        );
        assert!(decision.reason.contains("--strategy merge"));
    }

    #[test]
    fn an_overlap_that_breaks_goes_to_a_human_unless_forced() {
        for strategy in STRATEGIES {
            let mut facts = flow_facts(strategy, Flow::Manual, Published::MainOnly);
            facts.needs_human = Some("Alter field email on user vs Remove field email".into());
            assert_eq!(decide(&facts).action, Action::Human, "{strategy:?}");
            facts.forced = true;
            assert_ne!(decide(&facts).action, Action::Human, "{strategy:?}");
        }
        // Forcing never lifts the publication rule.
        let mut facts = flow_facts(Strategy::Renumber, Flow::Manual, Published::Both);
        facts.needs_human = Some("x".into());
        facts.forced = true;
        facts.when_unmovable = WhenUnmovable::Refuse;
        assert_eq!(decide(&facts).action, Action::Refuse);
    }

    #[test]
    fn three_leaves_merge_under_auto_and_refuse_a_renumbering() {
        let mut facts = flow_facts(Strategy::Auto, Flow::Manual, Published::NoSide);
        let third = Side {
            leaf: "0003_third".to_owned(),
            ..facts.sides[0].clone()
        };
        facts.sides.push(third);
        assert_eq!(decide(&facts).action, Action::Merge);
        facts.strategy = Strategy::Renumber;
        facts.when_unmovable = WhenUnmovable::Refuse;
        let decision = decide(&facts);
        assert_eq!(decision.action, Action::Refuse);
        assert!(decision.reason.contains("3 leaves"), "{}", decision.reason);
    }

    #[test]
    fn an_unplannable_unpublished_side_makes_auto_merge() {
        let mut facts = flow_facts(
            Strategy::Auto,
            Flow::MergeFeatureIntoMain,
            Published::MainOnly,
        );
        facts.sides[1].unmovable = Some("users.0003_zfeature is a squashed migration".into());
        let decision = decide(&facts);
        assert_eq!(decision.action, Action::Merge);
        assert!(decision.reason.contains("squashed"), "{}", decision.reason);
    }

    #[test]
    fn a_pre_deploy_chain_is_not_moved_after_a_post_deploy_leaf() {
        for strategy in [Strategy::Auto, Strategy::Renumber] {
            let mut facts = flow_facts(strategy, Flow::MergeFeatureIntoMain, Published::MainOnly);
            facts.sides[0].stage = Some(Stage::PostDeploy);
            facts.sides[1].members[0].stage = Some(Stage::PreDeploy);
            let decision = decide(&facts);
            assert_eq!(decision.action, Action::Merge, "{strategy:?}");
            assert!(
                decision.reason.contains("pre-deploy"),
                "{}",
                decision.reason
            );
            // A post-deploy chain may follow.
            facts.sides[1].members[0].stage = Some(Stage::PostDeploy);
            assert!(matches!(decide(&facts).action, Action::Renumber { .. }));
        }
    }

    #[test]
    fn a_copy_of_an_app_is_never_written_under_its_internal_name() {
        for strategy in STRATEGIES {
            let mut facts = flow_facts(strategy, Flow::Manual, Published::MainOnly);
            facts.app = "catalogue@tests/_site/apps/catalogue".to_owned();
            facts.forced = true;
            let decision = decide(&facts);
            assert_eq!(decision.action, Action::Human, "{strategy:?}");
            assert!(decision.reason.contains("copy of the app `catalogue`"));
        }
    }

    #[test]
    fn the_shorter_branch_moves_when_nothing_else_tells() {
        let mut facts = flow_facts(Strategy::Renumber, Flow::Manual, Published::NoSide);
        facts.sides[0]
            .members
            .insert(0, member("0002_main_first", None));
        let decision = decide(&facts);
        assert_eq!(
            decision.action,
            Action::Renumber {
                stay: "0003_main_side".into(),
                moving: "0003_zfeature".into()
            }
        );
        assert!(decision.reason.contains("shorter"), "{}", decision.reason);
    }
}
