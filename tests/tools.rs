//! migmerge beside the tools Django teams already run, the real ones from PyPI (see
//! `common::tools_python`): the pre-commit framework installed in the same hooks directory, and
//! the staged-deploy tools django-syzygy and django-safemigrate run on the merge migrations
//! migmerge writes.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{clean_command, project_root, stderr, stdout, story_repo, tools_python};

/// PATH with the binary under test first.
fn path_with_migmerge() -> OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_migmerge")).parent().unwrap();
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&inherited));
    std::env::join_paths(dirs).unwrap()
}

/// `program` in `cwd`, in the clean environment of `common::clean_git` (pre-commit keeps its
/// cache in the test's home), with migmerge on PATH.
fn clean(program: impl AsRef<std::ffi::OsStr>, cwd: &Path) -> Command {
    let mut command = clean_command(program, cwd, &path_with_migmerge());
    command.stdin(std::process::Stdio::null());
    command
}

fn succeeds(mut command: Command, what: &str) -> String {
    let out: Output = command.output().unwrap();
    let text = stdout(&out) + &stderr(&out);
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

fn git(root: &Path, args: &[&str]) -> String {
    let mut command = clean("git", root);
    command.args(args);
    succeeds(command, &format!("git {}", args.join(" ")))
}

fn executable(path: &Path, content: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    fs::write(path, content).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every file of the hooks directory with its content (git's samples left out).
fn hooks(root: &Path) -> BTreeMap<String, String> {
    fs::read_dir(root.join(".git/hooks"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".sample"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

/// How many times each hook ran: the user's and pre-commit's append a line to a file.
fn runs(root: &Path, file: &str) -> usize {
    fs::read_to_string(root.join(".git").join(file)).map_or(0, |t| t.lines().count())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    MigmergeInstall,
    MigmergeUninstall,
    PreCommitInstall,
    PreCommitUninstall,
    /// A merge of sibling migrations concluded by hand: migmerge's pre-commit hook resolves it.
    MergeByHand,
}
use Step::*;

/// Runs `steps` in a repository holding a story with sibling migrations, a pre-commit hook of
/// the user's and a pre-commit configuration. After each step a commit works, and runs the
/// user's hook and, when installed, pre-commit's, once each; at the end, with both tools
/// uninstalled, the hooks are the user's alone, as before.
fn coexist(python: &Path, steps: &[Step]) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    story_repo(
        &project_root().join("fixtures/siblings_add_phone_vs_add_avatar"),
        root,
    );
    fs::write(
        root.join(".pre-commit-config.yaml"),
        "repos:\n  - repo: local\n    hooks:\n      - id: count\n        name: count\n        \
         entry: sh -c 'echo ran >> .git/pre-commit-ran'\n        language: system\n        \
         always_run: true\n        pass_filenames: false\n",
    )
    .unwrap();
    git(root, &["add", ".pre-commit-config.yaml"]);
    git(root, &["commit", "-q", "-m", "pre-commit configuration"]);
    executable(
        &root.join(".git/hooks/pre-commit"),
        "#!/bin/sh\necho ran >> .git/users-hook-ran\n",
    );
    let before = hooks(root);
    let (mut pre_commit, mut commits) = (false, 0);
    for (i, step) in steps.iter().enumerate() {
        let what = format!("after {:?}", &steps[..=i]);
        let _ = fs::remove_file(root.join(".git/pre-commit-ran"));
        let command = match step {
            MigmergeInstall => {
                let mut command = clean(env!("CARGO_BIN_EXE_migmerge"), root);
                command.args(["install", "--repo", ".", "--local"]);
                command
            }
            MigmergeUninstall => {
                let mut command = clean(env!("CARGO_BIN_EXE_migmerge"), root);
                command.args(["uninstall", "--repo", "."]);
                command
            }
            PreCommitInstall | PreCommitUninstall => {
                pre_commit = *step == PreCommitInstall;
                let mut command = clean(python, root);
                let verb = if pre_commit { "install" } else { "uninstall" };
                command.args(["-m", "pre_commit", verb]);
                command
            }
            MergeByHand => {
                git(root, &["merge", "-q", "--no-commit", "theirs"]);
                let text = git(root, &["commit", "--no-edit"]);
                commits += 1;
                assert!(
                    text.contains("migmerge: users: renumbered"),
                    "{what}: {text}"
                );
                let message = git(root, &["log", "-1", "--format=%B"]);
                assert!(message.contains("migmerge: users: renumbered"), "{message}");
                continue;
            }
        };
        succeeds(command, &format!("{step:?}"));
        fs::write(root.join("notes.txt"), format!("{i}\n")).unwrap();
        git(root, &["add", "notes.txt"]);
        let text = git(root, &["commit", "-q", "-m", &format!("step {i}")]);
        commits += 1;
        assert!(!text.contains("migmerge: not on PATH"), "{what}: {text}");
        assert_eq!(runs(root, "users-hook-ran"), commits, "{what}: {text}");
        let expected = if pre_commit { 1 } else { 0 };
        assert_eq!(runs(root, "pre-commit-ran"), expected, "{what}: {text}");
    }
    assert_eq!(hooks(root), before);
}

/// The order that made every commit fail with pre-commit's "installed in migration mode":
/// migmerge, then pre-commit, then migmerge again (as `migmerge install` after an upgrade).
#[test]
fn pre_commit_between_two_migmerge_installs() {
    let Some(python) = tools_python() else { return };
    coexist(
        &python,
        &[
            MigmergeInstall,
            PreCommitInstall,
            MigmergeInstall,
            MergeByHand,
            PreCommitUninstall,
            MigmergeUninstall,
        ],
    );
}

/// Uninstalled in either order, after installs in either order, each tool's hook keeps running
/// until its own uninstall.
#[test]
fn installs_and_uninstalls_in_every_order() {
    let Some(python) = tools_python() else { return };
    let orders: [&[Step]; 4] = [
        &[
            PreCommitInstall,
            MigmergeInstall,
            PreCommitInstall,
            MergeByHand,
            MigmergeUninstall,
            PreCommitUninstall,
        ],
        &[
            MigmergeInstall,
            PreCommitInstall,
            MigmergeUninstall,
            PreCommitUninstall,
        ],
        &[
            PreCommitInstall,
            MigmergeInstall,
            PreCommitUninstall,
            MergeByHand,
            MigmergeUninstall,
        ],
        &[
            MigmergeInstall,
            PreCommitInstall,
            PreCommitUninstall,
            MigmergeUninstall,
        ],
    ];
    for steps in orders {
        coexist(&python, steps);
    }
}

/// One migration of the staged-deploy story: safemigrate's `safe`, `imports` and `operations`.
fn staged_migration(imports: &str, safe: &str, parent: &str, operations: &str) -> String {
    let dependencies = if parent.is_empty() {
        "[]".to_owned()
    } else {
        format!("[(\"shop\", \"{parent}\")]")
    };
    format!(
        "from django.db import migrations, models\nfrom django_safemigrate import Safe\n{imports}\n\n\
         class Migration(migrations.Migration):\n    safe = Safe.{safe}()\n\n    \
         dependencies = {dependencies}\n\n    operations = [\n{operations}    ]\n"
    )
}

/// A Django project using django-syzygy and django-safemigrate, as their `makemigrations` writes
/// migrations: `main` adds a column with a database default (pre-deploy) and drops that default
/// once deployed (syzygy's `PostAddField`, post-deploy); `theirs` adds a nullable column
/// (pre-deploy). Both are merged with plain git, leaving two leaves, one of them post-deploy.
fn staged_deploy_story(root: &Path) {
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    write(
        "manage.py",
        "import os\nimport sys\n\nif __name__ == \"__main__\":\n    \
         os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"site_settings\")\n    \
         from django.core.management import execute_from_command_line\n\n    \
         execute_from_command_line(sys.argv)\n",
    );
    write(
        "site_settings.py",
        "SECRET_KEY = \"test\"\nUSE_TZ = True\nINSTALLED_APPS = [\"django.contrib.contenttypes\", \"syzygy\", \
         \"django_safemigrate\", \"shop\"]\n\
         DATABASES = {\"default\": {\"ENGINE\": \"django.db.backends.sqlite3\", \"NAME\": \"db.sqlite3\"}}\n",
    );
    write(".gitignore", ".git-test-home/\n__pycache__/\ndb.sqlite3\n");
    write("shop/__init__.py", "");
    write("shop/migrations/__init__.py", "");
    write(
        "shop/migrations/0001_initial.py",
        &staged_migration(
            "",
            "before_deploy",
            "",
            "        migrations.CreateModel(\n            name=\"Book\",\n            fields=[\
             (\"id\", models.AutoField(primary_key=True)), \
             (\"title\", models.CharField(max_length=100))],\n        ),\n",
        ),
    );
    let git = |args: &[&str]| crate::common::git_ok(root, args);
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "base"]);
    git(&["checkout", "-q", "-b", "theirs"]);
    write(
        "shop/migrations/0002_book_price.py",
        &staged_migration(
            "",
            "before_deploy",
            "0001_initial",
            "        migrations.AddField(\"book\", \"price\", models.IntegerField(null=True)),\n",
        ),
    );
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "price"]);
    git(&["checkout", "-q", "main"]);
    write(
        "shop/migrations/0002_book_isbn.py",
        &staged_migration(
            "",
            "before_deploy",
            "0001_initial",
            "        migrations.AddField(\n            \"book\",\n            \"isbn\",\n            \
             models.CharField(max_length=13, default=\"\", db_default=\"\"),\n        ),\n",
        ),
    );
    write(
        "shop/migrations/0003_book_isbn_post.py",
        &staged_migration(
            "import syzygy.operations\n",
            "after_deploy",
            "0002_book_isbn",
            "        syzygy.operations.PostAddField(\n            \"book\",\n            \"isbn\",\n            \
             models.CharField(max_length=13, default=\"\"),\n        ),\n",
        ),
    );
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "isbn"]);
    git(&["merge", "-q", "--no-edit", "theirs"]);
}

/// `python manage.py <args>` in `root`: whether it succeeded, and what it printed.
fn manage(python: &Path, root: &Path, args: &[&str]) -> (bool, String) {
    let out = clean(python, root)
        .arg("manage.py")
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), stdout(&out) + &stderr(&out))
}

/// django-syzygy refuses a plain merge migration after a post-deploy leaf in
/// `migrate --pre-deploy`, and django-safemigrate's check one without `safe`; the merge
/// migration migmerge writes passes both, then the post-deploy `migrate`.
#[test]
fn merge_migrations_pass_syzygy_pre_deploy_and_safemigrates_check() {
    let Some(python) = tools_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    staged_deploy_story(root);
    let out = clean(env!("CARGO_BIN_EXE_migmerge"), root)
        .args(["resolve", "--strategy", "merge", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let name = "shop/migrations/0004_merge_0002_book_price_0003_book_isbn_post.py";
    let written = fs::read_to_string(root.join(name)).unwrap();
    // The leaves have no blank line after the class line: neither has the merge.
    assert!(
        written.contains(
            "from django.db import migrations\nfrom django_safemigrate import Safe\n\
             from syzygy import Stage\n\n\nclass Migration(migrations.Migration):\n    \
             stage = Stage.POST_DEPLOY\n    safe = Safe.always()\n\n    dependencies = [\n"
        ),
        "{written}"
    );

    // Without the stage line, as `makemigrations --merge` writes it, syzygy refuses the plan.
    let plain = written
        .replace("from syzygy import Stage\n", "")
        .replace("    stage = Stage.POST_DEPLOY\n", "")
        .replace("    safe = Safe.always()\n", "")
        .replace("from django_safemigrate import Safe\n", "");
    fs::write(root.join(name), &plain).unwrap();
    let (ok, text) = manage(&python, root, &["migrate", "--pre-deploy"]);
    assert!(
        !ok,
        "syzygy accepted a plain merge after a post-deploy leaf:\n{text}"
    );
    assert!(text.contains("non-contiguous"), "{text}");
    let check = |python: &Path| {
        let out = clean(python, root)
            .args(["-m", "django_safemigrate.check", name])
            .output()
            .unwrap();
        (out.status.success(), stdout(&out))
    };
    let (ok, text) = check(&python);
    assert!(
        !ok && text.contains("missing the 'safe' attribute"),
        "{text}"
    );

    // migmerge's file: the pre-deploy run applies what may run before the deploy, and defers
    // the rest; safemigrate's check accepts it.
    fs::write(root.join(name), &written).unwrap();
    let (ok, text) = manage(&python, root, &["migrate", "--pre-deploy"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("Applying shop.0002_book_price... OK"),
        "{text}"
    );
    assert!(!text.contains("0003_book_isbn_post"), "{text}");
    let (ok, text) = check(&python);
    assert!(ok, "{text}");
    let (ok, text) = manage(&python, root, &["migrate"]);
    assert!(ok, "{text}");
    assert!(text.contains("Applying shop.0004_merge"), "{text}");

    // safemigrate's own pre-deploy run, on a new database: the merge, safe always, waits
    // behind the after-deploy leaf rather than blocking the run.
    fs::remove_file(root.join("db.sqlite3")).unwrap();
    let (ok, text) = manage(&python, root, &["safemigrate"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("Applying shop.0002_book_price... OK"),
        "{text}"
    );
    assert!(!text.contains("Applying shop.0004_merge"), "{text}");
}
