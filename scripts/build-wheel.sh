#!/usr/bin/env bash
# Builds the release wheel of the migmerge binary into target/wheels: maturin (`bindings = "bin"`,
# see pyproject.toml) linking with zig against glibc 2.17 (manylinux2014), so that pip installs it
# on every x86_64 Linux still in use (Ubuntu 18.04+, Debian 10+, RHEL/CentOS 7+, Amazon Linux 2),
# not only on systems as new as the build machine. The wheel's platform tag is then checked by
# auditwheel: anything newer than manylinux_2_17 fails the build.
#
# maturin, ziglang and auditwheel come from PyPI into target/wheel-build/venv, kept between runs.
# Prints the wheel's path as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "build-wheel: FAILED: $*" >&2
    exit 1
}

# shellcheck source=scripts/find-python.sh
. scripts/find-python.sh

python=$(find_python 9)
venv="$PWD/target/wheel-build/venv"
tools=('maturin>=1.5,<2' 'ziglang' 'auditwheel>=6')
if ! "$venv/bin/python" -c 'import ziglang' >/dev/null 2>&1 ||
    ! "$venv/bin/maturin" --version >/dev/null 2>&1 ||
    ! "$venv/bin/auditwheel" --version >/dev/null 2>&1; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${tools[@]}"
fi
# maturin finds zig as `python -m ziglang` of the Python it runs with: the virtualenv's.
export PATH="$venv/bin:$PATH"
echo "build-wheel: $(maturin --version), zig $(python -m ziglang version), $(auditwheel --version | cut -d" " -f1,2)" >&2

mkdir -p target/wheels
# Only our own earlier wheels go, so that exactly one is left.
rm -f target/wheels/migmerge-*.whl
maturin build --release --locked --zig --compatibility manylinux2014 -o target/wheels >&2
wheels=(target/wheels/migmerge-*.whl)
[ "${#wheels[@]}" -eq 1 ] && [ -f "${wheels[0]}" ] || fail "expected one wheel in target/wheels, found: ${wheels[*]}"
wheel="$PWD/${wheels[0]}"

# auditwheel reads the binary's symbol versions: the oldest manylinux the wheel really fits.
report=$(auditwheel show "$wheel" 2>&1) || {
    echo "$report" >&2
    fail "auditwheel show $(basename "$wheel")"
}
tag=$(grep -o 'manylinux_[0-9]*_[0-9]*_x86_64' <<<"$report" | head -n 1)
[ -n "$tag" ] || {
    echo "$report" >&2
    fail "auditwheel names no manylinux tag for $(basename "$wheel")"
}
glibc_minor=$(sed 's/^manylinux_2_\([0-9]*\)_.*/\1/' <<<"$tag")
[[ "$tag" == manylinux_2_* ]] && [ "$glibc_minor" -le 17 ] ||
    fail "$(basename "$wheel") needs $tag (glibc 2.$glibc_minor); the floor is manylinux_2_17 (glibc 2.17)"
case "$(basename "$wheel")" in
    *manylinux_2_17_x86_64*) ;;
    *) fail "$(basename "$wheel") is not tagged manylinux_2_17_x86_64" ;;
esac
echo "build-wheel: $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB), auditwheel: $tag" >&2
echo "$wheel"
