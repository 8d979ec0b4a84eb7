#!/usr/bin/env bash
# Released Django projects and apps, downloaded from PyPI at pinned versions, checked with no
# configuration: a healthy project must check clean (exit 0), because a false alarm on a real
# project costs more than a miss. Wheels hold the packages, not their repositories' settings:
# they exercise app discovery, labels (AppConfig classes, imported bases, self-references),
# helper packages named `migrations` and the migrations themselves.
#
# For packages that install cheaply, Django's own app registry is the oracle: installed with
# Django into a virtualenv, every app of the wheel in INSTALLED_APPS, each label and directory
# Django reports must be what `migmerge apps --format json` reports for the unpacked wheel.
#
# Downloads, unpacked trees and the virtualenv live under target/real-projects and are kept
# between runs; with them cached the script takes well under a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/find-python.sh
. scripts/find-python.sh
python=$(find_python 10)

work="$PWD/target/real-projects"
mkdir -p "$work/downloads" "$work/trees"

# Checked with `migmerge check`: large histories, plugins, squashes, labels set through base
# classes and settings, helper `migrations` packages, test apps.
checked=(
    wagtail==8.0.1
    django-oscar==4.2.1
    django-cms==5.1.3
    django-filer==3.6.0
    django-celery-beat==2.9.0
    django-reversion==6.4.0
    django-taggit==6.1.0
    django-axes==8.3.1
    django-guardian==3.5.2
    pretix==2026.8.0
    nautobot==3.2.7
    pulpcore==3.123.1
    label-studio==1.23.2
    django-oauth-toolkit==3.4.1
    django-otp==1.7.5
    django-allauth==65.22.1
    weblate==2026.10.1
    django-helpdesk==2.6.1
    dj-stripe==2.11.0
    django-celery-results==2.6.0
    kiwitcms==12.4
    misago==0.39.6
)
# Compared with Django's app registry (pure-Python, few dependencies).
registry=(
    django-taggit==6.1.0
    django-reversion==6.4.0
    django-axes==8.3.1
    django-guardian==3.5.2
    django-otp==1.7.5
    django-waffle==5.0.0
    django-allauth==65.22.1
)

cargo build --locked --quiet
migmerge="$PWD/target/debug/migmerge"

passed=0
failed=0
pass() {
    passed=$((passed + 1))
    echo "real-projects: ok: $*"
}
fail() {
    failed=$((failed + 1))
    echo "real-projects: FAILED: $*" >&2
}

# The unpacked tree of a pinned distribution, downloaded once.
tree_of() {
    local spec=$1 name version file tree
    name=${spec%%==*}
    version=${spec##*==}
    tree="$work/trees/$name-$version"
    if [ ! -f "$tree/.unpacked" ]; then
        local normalized=${name//-/_}
        file=$(find "$work/downloads" -maxdepth 1 \( -iname "$normalized-$version-*.whl" -o -iname "$normalized-$version.tar.gz" -o -iname "$name-$version.tar.gz" \) | head -n 1)
        if [ -z "$file" ]; then
            "$python" -m pip download --quiet --disable-pip-version-check --no-deps \
                --dest "$work/downloads" "$spec" >&2
            file=$(find "$work/downloads" -maxdepth 1 \( -iname "$normalized-$version-*.whl" -o -iname "$normalized-$version.tar.gz" -o -iname "$name-$version.tar.gz" \) | head -n 1)
        fi
        [ -n "$file" ] || return 1
        rm -rf "$tree"
        mkdir -p "$tree"
        case "$file" in
            *.whl) "$python" -m zipfile -e "$file" "$tree" ;;
            *.tar.gz) tar -xzf "$file" -C "$tree" --strip-components=1 ;;
        esac
        touch "$tree/.unpacked"
    fi
    echo "$tree"
}

for spec in "${checked[@]}"; do
    if ! tree=$(tree_of "$spec"); then
        fail "$spec: could not download"
        continue
    fi
    if out=$("$migmerge" check "$tree" 2>&1); then
        pass "$spec: $(echo "$out" | head -n 1)"
    else
        fail "$spec: migmerge check exited non-zero:"
        echo "$out" | head -n 20 >&2
    fi
done

venv="$work/registry-venv"
if ! "$venv/bin/python" -c "import django" 2>/dev/null; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
# allauth's providers import their extras' libraries when Django sets them up.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'django>=5.2,<5.3' \
    "${registry[@]}" 'django-allauth[socialaccount,openid,mfa]==65.22.1'
for spec in "${registry[@]}"; do
    if ! tree=$(tree_of "$spec"); then
        fail "$spec: could not download"
        continue
    fi
    if ! django=$("$venv/bin/python" tests/oracle/app_registry.py "$tree"); then
        fail "$spec: Django's app registry could not be built"
        continue
    fi
    if ! ours=$("$migmerge" apps --format json "$tree"); then
        fail "$spec: migmerge apps exited non-zero"
        continue
    fi
    verdict=$(DJANGO="$django" OURS="$ours" "$python" -c '
import json, os
django = json.loads(os.environ["DJANGO"])["apps"]
ours = {a["label"]: a["directory"] for a in json.loads(os.environ["OURS"])["apps"]}
# Apps of the wheel Django set up: each must be in migmerge with the same label and directory.
wrong = {label: (path, ours.get(label)) for label, path in django.items() if ours.get(label) != path}
print("ok %d apps" % len(django) if django and not wrong else "differ %r (django, migmerge)" % wrong)
')
    case "$verdict" in
        ok*) pass "$spec: labels as Django's registry: ${verdict#ok }" ;;
        *) fail "$spec: labels $verdict" ;;
    esac
done

echo "real-projects: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
