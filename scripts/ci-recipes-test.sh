#!/usr/bin/env bash
# Runs the CI recipes of docs/ci.md, as written there, against a local bare "origin":
#   - GitHub Actions on pull_request (checkout with fetch-depth: 0 of the test merge commit, or of
#     the pull request's head), and without fetch-depth: 0 (must fail to run, never pass);
#   - GitLab CI merge request pipelines (a runner's checkout of the pipeline's commit only, full
#     as GIT_DEPTH: "0" asks, then the recipe's own fetch of the target branch), and one commit
#     deep (must fail to run, never pass);
#   - a merge queue, generic and GitHub's merge_group: two pull requests that each pass alone
#     and conflict together, caught on the queue's candidate.
# The command lines are read from docs/ci.md between its `ci-recipe` markers, so the documented
# recipe is the tested one. The `pip install migmerge` lines are checked to be there and skipped:
# the migmerge on PATH is this repository's build in target/ (release, else debug, else built).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
doc="$root/docs/ci.md"
work="$root/target/ci-recipes-test"

fail() {
    echo "ci-recipes-test: FAILED: $*" >&2
    exit 1
}

started=$SECONDS
passed=0
ok() {
    passed=$((passed + 1))
    echo "ci-recipes-test: ok: $* ($((SECONDS - started))s)"
}

# The binary under test, alone in a directory put first on PATH (not all of target/release).
binary=""
for candidate in target/release/migmerge target/debug/migmerge; do
    if [ -x "$candidate" ]; then
        binary="$root/$candidate"
        break
    fi
done
if [ -z "$binary" ]; then
    cargo build --release --locked
    binary="$root/target/release/migmerge"
fi
rm -rf "$work"
mkdir -p "$work/bin"
ln -s "$binary" "$work/bin/migmerge"
export PATH="$work/bin:$PATH"

# git without the user's configuration, with a fixed identity.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Test Author" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="Test Author" GIT_COMMITTER_EMAIL=author@example.com
unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE

# --- The recipes, from the documentation -------------------------------------------------------

recipe() { # name: the block between the markers, without the code fence lines
    local text
    text=$(sed -n "/^<!-- ci-recipe:$1:begin -->\$/,/^<!-- ci-recipe:$1:end -->\$/p" "$doc" |
        sed '1d;$d' | sed '/^```/d')
    [ -n "$text" ] || fail "docs/ci.md has no ci-recipe:$1 block"
    printf '%s\n' "$text"
}

# GitHub: every `run:` step (one line each), in order.
github_runs() {
    sed -n 's/^ *- run: //p'
}
# GitHub: job-level `env:` entries, as NAME<TAB>value.
github_env() {
    awk '/^ *env:$/ { indent = index($0, "env:"); inside = 1; next }
         inside && match($0, /^ */) && RLENGTH >= indent && /^ *[A-Z_]+: / {
             sub(/^ */, ""); name = $0; sub(/:.*/, "", name); value = $0; sub(/^[A-Z_]+: /, "", value)
             print name "\t" value; next }
         { inside = 0 }'
}
# GitLab: the items of before_script and script, in that order.
gitlab_lines() {
    awk '/^  [a-z_]+:/ { section = $1; sub(/:$/, "", section); next }
         /^    - / && (section == "before_script" || section == "script") {
             line = $0; sub(/^    - /, "", line); print section "\t" line }' |
        sort -s -k1,1 | cut -f2-
}

# GitHub expressions the recipes use, for a given event; anything else is a failure, so that a
# new expression in the documentation is noticed here.
github_expand() { # event text
    local event=$1 text=$2 pr_base="" queue_base=""
    case "$event" in
        pull_request) pr_base=main ;;
        merge_group) queue_base=refs/heads/main ;;
    esac
    text=${text//'${{ github.base_ref }}'/$pr_base}
    text=${text//'${{ github.base_ref || github.event.merge_group.base_ref }}'/${pr_base:-$queue_base}}
    case "$text" in *'${{'*) fail "ci-recipes-test does not know the expression in: $text" ;; esac
    printf '%s\n' "$text"
}

github=$(recipe github)
github_queue=$(recipe github-queue)
gitlab=$(recipe gitlab)
queue=$(recipe queue)
for yaml in "$github" "$github_queue"; do
    grep -q '^ *fetch-depth: 0\b' <<<"$yaml" || fail "a GitHub recipe lost fetch-depth: 0, which the checkout below assumes"
    grep -qx ' *- run: pip install migmerge' <<<"$yaml" || fail "a GitHub recipe does not install migmerge"
done
grep -q '^ *GIT_DEPTH: "0"' <<<"$gitlab" || fail "the GitLab recipe lost GIT_DEPTH: \"0\", which the checkout below assumes"
[ "$(gitlab_lines <<<"$gitlab" | head -n 1)" = "pip install migmerge" ] || fail "the GitLab recipe does not install migmerge first"

# When a YAML parser is at hand (the pre-commit test's virtualenv has PyYAML), the recipes must
# parse, and the lines read above must be what a YAML parser reads.
yaml_python=""
for candidate in "$root/target/pre-commit-test/venv/bin/python" python3; do
    if "$candidate" -c 'import yaml' >/dev/null 2>&1; then
        yaml_python=$candidate
        break
    fi
done
if [ -n "$yaml_python" ]; then
    check_yaml() { # kind text expected-lines
        "$yaml_python" - "$1" "$2" "$3" <<'EOF'
import sys, yaml
kind, text, expected = sys.argv[1], sys.argv[2], sys.argv[3].splitlines()
doc = yaml.safe_load(text)
if kind == "github":
    (job,) = doc["jobs"].values()
    lines = [step["run"] for step in job["steps"] if "run" in step]
    lines += [f"{k}\t{v}" for k, v in job.get("env", {}).items()]
else:
    (job,) = doc.values()
    lines = job["before_script"] + job["script"]
if lines != expected:
    sys.exit(f"YAML parser reads {lines!r}, the test reads {expected!r}")
EOF
    }
    for yaml in "$github" "$github_queue"; do
        check_yaml github "$yaml" "$(github_runs <<<"$yaml"; github_env <<<"$yaml")" || fail "a GitHub recipe"
    done
    check_yaml gitlab "$gitlab" "$(gitlab_lines <<<"$gitlab")" || fail "the GitLab recipe"
    ok "the recipes are valid YAML, read here as a YAML parser reads them"
else
    echo "ci-recipes-test: (no PyYAML at hand: the recipes' YAML syntax is not checked)"
fi

# --- origin: a Django project, pull requests, GitHub's and GitLab's refs --------------------------

seed="$work/seed"
mkdir -p "$seed/users/migrations"
cd "$seed"
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
    git add "users/migrations/$1.py"
    git commit -q -m "$1"
}
git add users
add_migration 0001_initial "" id_number
# sibling: branched before main got 0002_customer_phone, adds its own 0002.
git switch -q -c sibling
add_migration 0002_customer_avatar 0001_initial avatar
git switch -q main
add_migration 0002_customer_phone 0001_initial phone
# clean and other: both branched from main's tip, each adds a 0003: fine alone, not together.
git switch -q -c clean main
add_migration 0003_customer_email 0002_customer_phone email
git switch -q -c other main
add_migration 0003_customer_nickname 0002_customer_phone nickname
git switch -q main
# What a host makes of a pull request: the test merge into the base (GitHub's refs/pull/N/merge).
test_merge() { # branch
    git switch -q --detach main
    git merge -q --no-edit --no-ff "$1"
    git rev-parse HEAD
}
sibling_merge=$(test_merge sibling)
clean_merge=$(test_merge clean)
# The queue's candidates: main, then clean, then other merged in queue order.
candidate_clean=$clean_merge
git merge -q --no-edit --no-ff other
candidate_both=$(git rev-parse HEAD)
git switch -q main

origin="$work/origin.git"
git clone -q --bare "$seed" "$origin"
git -C "$origin" update-ref refs/pull/1/merge "$sibling_merge"
git -C "$origin" update-ref refs/pull/1/head "$(git rev-parse sibling)"
git -C "$origin" update-ref refs/pull/2/merge "$clean_merge"
git -C "$origin" update-ref refs/merge-requests/1/head "$(git rev-parse sibling)"
git -C "$origin" update-ref refs/merge-requests/2/head "$(git rev-parse clean)"
git -C "$origin" update-ref refs/merge-requests/3/head "$(git rev-parse other)"
git -C "$origin" update-ref refs/heads/gh-readonly-queue/main/pr-2 "$candidate_clean"
git -C "$origin" update-ref refs/heads/gh-readonly-queue/main/pr-3 "$candidate_both"
origin_url="file://$origin"

# --- CI checkouts ----------------------------------------------------------------------------------

# actions/checkout: with fetch-depth: 0, every branch and tag with full history, then the ref
# under test; with the default fetch-depth (1), that ref alone, one commit deep.
checkout_github() { # dir ref fetch-depth
    git init -q "$1"
    git -C "$1" remote add origin "$origin_url"
    if [ "$3" = 0 ]; then
        git -C "$1" fetch -q --prune --no-recurse-submodules origin \
            '+refs/heads/*:refs/remotes/origin/*' '+refs/tags/*:refs/tags/*'
        git -C "$1" fetch -q origin "$2"
    else
        git -C "$1" fetch -q --no-tags --depth="$3" origin "$2"
    fi
    git -C "$1" checkout -q --detach FETCH_HEAD
}
# A GitLab runner, at worst: the pipeline's commit only, no target branch; GIT_DEPTH 0 is full.
checkout_gitlab() { # dir ref depth
    git init -q "$1"
    git -C "$1" remote add origin "$origin_url"
    if [ "$3" = 0 ]; then
        git -C "$1" fetch -q --no-tags origin "$2"
    else
        git -C "$1" fetch -q --no-tags --depth="$3" origin "$2"
    fi
    git -C "$1" checkout -q --detach FETCH_HEAD
}

# Runs recipe lines in the checkout as the CI would: each in its own shell, stopping at the first
# that fails; sets $status to the exit status of the last line run and writes the output to $2.
status=0
run_lines() { # dir log lines...
    local dir=$1 log=$2 line
    shift 2
    : >"$log"
    status=0
    for line in "$@"; do
        case "$line" in "pip install migmerge") continue ;; esac
        echo "\$ $line" >>"$log"
        (cd "$dir" && bash -e -o pipefail -c "$line") >>"$log" 2>&1 || status=$?
        [ "$status" = 0 ] || return 0
    done
}
expect() { # label log expected-status needles...
    local label=$1 log=$2 want=$3 needle
    shift 3
    # A pass must be a verdict on found migrations, not an empty project.
    if [ "$want" = 0 ]; then set -- "$@" "No migration conflicts in"; fi
    if [ "$status" != "$want" ]; then
        cat "$log" >&2
        fail "$label: exit $status, expected $want"
    fi
    for needle in "$@"; do
        grep -qF -- "$needle" "$log" || {
            cat "$log" >&2
            fail "$label: the output does not say '$needle'"
        }
    done
    ok "$label (exit $want)"
}

annotation="title=Conflicting migrations in users::App users has 2 leaf migrations (0002_customer_avatar, 0002_customer_phone)"
annotation_file="::error file=users/migrations/0002_customer_"
both_leaves="users: 2 leaves: 0002_customer_avatar, 0002_customer_phone"

# --- GitHub Actions --------------------------------------------------------------------------------

mapfile -t lines < <(github_runs <<<"$github")
for line in "${lines[@]}"; do expanded+=("$(github_expand pull_request "$line")"); done
lines=("${expanded[@]}")
unset expanded

n=0
github_case() { # label ref fetch-depth expected-status needles...
    local label=$1 ref=$2 depth=$3
    shift 3
    n=$((n + 1))
    checkout_github "$work/github-$n" "$ref" "$depth"
    run_lines "$work/github-$n" "$work/github-$n.log" "${lines[@]}"
    expect "GitHub: $label" "$work/github-$n.log" "$@"
}
github_case "conflicting PR, test merge checked out" refs/pull/1/merge 0 1 "$annotation_file" "$annotation"
github_case "conflicting PR, PR head checked out" refs/pull/1/head 0 1 "$annotation_file" "$annotation"
github_case "clean PR" refs/pull/2/merge 0 0
github_case "conflicting PR without fetch-depth: 0" refs/pull/1/merge 1 2

# --- GitLab CI -------------------------------------------------------------------------------------

export CI_PIPELINE_SOURCE=merge_request_event CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main
mapfile -t lines < <(gitlab_lines <<<"$gitlab")
gitlab_case() { # label ref depth expected-status needles...
    local label=$1 ref=$2 depth=$3
    shift 3
    n=$((n + 1))
    checkout_gitlab "$work/gitlab-$n" "$ref" "$depth"
    run_lines "$work/gitlab-$n" "$work/gitlab-$n.log" "${lines[@]}"
    expect "GitLab: $label" "$work/gitlab-$n.log" "$@"
}
gitlab_case "conflicting MR" refs/merge-requests/1/head 0 1 "$both_leaves"
gitlab_case "clean MR" refs/merge-requests/2/head 0 0
# Without GIT_DEPTH: "0", one commit deep: the merge base is missing, and the check says so.
gitlab_case "conflicting MR in a clone one commit deep" refs/merge-requests/1/head 1 2 "shallow clone"
unset CI_PIPELINE_SOURCE CI_MERGE_REQUEST_TARGET_BRANCH_NAME

# --- Merge queue -----------------------------------------------------------------------------------

both_queued="users: 2 leaves: 0003_customer_email, 0003_customer_nickname"
# Each pull request alone passes the pull request check...
mapfile -t lines < <(github_runs <<<"$github")
for line in "${lines[@]}"; do expanded+=("$(github_expand pull_request "$line")"); done
lines=("${expanded[@]}")
unset expanded
github_case "first queued PR alone" refs/merge-requests/2/head 0 0
github_case "second queued PR alone" refs/merge-requests/3/head 0 0

# ...the generic queue recipe catches them together on the candidate,
export TARGET=main
mapfile -t lines < <(grep -v '^ *\(#\|$\)' <<<"$queue")
queue_case() { # label candidate-branch expected-status needles...
    local label=$1 ref=$2
    shift 2
    n=$((n + 1))
    checkout_gitlab "$work/queue-$n" "refs/heads/$ref" 0
    run_lines "$work/queue-$n" "$work/queue-$n.log" "${lines[@]}"
    expect "merge queue: $label" "$work/queue-$n.log" "$@"
}
queue_case "candidate with the first PR" gh-readonly-queue/main/pr-2 0
queue_case "candidate with both PRs" gh-readonly-queue/main/pr-3 1 "$both_queued"
unset TARGET

# ...and so does GitHub's merge_group workflow, which also still runs on pull requests.
github_queue_case() { # label event ref expected-status needles...
    local label=$1 event=$2 ref=$3 name value
    shift 3
    n=$((n + 1))
    checkout_github "$work/github-$n" "$ref" 0
    mapfile -t lines < <(github_runs <<<"$github_queue")
    (
        while IFS=$'\t' read -r name value; do
            export "$name=$(github_expand "$event" "$value")"
        done < <(github_env <<<"$github_queue")
        run_lines "$work/github-$n" "$work/github-$n.log" "${lines[@]}"
        echo "$status" >"$work/github-$n.status"
    )
    status=$(cat "$work/github-$n.status")
    expect "GitHub merge_group workflow: $label" "$work/github-$n.log" "$@"
}
github_queue_case "pull_request, conflicting PR" pull_request refs/pull/1/merge 1 "$annotation"
github_queue_case "merge_group, candidate with the first PR" merge_group refs/heads/gh-readonly-queue/main/pr-2 0
github_queue_case "merge_group, candidate with both PRs" merge_group refs/heads/gh-readonly-queue/main/pr-3 1 \
    "App users has 2 leaf migrations (0003_customer_email, 0003_customer_nickname)"

# --- The GitHub Action (action.yml) ---------------------------------------------------------------

# Its steps as a YAML parser reads them, one file each under $action: N.if (the step's `if:`),
# N.env (NAME<TAB>expression), N.sh (the `run:` script) or N.uses (a step of another action,
# which only GitHub runs); `inputs` holds NAME<TAB>default.
[ -n "$yaml_python" ] || fail "the action's steps are read with PyYAML: run scripts/pre-commit-test.sh first (its virtualenv has it) or install PyYAML for python3"
action="$work/action"
mkdir -p "$action"
"$yaml_python" - "$root/action.yml" "$action" <<'EOF'
import sys, yaml, pathlib
doc = yaml.safe_load(open(sys.argv[1]))
out = pathlib.Path(sys.argv[2])
assert doc["runs"]["using"] == "composite", doc["runs"]["using"]
(out / "inputs").write_text("".join(f"{k}\t{v.get('default', '')}\n" for k, v in doc["inputs"].items()))
for n, step in enumerate(doc["runs"]["steps"]):
    (out / f"{n}.if").write_text(step.get("if", ""))
    if "uses" in step:
        (out / f"{n}.uses").write_text(step["uses"])
        continue
    assert step.get("shell") == "bash", f"step {n} runs in {step.get('shell')!r}, not bash"
    (out / f"{n}.env").write_text("".join(f"{k}\t{v}\n" for k, v in step.get("env", {}).items()))
    (out / f"{n}.sh").write_text(step["run"])
EOF
steps=$(find "$action" -name '*.if' | wc -l)
[ "$steps" -ge 3 ] || fail "action.yml has $steps steps"

# A GitHub expression of the action, for the given inputs and event; anything else is a failure.
declare -A input
action_expand() { # expression (without ${{ }}) -> value
    local expr=$1
    case "$expr" in
        "inputs.install == '"*"'") expr=${expr#"inputs.install == '"}; [ "${input[install]}" = "${expr%"'"}" ] && echo true || echo false ;;
        inputs.target\ \|\|\ github.base_ref\ \|\|\ github.event.merge_group.base_ref)
            echo "${input[target]:-${GITHUB_BASE_REF:-$queue_base_ref}}" ;;
        inputs.*) echo "${input[${expr#inputs.}]}" ;;
        *) fail "ci-recipes-test does not know the action's expression: $expr" ;;
    esac
}
expand_value() { # a YAML value, possibly ${{ expression }}
    if [[ "$1" =~ ^\$\{\{\ (.*)\ \}\}$ ]]; then action_expand "${BASH_REMATCH[1]}"; else printf '%s\n' "$1"; fi
}

# Runs the action's steps in the checkout as the runner runs a composite action's steps: each
# `run:` with `bash --noprofile --norc -eo pipefail`, its env, GITHUB_PATH applied to the next
# steps, stopping at the first that fails. Sets $status and writes the output to $log.
run_action() { # dir log
    local dir=$1 log=$2 i name value path_add
    : >"$log"
    status=0
    path_add=""
    export GITHUB_ACTION_PATH=$root GITHUB_WORKSPACE=$dir RUNNER_OS=Linux RUNNER_ARCH=X64
    export GITHUB_OUTPUT="$dir.output" GITHUB_PATH="$dir.path"
    : >"$GITHUB_OUTPUT"
    : >"$GITHUB_PATH"
    for ((i = 0; i < steps; i++)); do
        if [ -s "$action/$i.if" ] && [ "$(action_expand "$(cat "$action/$i.if")")" != true ]; then continue; fi
        [ -f "$action/$i.uses" ] && continue
        echo "\$ (step $i)" >>"$log"
        (
            while IFS=$'\t' read -r name value; do
                export "$name=$(expand_value "$value")"
            done <"$action/$i.env"
            export PATH="$path_add$PATH"
            cd "$dir" && bash --noprofile --norc -eo pipefail "$action/$i.sh"
        ) >>"$log" 2>&1 || status=$?
        [ "$status" = 0 ] || return 0
        path_add=$(tac "$GITHUB_PATH" | sed 's/$/:/' | tr -d '\n')
    done
}
queue_base_ref=""
action_case() { # label event ref fetch-depth expected-status needles...
    local label=$1 event=$2 ref=$3 depth=$4 name value
    shift 4
    n=$((n + 1))
    input=()
    while IFS=$'\t' read -r name value; do input[$name]=$value; done <"$action/inputs"
    for name in "${!action_input[@]}"; do input[$name]=${action_input[$name]}; done
    GITHUB_BASE_REF="" queue_base_ref=""
    case "$event" in
        pull_request) GITHUB_BASE_REF=main ;;
        merge_group) queue_base_ref=refs/heads/main ;;
    esac
    export GITHUB_EVENT_NAME=$event GITHUB_BASE_REF
    checkout_github "$work/action-$n" "$ref" "$depth"
    run_action "$work/action-$n" "$work/action-$n.log"
    expect "action.yml: $label" "$work/action-$n.log" "$@"
}
declare -A action_input=([install]=none)
action_case "conflicting PR, fetch-depth: 0" pull_request refs/pull/1/merge 0 1 "$annotation_file" "$annotation"
action_case "clean PR" pull_request refs/pull/2/merge 0 0
# actions/checkout's default: one commit, no base branch. The action fetches what it needs.
action_case "conflicting PR, default shallow checkout" pull_request refs/pull/1/merge 1 1 "$annotation"
action_case "clean PR, default shallow checkout" pull_request refs/pull/2/merge 1 0
action_case "merge_group, candidate with both PRs" merge_group refs/heads/gh-readonly-queue/main/pr-3 1 1 \
    "App users has 2 leaf migrations (0003_customer_email, 0003_customer_nickname)"
action_case "push, no target" push refs/heads/main 1 2 "::error title=migmerge::no branch to check against"
action_input=([install]=none [target]=main [format]=human)
action_case "push, target and format given" push refs/pull/1/head 1 1 "$both_leaves"
# install: cargo, as on a runner: `cargo install` of this checkout into the cached root under
# HOME (here a throwaway one; cargo's own home and this repository's target/ stay, so the release
# build is reused), then the migmerge it built first on PATH.
action_input=([install]=cargo)
(
    # rustup's and cargo's homes pinned before HOME changes.
    export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
    export HOME="$work/action-home" CARGO_TARGET_DIR="$root/target"
    action_case "install: cargo builds migmerge from the action's sources" pull_request refs/pull/1/merge 0 1 "$annotation"
    [ -x "$work/action-home/.cache/migmerge-action/bin/migmerge" ] || fail "install: cargo left no migmerge in the cached root"
    grep -q '^key=migmerge-Linux-X64-[0-9a-f]\{16\}$' "$work/action-$n.output" || fail "the cache key step wrote: $(cat "$work/action-$n.output")"
    grep -qx "$work/action-home/.cache/migmerge-action/bin" "$work/action-$n.path" || fail "install: cargo did not put its root on GITHUB_PATH"
    echo "$passed" >"$work/action-passed"
)
passed=$(cat "$work/action-passed")
unset GITHUB_ACTION_PATH GITHUB_WORKSPACE RUNNER_OS RUNNER_ARCH GITHUB_OUTPUT GITHUB_PATH GITHUB_EVENT_NAME GITHUB_BASE_REF

# The plain closing line CI reads, counting the cases above that reported ok.
echo "ci-recipes-test: $passed passed, 0 failed"
