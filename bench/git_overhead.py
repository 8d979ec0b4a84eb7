#!/usr/bin/env python3
"""What migmerge adds to git itself: merges with and without it, where a resolving merge's time
goes, and `check`'s read paths against the work-tree check (issue 14).

    cargo build --release
    python3 bench/git_overhead.py [--sizes 1000,10000] [--runs 11] [--plain-runs 31] [--read-runs 5]
        [--real-source URL_OR_PATH] [--real-tag TAG] [--no-real] [--out bench/merge-results.md]

Projects: the generated corpora of bench/generate.py (`--git --max-migration --conflicts 0`, so
that `main` itself is clean; cached under target/bench-corpus/) and a real one, saleor at a
pinned tag (bench/real_project.py: `git clone --depth 1` once into the cache, then sibling
branches cut from its own last migrations). Each project gets three branches off one base:
`main`, `plain` (edits a module in a few apps, no migration) and `siblings` (migrations that
are siblings of `main`'s, in apps whose pairs migmerge can order).

1. Merges. The project is cloned twice and `migmerge install --local` runs in one clone only.
   Both clones configure one identity (`user.name`, `user.email`) and the merges run without
   git's identity and date variables, as a user's merges do (the corpus is made with them set,
   for reproducible commits).
   `git merge --no-edit plain` and `git merge --no-edit siblings` run as whole processes in
   both clones, alternating which clone goes first, each run from a `git reset --hard` to the
   same `main`; the first run of each pair warms the page cache and checks what happened (the
   hooks resolved the siblings, and changed nothing on `plain`) and is not counted. Wall time
   and CPU time (user + system of the whole process tree, from wait4) are medians over --runs
   (sibling merges) or --plain-runs (plain ones: short, so more of them).
   The parses migmerge keeps in `.git/migmerge/parse-cache` stay between merges, as in a
   user's clone, where every hook and driver run keeps them; the sibling merge runs once more
   with that file deleted before each merge (`siblings, no parse cache`: a clone's first merge).
   Without migmerge the sibling merge stops on `max_migration.txt` conflicts in the generated
   corpora and succeeds with two leaves per app on saleor: either way that is the same git
   command without migmerge.
   The floor: a third clone whose driver line and post-merge hook start the same processes
   (a shell and `migmerge --version` per driver invocation, `migmerge --version` as the hook)
   and do nothing, the driver leaving "ours" so that git makes the merge commit. Its sibling
   merge is what git and migmerge's processes cost before any reading, resolving or
   committing; the report says how much of the 3x target that leaves.
2. Breakdown. One more resolving merge runs with GIT_TRACE2_EVENT; its events become a table:
   git merge's own work, git's own subprocesses, the merge driver invocations, each hook, and
   every git process the driver and hooks start (nested git processes carry the top process's
   session id as a prefix; the window of the driver or hook that was running when one started
   says whose it is).
3. Read paths. `migmerge check` on the work tree, `--staged`, `--rev HEAD` and
   `--against siblings` on the clone without migmerge (on `main`), timed by bench/run.py's
   `measure` (one warm-up, then --read-runs), as ratios to the work-tree check.

Targets (issue 14): a resolving merge at most 3x the same merge without migmerge, a merge
touching no migration at most 1.10x CPU, each read path within 1.5x of the work-tree check.
Everything printed, and the Markdown written to --out, comes from this run.

Only the standard library is used, with git and the migmerge binary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import real_project
import run as readbench

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
TIMEOUT = 600.0

MERGE_TARGETS = {"siblings": 3.0, "plain": 1.10}
READ_TARGET = 1.5


@dataclass
class Project:
    key: str  # "1k", "10k", "saleor"
    title: str
    source: Path  # a repository with main, plain and siblings
    migrations: int = 0
    note: str = ""


@dataclass
class MergeCase:
    branch: str
    # The parse cache migmerge keeps in `.git/migmerge/` deleted before each merge: a clone's
    # first merge, before any hook or driver ran in it.
    cold: bool = False
    walls: dict = field(default_factory=lambda: {"without": [], "with": []})  # ms
    cpus: dict = field(default_factory=lambda: {"without": [], "with": []})  # ms
    outcome: dict = field(default_factory=dict)  # clone -> what the warm-up merge did

    @property
    def key(self) -> str:
        return f"{self.branch}, no parse cache" if self.cold else self.branch

    def median(self, kind: str, clone: str) -> float:
        return statistics.median((self.walls if kind == "wall" else self.cpus)[clone])

    def ratio(self, kind: str) -> float:
        return self.median(kind, "with") / self.median(kind, "without")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def git(repo: Path, *args: str, env: dict) -> str:
    return real_project.run_git(repo, *args, env=env).strip()


# ---------------------------------------------------------------------------
# Projects and their branches.
# ---------------------------------------------------------------------------


def app_dirs(repo: Path, env: dict) -> list:
    """The directories of the apps with migrations, in a stable order."""
    paths = git(repo, "ls-files", "--", "*migrations/__init__.py", env=env).splitlines()
    return sorted({Path(p).parent.parent.as_posix() for p in paths})


def make_plain_branch(repo: Path, base: str, env: dict) -> None:
    """A branch off the base commit that adds a module in a few apps and no migration."""
    git(repo, "checkout", "-q", "-B", "plain", base, env=env)
    for app in app_dirs(repo, env)[:5]:
        module = repo / app / "bench_plain.py"
        module.write_text("# A change on a branch that adds no migration.\nVALUE = 1\n")
        git(repo, "add", "--", module.relative_to(repo).as_posix(), env=env)
    git(repo, "commit", "-q", "-m", "Plain change", env=env)
    git(repo, "checkout", "-q", "main", env=env)


def generated_project(size: int, work: Path, cache: Path, migmerge: Path, env: dict) -> Project:
    corpus, manifest = readbench.ensure_corpus(size, 1, cache, timeout=1200, conflicts=0)
    git(work.parent, "clone", "-q", "--branch", "main", str(corpus), str(work), env=env)
    git(work, "branch", "-q", "feature", "origin/feature", env=env)
    base = git(work, "merge-base", "main", "feature", env=env)

    def cut_siblings(apps: list) -> None:
        git(work, "checkout", "-q", "-B", "siblings", base, env=env)
        git(work, "checkout", "feature", "--", *[f"{app}/migrations" for app in apps], env=env)
        git(work, "commit", "-q", "-m", "Sibling migrations", env=env)
        git(work, "checkout", "-q", "main", env=env)

    # `feature`'s migrations in the apps where they are siblings of main's, less those whose
    # pair needs a human (generate.py plants a same-field conflict among them).
    cut_siblings(manifest["branch_apps"])
    breaking = real_project.breaking_apps(work, migmerge, env)
    apps = [app for app in manifest["branch_apps"] if app not in breaking]
    if not apps:
        raise real_project.SetupError(f"every app {corpus} branches in needs a human to merge")
    cut_siblings(apps)
    make_plain_branch(work, base, env)
    label = f"{size // 1000}k" if size % 1000 == 0 else str(size)
    return Project(label, f"{size:,} generated migrations ({manifest['apps']} apps)", work,
                   note=f"siblings in {', '.join(apps)}")


def saleor_project(args, work: Path, cache: Path, migmerge: Path, env: dict) -> Project:
    pristine = real_project.ensure_clone(args.real_source, args.real_tag, cache, env)
    splits = real_project.prepare(work, pristine, migmerge, env)
    base = git(work, "merge-base", "main", "siblings", env=env)
    make_plain_branch(work, base, env)
    pairs = ", ".join(f"{s.label} ({s.ours} | {s.theirs})" for s in splits)
    return Project("saleor", f"saleor {args.real_tag}", work, note=f"siblings in {pairs}")


def count_migrations(repo: Path, env: dict) -> int:
    files = git(repo, "ls-files", "--", "*/migrations/*.py", env=env).splitlines()
    return sum(1 for f in files if not Path(f).name.startswith(("_", "~")))


# ---------------------------------------------------------------------------
# Merges.
# ---------------------------------------------------------------------------


IDENTITY = {"user.name": "Bench", "user.email": "bench@example.invalid"}


def as_a_user_merges(env: dict) -> dict:
    """The environment of the timed merges: a user's, whose identity is in git's configuration
    (each clone's, see `user_clone`) and whose commits are dated now. The corpus itself is made
    with fixed identities and dates in the environment, for reproducible commits; a merge run
    that way would measure what only scripts do (migmerge hands such environments to git)."""
    return {k: v for k, v in env.items() if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}


def user_clone(source: Path, clone: Path, env: dict) -> None:
    """A clone of `main` with the identity a user configures."""
    git(clone.parent, "clone", "-q", "--branch", "main", str(source), str(clone), env=env)
    for key, value in IDENTITY.items():
        git(clone, "config", key, value, env=env)


def merge_once(repo: Path, main: str, branch: str, env: dict, extra_env: dict | None = None,
               forget_parses: bool = False) -> readbench.Outcome:
    """`git merge --no-edit BRANCH` from `main`; extra_env is for the merge alone.

    What migmerge kept from the last merge of the same two commits goes first: a user merges
    a branch once, so each counted merge is a first one. The parses migmerge keeps of the
    project's modules stay (every hook keeps them, so a user's clone has them), unless
    `forget_parses`.
    """
    git(repo, "reset", "-q", "--hard", main, env=env)
    (repo / ".git" / "migmerge" / "merge-view.json").unlink(missing_ok=True)
    if forget_parses:
        (repo / ".git" / "migmerge" / "parse-cache").unlink(missing_ok=True)
    return readbench.run_process(["git", "merge", "--no-edit", branch], repo, {**env, **(extra_env or {})},
                                 TIMEOUT, capture=True)


def describe_merge(repo: Path, outcome: readbench.Outcome, migmerge: Path, env: dict) -> dict:
    """What one merge did: its exit, whether the hooks resolved, what `check` says after it."""
    message = git(repo, "log", "-1", "--format=%B", env=env)
    merging = (repo / ".git" / "MERGE_HEAD").exists()
    check = subprocess.run([str(migmerge), "check"], cwd=repo, env=env, capture_output=True, text=True)
    return {
        "exit": outcome.code,
        "stopped": merging,
        "resolved": "migmerge:" in message and not merging,
        "check_exit": check.returncode,
    }


def verify(project: Project, case: MergeCase) -> None:
    """The cases measure what they say, or the run stops."""
    with_, without = case.outcome["with"], case.outcome["without"]
    problems = []
    if case.branch == "plain":
        for clone, seen in case.outcome.items():
            if seen["exit"] != 0 or seen["resolved"] or seen["check_exit"] != 0:
                problems.append(f"the plain merge {clone} migmerge: {seen}")
    else:
        if not with_["resolved"] or with_["check_exit"] != 0:
            problems.append(f"the hooks did not resolve the siblings: {with_}")
        if without["check_exit"] == 0 and not without["stopped"]:
            problems.append(f"without migmerge the sibling merge left no conflict to resolve: {without}")
    if problems:
        sys.exit(f"git_overhead.py: {project.title}: " + "; ".join(problems))


def time_merges(project: Project, clones: dict, main: str, runs: dict, migmerge: Path, env: dict) -> list:
    cases = []
    for branch, cold in (("plain", False), ("siblings", False), ("siblings", True)):
        case = MergeCase(branch, cold)
        for i in range(runs[branch] + 1):
            for clone in ("without", "with") if i % 2 else ("with", "without"):
                outcome = merge_once(clones[clone], main, branch, env, forget_parses=cold)
                if i == 0:
                    case.outcome[clone] = describe_merge(clones[clone], outcome, migmerge, env)
                    continue
                case.walls[clone].append(outcome.wall * 1000)
                case.cpus[clone].append(outcome.cpu * 1000)
        verify(project, case)
        progress(f"    merge {case.key:<8} wall {case.median('wall', 'without'):7.1f} -> "
                 f"{case.median('wall', 'with'):7.1f} ms, CPU {case.median('cpu', 'without'):7.1f} -> "
                 f"{case.median('cpu', 'with'):7.1f} ms")
        cases.append(case)
    return cases


# ---------------------------------------------------------------------------
# Breakdown of one resolving merge, from its trace2 events.
# ---------------------------------------------------------------------------


def parse_time(stamp: str) -> float:
    """Seconds since the epoch of a trace2 `time` field (UTC, microseconds, a trailing Z)."""
    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp()


def git_verb(argv: list) -> str:
    """`git status`, `git rev-parse`: the command git ran, without its options."""
    for word in argv[1:]:
        if not word.startswith("-"):
            return f"git {word}"
    return "git"


def breakdown(events: list) -> list:
    """Rows (part, count, total ms, indent) of one `git merge`'s trace2 events.

    The top process is the one without a '/' in its session id. Its child_start/child_exit pairs
    give each child's window: a hook (child_class "hook"), the merge driver (a shell running
    `migmerge merge-driver`), or a git subprocess of git's own. A nested git process whose
    session id descends from the top one and starts inside a driver or hook window was started
    by that driver or hook (migmerge passes the environment git set for the hook on).
    """
    top = next(e["sid"] for e in events if e["event"] == "start" and "/" not in e["sid"])
    total = next(e["t_abs"] for e in events if e["event"] == "exit" and e["sid"] == top)
    starts = {e["child_id"]: e for e in events if e["sid"] == top and e["event"] == "child_start"}
    exits = {e["child_id"]: e for e in events if e["sid"] == top and e["event"] == "child_exit"}

    windows = []  # (begin, end, part name)
    parts: dict = {}  # part -> [count, ms]
    for child_id, start in sorted(starts.items()):
        end = exits.get(child_id)
        if end is None:
            continue
        argv = start.get("argv", [])
        if start.get("child_class") == "hook":
            name = f"hook {start.get('hook_name', argv[0] if argv else '?')}"
        elif any("merge-driver" in a for a in argv):
            name = "merge driver (sh + migmerge merge-driver)"
        else:
            name = f"git's own subprocess: {git_verb(argv)}"
        begin = parse_time(start["time"])
        windows.append((begin, parse_time(end["time"]), name))
        entry = parts.setdefault(name, [0, 0.0])
        entry[0] += 1
        entry[1] += end["t_rel"] * 1000

    nested: dict = {}  # part -> {verb: [count, ms]}
    process_start = {e["sid"]: e for e in events if e["event"] == "start"}
    process_exit = {e["sid"]: e for e in events if e["event"] == "exit"}
    for sid, start in process_start.items():
        segments = sid.split("/")
        if len(segments) != 2 or segments[0] != top or sid not in process_exit:
            continue  # the top process itself, or a grandchild counted within its parent
        when = parse_time(start["time"])
        owner = next((name for begin, end, name in windows
                      if begin <= when <= end and not name.startswith("git's own")), None)
        if owner is None:
            continue  # one of git's own subprocesses, already counted by its window
        entry = nested.setdefault(owner, {}).setdefault(git_verb(start["argv"]), [0, 0.0])
        entry[0] += 1
        entry[1] += process_exit[sid]["t_abs"] * 1000

    rows = [("git merge, the whole process", 1, total * 1000, 0)]
    children_ms = sum(ms for _, ms in parts.values())
    rows.append(("git merge's own work (outside its child processes)", 1, total * 1000 - children_ms, 1))
    for name, (count, ms) in sorted(parts.items(), key=lambda item: item[0].startswith("git's own")):
        rows.append((name, count, ms, 1))
        spawned = nested.get(name, {})
        for verb, (n, verb_ms) in sorted(spawned.items(), key=lambda item: -item[1][1]):
            rows.append((f"{verb} (started by it)", n, verb_ms, 2))
        if spawned:
            git_ms = sum(v[1] for v in spawned.values())
            rows.append(("the rest: shell, migmerge's own work, process starts", count, ms - git_ms, 2))
    return rows


def trace_merge(clones: dict, main: str, env: dict, tmp: Path) -> list:
    trace = tmp / "trace2.json"
    trace.unlink(missing_ok=True)
    outcome = merge_once(clones["with"], main, "siblings", env, {"GIT_TRACE2_EVENT": str(trace)})
    if outcome.code != 0:
        sys.exit(f"git_overhead.py: the traced merge failed:\n{outcome.stdout}{outcome.stderr}")
    events = [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]
    return breakdown(events)


# ---------------------------------------------------------------------------
# Read paths.
# ---------------------------------------------------------------------------

READ_PATHS = [
    ("worktree", "migmerge check (work tree)", []),
    ("staged", "migmerge check --staged", ["--staged"]),
    ("rev", "migmerge check --rev HEAD", ["--rev", "HEAD"]),
    ("against", "migmerge check --against siblings", ["--against", "siblings"]),
]


def hook_floor(repo: Path, runs: int, env: dict) -> dict:
    """CPU of the installed post-merge hook when it has nothing to do (HEAD is no merge commit),
    and of its two processes alone: the least any hook adds to a merge, to read the plain-merge
    ratio against. Medians of `runs` runs, ms."""
    hook = repo / ".git" / "hooks" / "post-merge"
    commands = {
        "hook": [str(hook), "0"],
        "sh": ["sh", "-c", ":"],
        "migmerge": ["migmerge", "--version"],
    }
    floor = {}
    for key, argv in commands.items():
        cpus = [readbench.run_process(argv, repo, env, TIMEOUT).cpu * 1000 for _ in range(runs)]
        floor[key] = statistics.median(cpus)
    return floor


# The driver line and post-merge hook of the floor clone: the processes an installed
# migmerge starts in a resolving merge (a shell and a migmerge per driver invocation, one
# migmerge for the hook), each doing nothing. The driver leaves "ours" as the result, so the
# merge goes on to its commit as a resolved one does.
FLOOR_DRIVER = ('if [ "${MIGMERGE:-1}" != 0 ] && command -v migmerge >/dev/null 2>&1; then '
                'migmerge --version >/dev/null; exit 0; fi; '
                'exec git merge-file -L %X -L %S -L %Y --marker-size=%L %A %O %B')


def process_floor(source: Path, home: Path, main: str, runs: int, migmerge: Path, env: dict) -> float:
    """Median CPU (ms) of the sibling merge in a clone where migmerge's driver and hook only
    start: what git and the processes it runs for migmerge cost before migmerge reads anything.
    Against the resolving merge's target, it says how much is left for the work itself."""
    clone = home / "floor"
    user_clone(source, clone, env)
    git(clone, "branch", "-q", "siblings", "origin/siblings", env=env)
    git(clone, "config", "merge.migmerge.driver", FLOOR_DRIVER, env=env)
    (clone / ".git" / "info" / "attributes").write_text("**/migrations/max_migration.txt merge=migmerge\n")
    hook = clone / ".git" / "hooks" / "post-merge"
    hook.write_text(f"#!{migmerge} --version\n")
    hook.chmod(0o755)
    cpus = [merge_once(clone, main, "siblings", env).cpu * 1000 for _ in range(runs + 1)][1:]
    return statistics.median(cpus)


def read_paths(repo: Path, migmerge: Path, runs: int, env: dict) -> list:
    cmds = [readbench.Command(key, label, [str(migmerge), "check", *extra], repo, env=env)
            for key, label, extra in READ_PATHS]
    return [readbench.measure(c, runs, TIMEOUT) for c in cmds]


# ---------------------------------------------------------------------------
# Reporting.
# ---------------------------------------------------------------------------


def runs_text(report: dict) -> str:
    return f"{report['runs']['plain']} plain and {report['runs']['siblings']} sibling merges"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def merge_lines(result: dict) -> list:
    out = [f"{'merge':<9} {'measure':<5} {'without ms':>11} {'with ms':>10} {'ratio':>8}  what the hooks did"]
    for case in result["merges"]:
        did = "resolved the siblings" if case.outcome["with"]["resolved"] else "changed nothing"
        without = case.outcome["without"]
        if case.branch == "siblings":
            did += ("; without migmerge git stops on conflicts" if without["stopped"]
                    else "; without migmerge the merge leaves two leaves")
        for kind in ("wall", "cpu"):
            out.append(f"{case.key:<9} {kind:<5} {case.median(kind, 'without'):>11.1f} "
                       f"{case.median(kind, 'with'):>10.1f} {case.ratio(kind):>7.2f}x  {did if kind == 'wall' else ''}")
    return out


def targets(result: dict) -> list:
    rows = []
    by_branch = {c.key: c for c in result["merges"]}
    r = by_branch["siblings"].ratio("cpu")
    rows.append(("resolving merge within 3x of the same merge without migmerge (CPU)", f"{r:.2f}x",
                 verdict(r <= MERGE_TARGETS["siblings"])))
    r = by_branch["siblings"].ratio("wall")
    rows.append(("resolving merge within 3x of the same merge without migmerge (wall)", f"{r:.2f}x",
                 verdict(r <= MERGE_TARGETS["siblings"])))
    r = by_branch["plain"].ratio("cpu")
    rows.append(("merge touching no migration within 1.10x CPU", f"{r:.2f}x", verdict(r <= MERGE_TARGETS["plain"])))
    for key, label, ratio in read_ratios(result):
        rows.append((f"{label} within 1.5x of the work-tree check", f"{ratio:.2f}x", verdict(ratio <= READ_TARGET)))
    return rows


def read_ratios(result: dict) -> list:
    by_key = {m.command.key: m for m in result["reads"]}
    base = by_key["worktree"]
    out = []
    for key, label, _ in READ_PATHS[1:]:
        r = readbench.ratio(by_key.get(key), base)
        if r is not None:
            out.append((key, label, r))
    return out


def process_floor_text(result: dict) -> str:
    siblings = {c.key: c for c in result["merges"]}["siblings"]
    git_alone = siblings.median("cpu", "without")
    floor = result["process_floor"]
    room = MERGE_TARGETS["siblings"] * git_alone - floor
    return (f"-- the least a resolving merge can cost through a driver and a hook: the sibling "
            f"merge with migmerge's driver and hook starting and doing nothing {floor:.1f} ms CPU ({floor / git_alone:.2f}x of "
            f"{git_alone:.1f} ms); the 3x target leaves {room:.1f} ms for reading, resolving and "
            f"committing --")


def floor_text(result: dict) -> str:
    f = result["floor"]
    plain = {c.key: c for c in result["merges"]}["plain"]
    git_alone = plain.median("cpu", "without")
    return (f"-- the least a hook adds: post-merge with nothing to do {f['hook']:.2f} ms CPU "
            f"(sh alone {f['sh']:.2f}, migmerge --version alone {f['migmerge']:.2f}); "
            f"that is {1 + f['hook'] / git_alone:.2f}x of this plain merge's {git_alone:.1f} ms --")


def breakdown_lines(rows: list) -> list:
    out = [f"{'part':<64} {'count':>5} {'total ms':>9}"]
    for name, count, ms, indent in rows:
        out.append(f"{'  ' * indent + name:<64} {count:>5} {ms:>9.1f}")
    return out


def render_text(report: dict) -> str:
    out = []
    for result in report["results"]:
        p = result["project"]
        out.append(f"\n== {p.title}: {p.migrations:,} migration files; {p.note} ==")
        out.append(f"-- git merge, {runs_text(report)} in each clone, medians (CPU: user + sys of the process tree) --")
        out += merge_lines(result)
        out.append(floor_text(result))
        out.append(process_floor_text(result))
        out.append("-- one resolving merge, from GIT_TRACE2_EVENT --")
        out += breakdown_lines(result["breakdown"])
        out.append(f"-- read paths, {report['read_runs']} runs each --")
        out += [readbench.TEXT_HEADER, *readbench.text_rows(result["reads"])]
        out += [f"  {label} / work-tree check: {r:.2f}x" for _, label, r in read_ratios(result)]
        out.append("-- targets (issue 14) --")
        out += [f"  {name}: {value} -> {ok}" for name, value, ok in targets(result)]
    out.append("\n== ratios to the same work without migmerge (or to the work-tree check) ==")
    out += summary_text(report)
    return "\n".join(out)


def summary_rows(report: dict) -> list:
    header = ["ratio"] + [r["project"].key for r in report["results"]]
    rows = [header]

    def row(label, values):
        rows.append([label] + values)

    cases = [{c.key: c for c in r["merges"]} for r in report["results"]]
    row("resolving merge, CPU (target <= 3x)", [f"{c['siblings'].ratio('cpu'):.2f}x" for c in cases])
    row("resolving merge, wall (target <= 3x)", [f"{c['siblings'].ratio('wall'):.2f}x" for c in cases])
    row("resolving merge, first in the clone (no parse cache), CPU",
        [f"{c['siblings, no parse cache'].ratio('cpu'):.2f}x" for c in cases])
    row("merge touching no migration, CPU (target <= 1.10x)", [f"{c['plain'].ratio('cpu'):.2f}x" for c in cases])
    row("merge touching no migration, wall", [f"{c['plain'].ratio('wall'):.2f}x" for c in cases])
    ratios = [{key: r for key, _, r in read_ratios(res)} for res in report["results"]]
    for key, label, _ in READ_PATHS[1:]:
        row(f"{label.replace('migmerge ', '')} / work tree (target <= 1.5x)",
            [f"{rs[key]:.2f}x" if key in rs else "n/a" for rs in ratios])
    row("work-tree check, ms", [readbench.fmt_ms(next(m for m in r["reads"] if m.command.key == "worktree").median_ms)
                                for r in report["results"]])
    return rows


def summary_text(report: dict) -> list:
    rows = summary_rows(report)
    return [f"{r[0]:<56} " + " ".join(f"{v:>9}" for v in r[1:]) for r in rows]


def render_markdown(report: dict) -> str:
    md = ["# migmerge inside git: merges and read paths", ""]
    md.append(f"Written by `bench/git_overhead.py` on {report['date']}; every figure below was measured by that run.")
    md += ["", "Command:", "", "```", report["command"], "```", "", "## Machine", ""]
    md += [f"- {k}: {v}" for k, v in report["machine"]]
    md += [
        "", "## Method", "",
        "Each project is cloned twice and `migmerge install --local` runs in one clone only. "
        "Both clones configure the same `user.name` and `user.email`, and the merges run without "
        "git's identity and date variables, as a user's do. "
        "`git merge --no-edit BRANCH` runs as a whole process in both, alternating which goes first, "
        "each time from a `git reset --hard` to the same `main`; a first, uncounted run warms the page "
        "cache and checks what the merge did. Wall and CPU time (user + system of the whole process tree, "
        "from `wait4`) are medians. `plain` adds no migration; `siblings` brings migrations that are "
        "siblings of `main`'s, which the driver and hooks resolve. migmerge's parse cache "
        "(`.git/migmerge/parse-cache`, which every hook and driver run keeps) stays from one merge to "
        "the next, as in a user's clone; `siblings, no parse cache` deletes it before each merge, as "
        "in a clone's first merge. The breakdown is one more resolving "
        "merge under `GIT_TRACE2_EVENT` (wall time of each process). The read paths are timed as in "
        "`bench/run.py`: one warm-up, then the median of the runs.",
        "", "## Ratios", "",
    ]
    rows = summary_rows(report)
    md.append("| " + " | ".join(rows[0]) + " |")
    md.append("|---|" + "---:|" * (len(rows[0]) - 1))
    md += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    for result in report["results"]:
        p = result["project"]
        md += ["", f"## {p.title}", "", f"{p.migrations:,} migration files; {p.note}.", ""]
        md += [f"Merges, {runs_text(report)} in each clone, medians:", "",
               "| merge | measure | without migmerge ms | with migmerge ms | ratio | what the hooks did |",
               "|---|---|---:|---:|---:|---|"]
        for case in result["merges"]:
            did = "resolved the siblings" if case.outcome["with"]["resolved"] else "changed nothing"
            if case.branch == "siblings":
                did += ("; without migmerge git stops on conflicts" if case.outcome["without"]["stopped"]
                        else "; without migmerge the merge leaves two leaves")
            for kind in ("wall", "cpu"):
                md.append(f"| {case.key} | {kind} | {case.median(kind, 'without'):.1f} | "
                          f"{case.median(kind, 'with'):.1f} | {case.ratio(kind):.2f}x | {did if kind == 'wall' else ''} |")
        md += ["", floor_text(result).strip("- ").replace("the least a hook adds:", "The least a hook adds:") + ".",
               "", process_floor_text(result).strip("- ").replace("the least", "The least", 1) + ".",
               "", "One resolving merge, from `GIT_TRACE2_EVENT` (wall time):", "",
               "| part | count | total ms |", "|---|---:|---:|"]
        for name, count, ms, indent in result["breakdown"]:
            md.append(f"| {'&emsp;' * indent}{name} | {count} | {ms:.1f} |")
        md += ["", f"Read paths, {report['read_runs']} runs each:", ""]
        md += readbench.markdown_table(result["reads"])
        md += ["", "| target (issue 14) | measured | verdict |", "|---|---:|---|"]
        md += [f"| {n} | {v} | {ok} |" for n, v, ok in targets(result)]
    return "\n".join(md) + "\n"


# ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="generated corpus sizes, comma-separated ('' for none)")
    parser.add_argument("--runs", type=int, default=11, help="counted sibling merges per clone (default 11)")
    parser.add_argument("--plain-runs", type=int, default=31,
                        help="counted plain merges per clone (default 31: they are short, and a 1.10x target "
                             "needs the median within a millisecond)")
    parser.add_argument("--read-runs", type=int, default=5, help="timed runs per read path (default 5)")
    parser.add_argument("--no-real", action="store_true", help="skip the real project")
    parser.add_argument("--real-source", default=real_project.DEFAULT_URL,
                        help="where to clone saleor from: its public repository (default) or a local clone or mirror")
    parser.add_argument("--real-tag", default=real_project.DEFAULT_TAG, help="the saleor tag (default %(default)s)")
    parser.add_argument("--migmerge", type=Path, default=REPO / "target" / "release" / "migmerge")
    parser.add_argument("--cache-dir", type=Path, default=REPO / "target" / "bench-corpus")
    parser.add_argument("--out", type=Path, default=BENCH / "merge-results.md")
    args = parser.parse_args()

    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, not {args.sizes!r}")
    if min(args.runs, args.plain_runs, args.read_runs) < 1:
        parser.error("--runs, --plain-runs and --read-runs must be at least 1")
    source = args.migmerge.resolve()
    if not os.access(source, os.X_OK):
        parser.error(f"{source} is not an executable: run `cargo build --release` first (or pass --migmerge)")
    cache = args.cache_dir.resolve()

    with tempfile.TemporaryDirectory(prefix="migmerge-git-bench-") as tmp_name:
        tmp = Path(tmp_name)
        # A private copy on PATH: the hooks find migmerge there, and a rebuild during the run
        # cannot swap the binary mid-table.
        bindir = tmp / "bin"
        bindir.mkdir()
        migmerge = bindir / "migmerge"
        shutil.copy2(source, migmerge)
        env = readbench.quiet_git_env()
        env.pop("MIGMERGE", None)
        env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
        machine = readbench.machine_info(argparse.Namespace(migmerge=migmerge, migmerge_source=source,
                                                            django_python=None))
        report = {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python3 " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]]),
            "machine": machine, "runs": {"plain": args.plain_runs, "siblings": args.runs}, "read_runs": args.read_runs, "results": [],
        }
        jobs = [("generated", size) for size in sizes] + ([] if args.no_real else [("real", None)])
        for kind, size in jobs:
            home = tmp / (f"n{size}" if size else "saleor")
            home.mkdir()
            try:
                if kind == "generated":
                    progress(f"{size:,} generated migrations:")
                    project = generated_project(size, home / "source", cache, migmerge, env)
                else:
                    progress(f"saleor {args.real_tag}:")
                    project = saleor_project(args, home / "source", cache, migmerge, env)
            except real_project.SetupError as exc:
                sys.exit(f"git_overhead.py: {exc}")
            project.migrations = count_migrations(project.source, env)
            clones = {}
            for clone in ("without", "with"):
                clones[clone] = home / clone
                user_clone(project.source, clones[clone], env)
                for branch in ("plain", "siblings"):
                    git(clones[clone], "branch", "-q", branch, f"origin/{branch}", env=env)
            subprocess.run([str(migmerge), "install", "--local", "--repo", str(clones["with"])],
                           env=env, check=True, capture_output=True)
            main_commit = git(project.source, "rev-parse", "main", env=env)
            user = as_a_user_merges(env)
            merges = time_merges(project, clones, main_commit, {"plain": args.plain_runs, "siblings": args.runs},
                                 migmerge, user)
            rows = trace_merge(clones, main_commit, user, home)
            git(clones["with"], "reset", "-q", "--hard", main_commit, env=env)
            floor = hook_floor(clones["with"], args.plain_runs, user)
            process = process_floor(project.source, home, main_commit, args.runs, migmerge, user)
            git(clones["without"], "reset", "-q", "--hard", main_commit, env=env)
            reads = read_paths(clones["without"], migmerge, args.read_runs, env)
            report["results"].append({"project": project, "merges": merges, "breakdown": rows, "reads": reads,
                                      "floor": floor, "process_floor": process})
            shutil.rmtree(home, ignore_errors=True)

    report["machine"].append(("load average at end", " ".join(f"{x:.2f}" for x in os.getloadavg())))
    print(render_text(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_markdown(report))
    progress(f"\nwrote {args.out}")
    failed = any(m.error for r in report["results"] for m in r["reads"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
