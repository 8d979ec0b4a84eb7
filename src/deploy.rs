//! Staged deploys: which migrations a project's deploy tooling runs before the new code is
//! deployed and which after (django-syzygy's `stage`, django-safemigrate's `safe`), so that a
//! resolution never writes a migration that tooling rejects.
//!
//! The tooling is told from the migrations themselves: a module that imports `syzygy` or
//! `django_safemigrate`, or a `Migration` class with a `stage` or `safe` attribute. A
//! migration's stage follows django-syzygy 1.2.3 (`syzygy/plan.py`):
//! - an explicit `stage` attribute wins: `Stage.PRE_DEPLOY` is pre-deploy, anything else that is
//!   not `None` post-deploy (syzygy tests `stage is Stage.PRE_DEPLOY`);
//! - otherwise the stage of its operations: an operation's own `stage=` (syzygy's staged
//!   `RenameField`, `RenameModel`, `AlterField`), `PostAddField` post-deploy, `DeleteModel` and
//!   `RemoveField` post-deploy, every other operation pre-deploy;
//! - no operations (a merge migration): no stage, which syzygy's plan runs as pre-deploy;
//! - operations of both stages: syzygy refuses the migration unless a setting gives a fallback.
//!   It is counted post-deploy here: it holds work that must wait for the deploy.
//!
//! The settings `MIGRATION_STAGES_OVERRIDE` and `MIGRATION_STAGES_FALLBACK` are not read.

use crate::migration::{DeployValue, Migration, Operation};
use crate::project::Project;

/// When a migration runs relative to the deploy of the code that goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Runs before the new code is deployed (syzygy's `Stage.PRE_DEPLOY`).
    PreDeploy,
    /// Runs once the new code is deployed (syzygy's `Stage.POST_DEPLOY`).
    PostDeploy,
}

/// The staged-deploy tools a project uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tooling {
    /// django-syzygy: `migrate --pre-deploy` runs the pre-deploy migrations only.
    pub syzygy: bool,
    /// django-safemigrate: its pre-commit check wants `safe = Safe.x()` in every migration.
    pub safemigrate: bool,
}

/// The tools the project's migrations show.
pub fn tooling(project: &Project) -> Tooling {
    *project.tooling.get_or_init(|| tooling_of(project))
}

fn tooling_of(project: &Project) -> Tooling {
    let mut found = Tooling::default();
    for file in &project.migrations {
        let deploy = &file.migration.deploy;
        found.syzygy |= deploy.imports_syzygy || deploy.stage.is_some();
        found.safemigrate |= deploy.imports_safemigrate || deploy.safe.is_some();
        if found.syzygy && found.safemigrate {
            break;
        }
    }
    found
}

/// The stage django-syzygy gives `project.migrations[migration]`; `None` when the project does
/// not use syzygy (or there is no such migration).
pub fn stage_of(project: &Project, migration: usize) -> Option<Stage> {
    if !tooling(project).syzygy {
        return None;
    }
    Some(migration_stage(
        &project.migrations.get(migration)?.migration,
    ))
}

/// The stage of one migration, as syzygy decides it (see the module's documentation).
/// `operations` not read (or not a literal list) count as none.
pub fn migration_stage(migration: &Migration) -> Stage {
    let deploy = &migration.deploy;
    if let Some(stage) = deploy.stage.as_ref().and_then(explicit) {
        return stage;
    }
    let mut inferred = None;
    for operation in migration.operations.as_deref().unwrap_or_default() {
        let stage = operation_stage(operation, &deploy.operation_stages);
        match inferred {
            None => inferred = Some(stage),
            Some(other) if other != stage => return Stage::PostDeploy,
            Some(_) => {}
        }
    }
    inferred.unwrap_or(Stage::PreDeploy)
}

/// A `stage` as written: `None` for Python's `None` (no stage given).
fn explicit(value: &DeployValue) -> Option<Stage> {
    match value.text.trim() {
        "None" => None,
        text if text.ends_with("PRE_DEPLOY") => Some(Stage::PreDeploy),
        _ => Some(Stage::PostDeploy),
    }
}

/// syzygy's `get_operation_stage`: the operation's own `stage`, else post-deploy for what
/// drops a model or a column, pre-deploy for everything else. An operation's `stage` goes
/// through `Stage(...)`, so the enum's values (`"pre_deploy"`, `"post_deployment"`) count as
/// its members.
fn operation_stage(operation: &Operation, stages: &[DeployValue]) -> Stage {
    if let Some(value) = stages.iter().find(|s| s.line == operation.line) {
        let text = value.text.trim();
        let unquoted = text.trim_matches(|c| c == '"' || c == '\'');
        if unquoted.len() + 2 == text.len() {
            match unquoted {
                "pre_deploy" => return Stage::PreDeploy,
                "post_deployment" => return Stage::PostDeploy,
                _ => {}
            }
        }
        if let Some(stage) = explicit(value) {
            return stage;
        }
    }
    match operation.class.as_str() {
        "DeleteModel" | "RemoveField" | "PostAddField" => Stage::PostDeploy,
        _ => Stage::PreDeploy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::Tree;

    fn module(head: &str, attrs: &str, operations: &str) -> String {
        format!(
            "from django.db import migrations, models\n{head}\n\n\nclass Migration(migrations.Migration):\n\
             {attrs}    dependencies = []\n\n    operations = [\n{operations}    ]\n"
        )
    }

    fn stage(head: &str, attrs: &str, operations: &str) -> Option<Stage> {
        let project = Tree::new(&[(
            "app/migrations/0001_initial.py",
            &module(head, attrs, operations),
        )])
        .project();
        stage_of(&project, 0)
    }

    const SYZYGY: &str = "from syzygy import Stage";
    const ADD: &str = "        migrations.AddField('book', 'isbn', models.TextField(null=True)),\n";
    const REMOVE: &str = "        migrations.RemoveField('book', 'title'),\n";

    #[test]
    fn the_stage_is_explicit_or_inferred_from_the_operations() {
        use Stage::*;
        assert_eq!(stage("", "", REMOVE), None, "no syzygy");
        assert_eq!(stage(SYZYGY, "", ADD), Some(PreDeploy));
        assert_eq!(stage(SYZYGY, "", REMOVE), Some(PostDeploy));
        assert_eq!(
            stage(SYZYGY, "", "        migrations.DeleteModel('Book'),\n"),
            Some(PostDeploy)
        );
        assert_eq!(
            stage(SYZYGY, "", ""),
            Some(PreDeploy),
            "empty: run with the pre-deploy ones"
        );
        assert_eq!(
            stage(SYZYGY, "    stage = Stage.PRE_DEPLOY\n", REMOVE),
            Some(PreDeploy)
        );
        assert_eq!(
            stage(SYZYGY, "    stage = Stage.POST_DEPLOY\n", ADD),
            Some(PostDeploy)
        );
        assert_eq!(
            stage(SYZYGY, "    stage = None\n", REMOVE),
            Some(PostDeploy)
        );
        // Mixed: syzygy refuses to stage it; it holds post-deploy work.
        assert_eq!(
            stage(SYZYGY, "", &format!("{ADD}{REMOVE}")),
            Some(PostDeploy)
        );
        // syzygy's own operations.
        let post_add =
            "        syzygy.operations.PostAddField('book', 'isbn', models.TextField()),\n";
        assert_eq!(
            stage("import syzygy.operations", "", post_add),
            Some(PostDeploy)
        );
        let staged = "        operations.RenameField('book', 'a', 'b', stage=Stage.POST_DEPLOY),\n";
        assert_eq!(stage(SYZYGY, "", staged), Some(PostDeploy));
        let staged = "        operations.RenameField('book', 'a', 'b', stage=Stage.PRE_DEPLOY),\n";
        assert_eq!(stage(SYZYGY, "", staged), Some(PreDeploy));
        let staged =
            "        operations.AlterField('book', 'a', models.TextField(), stage='pre_deploy'),\n";
        assert_eq!(stage(SYZYGY, "", staged), Some(PreDeploy));
        // A `stage` attribute says syzygy even without its import in this file.
        assert_eq!(
            stage("", "    stage = Stage.POST_DEPLOY\n", ADD),
            Some(PostDeploy)
        );
    }

    #[test]
    fn tooling_is_told_from_any_migration() {
        let plain = module("", "", ADD);
        let safe = module(
            "from django_safemigrate import Safe",
            "    safe = Safe.always()\n",
            ADD,
        );
        let staged = module(SYZYGY, "", REMOVE);
        let tooling_of = |files: &[(&str, &str)]| tooling(&Tree::new(files).project());
        assert_eq!(
            tooling_of(&[("app/migrations/0001_initial.py", &plain)]),
            Tooling::default()
        );
        assert_eq!(
            tooling_of(&[
                ("app/migrations/0001_initial.py", &plain),
                ("app/migrations/0002_safe.py", &safe),
                ("other/migrations/0001_initial.py", &staged),
            ]),
            Tooling {
                syzygy: true,
                safemigrate: true
            }
        );
    }
}
