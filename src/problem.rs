//! Problems found in a project besides sibling leaves: what `check` reports under "problems".

use serde::Serialize;

/// The kinds of problem, named as they appear in JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// A dependency (or `run_before`) names a migration of an app in the repo that does not
    /// exist, even after squashes are taken into account. Django: `NodeNotFoundError`.
    Dangling,
    /// Dependencies form a loop. Django: `CircularDependencyError`.
    Cycle,
    /// Squashed migrations replace each other in a loop. Django 6.1: "Cyclical squash
    /// replacement found".
    SquashCycle,
    /// Two app directories resolve to the same app label. Django: `ImproperlyConfigured`.
    DuplicateLabel,
    /// `max_migration.txt` does not name the app's leaf migration.
    MaxMigration,
    /// A migrations path git could not merge.
    GitConflict,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Dangling => "dangling",
            ProblemKind::Cycle => "cycle",
            ProblemKind::SquashCycle => "squash-cycle",
            ProblemKind::DuplicateLabel => "duplicate-label",
            ProblemKind::MaxMigration => "max-migration",
            ProblemKind::GitConflict => "git-conflict",
        }
    }
}

/// One problem, located where it can be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// Root-relative path of the file at fault, when there is one.
    pub file: Option<String>,
    /// 1-based line in `file`.
    pub line: Option<u32>,
    pub message: String,
}

impl Problem {
    pub fn new(kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem {
            kind,
            file: None,
            line: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, file: impl Into<String>, line: Option<u32>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self
    }
}

/// What a note is about, named as it appears in JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// A directory that looks like a migrations package but is not one an app loads (no module
    /// in it defines a `Migration` class), so it was skipped.
    SkippedPackage,
    /// A value read statically could not be known without running code (a `dependencies` list
    /// built by a helper, a label computed at import time); the app it concerns is uncertain.
    Unknown,
    /// Two sources of a fact disagreed; the note says which one won.
    Disagreement,
}

impl NoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::SkippedPackage => "skipped-package",
            NoteKind::Unknown => "unknown",
            NoteKind::Disagreement => "disagreement",
        }
    }
}

/// Something worth knowing about how the project was read that is not a problem: a note never
/// makes `check` fail and never creates a conflict by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub kind: NoteKind,
    /// The app label the note makes uncertain, when it concerns one app.
    pub app: Option<String>,
    /// Root-relative path of the file the note is about.
    pub file: Option<String>,
    /// 1-based line in `file`.
    pub line: Option<u32>,
    pub message: String,
}

impl Note {
    pub fn new(kind: NoteKind, message: impl Into<String>) -> Self {
        Note {
            kind,
            app: None,
            file: None,
            line: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, file: impl Into<String>, line: Option<u32>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self
    }

    pub fn for_app(mut self, app: impl Into<String>) -> Self {
        self.app = Some(app.into());
        self
    }
}
