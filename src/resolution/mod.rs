//! Resolving conflicting apps: the facts, the one decision, the verified plan, and the
//! session that writes every accepted plan at once. `migmerge resolve` and every git hook go
//! through here; they differ only in how they gather the history before the operation, whether
//! they ask a person, and what they do with the result (a diff on screen, a staged index, a
//! rewritten merge commit).

pub mod decide;
pub mod facts;
pub mod propose;
pub mod session;
pub mod sparse;

pub use decide::{Action, Decision, Facts, Origin, WhenUnmovable, decide};
pub use facts::{History, Operation};
pub use propose::Candidate;
pub use session::{Examined, Followed, Options, Session, followable_renames, load, needs_human};
pub use sparse::sparse_checkout_refusal;
