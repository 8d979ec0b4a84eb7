#!/usr/bin/env python3
"""Benchmark `migmerge check` against reading the files (`cat`) and Django's own loader.

    cargo build --release
    python3 bench/run.py [--sizes 1000,10000,50000] [--runs 5]
        [--django-python PATH] [--migmerge PATH] [--out bench/results.md] [--peers]

For each size, a project is generated with bench/generate.py (--git
--max-migration; cached under target/bench-corpus/ and regenerated when the
generator changes), then every command below runs as a whole process: once to
warm the page cache (and Python's bytecode cache), then --runs times.  Wall
time is taken around the process; peak memory is the warm-up's, taken by GNU
time when installed (see run_process for why), else the ru_maxrss of wait4(2).
The table shows the median, min and max wall time and the peak RSS.

  migmerge check                   the work tree (main, 3 conflicting apps)
  migmerge check --rev HEAD        the same tree read from git objects
  migmerge check --against feature in-memory merge of main and feature
  cat floor                        one `find ... -exec cat {} +` of every migration file
  Django loader                    bench/django_loader.py: django.setup() +
                                   MigrationLoader(None).detect_conflicts()
  Django makemigrations --check    manage.py makemigrations --check --dry-run

With --peers, the tools a team might use instead are installed into the Django
venv with pip (if missing) and measured in a separate section:
django-linear-migrations (`manage.py check` with it installed) and
rebase-migrations (its dry run on a tree stopped mid-rebase on conflicting
max_migration.txt files, beside migmerge on that same tree).

With --lint, `migmerge lint` is measured too: over every migration (`--all`),
over the migrations the checked-out branch holds that `feature` does not
(`--since feature`), and with the default scope (the branch since its merge
base with the protected ref: on `main` itself, none, so the row is the cost of
deciding the scope).  With --lint and a Django Python, django-migration-linter
(installed into that venv with pip if missing) lints the same project as
`migmerge lint --all`, at the sizes of --lint-peer-sizes (default 1000: it
takes minutes there).  Its project is generated with --conflicts 0
--squashes 0, as it cannot run on the main corpus: it reads each migration's
SQL through `sqlmigrate`, whose loader keeps replaced migrations (a squash
whose originals are deleted leaves dangling dependencies) and which refuses
the ambiguous name prefix of two sibling leaves.  It runs once without its
cache (`--no-cache`: the migrations a branch adds are new to it), timed cold
(no warm-up), with its own timeout (--lint-peer-timeout); then with its cache
of results by file content warm (the warm-up fills it), its best case.

Everything printed, and the Markdown written to --out, comes from the
measurements of this run: nothing is typed in by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
DEFAULT_DJANGO_PYTHON = "/tmp/venvs/dj61/bin/python"
# Past this warm-up time a command runs at most SLOW_RUNS times, so that the
# 50k Django rows do not take an hour; the table shows the run count.
SLOW_SECONDS = 30.0
SLOW_RUNS = 3


# ---------------------------------------------------------------------------
# Running one process and measuring it.
# ---------------------------------------------------------------------------


@dataclass
class Outcome:
    wall: float  # seconds
    rss_kb: int
    cpu: float  # seconds of user + system time, the whole process tree that was waited for
    code: int
    timed_out: bool
    stdout: str = ""
    stderr: str = ""


def find_gnu_time() -> str | None:
    """GNU time, if installed: the exact way to get a child's peak RSS (see below)."""
    path = shutil.which("time", path="/usr/bin:/bin:/usr/local/bin")
    if not path:
        return None
    probe = subprocess.run([path, "-f", "%M", "-o", os.devnull, "true"], capture_output=True)
    return path if probe.returncode == 0 else None


GNU_TIME = find_gnu_time()


def run_process(argv, cwd, env, timeout: float, capture: bool = False, exact_rss: bool = False) -> Outcome:
    """Run argv to completion; wall time and peak RSS of the whole process tree.

    os.wait4 gives the child's rusage including the descendants it waited for
    (`find` waits for its `cat`s), which `subprocess` does not expose.  But
    Linux carries a process's peak RSS across execve, and a child forked from
    this Python runner starts with the runner's ~20 MB: ru_maxrss is then
    max(runner, command).  With exact_rss the command runs under GNU time,
    a small process whose own child's ru_maxrss is the command's alone.
    """
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out, \
            tempfile.NamedTemporaryFile(mode="r") as rss_file:
        if exact_rss and GNU_TIME:
            argv = [GNU_TIME, "-f", "%M", "-o", rss_file.name, "--", *argv]
        timed_out = threading.Event()
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out if capture else subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own process group, so a timeout kills all of it
        )

        def kill():
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        err.seek(0)
        out.seek(0)
        rss_kb = usage.ru_maxrss  # kilobytes on Linux
        if exact_rss and GNU_TIME:
            # GNU time may write "Command exited with non-zero status 1" first.
            lines = [line for line in rss_file.read().splitlines() if line.strip()]
            if lines and lines[-1].strip().isdigit():
                rss_kb = int(lines[-1])
        return Outcome(
            wall=wall,
            rss_kb=rss_kb,
            cpu=usage.ru_utime + usage.ru_stime,
            code=proc.returncode,
            timed_out=timed_out.is_set(),
            stdout=out.read().decode(errors="replace") if capture else "",
            stderr=err.read().decode(errors="replace"),
        )


@dataclass
class Command:
    key: str  # stable id used for ratios
    label: str  # shown in tables
    argv: list
    cwd: Path
    env: dict | None = None
    ok: tuple = (0, 1)  # conflicts exist, so 1 is the expected answer of the checkers
    probe: list | None = None  # extra untimed run whose JSON stdout feeds the agreement checks
    peer: bool = False  # shown in the separate, optional peers table
    once: bool = False  # too slow to repeat: one timed run, no warm-up
    timeout: float | None = None  # overrides --timeout


@dataclass
class Measurement:
    command: Command
    walls: list = field(default_factory=list)
    rss_kb: int = 0
    rss_exact: bool = True  # False: ru_maxrss may be the runner's own peak (no GNU time)
    codes: list = field(default_factory=list)
    probe_stdout: str = ""
    error: str | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.walls) * 1000

    @property
    def min_ms(self) -> float:
        return min(self.walls) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.walls) * 1000

    @property
    def peak_mb(self) -> float:
        return self.rss_kb / 1024

    @property
    def peak_text(self) -> str:
        return f"{self.peak_mb:.1f}" if self.rss_exact else f"<={self.peak_mb:.1f}"


def describe_failure(cmd: Command, outcome: Outcome) -> str:
    if outcome.timed_out:
        return f"timed out after {outcome.wall:.0f} s"
    tail = "\n".join(outcome.stderr.strip().splitlines()[-15:])
    return f"exit {outcome.code} (expected {'/'.join(map(str, cmd.ok))})" + (f":\n{tail}" if tail else "")


def measure(cmd: Command, runs: int, timeout: float) -> Measurement:
    if cmd.timeout is not None:
        timeout = cmd.timeout
    if cmd.once:
        return measure_once(cmd, timeout)
    m = Measurement(cmd)
    progress(f"    {cmd.label:<44} warm-up ...")
    # The warm-up fills the page cache (and Python's bytecode cache) and, under
    # GNU time, gives the exact peak RSS.  Timed runs are not wrapped, so the
    # wrapper's fork costs no wall time.
    warm = run_process(cmd.argv, cmd.cwd, cmd.env, timeout, capture=True, exact_rss=True)
    if warm.timed_out or warm.code not in cmd.ok:
        m.error = describe_failure(cmd, warm)
        progress(f"    {cmd.label:<44} FAILED: {m.error}")
        return m
    m.probe_stdout = warm.stdout
    if cmd.probe:
        probe = run_process(cmd.probe, cmd.cwd, cmd.env, timeout, capture=True)
        m.probe_stdout = probe.stdout
    n = runs if warm.wall < SLOW_SECONDS else min(runs, SLOW_RUNS)
    runner_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m.rss_kb = warm.rss_kb
    for _ in range(n):
        outcome = run_process(cmd.argv, cmd.cwd, cmd.env, timeout)
        if outcome.timed_out or outcome.code not in cmd.ok:
            m.error = describe_failure(cmd, outcome)
            progress(f"    {cmd.label:<44} FAILED: {m.error}")
            return m
        m.walls.append(outcome.wall)
        m.codes.append(outcome.code)
        if not GNU_TIME:
            m.rss_kb = max(m.rss_kb, outcome.rss_kb)
    if not GNU_TIME:
        # Without GNU time, a figure at the runner's own peak is only an upper bound.
        m.rss_exact = m.rss_kb > runner_peak * 1.05
    progress(f"    {cmd.label:<44} {m.median_ms:10.1f} ms median of {n}, {m.peak_text} MB")
    return m


def measure_once(cmd: Command, timeout: float) -> Measurement:
    """One timed run, under GNU time for the peak RSS (its fork is noise at this scale)."""
    m = Measurement(cmd)
    progress(f"    {cmd.label:<44} one run (timeout {timeout:.0f} s) ...")
    outcome = run_process(cmd.argv, cmd.cwd, cmd.env, timeout, capture=True, exact_rss=True)
    if outcome.timed_out or outcome.code not in cmd.ok:
        m.error = describe_failure(cmd, outcome)
        progress(f"    {cmd.label:<44} FAILED: {m.error}")
        return m
    m.probe_stdout = outcome.stdout
    m.walls.append(outcome.wall)
    m.codes.append(outcome.code)
    m.rss_kb = outcome.rss_kb
    progress(f"    {cmd.label:<44} {m.median_ms:10.1f} ms, one run, {m.peak_text} MB")
    return m


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Corpora.
# ---------------------------------------------------------------------------


def generator_fingerprint() -> str:
    """A corpus is reused only if it was made by this very generator."""
    return hashlib.sha256((BENCH / "generate.py").read_bytes()).hexdigest()[:16]


def ensure_corpus(
    size: int, seed: int, cache: Path, timeout: float, conflicts: int | None = None, variant: tuple = ()
) -> tuple[Path, dict]:
    """The generated project of this size and seed, reused while the generator is unchanged.
    `conflicts` (default: the generator's) sets how many apps end with sibling leaves on `main`;
    `variant` is (key suffix, extra generate.py arguments)."""
    suffix, extra = variant if variant else ("", [])
    key = f"n{size}-s{seed}" + ("" if conflicts is None else f"-c{conflicts}") + suffix
    root, stamp = cache / key, cache / f"{key}.json"
    fingerprint = generator_fingerprint()
    if stamp.is_file() and root.is_dir():
        manifest = json.loads(stamp.read_text())
        if manifest.get("generator") == fingerprint:
            progress(f"  reusing {root}")
            return root, manifest
    for stale in (root, cache / f"{key}-rebasing"):
        shutil.rmtree(stale, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    progress(f"  generating {size} migrations into {root} ...")
    with tempfile.TemporaryDirectory() as tmp:
        manifest_path = Path(tmp) / "manifest.json"
        argv = [
            sys.executable, str(BENCH / "generate.py"), str(root), "--migrations", str(size),
            "--seed", str(seed), "--git", "--max-migration", "--manifest", str(manifest_path), *extra,
        ]
        if conflicts is not None:
            argv += ["--conflicts", str(conflicts)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            sys.exit(f"run.py: generating the {size}-migration corpus failed:\n{result.stderr}{result.stdout}")
        manifest = json.loads(manifest_path.read_text())
    manifest["generator"] = fingerprint
    stamp.write_text(json.dumps(manifest, indent=2) + "\n")  # written last: marks the corpus complete
    progress(f"  generated in {manifest['seconds']} s")
    return root, manifest


def quiet_git_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.invalid",
        GIT_AUTHOR_DATE="2024-06-06T10:00:00+0000",
        GIT_COMMITTER_DATE="2024-06-06T10:00:00+0000",
    )
    return env


def ensure_rebasing_tree(corpus: Path, key: str, cache: Path) -> Path:
    """A linked worktree of `feature` stopped while rebasing onto `main`.

    That is the state rebase-migrations is made for: both branches changed the
    same apps' max_migration.txt, so the rebase stops on those files with
    conflict markers in them.
    """
    tree = cache / f"{key}-rebasing"
    if (tree / ".git").is_file():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    env = quiet_git_env()
    git = ["git", "-c", "gc.auto=0"]
    subprocess.run([*git, "worktree", "prune"], cwd=corpus, env=env, check=True)
    subprocess.run([*git, "worktree", "add", "-q", "--detach", str(tree), "feature"], cwd=corpus, env=env, check=True)
    rebase = subprocess.run([*git, "rebase", "main"], cwd=tree, env=env, capture_output=True, text=True)
    if rebase.returncode == 0:
        raise RuntimeError("the rebase of feature onto main did not stop on conflicts")
    return tree


# ---------------------------------------------------------------------------
# The commands of one size.
# ---------------------------------------------------------------------------


def python_env(cache: Path, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    # Let Django's process keep compiled bytecode between runs (outside the
    # corpus, so the trees stay clean): Django is measured at its best, as on
    # a developer's machine, not as in a fresh CI checkout.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache / "pycache")
    env.update(extra or {})
    return env


def main_commands(corpus: Path, args, cache: Path) -> list:
    mm = str(args.migmerge)
    cmds = [
        Command("worktree", "migmerge check", [mm, "check"], corpus, probe=[mm, "check", "--format", "json"]),
        Command(
            "rev", "migmerge check --rev HEAD", [mm, "check", "--rev", "HEAD"], corpus,
            probe=[mm, "check", "--rev", "HEAD", "--format", "json"],
        ),
        Command(
            "against", "migmerge check --against feature", [mm, "check", "--against", "feature"], corpus,
            probe=[mm, "check", "--against", "feature", "--format", "json"],
        ),
        Command(
            "floor", "cat floor (find -exec cat)",
            ["find", ".", "-path", "./.git", "-prune", "-o", "-name", "*.py", "-path", "*/migrations/*",
             "-exec", "cat", "{}", "+"],
            corpus, ok=(0,),
        ),
    ]
    if args.lint:
        # Findings are expected (exit 1): the generated migrations drop and rename things.
        cmds += [
            Command("lint_all", "migmerge lint --all", [mm, "lint", "--all"], corpus),
            Command("lint_since", "migmerge lint --since feature", [mm, "lint", "--since", "feature"], corpus),
            Command("lint_default", "migmerge lint (default scope)", [mm, "lint"], corpus),
        ]
    if args.django_python:
        py = args.django_python
        cmds += [
            Command(
                "django", "Django loader (detect_conflicts)",
                [py, str(BENCH / "django_loader.py"), str(corpus), "--json"], corpus, env=python_env(cache),
            ),
            Command(
                "makemigrations", "Django makemigrations --check --dry-run",
                [py, "manage.py", "makemigrations", "--check", "--dry-run"], corpus, env=python_env(cache),
            ),
        ]
    return cmds


PEER_PACKAGES = {"django_linear_migrations": "django-linear-migrations", "rebase_migrations": "rebase-migrations"}


def peer_modules(py: str, packages: dict = PEER_PACKAGES) -> dict:
    """Which of `packages` import in the Django venv: {module: bool}."""
    found = {}
    for module in packages:
        probe = subprocess.run([py, "-c", f"import {module}"], capture_output=True)
        found[module] = probe.returncode == 0
    return found


def install_peers(py: str, notes: list, packages: dict = PEER_PACKAGES) -> dict:
    """Installs the missing `packages` ({module: PyPI name}) into `py`: {module: importable}."""
    found = peer_modules(py, packages)
    missing = [packages[m] for m, ok in found.items() if not ok]
    if missing:
        progress(f"  installing {', '.join(missing)} into {py} with pip (rebase-migrations builds from source) ...")
        result = subprocess.run([py, "-m", "pip", "install", "--quiet", *missing], capture_output=True, text=True)
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-5:])
            notes.append(f"pip install {' '.join(missing)} failed; those peers are skipped. pip said: {tail}")
        found = peer_modules(py, packages)
    for module, ok in found.items():
        if not ok:
            notes.append(f"{packages[module]} is not importable by {py}: skipped.")
    return found


def peer_commands(corpus: Path, key: str, args, cache: Path, available: dict, notes: list) -> list:
    py = args.django_python
    cmds = []
    if available.get("django_linear_migrations"):
        # Its system check runs in `manage.py check` once the app is installed.
        settings_dir = cache / "peer-settings"
        settings_dir.mkdir(parents=True, exist_ok=True)
        (settings_dir / "bench_dlm_settings.py").write_text(
            "from benchproject.settings import *  # noqa: F403\n\n"
            'INSTALLED_APPS = [*INSTALLED_APPS, "django_linear_migrations"]  # noqa: F405\n'
        )
        env = python_env(cache, {"DJANGO_SETTINGS_MODULE": "bench_dlm_settings", "PYTHONPATH": str(settings_dir)})
        cmds.append(
            Command("dlm", "django-linear-migrations (manage.py check)", [py, "manage.py", "check"], corpus,
                    env=env, peer=True)
        )
    if available.get("rebase_migrations"):
        try:
            tree = ensure_rebasing_tree(corpus, key, cache)
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            notes.append(f"could not prepare the mid-rebase tree for rebase-migrations: {exc}")
            return cmds
        # The PyPI package is a Python extension (its CLI binary is not on PyPI):
        # its documented entry point is rebase_migrations.dry_run(path).
        script = "import sys, rebase_migrations; rebase_migrations.dry_run(sys.argv[1])"
        cmds += [
            Command("rebase", "rebase-migrations dry_run (mid-rebase tree)", [py, "-c", script, str(tree)], tree,
                    env=python_env(cache), ok=(0,), peer=True),
            Command("rebase_mm", "migmerge check (same mid-rebase tree)", [str(args.migmerge), "check"], tree,
                    peer=True),
        ]
    return cmds


LINT_PEER = {"django_migration_linter": "django-migration-linter"}
# The linter's project: see the module docstring for why it has no conflicts or squashes.
LINT_PEER_VARIANT = ("-lintpeer", ["--conflicts", "0", "--squashes", "0"])


def lint_peer_commands(size: int, args, cache: Path) -> list:
    """django-migration-linter and `migmerge lint --all` on the linter's project of this size."""
    corpus, _ = ensure_corpus(size, args.seed, cache, timeout=max(args.timeout, 1200), variant=LINT_PEER_VARIANT)
    settings_dir = cache / "peer-settings"
    settings_dir.mkdir(parents=True, exist_ok=True)
    (settings_dir / "bench_linter_settings.py").write_text(
        "from benchproject.settings import *  # noqa: F403\n\n"
        'INSTALLED_APPS = [*INSTALLED_APPS, "django_migration_linter"]  # noqa: F405\n'
    )
    env = python_env(cache, {"DJANGO_SETTINGS_MODULE": "bench_linter_settings", "PYTHONPATH": str(settings_dir)})
    cmds = [
        Command("lint_peer_mm", "migmerge lint --all (linter's project)", [str(args.migmerge), "lint", "--all"],
                corpus, peer=True),
        # Exit 1: it finds errors (NOT NULL columns, dropped columns), as migmerge does.
        # Without its cache, as on the migrations a branch adds, which it has never seen.
        Command("lint_peer_dml", "django-migration-linter (lintmigrations --no-cache)",
                [args.django_python, "manage.py", "lintmigrations", "--no-cache"], corpus, env=env, peer=True,
                once=True, timeout=args.lint_peer_timeout),
        # With its cache of results by file content warm (the warm-up fills it): every file
        # linted before, its best case.
        Command("lint_peer_dml_cached", "django-migration-linter, its cache warm",
                [args.django_python, "manage.py", "lintmigrations", "--cache-path", str(cache / "linter-cache")],
                corpus, env=env, peer=True, timeout=args.lint_peer_timeout),
    ]
    return cmds


def linter_total(m: Measurement | None) -> int | None:
    """How many migrations django-migration-linter's summary says it looked at."""
    if m is None or m.error:
        return None
    for line in m.probe_stdout.splitlines():
        if line.startswith("Valid migrations:"):
            return int(line.rsplit("/", 1)[1])
    return None


# ---------------------------------------------------------------------------
# Agreement checks: the benchmark is only meaningful if every tool saw the
# conflicts the generator planted.
# ---------------------------------------------------------------------------


def conflict_apps_of(m: Measurement | None, kind: str):
    if m is None or m.error or not m.probe_stdout.strip():
        return None
    try:
        data = json.loads(m.probe_stdout)
    except json.JSONDecodeError:
        return None
    if kind == "migmerge":
        return {c["app"]: sorted(c["leaves"]) for c in data.get("conflicts", [])}
    return {app: sorted(leaves) for app, leaves in data.get("conflicts", {}).items()}


def agreement(by_key: dict, manifest: dict) -> list:
    lines = []
    expected = set(manifest["conflict_apps"])
    work = conflict_apps_of(by_key.get("worktree"), "migmerge")
    rev = conflict_apps_of(by_key.get("rev"), "migmerge")
    against = conflict_apps_of(by_key.get("against"), "migmerge")
    django = conflict_apps_of(by_key.get("django"), "django")

    def verdict(name, got, want):
        if got is None:
            return f"{name}: not checked"
        ok = set(got) == set(want)
        return f"{name}: {'ok' if ok else 'MISMATCH'} ({len(got)} conflicting apps, expected {len(want)})"

    lines.append(verdict("migmerge check vs planted conflicts", work, expected))
    lines.append(verdict("migmerge check --rev HEAD vs planted conflicts", rev, expected))
    lines.append(verdict("migmerge check --against feature vs planted", against, manifest["against_feature_conflict_apps"]))
    linted = linter_total(by_key.get("lint_peer_dml"))
    if linted is not None:
        project = by_key["lint_peer_dml"].command.cwd.name
        lines.append(f"django-migration-linter linted {linted} migrations of its project ({project})")
    if django is not None:
        lines.append(verdict("Django loader vs planted conflicts", django, expected))
        if work is not None:
            same = work == django
            lines.append(f"migmerge leaves == Django leaves: {'ok' if same else 'MISMATCH'}")
    return lines


# ---------------------------------------------------------------------------
# Reporting.
# ---------------------------------------------------------------------------


def machine_info(args) -> list:
    def first(path, prefix):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "unknown"

    def output(argv, cwd=None):
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "unknown"

    mem_kb = first("/proc/meminfo", "MemTotal").split()[0]
    mem = f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "unknown"
    head = output(["git", "rev-parse", "--short", "HEAD"], cwd=REPO)
    dirty = output(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "Cargo.toml", "Cargo.lock"], cwd=REPO)
    info = [
        ("CPU", f"{first('/proc/cpuinfo', 'model name')} ({os.cpu_count()} logical CPUs, nproc {len(os.sched_getaffinity(0))})"),
        ("memory", mem),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        # The binary may predate the checkout: say when it was built, and what the repo held then.
        ("migmerge", f"{output([str(args.migmerge), '--version'])} ({args.migmerge_source}, sha256 "
                     f"{hashlib.sha256(args.migmerge.read_bytes()).hexdigest()[:12]}, built "
                     f"{dt.datetime.fromtimestamp(args.migmerge.stat().st_mtime, dt.timezone.utc):%Y-%m-%d %H:%M} UTC)"),
        ("repository at run time", f"{head}{' with uncommitted changes in src/ or Cargo files' if dirty else ''}"),
        ("git", output(["git", "--version"])),
        ("runner Python", platform.python_version()),
    ]
    if args.django_python:
        version = output([args.django_python, "-c", "import sys, django; print(django.get_version(), 'on Python', sys.version.split()[0])"])
        info.append(("Django", version))
    return info


def fmt_ms(x: float) -> str:
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def ratio(a: Measurement | None, b: Measurement | None) -> float | None:
    if not a or not b or a.error or b.error or not a.walls or not b.walls:
        return None
    return (statistics.median(a.walls)) / (statistics.median(b.walls))


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else (f"{r:.2f}x" if r < 10 else f"{r:,.0f}x")


RATIOS = [
    ("migmerge check / cat floor", "worktree", "floor"),
    ("Django loader / migmerge check", "django", "worktree"),
    ("Django makemigrations / migmerge check", "makemigrations", "worktree"),
    ("check --against / work-tree check", "against", "worktree"),
    ("check --rev / work-tree check", "rev", "worktree"),
    ("django-linear-migrations check / migmerge check", "dlm", "worktree"),
    ("rebase-migrations / migmerge (same mid-rebase tree)", "rebase", "rebase_mm"),
    ("migmerge lint --all / cat floor", "lint_all", "floor"),
    ("migmerge lint (default scope) / cat floor", "lint_default", "floor"),
    ("migmerge lint --since feature / cat floor", "lint_since", "floor"),
    ("django-migration-linter / migmerge lint --all (same project)", "lint_peer_dml", "lint_peer_mm"),
    ("django-migration-linter, cache warm / migmerge lint --all (same project)", "lint_peer_dml_cached",
     "lint_peer_mm"),
]


def targets(results: dict) -> list:
    """Issue 6's targets, each with the figure this run measured."""
    rows = []

    def add(name, size, value, ok, shown):
        rows.append((name, f"{size:,}", shown if value is not None else "not measured",
                     "n/a" if value is None else ("met" if ok else "NOT met")))

    sizes = sorted(results)
    for size in sizes:
        k = {m.command.key: m for m in results[size]["measurements"]}
        if size == 10000 or (10000 not in results and size == sizes[-1]):
            r = ratio(k.get("worktree"), k.get("floor"))
            add("check within 2x of the cat floor (set for 10k)", size, r, r is not None and r <= 2, fmt_ratio(r))
        r = ratio(k.get("django"), k.get("worktree"))
        add("check at least 30x faster than the Django loader", size, r, r is not None and r >= 30, fmt_ratio(r))
        if size == 10000:
            add("check at least 80x faster than the Django loader (issue 14, set for 10k)", size, r,
                r is not None and r >= 80, fmt_ratio(r))
        r = ratio(k.get("rebase"), k.get("rebase_mm"))
        if r is not None:
            add("check at least 3x faster than rebase-migrations", size, r, r >= 3, fmt_ratio(r))
        r = ratio(k.get("against"), k.get("worktree"))
        add("check --against within 3x of the work-tree check", size, r, r is not None and r <= 3, fmt_ratio(r))
        if size == 10000 or (10000 not in results and size == sizes[-1]):
            for key, label in (("lint_default", "lint (default scope)"), ("lint_since", "lint --since feature"),
                               ("lint_all", "lint --all")):
                if key in k:
                    r = ratio(k.get(key), k.get("floor"))
                    add(f"{label} within the check target, 1x the cat floor (set for 10k)", size, r,
                        r is not None and r <= 1, fmt_ratio(r))
        r = ratio(k.get("lint_peer_dml"), k.get("lint_peer_mm"))
        if "lint_peer_dml" in k:
            add("lint at least 100x faster than django-migration-linter (no cache)", size, r,
                r is not None and r >= 100, fmt_ratio(r))
        if size == 50000 or size == sizes[-1]:
            peaks = [k[x].peak_mb for x in ("worktree", "rev", "against") if x in k and not k[x].error and k[x].walls]
            peak = max(peaks) if peaks else None
            add("migmerge memory below 100 MB (set for 50k)", size, peak,
                peak is not None and peak < 100, f"{peak:.0f} MB" if peak is not None else "")
    return rows


TEXT_HEADER = f"{'command':<46} {'runs':>4} {'exit':>4} {'median ms':>11} {'min ms':>10} {'max ms':>10} {'peak MB':>8}"


def text_rows(measurements: list) -> list:
    rows = []
    for m in measurements:
        if m.error:
            rows.append(f"{m.command.label:<46} FAILED: {m.error.splitlines()[0]}")
            continue
        codes = "/".join(str(c) for c in sorted(set(m.codes)))
        rows.append(
            f"{m.command.label:<46} {len(m.walls):>4} {codes:>4} {fmt_ms(m.median_ms):>11} "
            f"{fmt_ms(m.min_ms):>10} {fmt_ms(m.max_ms):>10} {m.peak_text:>8}"
        )
    return rows


def ratio_rows(measurements: list) -> list:
    k = {m.command.key: m for m in measurements}
    rows = []
    for name, a, b in RATIOS:
        r = ratio(k.get(a), k.get(b))
        if r is not None:
            rows.append((name, fmt_ratio(r)))
    return rows


def render_text(report: dict) -> str:
    out = []
    for size, res in sorted(report["results"].items()):
        man = res["manifest"]
        core = [m for m in res["measurements"] if not m.command.peer]
        peers = [m for m in res["measurements"] if m.command.peer]
        out.append(f"\n== {size:,} migration files, {man['apps']} apps ==")
        out += [TEXT_HEADER, *text_rows(core)]
        if peers:
            out += ["-- peers (optional: --peers; --lint with a Django Python) --", *text_rows(peers)]
        out += [f"  {name}: {value}" for name, value in ratio_rows(res["measurements"])]
        out += [f"  check: {line}" for line in res["agreement"]]
    out.append("\n== scaling (median ms per 1,000 migration files) ==")
    sizes = sorted(report["results"])
    out.append(f"{'command':<46} " + " ".join(f"{s:>10,}" for s in sizes))
    for label, per in scaling_rows(report).items():
        out.append(f"{label:<46} " + " ".join(f"{v:>10}" for v in per))
    out.append("\n== targets (issues 6, 14 and 15) ==")
    for name, size, value, verdict in report["targets"]:
        out.append(f"  {name} [n={size}]: {value} -> {verdict}")
    for note in report["notes"]:
        out.append(f"note: {note}")
    return "\n".join(out)


def scaling_rows(report: dict) -> dict:
    sizes = sorted(report["results"])
    rows = {}
    for key in ("worktree", "rev", "against", "floor", "django"):
        per, label = [], None
        for size in sizes:
            m = next((m for m in report["results"][size]["measurements"] if m.command.key == key), None)
            if m is None or m.error or not m.walls:
                per.append("n/a")
                continue
            label = m.command.label
            per.append(f"{m.median_ms / (size / 1000):.2f}")
        if label:
            rows[label] = per
    return rows


def markdown_table(measurements: list) -> list:
    md = ["| command | runs | exit | median ms | min ms | max ms | peak MB |", "|---|---:|---:|---:|---:|---:|---:|"]
    for m in measurements:
        if m.error:
            md.append(f"| {m.command.label} | failed: {m.error.splitlines()[0]} | | | | | |")
            continue
        codes = "/".join(str(c) for c in sorted(set(m.codes)))
        md.append(
            f"| {m.command.label} | {len(m.walls)} | {codes} | {fmt_ms(m.median_ms)} | "
            f"{fmt_ms(m.min_ms)} | {fmt_ms(m.max_ms)} | {m.peak_text} |"
        )
    return md


def render_markdown(report: dict) -> str:
    md = ["# migmerge benchmark", ""]
    md.append(f"Written by `bench/run.py` on {report['date']}; every figure below was measured by that run.")
    md += ["", "Command:", "", "```", report["command"], "```", "", "## Machine", ""]
    md += [f"- {k}: {v}" for k, v in report["machine"]]
    rss_method = (
        "the peak resident memory of the warm-up run, measured by GNU time"
        if GNU_TIME
        else "the peak resident memory (`ru_maxrss` from `wait4`; `<=` marks a figure that may be the runner's own)"
    )
    md += [
        "",
        "## Method",
        "",
        "Each command runs as a whole process, once to warm the page cache, then several times; "
        f"the tables show the median, min and max wall time of the timed runs and {rss_method}. "
        "The corpus comes from `bench/generate.py --git --max-migration` (realistic migrations, "
        "3 conflicting apps on `main`, 3 more when merging `feature`). "
        f"Commands whose warm-up took over {SLOW_SECONDS:.0f} s run at most {SLOW_RUNS} times. "
        "Django's processes keep their compiled bytecode between runs (`PYTHONPYCACHEPREFIX`), "
        "its best case. Exit 1 is the expected answer of the checkers: the trees have conflicts.",
    ]
    if any(m.command.once for r in report["results"].values() for m in r["measurements"]):
        md += [
            "",
            "django-migration-linter runs once without its cache (no warm-up: it takes minutes; the "
            "migrations a branch adds are new to it), then with its cache warm, on a project generated "
            "with `--conflicts 0 --squashes 0`, beside `migmerge lint --all` on that same project: "
            "it reads each migration's SQL through `sqlmigrate`, whose loader keeps replaced "
            "migrations and refuses the ambiguous prefix of two sibling leaves, so it cannot run "
            "on the main corpus.",
        ]
    for size, res in sorted(report["results"].items()):
        man = res["manifest"]
        core = [m for m in res["measurements"] if not m.command.peer]
        peers = [m for m in res["measurements"] if m.command.peer]
        md += ["", f"## {size:,} migration files ({man['apps']} apps)", ""]
        md += markdown_table(core)
        if peers:
            md += ["", "Peers (optional: `--peers`; `--lint` with a Django Python):", ""] + markdown_table(peers)
        md += ["", "| ratio (medians) | value |", "|---|---:|"]
        md += [f"| {name} | {value} |" for name, value in ratio_rows(res["measurements"])]
        md += [""] + [f"- {line}" for line in res["agreement"]]
    sizes = sorted(report["results"])
    md += ["", "## Scaling (median ms per 1,000 migration files)", ""]
    md += ["| command | " + " | ".join(f"{s:,}" for s in sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for label, per in scaling_rows(report).items():
        md.append(f"| {label} | " + " | ".join(per) + " |")
    md += ["", "## Targets (issues 6, 14 and 15)", "", "| target | size | measured | verdict |", "|---|---:|---:|---|"]
    md += [f"| {n} | {s} | {v} | {ok} |" for n, s, v, ok in report["targets"]]
    if report["notes"]:
        md += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(md) + "\n"


# ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="comma-separated corpus sizes")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per command (after one warm-up)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--migmerge", type=Path, default=REPO / "target" / "release" / "migmerge")
    parser.add_argument("--django-python", help=f"Python with Django installed (default: {DEFAULT_DJANGO_PYTHON} if present)")
    parser.add_argument("--no-django", action="store_true", help="skip the Django rows")
    parser.add_argument("--peers", action="store_true", help="also measure django-linear-migrations and rebase-migrations")
    parser.add_argument("--cache-dir", type=Path, default=REPO / "target" / "bench-corpus")
    parser.add_argument("--no-cache", action="store_true", help="generate into a temporary directory, removed at the end")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per process (default 600)")
    parser.add_argument(
        "--skip", default="",
        help="comma-separated command keys not to run: worktree, rev, against, floor, django, "
             "makemigrations, dlm, rebase, rebase_mm, lint_all, lint_since, lint_default, lint_peer_mm, "
             "lint_peer_dml, lint_peer_dml_cached (e.g. to keep a 50k "
             "run short)",
    )
    parser.add_argument("--lint", action="store_true", help="also measure `migmerge lint` (keys lint_all, lint_since, lint_default), "
                        "and with a Django Python django-migration-linter beside it (keys lint_peer_mm, lint_peer_dml, "
                        "lint_peer_dml_cached)")
    parser.add_argument("--lint-peer-sizes", default="1000", help="sizes at which django-migration-linter runs (default 1000)")
    parser.add_argument("--lint-peer-timeout", type=float, default=3600.0,
                        help="seconds allowed for django-migration-linter's one run (default 3600)")
    parser.add_argument("--out", type=Path, default=BENCH / "results.md")
    args = parser.parse_args()

    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, not {args.sizes!r}")
    if not sizes or min(sizes) < 100 or args.runs < 1:
        parser.error("sizes must be >= 100 and --runs >= 1")
    args.migmerge = args.migmerge.resolve()
    if not os.access(args.migmerge, os.X_OK):
        parser.error(f"{args.migmerge} is not an executable: run `cargo build --release` first (or pass --migmerge)")

    notes = []
    if args.no_django:
        args.django_python = None
    elif args.django_python is None:
        args.django_python = DEFAULT_DJANGO_PYTHON if os.access(DEFAULT_DJANGO_PYTHON, os.X_OK) else None
        if args.django_python is None:
            notes.append(f"no Django Python given and {DEFAULT_DJANGO_PYTHON} is missing: Django rows skipped "
                         "(pass --django-python PATH to a Python with Django installed).")
    if args.django_python:
        # Absolute, as commands run in the corpus; not resolved, which would leave the venv.
        args.django_python = os.path.abspath(args.django_python)
        check = subprocess.run([args.django_python, "-c", "import django"], capture_output=True, text=True)
        if check.returncode != 0:
            notes.append(f"{args.django_python} cannot import django: Django rows skipped.")
            args.django_python = None
    if args.peers and not args.django_python:
        notes.append("--peers needs the Django Python: peers skipped.")

    temp_cache = None
    if args.no_cache:
        temp_cache = tempfile.mkdtemp(prefix="migmerge-bench-")
        args.cache_dir = Path(temp_cache)
    cache = args.cache_dir.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    # Measure a private copy: someone running `cargo build` in the same target
    # directory during a long run would otherwise swap the binary mid-table.
    args.migmerge_source = args.migmerge
    args.migmerge = cache / "bin" / "migmerge"
    args.migmerge.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(args.migmerge_source, args.migmerge)

    report = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python3 " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]]),
        "machine": machine_info(args),
        "results": {},
        "notes": notes,
    }
    available = install_peers(args.django_python, notes) if args.peers and args.django_python else {}
    lint_peer_sizes = {int(s) for s in args.lint_peer_sizes.split(",") if s.strip()}
    lint_peer = bool(args.lint and args.django_python and lint_peer_sizes)
    if lint_peer:
        lint_peer = all(install_peers(args.django_python, notes, LINT_PEER).values())
    elif args.lint and not args.django_python:
        notes.append("--lint without a Django Python: django-migration-linter skipped.")

    try:
        for size in sizes:
            progress(f"size {size:,}:")
            corpus, manifest = ensure_corpus(size, args.seed, cache, timeout=max(args.timeout, 1200))
            cmds = main_commands(corpus, args, cache)
            if available:
                cmds += peer_commands(corpus, f"n{size}-s{args.seed}", args, cache, available, notes)
            if lint_peer and size in lint_peer_sizes:
                cmds += lint_peer_commands(size, args, cache)
            skipped = {k.strip() for k in args.skip.split(",") if k.strip()}
            measurements = [measure(c, args.runs, args.timeout) for c in cmds if c.key not in skipped]
            by_key = {m.command.key: m for m in measurements}
            report["results"][size] = {
                "manifest": manifest,
                "measurements": measurements,
                "agreement": agreement(by_key, manifest),
            }
    finally:
        if temp_cache:
            shutil.rmtree(temp_cache, ignore_errors=True)

    report["machine"].append(("load average at end", " ".join(f"{x:.2f}" for x in os.getloadavg())))
    report["targets"] = targets(report["results"])
    if any(m.error for r in report["results"].values() for m in r["measurements"]):
        notes.append("some commands failed; see their rows.")
    print(render_text(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_markdown(report))
    progress(f"\nwrote {args.out}")
    failed = any(m.error and m.command.key in ("worktree", "rev", "against") for r in report["results"].values()
                 for m in r["measurements"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
