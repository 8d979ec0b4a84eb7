//! The git setups the hooks and `resolve` meet in real repositories: a sparse checkout that
//! hides an app, signed commits, and `--autostash`. Each is handled or refused with one line,
//! and a refusal leaves git's own result.

use std::fs;
use std::path::Path;

use crate::common::{assert_status, run_migmerge, stderr, stdout};
use crate::git_flows::{
    assert_resolved, exists, git, git_ok, head, migmerge_lines, origin_and_clone, story,
};

// -- sparse checkout ----------------------------------------------------------------------

/// The cross-app story on a feature branch (users 0004_customer_phone, and orders 0002
/// depending on it) about to merge `main`, which holds the other side's 0004: the feature's
/// users migration is the one to renumber, and orders' dependency must follow it.
fn feature_with_a_dependent_app() -> tempfile::TempDir {
    let dir = story("cross_app_dependency_on_sibling");
    let root = dir.path();
    git_ok(root, &["checkout", "-q", "-b", "feature", "main"]);
    git_ok(root, &["branch", "-f", "main", "theirs"]);
    dir
}

#[test]
fn a_sparse_checkout_hiding_a_dependent_app_leaves_the_merge_as_git_made_it() {
    let dir = feature_with_a_dependent_app();
    let root = dir.path();
    git_ok(root, &["sparse-checkout", "set", "users"]);
    assert!(!exists(
        root,
        "orders/migrations/0002_order_contact_phone.py"
    ));
    let text = git_ok(root, &["merge", "--no-edit", "main"]);
    let lines = migmerge_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("the sparse checkout leaves out")
            && lines[0].contains("orders/")
            && lines[0].contains("git sparse-checkout disable"),
        "{text}"
    );
    // git's merge commit, untouched: both leaves, orders as it was.
    let merge = head(root);
    assert_eq!(
        git_ok(root, &["rev-parse", "HEAD^2"]).trim(),
        git_ok(root, &["rev-parse", "main"]).trim()
    );
    let files = git_ok(root, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        files.contains("users/migrations/0004_customer_phone.py"),
        "{files}"
    );
    assert!(
        files.contains("users/migrations/0004_customer_vat_number.py"),
        "{files}"
    );
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "");

    // `resolve` refuses the same way, with exit 2 and nothing written.
    let out = run_migmerge(&["resolve", "--yes"], root);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("the sparse checkout leaves out"),
        "{}",
        stderr(&out)
    );
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "");
    assert_eq!(head(root), merge);

    // With the whole tree back, the dependent app follows the renumbering.
    git_ok(root, &["sparse-checkout", "disable"]);
    let out = run_migmerge(&["resolve", "--yes"], root);
    assert_status(&out, 0);
    let orders =
        fs::read_to_string(root.join("orders/migrations/0002_order_contact_phone.py")).unwrap();
    assert!(orders.contains("0005_customer_phone"), "{orders}");
}

#[test]
fn a_sparse_checkout_hiding_only_other_files_resolves() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    fs::create_dir_all(root.join("docs")).unwrap();
    fs::write(root.join("docs/notes.md"), "notes\n").unwrap();
    git_ok(root, &["add", "docs"]);
    git_ok(root, &["commit", "-q", "-m", "docs"]);
    git_ok(root, &["sparse-checkout", "set", "users"]);
    assert!(!exists(root, "docs/notes.md"));
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(text.contains("migmerge: users: renumbered"), "{text}");
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "");
}

// -- signed commits -----------------------------------------------------------------------

/// A stand-in for gpg, set as `gpg.program`: it signs (a dummy signature, and the status line
/// git waits for) the first `good` times it is called, then fails as gpg fails without its key.
fn fake_gpg(root: &Path, good: u32) {
    let script = root.join(".git/fake-gpg");
    let count = root.join(".git/fake-gpg-count");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             n=$(cat '{count}' 2>/dev/null || echo 0)\n\
             echo $((n + 1)) > '{count}'\n\
             cat > /dev/null\n\
             if [ \"$n\" -ge {good} ]; then echo 'gpg: signing failed: No secret key' >&2; exit 2; fi\n\
             echo '[GNUPG:] SIG_CREATED D 1 8 00 1767225600 0123456789ABCDEF' >&2\n\
             printf -- '-----BEGIN PGP SIGNATURE-----\\n\\nZmFrZQ==\\n-----END PGP SIGNATURE-----\\n'\n",
            count = count.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    }
    git_ok(root, &["config", "gpg.program", script.to_str().unwrap()]);
    git_ok(root, &["config", "user.signingkey", "0123456789ABCDEF"]);
    git_ok(root, &["config", "commit.gpgsign", "true"]);
}

fn is_signed(root: &Path, rev: &str) -> bool {
    git_ok(root, &["cat-file", "commit", rev])
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .any(|l| l.starts_with("gpgsig "))
}

#[test]
fn with_commit_gpgsign_the_rewritten_merge_commit_is_signed() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    fake_gpg(root, 1000);
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(text.contains("in merge commit"), "{text}");
    assert!(
        is_signed(root, "HEAD"),
        "{}",
        git_ok(root, &["cat-file", "commit", "HEAD"])
    );
    assert_eq!(
        git_ok(root, &["rev-list", "--parents", "-n", "1", "HEAD"])
            .split_whitespace()
            .count(),
        3
    );
    assert_resolved(root, "signed merge");
}

#[test]
fn with_commit_gpgsign_the_follow_up_commit_of_a_rebase_is_signed() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    fake_gpg(root, 1000);
    git_ok(root, &["checkout", "-q", "theirs"]);
    let text = git_ok(root, &["rebase", "main"]);
    assert!(text.contains("in a new commit"), "{text}");
    assert_eq!(
        git_ok(root, &["log", "-1", "--format=%s"]).trim(),
        "Renumber migrations after rebase"
    );
    assert!(is_signed(root, "HEAD"));
    assert!(
        is_signed(root, "HEAD~1"),
        "the rebased commit, signed by git"
    );
    assert_resolved(root, "signed rebase");
}

#[test]
fn with_an_ssh_signing_key_the_rewritten_merge_commit_verifies() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    let key = root.join(".git/signing-key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(&key)
        .output();
    let Ok(made) = made else {
        // git signs with ssh through ssh-keygen: without it, this is skipped only knowingly.
        assert!(
            std::env::var("MIGMERGE_SKIP_TOOLS").as_deref() == Ok("1"),
            "ssh signing needs ssh-keygen on PATH (or MIGMERGE_SKIP_TOOLS=1 to skip it)"
        );
        return;
    };
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = root.join(".git/allowed-signers");
    fs::write(&allowed, format!("author@example.com {public}")).unwrap();
    git_ok(root, &["config", "gpg.format", "ssh"]);
    git_ok(root, &["config", "user.signingkey", key.to_str().unwrap()]);
    git_ok(
        root,
        &[
            "config",
            "gpg.ssh.allowedSignersFile",
            allowed.to_str().unwrap(),
        ],
    );
    git_ok(root, &["config", "commit.gpgsign", "true"]);
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    assert!(text.contains("in merge commit"), "{text}");
    let object = git_ok(root, &["cat-file", "commit", "HEAD"]);
    assert!(object.contains("-----BEGIN SSH SIGNATURE-----"), "{object}");
    let (verified, said) = git(root, &["verify-commit", "HEAD"]);
    assert!(verified, "{said}");
    assert_resolved(root, "ssh-signed merge");
}

#[test]
fn a_signature_that_fails_leaves_gits_own_signed_merge_commit() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    // git's own merge commit is signed; migmerge's signature fails.
    fake_gpg(root, 1);
    let text = git_ok(root, &["merge", "--no-edit", "theirs"]);
    let lines = migmerge_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("cannot sign") && lines[0].contains("git's own"),
        "{text}"
    );
    // No unsigned commit: HEAD is git's merge, signed, with both leaves; the tree is clean.
    assert!(is_signed(root, "HEAD"));
    assert_eq!(git_ok(root, &["status", "--porcelain"]), "", "{text}");
    assert!(exists(root, "users/migrations/0005_add_avatar.py"));
    assert!(exists(root, "users/migrations/0005_add_phone.py"));
    let message = git_ok(root, &["log", "-1", "--format=%B"]);
    assert!(!message.contains("migmerge:"), "{message}");
}

// -- autostash ----------------------------------------------------------------------------

const AVATAR: &str = "users/migrations/0005_add_avatar.py";

#[test]
fn rebase_autostash_touching_a_migration_to_rename_is_refused_and_the_stash_lands_right() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    git_ok(root, &["checkout", "-q", "theirs"]);
    let edited = fs::read_to_string(root.join(AVATAR)).unwrap() + "# my edit\n";
    fs::write(root.join(AVATAR), &edited).unwrap();
    let text = git_ok(root, &["rebase", "--autostash", "main"]);
    let lines = migmerge_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("--autostash")
            && lines[0].contains(AVATAR)
            && lines[0].contains("migmerge resolve"),
        "{text}"
    );
    // Nothing renamed, no follow-up commit, and the stash went back onto its own file.
    assert_eq!(git_ok(root, &["log", "-1", "--format=%s"]).trim(), "theirs");
    assert_eq!(fs::read_to_string(root.join(AVATAR)).unwrap(), edited);
    assert_eq!(
        git_ok(root, &["status", "--porcelain"]).trim(),
        format!("M {AVATAR}")
    );
}

#[test]
fn rebase_autostash_of_other_files_resolves_and_keeps_the_stash() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    git_ok(root, &["checkout", "-q", "theirs"]);
    let models = fs::read_to_string(root.join("users/models.py")).unwrap() + "# my edit\n";
    fs::write(root.join("users/models.py"), &models).unwrap();
    let text = git_ok(root, &["rebase", "--autostash", "main"]);
    assert!(text.contains("migmerge: users: renumbered"), "{text}");
    assert_eq!(
        fs::read_to_string(root.join("users/models.py")).unwrap(),
        models
    );
    assert!(!exists(root, AVATAR));
}

#[test]
fn merge_autostash_touching_a_migration_to_rename_is_refused() {
    let dir = story("siblings_add_phone_vs_add_avatar");
    let root = dir.path();
    // Merging main into the feature renames the feature's 0005_add_avatar.
    git_ok(root, &["checkout", "-q", "theirs"]);
    let edited = fs::read_to_string(root.join(AVATAR)).unwrap() + "# my edit\n";
    fs::write(root.join(AVATAR), &edited).unwrap();
    let text = git_ok(root, &["merge", "--no-edit", "--autostash", "main"]);
    let lines = migmerge_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("--autostash"), "{text}");
    assert_eq!(fs::read_to_string(root.join(AVATAR)).unwrap(), edited);
    assert!(!exists(root, "users/migrations/0006_add_avatar.py"));
    let message = git_ok(root, &["log", "-1", "--format=%B"]);
    assert!(!message.contains("migmerge:"), "{message}");
}

#[test]
fn pull_rebase_autostash_touching_a_migration_to_rename_is_refused() {
    let (_dir, local) = origin_and_clone("siblings_add_phone_vs_add_avatar");
    let edited = fs::read_to_string(local.join(AVATAR)).unwrap() + "# my edit\n";
    fs::write(local.join(AVATAR), &edited).unwrap();
    let (ok, text) = git(&local, &["pull", "--rebase", "--autostash"]);
    assert!(ok, "{text}");
    assert!(
        migmerge_lines(&text)
            .iter()
            .any(|l| l.contains("--autostash")),
        "{text}"
    );
    assert_eq!(fs::read_to_string(local.join(AVATAR)).unwrap(), edited);
    assert!(!exists(&local, "users/migrations/0006_add_avatar.py"));
    // Once the stash is applied and committed, `resolve` finishes the job.
    git_ok(&local, &["commit", "-q", "-am", "my edit"]);
    let out = run_migmerge(&["resolve", "--yes"], &local);
    assert_status(&out, 0);
    let moved = fs::read_to_string(local.join("users/migrations/0006_add_avatar.py")).unwrap();
    assert!(moved.contains("# my edit"), "{moved}");
}
