//! The integration tests, one binary: each module below is one area of behaviour.

/// The command line contract on small trees and real git repositories.
mod cli;
/// Helpers: the binary, clean git, fixture repositories.
mod common;
/// README, pyproject.toml and .pre-commit-hooks.yaml against the code they describe.
mod docs;
/// Fixture stories against their expectations and against Django's loader.
mod fixtures;
/// migmerge installed in real repositories: merge, pull, rebase and commit resolve by themselves.
mod git_flows;
/// Sparse checkouts, signed commits and `--autostash` in real repositories.
mod git_setups;
/// `kill -9` in the middle of `resolve`'s and a hook's write, and the next run recovering.
mod kill;
/// `migmerge lint`: scope, opt-outs, configuration, formats, and Django confirming the rules.
mod lint;
/// The publication rule in real git flows, for every strategy: what a protected ref held is
/// never renamed, and a database migrated at the published side still migrates.
mod publication;
/// `migmerge resolve` on merged fixture stories, checked by `check` and Django's loader.
mod resolve;
/// Never worse than git: the merge driver's edge cases, crashes, writes and git setups.
mod safety;
/// migmerge beside the real pre-commit framework, django-syzygy and django-safemigrate.
mod tools;
