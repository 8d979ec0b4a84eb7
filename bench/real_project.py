"""A real Django project for the git benchmarks: saleor at a pinned tag, with sibling branches
made from its own migrations.

The tag is cloned once (`git clone --depth 1`) into the cache directory. Sibling branches are
then cut from real history: in a few apps whose last two migrations form a plain chain
(... -> N-2 -> N-1 -> N, nothing else in the project naming N-1 or N), the base commit lacks
both, `main` adds N-1 back, and `siblings` adds N back with its parent rewritten from N-1 to
N-2. Merging `siblings` into `main` then brings two real migrations that are siblings of one
another, which is what two developers running `makemigrations` on two branches produce.

Only apps whose pair migmerge can order are kept (an in-memory `check --against` on the cut
branches grades each pair; `breaks` needs a human, so such an app is left out): the benchmark
times a merge the hooks resolve.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "https://github.com/saleor/saleor.git"
DEFAULT_TAG = "3.23.28"
SIBLING_APPS = 3


@dataclass(frozen=True)
class Split:
    """One app's last two migrations, taken apart into siblings."""

    label: str
    directory: str  # the migrations directory, relative to the repository
    grandparent: str  # N-2, the fork point
    ours: str  # N-1, re-added on main
    theirs: str  # N, re-added on siblings with its parent rewritten to N-2


class SetupError(Exception):
    pass


def run_git(repo: Path, *args: str, env: dict) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SetupError(f"git {' '.join(args)} failed in {repo}:\n{done.stderr.strip()}")
    return done.stdout


def ensure_clone(url: str, tag: str, cache: Path, env: dict) -> Path:
    """The tag's tree, cloned once; a marker file written last says the clone is complete."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", tag)
    path = cache / f"saleor-{safe}"
    marker = path.with_name(path.name + ".done")
    if marker.is_file() and (path / ".git").exists():
        return path
    if path.exists():
        shutil.rmtree(path)  # a clone that did not finish
    cache.mkdir(parents=True, exist_ok=True)
    if Path(url).exists():
        url = Path(url).resolve().as_uri()  # git ignores --depth for a plain local path
    done = subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", tag, "--no-tags", url, str(path)],
        env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise SetupError(
            f"could not clone {url} at {tag} (it needs the network; --real-source takes a local "
            f"clone or mirror instead):\n{done.stderr.strip()}"
        )
    marker.write_text(f"{url} {tag}\n")
    return path


# ---------------------------------------------------------------------------
# Reading the migrations with Python's own parser.
# ---------------------------------------------------------------------------


@dataclass
class Module:
    path: str
    references: list  # (label, name) pairs from dependencies, run_before and replaces
    squash: bool


def pairs(node: ast.AST) -> list:
    out = []
    if isinstance(node, (ast.List, ast.Tuple)):
        for item in node.elts:
            if (
                isinstance(item, ast.Tuple)
                and len(item.elts) == 2
                and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in item.elts)
            ):
                out.append((item.elts[0].value, item.elts[1].value))
    return out


def read_module(repo: Path, path: str) -> Module:
    try:
        tree = ast.parse((repo / path).read_bytes(), filename=path)
    except (SyntaxError, ValueError) as exc:
        raise SetupError(f"{path}: cannot parse: {exc}") from exc
    references, squash = [], False
    for cls in tree.body:
        if not (isinstance(cls, ast.ClassDef) and cls.name == "Migration"):
            continue
        for stmt in cls.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                name = stmt.targets[0].id
                if name in ("dependencies", "run_before", "replaces"):
                    references += pairs(stmt.value)
                    squash = squash or name == "replaces"
    return Module(path, references, squash)


def app_label(modules: dict) -> str | None:
    """What the app's own migrations call it: the label their references to names found in this
    directory use most (a reference to another app's `0001_initial` also names a file here)."""
    counts: dict = {}
    for module in modules.values():
        for label, name in module.references:
            if name in modules:
                counts[label] = counts.get(label, 0) + 1
    return max(sorted(counts), key=counts.get) if counts else None


def candidate_splits(repo: Path, env: dict) -> list:
    """Every app whose last two migrations can be cut into siblings, by directory.

    The pair must be a plain chain (one parent each in the app, no squash) that nothing else
    names, and whatever the two name in other apps must already be behind the fork point:
    otherwise the branch since the fork would reach far into those apps, which a merge of two
    fresh branches does not.
    """
    files = run_git(repo, "ls-files", "-z", "--", "*/migrations/*.py", env=env).split("\0")
    by_dir: dict = {}
    for path in filter(None, files):
        directory, _, file = path.rpartition("/")
        if directory.endswith("/migrations") and not file.startswith(("_", "~")):
            by_dir.setdefault(directory, {})[file[:-3]] = read_module(repo, path)
    labels = {directory: app_label(modules) for directory, modules in by_dir.items()}
    graph = {}  # (label, name) -> the module
    for directory, modules in by_dir.items():
        if labels[directory]:
            graph.update({(labels[directory], name): m for name, m in modules.items()})
    named_from: dict = {}  # (label, name) -> paths of the modules naming it
    for module in graph.values():
        for ref in module.references:
            named_from.setdefault(ref, set()).add(module.path)

    def ancestors(node: tuple) -> set:
        seen, todo = set(), [node]
        while todo:
            for ref in graph[todo.pop()].references:
                if ref in graph and ref not in seen:
                    seen.add(ref)
                    todo.append(ref)
        return seen

    splits = []
    for directory, modules in sorted(by_dir.items()):
        label = labels[directory]
        if label is None:
            continue

        def parents(name: str) -> list:
            return [n for lab, n in modules[name].references if lab == label and n in modules]

        children = {n for name in modules for n in parents(name)}
        leaves = [n for n in modules if n not in children]
        if len(leaves) != 1 or len(parents(leaves[0])) != 1:
            continue
        theirs = leaves[0]
        ours = parents(theirs)[0]
        if len(parents(ours)) != 1 or modules[theirs].squash or modules[ours].squash:
            continue
        grandparent = parents(ours)[0]
        named_elsewhere = (named_from.get((label, ours), set()) - {modules[theirs].path}) | named_from.get(
            (label, theirs), set()
        )
        behind_fork = ancestors((label, grandparent)) | {(label, grandparent), (label, ours)}
        cross = [ref for name in (ours, theirs) for ref in modules[name].references if ref in graph]
        if named_elsewhere or not all(ref in behind_fork for ref in cross):
            continue
        splits.append(Split(label, directory, grandparent, ours, theirs))
    return splits


def rewired(text: str, old: str, new: str) -> str:
    """The migration's source with its dependency on `old` pointing at `new` instead."""
    pattern = re.compile(r"""(["'])""" + re.escape(old) + r"""\1""")
    result, count = pattern.subn(lambda m: m.group(1) + new + m.group(1), text)
    if count != 1:
        raise SetupError(f"expected one mention of {old} to rewrite, found {count}")
    return result


# ---------------------------------------------------------------------------
# The branches.
# ---------------------------------------------------------------------------


def cut_branches(repo: Path, tag_commit: str, splits: list, env: dict) -> None:
    """`main` (base + N-1) and `siblings` (base + N with parent N-2), both off one base commit."""
    run_git(repo, "checkout", "-q", "-B", "main", tag_commit, env=env)
    for s in splits:
        for name in (s.ours, s.theirs):
            run_git(repo, "rm", "-q", "--", f"{s.directory}/{name}.py", env=env)
    run_git(repo, "commit", "-q", "-m", "Base: the last two migrations of a few apps not yet written", env=env)
    base = run_git(repo, "rev-parse", "HEAD", env=env).strip()
    run_git(repo, "checkout", "-q", tag_commit, "--", *[f"{s.directory}/{s.ours}.py" for s in splits], env=env)
    run_git(repo, "commit", "-q", "-m", "Main's migrations", env=env)
    run_git(repo, "checkout", "-q", "-B", "siblings", base, env=env)
    for s in splits:
        path = f"{s.directory}/{s.theirs}.py"
        text = run_git(repo, "show", f"{tag_commit}:{path}", env=env)
        (repo / path).write_text(rewired(text, s.ours, s.grandparent))
        run_git(repo, "add", "--", path, env=env)
    run_git(repo, "commit", "-q", "-m", "Sibling migrations", env=env)
    run_git(repo, "checkout", "-q", "main", env=env)


def breaking_apps(repo: Path, migmerge: Path, env: dict) -> set:
    done = subprocess.run(
        [str(migmerge), "check", "--against", "siblings", "--format", "json"],
        cwd=repo, env=env, capture_output=True, text=True,
    )
    if done.returncode not in (0, 1):
        raise SetupError(f"migmerge check --against siblings failed in {repo}:\n{done.stderr.strip()}")
    report = json.loads(done.stdout)
    return {c["app"] for c in report["conflicts"] if c["consequence"] == "breaks"}


def prepare(work: Path, pristine: Path, migmerge: Path, env: dict) -> list:
    """Clone the pinned tree into `work` and cut its branches; the splits made."""
    run_git(work.parent, "clone", "-q", str(pristine), str(work), env=env)
    tag_commit = run_git(work, "rev-parse", "HEAD", env=env).strip()
    candidates = candidate_splits(work, env)
    if not candidates:
        raise SetupError(f"no app of {pristine} ends in a plain chain of two migrations to split")
    cut_branches(work, tag_commit, candidates, env)
    breaking = breaking_apps(work, migmerge, env)
    chosen = [s for s in candidates if s.label not in breaking][:SIBLING_APPS]
    if not chosen:
        raise SetupError("every candidate pair of migrations needs a human to merge")
    cut_branches(work, tag_commit, chosen, env)
    return chosen
