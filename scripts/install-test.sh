#!/usr/bin/env bash
# Proves ./install.sh as a new user runs it, on a throwaway repository:
#   1. wrong arguments and a directory that is not a repository fail at once, before any build;
#   2. `./install.sh REPO` installs a working binary and sets REPO up: the merge driver in git's
#      config, the attributes line, the hook shims (a hook the user had is kept aside and chained);
#   3. with that binary on PATH, the next merge that brings a sibling migration ends resolved;
#   4. a second run changes nothing in the repository;
#   5. `./install.sh --uninstall REPO` puts the repository back as it was before step 2.
#
# The real machine is never touched: HOME (so git's global configuration) and the install root
# (CARGO_INSTALL_ROOT, which install.sh honours as cargo does) point into target/install-test.
# CARGO_HOME stays the real one: with --root, cargo uses it only as its download cache, and a
# different CARGO_HOME would rebuild every dependency (cargo's fingerprints hold the crates'
# source paths under it). CARGO_TARGET_DIR is this repository's target/, so the release build
# the other scripts made is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work="$root/target/install-test"

fail() {
    echo "install-test: FAILED: $*" >&2
    exit 1
}

started=$SECONDS
passed=0
ok() {
    passed=$((passed + 1))
    echo "install-test: ok: $* ($((SECONDS - started))s)"
}

# What rustup's cargo proxy and cargo need, pinned before HOME changes.
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
if [ -z "${RUSTUP_HOME:-}" ] && [ -d "$HOME/.rustup" ]; then
    export RUSTUP_HOME="$HOME/.rustup"
fi
rm -rf "$work"
mkdir -p "$work/home"
export HOME="$work/home" CARGO_INSTALL_ROOT="$work/install-root" CARGO_TARGET_DIR="$root/target"
unset XDG_CONFIG_HOME GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE
export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Test Author" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="Test Author" GIT_COMMITTER_EMAIL=author@example.com
bin="$CARGO_INSTALL_ROOT/bin"
case ":$PATH:" in *":$bin:"*) fail "$bin is on PATH already" ;; esac

# A Django-shaped repository with a hook of the user's own, which must survive install/uninstall.
repo="$work/repo"
mkdir -p "$repo/users/migrations"
cd "$repo"
git init -q -b main
: >users/__init__.py
: >users/migrations/__init__.py
add_migration() { # name parent field
    local deps="[]"
    if [ -n "$2" ]; then deps="[(\"users\", \"$2\")]"; fi
    cat >"users/migrations/$1.py" <<EOF
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = $deps

    operations = [
        migrations.AddField(model_name="customer", name="$3", field=models.IntegerField(null=True)),
    ]
EOF
}
add_migration 0001_initial "" id_number
git add -A
git commit -q -m "A Django project"
printf '#!/bin/sh\necho "user pre-commit hook ran"\n' >.git/hooks/pre-commit
chmod +x .git/hooks/pre-commit

state() { # everything install may change: git config, attributes, hooks, the work tree's status
    git config --local --list | sort
    echo "--- .gitattributes"
    cat .gitattributes 2>/dev/null || echo "(none)"
    echo "--- .git/info/attributes"
    cat .git/info/attributes 2>/dev/null || echo "(none)"
    echo "--- hooks"
    (cd .git/hooks && find . -type f ! -name '*.sample' -exec sha1sum {} + | sort -k 2)
    echo "--- status"
    git status --porcelain --untracked-files=all
}
state >"$work/before.state"

# 1. Mistakes fail fast, without building.
set +e
(cd "$root" && ./install.sh --bogus) >"$work/1-bogus.log" 2>&1
bogus=$?
(cd "$root" && ./install.sh "$work/not-a-repo") >"$work/1-norepo.log" 2>&1
norepo=$?
set -e
[ "$bogus" = 2 ] && grep -q "usage:" "$work/1-bogus.log" || fail "./install.sh --bogus exited $bogus"
[ "$norepo" = 1 ] && grep -q "is not a git repository" "$work/1-norepo.log" ||
    fail "./install.sh on a missing directory exited $norepo: $(cat "$work/1-norepo.log")"
[ ! -e "$bin" ] || fail "a failed install.sh installed something"
ok "bad arguments exit 2, a non-repository exits 1, nothing built"

# 2. Install.
if ! (cd "$root" && ./install.sh "$repo") >"$work/2-install.log" 2>&1; then
    cat "$work/2-install.log" >&2
    fail "./install.sh $repo"
fi
expected_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
version=$("$bin/migmerge" --version) || fail "$bin/migmerge --version exited $?"
# The version, then the commit it was built from: `migmerge 0.1.0 (abc1234 2026-12-01)`.
[[ "$version" == "migmerge $expected_version ("*")" ]] || fail "$bin/migmerge --version printed '$version'"
grep -qF "export PATH=\"$bin:\$PATH\"" "$work/2-install.log" || fail "install.sh did not say to put $bin on PATH"
driver=$(git config merge.migmerge.driver) || fail "merge.migmerge.driver is not set"
case "$driver" in *"migmerge merge-driver"*) ;; *) fail "merge.migmerge.driver is '$driver'" ;; esac
grep -qxF "**/migrations/max_migration.txt merge=migmerge" .git/info/attributes || fail ".git/info/attributes lacks the driver's line"
[ ! -e .gitattributes ] || fail "install wrote .gitattributes without --shared"
for hook in post-merge post-rewrite pre-commit; do
    [ -x ".git/hooks/$hook" ] || fail "no executable .git/hooks/$hook"
    grep -q migmerge ".git/hooks/$hook" || fail ".git/hooks/$hook is not migmerge's shim"
done
cmp -s .git/hooks/pre-commit.migmerge-chained <(printf '#!/bin/sh\necho "user pre-commit hook ran"\n') ||
    fail "the user's pre-commit hook was not kept as pre-commit.migmerge-chained"
ok "./install.sh installed $version into \$CARGO_INSTALL_ROOT/bin and set the repository up"

# 3. The next merge of sibling migrations, with the binary on PATH as the user was told.
git switch -q -c avatar
add_migration 0002_customer_avatar 0001_initial avatar
git add users
git commit -q -m "Customer avatar" >"$work/3-commit.log" 2>&1
# Without migmerge on PATH the shim lets the commit through, after the user's hook, and says
# nothing: an ordinary commit (no merge to conclude) gives migmerge nothing to do.
grep -q "user pre-commit hook ran" "$work/3-commit.log" || fail "the chained user hook did not run"
if grep -q "migmerge" "$work/3-commit.log"; then
    cat "$work/3-commit.log" >&2
    fail "the shim spoke on an ordinary commit without migmerge on PATH"
fi
git switch -q main
add_migration 0002_customer_phone 0001_initial phone
git add users && git commit -q -m "Customer phone" >>"$work/3-commit.log" 2>&1
PATH="$bin:$PATH" git merge -q --no-edit avatar >"$work/3-merge.log" 2>&1 || {
    cat "$work/3-merge.log" >&2
    fail "git merge of the sibling migration"
}
grep -q "migmerge: users: " "$work/3-merge.log" || {
    cat "$work/3-merge.log" >&2
    fail "the merge did not report a resolution"
}
"$bin/migmerge" check >"$work/3-check.log" 2>&1 || {
    cat "$work/3-check.log" "$work/3-merge.log" >&2
    fail "conflicting migrations are left after the merge"
}
[ -z "$(git status --porcelain --untracked-files=no)" ] || fail "the merge left the work tree dirty: $(git status --porcelain)"
ok "the next merge of a sibling migration ended resolved ($(grep -o 'migmerge: users: [^;]*' "$work/3-merge.log" | head -n 1))"

# 4. Idempotent.
state >"$work/installed.state"
if ! (cd "$root" && ./install.sh "$repo") >"$work/4-again.log" 2>&1; then
    cat "$work/4-again.log" >&2
    fail "the second ./install.sh $repo"
fi
state >"$work/again.state"
diff -u "$work/installed.state" "$work/again.state" >&2 || fail "the second run changed the repository"
ok "a second run changed nothing"

# 5. Uninstall, with the binary still not on PATH: install.sh finds the one it installed.
if ! (cd "$root" && ./install.sh --uninstall "$repo") >"$work/5-uninstall.log" 2>&1; then
    cat "$work/5-uninstall.log" >&2
    fail "./install.sh --uninstall $repo"
fi
state >"$work/after.state"
diff -u "$work/before.state" "$work/after.state" >&2 || fail "uninstall did not restore the repository"
ok "./install.sh --uninstall restored the configuration and the user's hook"

echo "install-test: $passed passed, 0 failed"
