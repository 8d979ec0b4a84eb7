#!/usr/bin/env bash
# Builds the Python wheel of the migmerge binary with scripts/build-wheel.sh (maturin, `bindings =
# "bin"`, manylinux2014 through zig) and proves what `pip install migmerge` gives a Django team:
# the wheel alone, installed into a fresh virtualenv, puts a working `migmerge` on that
# virtualenv's PATH. Runs `migmerge --version` and `migmerge demo` from there.
#
# Work files live under target/wheel-test; the wheel lands in target/wheels. The virtualenv that
# holds maturin is kept between runs (target/wheel-build), the one the wheel is installed into
# never is.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "wheel-test: FAILED: $*" >&2
    exit 1
}

# shellcheck source=scripts/find-python.sh
. scripts/find-python.sh

python=$(find_python 9)
work="$PWD/target/wheel-test"
mkdir -p "$work"

# The release wheel exactly as it ships: manylinux2014 through zig, its tag checked by auditwheel.
wheel=$(./scripts/build-wheel.sh | tail -n 1)
[ -f "$wheel" ] || fail "scripts/build-wheel.sh printed no wheel"
echo "wheel-test: built $(basename "$wheel")"

fresh="$work/fresh-venv"
rm -rf "$fresh"
"$python" -m venv "$fresh"

# As a user with the virtualenv activated: its bin first on PATH.
export PATH="$fresh/bin:$PATH"
hash -r
# The README's install lines, from between its readme-recipe:install markers: the wheel is built
# by the line above, and installed by the README's own `pip install` line, run as written, with
# pip told never to reach an index (the wheel must stand alone).
readme_lines=$(sed -n '/^<!-- readme-recipe:install:begin -->$/,/^<!-- readme-recipe:install:end -->$/p' README.md |
    sed '1d;$d' | sed '/^```/d' | sed 's/ *#.*$//')
grep -qx './scripts/build-wheel.sh' <<<"$readme_lines" || fail "the README's install block does not build the wheel with ./scripts/build-wheel.sh"
pip_line=$(grep '^pip install target/wheels/' <<<"$readme_lines") || fail "the README's install block has no 'pip install target/wheels/...' line"
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 bash -e -c "$pip_line" >"$work/pip.out" 2>&1 || {
    cat "$work/pip.out" >&2
    fail "the README's '$pip_line' failed"
}
"$fresh/bin/python" -m pip show migmerge >/dev/null 2>&1 || fail "'$pip_line' did not install migmerge into the fresh virtualenv"
resolved=$(command -v migmerge) || fail "migmerge is not on PATH after pip install"
[ "$resolved" = "$fresh/bin/migmerge" ] || fail "migmerge resolves to $resolved, not the virtualenv's $fresh/bin/migmerge"

expected_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
version=$(migmerge --version) || fail "migmerge --version exited $?"
# The version, then the commit the wheel was built from (this checkout's HEAD).
commit=$(git log -1 --format='%h %cs' --abbrev=7 2>/dev/null) || commit=unknown
[ "$version" = "migmerge $expected_version ($commit)" ] || fail "migmerge --version printed '$version', expected 'migmerge $expected_version ($commit)'"

# From a directory outside this repository, as a user would run it.
demo_out="$work/demo.out"
if ! (cd "$work" && migmerge demo) >"$demo_out" 2>&1; then
    cat "$demo_out" >&2
    fail "migmerge demo failed"
fi
grep -q "migmerge: users: " "$demo_out" || {
    cat "$demo_out" >&2
    fail "the demo's merge did not report a resolution"
}
# The plain closing line CI reads: the install, --version and the demo.
echo "wheel-test: ok: the README's $pip_line ($(basename "$wheel")) into a fresh venv; $version; migmerge demo resolved the merge ($(wc -l <"$demo_out") lines of output)"
echo "wheel-test: 3 passed, 0 failed"
