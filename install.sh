#!/usr/bin/env bash
# Builds migmerge from this checkout, installs the binary, and sets it up in a git repository.
# Needs only git and a Rust toolchain (cargo; rustc at least the `rust-version` of Cargo.toml).
#
#   ./install.sh [--shared] [DIR]   build (release) and install the binary with `cargo install`,
#                                   then run `migmerge install --repo DIR` (default: the current
#                                   directory's repository); --shared: the attributes line in a
#                                   staged .gitattributes, not .git/info/attributes
#   ./install.sh --uninstall [DIR]  run `migmerge uninstall --repo DIR`; the binary stays (remove
#                                   it with `cargo uninstall migmerge`)
#
# The binary goes where `cargo install` would put it: $CARGO_INSTALL_ROOT/bin, else
# $CARGO_HOME/bin, else ~/.cargo/bin. The root is passed to cargo explicitly so that this script
# knows where the binary is even when that directory is not on PATH yet.
# Idempotent: a second run rebuilds only what changed (cargo) and changes nothing in the
# repository (`migmerge install` is idempotent).
set -euo pipefail

usage() {
    # The usage lines of the comment above.
    echo "usage:"
    sed -n '5,10s/^#//p' "$0"
}

here=$(cd "$(dirname "$0")" && pwd)
mode=install
shared=
case "${1:-}" in
    -h | --help)
        usage
        exit 0
        ;;
    --uninstall)
        mode=uninstall
        shift
        ;;
    --shared)
        shared=--shared
        shift
        ;;
esac
if [ "$#" -gt 1 ] || [ "${1:-}" != "${1#-}" ]; then
    # One repository at most, and no option but --uninstall or --shared: anything else is a
    # mistake, and taking it for a directory would only fail later with a less useful message.
    usage >&2
    exit 2
fi
repo=${1:-.}

root=${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}
bin="$root/bin"

if ! command -v git >/dev/null 2>&1; then
    echo "install.sh: git not found" >&2
    exit 1
fi
# Fail now, not after a build of several minutes, when DIR is not a git repository.
if ! git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
    echo "install.sh: $repo is not a git repository" >&2
    exit 1
fi

if [ "$mode" = uninstall ]; then
    # The binary this script installed first, even if its directory is not on PATH; else any
    # migmerge on PATH (pip install, cargo install elsewhere): all of them uninstall the same way.
    if [ -x "$bin/migmerge" ]; then
        migmerge="$bin/migmerge"
    elif migmerge=$(command -v migmerge); then
        :
    else
        echo "install.sh: no migmerge in $bin nor on PATH; nothing to uninstall with" >&2
        exit 1
    fi
    exec "$migmerge" uninstall --repo "$repo"
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "install.sh: cargo not found: install Rust from https://rustup.rs first" >&2
    exit 1
fi
echo "install.sh: building migmerge (release; a few minutes the first time) into $bin"
# --locked: the dependency versions of Cargo.lock, the ones the tests ran with.
cargo install --path "$here" --locked --root "$root"

case ":$PATH:" in
    *":$bin:"*) ;;
    *)
        # git runs the hooks with the user's PATH: without migmerge there, each hook only prints
        # a hint. Say so now rather than at the first merge.
        echo "install.sh: $bin is not on your PATH; add it, so that git's hooks find migmerge:" >&2
        echo "    export PATH=\"$bin:\$PATH\"" >&2
        ;;
esac
"$bin/migmerge" install --repo "$repo" ${shared:+"$shared"}
