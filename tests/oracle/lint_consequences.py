#!/usr/bin/env python3
"""What Django's ``migrate`` does with one migration of a project tree, on SQLite: the oracle
for the consequences ``migmerge lint`` claims (an irreversible migration cannot be unapplied; a
NOT NULL column without a default cannot be added to a table with rows).

Usage::

    python tests/oracle/lint_consequences.py TREE APP PREVIOUS TARGET [--rows MODEL:N]

TREE holds the app package APP (``TREE/APP/migrations/``). The database is migrated to
PREVIOUS; with ``--rows``, N rows of MODEL are created with the model as PREVIOUS leaves it
(every field at its default); then ``migrate APP TARGET`` runs forwards and, when that worked,
``migrate APP PREVIOUS`` backwards. TREE is not written to (the database lives in a temporary
directory, bytecode is not written).

Output, one line of JSON: ``{"django": "6.1", "forward": null | "Error: message",
"backward": null | "Error: message" | "skipped"}``; when migrating to PREVIOUS or creating
the rows fails, ``{"setup": "Error: message"}`` and exit status 2.
"""

import argparse
import json
import os
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tree")
    parser.add_argument("app")
    parser.add_argument("previous")
    parser.add_argument("target")
    parser.add_argument("--rows", default=None)
    args = parser.parse_args()

    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.abspath(args.tree))
    with tempfile.TemporaryDirectory() as tmp:
        import django
        from django.conf import settings

        settings.configure(
            INSTALLED_APPS=[args.app],
            DATABASES={
                "default": {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": os.path.join(tmp, "db.sqlite3"),
                }
            },
            USE_TZ=True,
        )
        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.db.migrations.executor import MigrationExecutor

        def migrate(name):
            try:
                call_command("migrate", args.app, name, verbosity=0, interactive=False)
                return None
            except Exception as error:  # the oracle reports whatever Django raises
                return f"{type(error).__name__}: {error}"

        before = migrate(args.previous)
        if before is not None:
            print(json.dumps({"setup": before}))
            return 2
        if args.rows:
            model_name, count = args.rows.split(":")
            state = MigrationExecutor(connection).loader.project_state(
                (args.app, args.previous)
            )
            model = state.apps.get_model(args.app, model_name)
            try:
                for _ in range(int(count)):
                    model.objects.create()
            except Exception as error:  # a row PREVIOUS's model cannot hold by its defaults
                print(json.dumps({"setup": f"creating {model_name} rows at {args.previous}: {type(error).__name__}: {error}"}))
                return 2
        forward = migrate(args.target)
        backward = "skipped" if forward is not None else migrate(args.previous)
        print(
            json.dumps(
                {
                    "django": django.get_version(),
                    "forward": forward,
                    "backward": backward,
                },
                sort_keys=True,
            )
        )
        return 0


if __name__ == "__main__":
    sys.exit(main())
