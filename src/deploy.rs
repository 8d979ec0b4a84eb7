//! Staged deploys: which migrations a project's deploy tooling runs before the new code is
//! deployed and which after (django-syzygy's `stage`, django-safemigrate's `safe`), so that a
//! resolution never writes a migration that tooling rejects.

/// When a migration runs relative to the deploy of the code that goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Runs before the new code is deployed (syzygy's `Stage.PRE_DEPLOY`).
    PreDeploy,
    /// Runs once the new code is deployed (syzygy's `Stage.POST_DEPLOY`).
    PostDeploy,
}
