#!/usr/bin/env python3
"""Django's app registry for the apps of installed distributions, printed as JSON.

Usage::

    python tests/oracle/app_registry.py PACKAGE_ROOT [PACKAGE_ROOT...]

Each PACKAGE_ROOT is an unpacked wheel (a directory holding top-level packages). Every package
under it holding ``migrations/__init__.py`` is put in INSTALLED_APPS (after the contrib apps such
apps usually need), imported from the site-packages of the Python running this script (the
distribution must be installed there), and Django is set up. Printed: ``{"apps": {label:
directory}}`` for the apps found under the roots, ``directory`` relative to its root, so that it
can be compared with ``migmerge apps --format json`` run on the unpacked wheel.

Exit status: 0 when the JSON was printed; 1 when Django could not be set up (the error on
stderr).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

CONTRIB = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "django.contrib.admin",
]

MIDDLEWARE = ["allauth.account.middleware.AccountMiddleware"]


def app_modules(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in {"__pycache__", "migrations"})
        if (here / "migrations" / "__init__.py").is_file() and here != root:
            rel = here.relative_to(root)
            # Test and sample projects import their apps under other names; they are not the
            # distribution's apps.
            extra = any(p in {"tests", "test"} or p.startswith(("sample", "example")) for p in rel.parts)
            if all(part.isidentifier() for part in rel.parts) and not extra:
                found.append(".".join(rel.parts))
    return found


def main(argv: list[str]) -> int:
    roots = [Path(a).resolve() for a in argv]
    modules = [m for root in roots for m in app_modules(root)]
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=CONTRIB + modules,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        SITE_ID=1,
        SECRET_KEY="migmerge-registry",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        # Some apps refuse to start without their middleware.
        MIDDLEWARE=[m for m in MIDDLEWARE if m.split(".")[0] in {x.split(".")[0] for x in modules}],
    )
    import django

    try:
        django.setup()
    except Exception as exc:  # the caller reports it
        print(f"app_registry: django.setup() failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    from django.apps import apps

    result = {}
    for config in apps.get_app_configs():
        if config.name not in modules:
            continue
        result[config.label] = config.name.replace(".", "/")
    json.dump({"apps": result}, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
