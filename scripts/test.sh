#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests, with Django (the oracle) installed in
# throwaway virtualenvs under target/django-venvs: the newest release (6.1.x, Python >= 3.12)
# and the 5.2 LTS; the tools migmerge works beside (pre-commit, django-syzygy, django-safemigrate)
# in target/tools-venv. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/find-python.sh
. scripts/find-python.sh

# venv_with DIR PYTHON IMPORTS SPEC...: a virtualenv in DIR where IMPORTS (a Python statement)
# runs, made anew with SPECs from PyPI when it does not; prints its interpreter.
venv_with() {
    local dir="$1" python="$2" imports="$3"
    shift 3
    if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -c "$imports" >/dev/null 2>&1; then
        rm -rf "$dir"
        "$python" -m venv "$dir"
        "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    fi
    echo "$dir/bin/python"
}

venv_with_django() {
    venv_with "$1" "$3" 'import django' "$2"
}

python=$(find_python 12)
venvs="$PWD/target/django-venvs"
mkdir -p "$venvs"
newest=$(venv_with_django "$venvs/django-6.1" 'Django>=6.1,<6.2' "$python")
lts=$(venv_with_django "$venvs/django-5.2" 'Django>=5.2,<5.3' "$python")
echo "Django oracles: $("$newest" -c 'import django; print(django.get_version())') and $("$lts" -c 'import django; print(django.get_version())')"

export MIGMERGE_DJANGO_PYTHONS="$newest:$lts"
# The tools migmerge must work beside, run for real by tests/tools.rs: the pre-commit framework
# (hooks installed in any order with migmerge's) and the staged-deploy tooling (django-syzygy's
# `migrate --pre-deploy`, django-safemigrate's check), with the newest Django; psycopg so that
# Django loads migrations importing django.contrib.postgres (fixture stories about PostgreSQL).
tools=$(venv_with "$PWD/target/tools-venv" "$python" 'import django, syzygy, django_safemigrate, pre_commit, psycopg' \
    'Django>=6.1,<6.2' 'django-syzygy>=1.2.3,<1.3' 'django-safemigrate>=6,<7' 'pre-commit>=4,<5' \
    'psycopg[binary]>=3.2,<4')
export MIGMERGE_TOOLS_PYTHON="$tools"
# --all-targets: unit and integration tests; the crate has no doctests, and an empty doctest
# run would otherwise be the last word of the output.
cargo test --locked --all-targets "$@"
