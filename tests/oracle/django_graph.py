#!/usr/bin/env python3
"""Django's own view of a project tree's migration graph, printed as one JSON object.

This is the oracle of migmerge's test suite: migmerge reads migration files statically, and this
script asks Django's real ``MigrationLoader`` what it makes of the same files, so the two can be
compared fixture by fixture.

Usage::

    python tests/oracle/django_graph.py TREE [--apps-order LABEL,LABEL...]
        [--auth-user-model APP.MODEL] [--plan] [--migrate] [--db FILE]

TREE needs no Django settings. Apps are discovered as design.md describes them: every
directory under TREE (hidden directories and ``__pycache__`` skipped) that holds
``migrations/__init__.py`` is an app package, whose dotted module name is its path relative to
TREE. TREE itself is never written to: it is copied to a temporary directory, and in the copy any
missing ``__init__.py`` is added to each app directory and to every directory between it and
TREE, so that the dotted name is importable. A directory whose name is not a Python identifier
cannot be imported and is not an app.

INSTALLED_APPS is ``django.contrib.contenttypes``, ``django.contrib.auth``, then the discovered
apps sorted by their path relative to TREE (so ``billing`` < ``shop`` < ``shop/extras``), unless
``--apps-order`` names some of them first: each item is an app label or a dotted module name;
apps not named follow in path order. Order matters to Django where squashes interact: it loads
apps in settings order, then files by name. For ``--apps-order`` only, labels are read
statically from a ``label = "..."`` in the app's ``apps.py``; Django itself picks up an
``apps.py`` AppConfig on its own during setup, which is how custom labels are tested.

AUTH_USER_MODEL comes from ``--auth-user-model``, else from ``auth_user_model`` in
``TREE/../fixture.toml``, else Django's default ``auth.User``.

With ``settings = "proj.settings"`` in ``TREE/../fixture.toml`` (or ``--settings``), that module of
the tree is imported and its ``INSTALLED_APPS``, ``MIGRATION_MODULES`` and ``*_MODEL`` settings
are used instead (contenttypes and auth are added when missing); the apps reported are then
those whose package lies in TREE.

Output (stdout, one line of JSON, keys sorted, ASCII-only: JSON escapes for non-ASCII)::

    {"django": "6.1.3",
     "apps": {label: dotted module name},        # the discovered apps, as Django labelled them
     "nodes": [[app, name], ...],                 # sorted; only apps discovered in TREE
     "edges": [[[app, name], [parent_app, parent_name]], ...]
                                                  # sorted; every parent of every TREE node,
                                                  # after squash remapping (may name auth, ...)
     "leaves": {app: [names]},                    # TREE apps that have migrations
     "conflicts": {app: [leaf names]},            # loader.detect_conflicts()
     "error": null | {"type": "NodeNotFoundError", "message": "..."},
     "plan": [[app, name], ...],                  # only with --plan: forwards plan of all
                                                  # leaves on the database (empty unless
                                                  # --db), every app
     "migrate": "ok" | "skipped" | {"type": ..., "message": ...}}   # only with --migrate

If loading fails (NodeNotFoundError, CircularDependencyError, CommandError "Cyclical squash
replacement", BadMigrationError, ImproperlyConfigured for duplicate labels, a SyntaxError in a
migration...), the object is still printed, with ``error`` set and nodes, edges, leaves,
conflicts and plan empty. ``--migrate`` runs ``migrate`` on a fresh SQLite file only when there is
neither an error nor a conflict; otherwise it reports "skipped".

``--db FILE`` uses the SQLite database FILE instead of a fresh temporary one, and keeps it: run
``--migrate --db FILE`` on a branch's tree, then ``--plan --migrate --db FILE`` on a later tree,
and the plan lists only what that database still lacks, as on a server where the branch was
deployed before (how renamed migrations that carry ``replaces`` of their old names are tested).

Exit status: 0 whenever the JSON object was printed; 2 for bad arguments.

Needs Python 3.10+ and Django, nothing else.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

# Directories never searched for apps: VCS and tool metadata, bytecode caches.
SKIP_DIRS = {"__pycache__", "node_modules"}


def discover_apps(tree: Path) -> list[Path]:
    """Return the app directories under ``tree``, relative to it, sorted by path.

    An app is a directory holding ``migrations/__init__.py``. The search does not descend into a
    ``migrations`` package: Django never treats what is inside one as an app.
    """
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(tree):
        here = Path(dirpath)
        # Prune in place so os.walk skips them; sorted for a stable walk.
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS
        )
        if here != tree and (here / "migrations" / "__init__.py").is_file():
            rel = here.relative_to(tree)
            # Every component must be importable, or Django could not load the app at all.
            if all(part.isidentifier() for part in rel.parts):
                found.append(rel)
        if "migrations" in dirnames and (here / "migrations" / "__init__.py").is_file():
            dirnames.remove("migrations")
    return sorted(found, key=lambda p: p.as_posix())


def prepare_copy(tree: Path, dest: Path, apps: list[Path]) -> None:
    """Copy ``tree`` to ``dest`` and make every app importable by its dotted path there."""
    shutil.copytree(
        tree, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".git")
    )
    for rel in apps:
        # The app directory and each directory between it and the root must be regular
        # packages; a missing __init__.py would make a namespace package, which Django rejects
        # for apps found in several places and which confuses label discovery.
        for depth in range(1, len(rel.parts) + 1):
            init = dest.joinpath(*rel.parts[:depth], "__init__.py")
            if not init.exists():
                init.write_text("")


def fixture_auth_user_model(tree: Path) -> str | None:
    """Read ``auth_user_model`` from ``TREE/../fixture.toml`` when that file exists."""
    path = tree.resolve().parent / "fixture.toml"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:
        # Python 3.10: the key is a plain top-level string, a regex is enough.
        match = re.search(r'^auth_user_model\s*=\s*"([^"]+)"', text, re.MULTILINE)
        return match.group(1) if match else None
    return tomllib.loads(text).get("auth_user_model")


def fixture_settings(tree: Path) -> str | None:
    """Read ``settings`` from ``TREE/../fixture.toml`` when that file exists."""
    path = tree.resolve().parent / "fixture.toml"
    if not path.is_file():
        return None
    match = re.search(r'^settings\s*=\s*"([^"]+)"', path.read_text(encoding="utf-8"), re.MULTILINE)
    return match.group(1) if match else None


def project_settings(module_name: str) -> dict:
    """The settings a fixture's own settings module gives, imported from the copy."""
    import importlib

    module = importlib.import_module(module_name)
    installed = list(getattr(module, "INSTALLED_APPS", []))
    for contrib in ("django.contrib.auth", "django.contrib.contenttypes"):
        if contrib not in installed:
            installed.insert(0, contrib)
    values = {"INSTALLED_APPS": installed}
    if hasattr(module, "MIGRATION_MODULES"):
        values["MIGRATION_MODULES"] = dict(module.MIGRATION_MODULES)
    for name in dir(module):
        if name.endswith("_MODEL") and isinstance(getattr(module, name), str):
            values[name] = getattr(module, name)
    return values


def static_label(app_dir: Path, module: str) -> str:
    """Guess an app's label without importing anything: ``label = "..."`` in ``apps.py``.

    Used only to interpret ``--apps-order`` before Django is set up; the labels reported in
    the output are Django's own.
    """
    apps_py = app_dir / "apps.py"
    if apps_py.is_file():
        try:
            module_ast = ast.parse(apps_py.read_text(encoding="utf-8"))
        except SyntaxError:
            module_ast = None
        for node in module_ast.body if module_ast else []:
            if not isinstance(node, ast.ClassDef):
                continue
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "label" for t in stmt.targets)
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)
                ):
                    return stmt.value.value
    return module.rpartition(".")[2]


def order_apps(modules: list[str], labels: dict[str, str], order: str | None) -> list[str]:
    """Put the apps named in ``order`` first, in that order; the rest keep path order."""
    if not order:
        return modules
    first: list[str] = []
    for item in (part.strip() for part in order.split(",")):
        if not item:
            continue
        matches = [m for m in modules if item in (m, labels[m])]
        if not matches:
            raise ValueError(f"--apps-order: no app {item!r} in the tree")
        first.extend(m for m in matches if m not in first)
    return first + [m for m in modules if m not in first]


def describe(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)}


def configure_django(
    database: Path, modules: list[str], auth_user_model: str | None, own: dict | None = None
) -> None:
    from django.conf import settings

    extra = {"AUTH_USER_MODEL": auth_user_model} if auth_user_model else {}
    if own is not None:
        extra = own
    else:
        extra["INSTALLED_APPS"] = ["django.contrib.contenttypes", "django.contrib.auth", *modules]
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(database),
            }
        },
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        # Fixtures never need these, and leaving them unset would make checks warn.
        SECRET_KEY="migmerge-oracle",
        **extra,
    )


def load_graph(
    result: dict, modules: list[str], want_plan: bool, want_migrate: bool, root: Path | None = None
) -> None:
    """Set up Django, load the graph and fill ``result`` in. May raise; the caller reports it."""
    import django

    django.setup()

    from django.apps import apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    def in_tree(config) -> bool:
        if root is not None:
            return Path(config.path).resolve().is_relative_to(root.resolve())
        return config.name in modules

    tree_labels = {config.label: config.name for config in apps.get_app_configs() if in_tree(config)}
    result["apps"] = tree_labels

    # connection=None: no database is consulted, so every squash counts as unapplied and is
    # used in place of what it replaces, which is what a static reader must assume too.
    loader = MigrationLoader(None, ignore_no_migrations=True)
    graph = loader.graph

    nodes = sorted(key for key in graph.nodes if key[0] in tree_labels)
    edges = sorted(
        [list(key), list(parent.key)]
        for key in nodes
        for parent in graph.node_map[key].parents
    )
    leaves: dict[str, list[str]] = {}
    for app, name in graph.leaf_nodes():
        if app in tree_labels:
            leaves.setdefault(app, []).append(name)
    conflicts = loader.detect_conflicts()

    if want_plan:
        from django.db.migrations.executor import MigrationExecutor

        # What `migrate` would run on the database (empty unless --db), in Django's order. A
        # migration that appears twice here would be applied twice.
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        result["plan"] = [[m.app_label, m.name] for m, _backwards in plan]

    # Only now that everything above succeeded does the result claim a graph.
    result["nodes"] = [list(key) for key in nodes]
    result["edges"] = edges
    result["leaves"] = {app: sorted(names) for app, names in leaves.items()}
    result["conflicts"] = {app: sorted(names) for app, names in conflicts.items()}

    if want_migrate:
        if conflicts:
            result["migrate"] = "skipped"
        else:
            from django.core.management import call_command

            try:
                call_command("migrate", verbosity=0, interactive=False)
                result["migrate"] = "ok"
            except Exception as exc:  # report any failure: that is what the flag is for
                result["migrate"] = describe(exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Print Django's view of TREE's migration graph as JSON."
    )
    parser.add_argument("tree", type=Path, help="project tree to inspect (never modified)")
    parser.add_argument(
        "--apps-order",
        help="comma-separated app labels or module names to put first in INSTALLED_APPS",
    )
    parser.add_argument(
        "--auth-user-model", help="AUTH_USER_MODEL (default: fixture.toml next to TREE, else auth.User)"
    )
    parser.add_argument(
        "--settings", help="settings module of the tree to use (default: fixture.toml's settings)"
    )
    parser.add_argument("--plan", action="store_true", help="include the forwards plan")
    parser.add_argument(
        "--migrate", action="store_true", help="run migrate on a temporary SQLite database"
    )
    parser.add_argument(
        "--db",
        type=Path,
        help="SQLite database file to use and keep, instead of a fresh temporary one",
    )
    args = parser.parse_args(argv)

    tree: Path = args.tree
    if not tree.is_dir():
        parser.error(f"{tree} is not a directory")

    rel_apps = discover_apps(tree)
    modules = [".".join(rel.parts) for rel in rel_apps]
    labels = {m: static_label(tree / rel, m) for m, rel in zip(modules, rel_apps)}
    try:
        modules = order_apps(modules, labels, args.apps_order)
    except ValueError as exc:
        parser.error(str(exc))  # exits 2: no JSON was printed
    auth_user_model = args.auth_user_model or fixture_auth_user_model(tree)

    import django

    result: dict = {
        "django": django.get_version(),
        "apps": {},
        "nodes": [],
        "edges": [],
        "leaves": {},
        "conflicts": {},
        "error": None,
    }
    if args.plan:
        result["plan"] = []
    if args.migrate:
        result["migrate"] = "skipped"

    workdir = Path(tempfile.mkdtemp(prefix="migmerge-oracle-"))
    try:
        copy = workdir / "tree"
        prepare_copy(tree, copy, rel_apps)
        # The copy must win over anything else importable under the same name, and this
        # script's own directory must not be importable as part of the project.
        here = str(Path(__file__).resolve().parent)
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        sys.path.insert(0, str(copy))
        sys.dont_write_bytecode = True

        database = args.db.resolve() if args.db else workdir / "db.sqlite3"
        settings_module = args.settings or fixture_settings(tree)
        own = project_settings(settings_module) if settings_module else None
        configure_django(database, modules, auth_user_model, own)
        # Migration modules may print; keep stdout for the JSON object alone.
        with contextlib.redirect_stdout(io.StringIO()) as stray:
            try:
                root = copy if settings_module else None
                load_graph(result, modules, args.plan, args.migrate, root)
            except Exception as exc:
                result["error"] = describe(exc)
        if stray.getvalue():
            sys.stderr.write(stray.getvalue())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    # ASCII with \u escapes: safe whatever the locale's encoding (names may be non-ASCII).
    json.dump(result, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
