//! migmerge: Django migration conflicts between git branches, found and resolved statically.
//!
//! The data flow:
//! 1. a [`source`] lists and reads the files of a snapshot (work tree, git revision, or the
//!    in-memory merge of two revisions);
//! 2. [`config`] reads `[tool.migmerge]`;
//! 3. [`project`] finds the migrations packages and app labels, and [`migration::parse`] turns
//!    each module into a [`migration::Migration`];
//! 4. [`graph`] builds Django's migration graph (squashes, `run_before`, `__first__`) and finds
//!    conflicts and problems;
//! 5. [`overlap`] compares what the branches of a conflicting app touch;
//! 6. [`report`] renders the findings for people, scripts and CI;
//! 7. [`plan`] plans a resolution as an [`edit::Plan`], which `resolve` previews, verifies,
//!    shows as a [`diff`] and writes;
//! 8. [`git`] installs the merge driver and the hook shims, and commits what the hooks resolve
//!    during `git merge`, `git pull` and `git rebase`.

pub mod allocator;
pub mod cli;
pub mod commands;
pub mod config;
pub mod deploy;
pub mod diff;
pub mod edit;
pub mod git;
pub mod graph;
pub mod lint;
pub mod migration;
pub mod operation;
pub mod overlap;
pub mod plan;
pub mod problem;
pub mod project;
pub mod prompt;
pub mod report;
pub mod resolution;
pub mod source;
