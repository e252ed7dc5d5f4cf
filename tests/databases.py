"""One migrated PostgreSQL database that every test database is copied from.

Migrating takes seconds of CPU per test database and `make test` makes one per pytest-xdist
worker. The first worker to get here migrates a template database, named after a hash of the
migrations and the pinned dependencies so that a change to either makes a new one; every worker
then creates its test database as a copy (`CREATE DATABASE ... TEMPLATE`), which takes a
fraction of a second, and Django's own migrate finds nothing left to do."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
# Any number will do as long as nothing else on the server takes the same advisory lock.
_LOCK = 0x52554E57  # "RUNW"


def migrations_fingerprint() -> str:
    """What the migrated schema depends on: Runway's migrations and the pinned packages (whose
    own migrations run too)."""
    digest = hashlib.sha256()
    files = [*sorted(ROOT.glob("apps/*/migrations/*.py")), ROOT / "requirements.lock"]
    for path in files:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _server(settings_dict: dict) -> dict:
    return {
        "host": settings_dict["HOST"] or "127.0.0.1",
        "port": settings_dict["PORT"] or 5432,
        "user": settings_dict["USER"],
        "password": settings_dict["PASSWORD"] or None,
    }


def _url(settings_dict: dict, name: str) -> str:
    server = _server(settings_dict)
    auth = server["user"] + (f":{server['password']}" if server["password"] else "")
    return f"postgres://{auth}@{server['host']}:{server['port']}/{name}"


def migrated_template(settings_dict: dict) -> str:
    """The name of the migrated template database, made first if it does not exist yet."""
    prefix = f"test_{settings_dict['NAME']}_tpl_"
    name = prefix + migrations_fingerprint()
    with psycopg.connect(dbname="postgres", autocommit=True, **_server(settings_dict)) as server:
        server.execute("SELECT pg_advisory_lock(%s)", [_LOCK])
        try:
            exists = server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if exists.fetchone() is None:
                _make(server, settings_dict, name, prefix)
        finally:
            server.execute("SELECT pg_advisory_unlock(%s)", [_LOCK])
    return name


def _make(server, settings_dict: dict, name: str, prefix: str) -> None:
    # Older templates (of other migrations) go; the new one is migrated under a working name and
    # renamed when complete, so a run killed half-way leaves no half-migrated template behind.
    stale = server.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix.replace("_", r"\_") + "%"]
    )
    for (old,) in stale.fetchall():
        server.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(old))
        )
    building = name + "_building"
    server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": _url(settings_dict, building)},
        check=True,
    )
    server.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
            sql.Identifier(building), sql.Identifier(name)
        )
    )


# Tables whose rows only the schema decides (post_migrate writes them after every flush): kept.
_SCHEMA_ROWS = ("django_content_type", "auth_permission")


def quicker_fixture_teardown(django_teardown):
    """TransactionTestCase._fixture_teardown (`django_teardown`), quicker on PostgreSQL: Django's
    flush truncates every table, which gives each table and index a new file (half a second a
    test on this machine), and then writes the content types and permissions again. A test
    writes to a few tables: their rows are deleted in one transaction (the keys are checked at
    its end), the audit log's tables truncated (they refuse DELETE), and post_migrate is sent
    as flush sends it. A test case flushing some apps only, or restoring serialized data, and
    other databases get Django's own."""

    def _fixture_teardown(test_case) -> None:
        from django.db import connections

        aliases = test_case._databases_names(include_mirrors=False)
        if (
            test_case.available_apps is not None
            or test_case.serialized_rollback
            or any(connections[alias].vendor != "postgresql" for alias in aliases)
        ):
            return django_teardown(test_case)
        for alias in aliases:
            empty_written_tables(alias)

    return _fixture_teardown


def empty_written_tables(alias: str) -> None:
    """Delete the rows of each table that has any (the audit log's truncated), then send
    post_migrate, on the PostgreSQL database `alias`."""
    from django.core.management.sql import emit_post_migrate_signal
    from django.db import connections, transaction

    connection = connections[alias]
    tables = [
        name
        for name in connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
        if name not in _SCHEMA_ROWS
    ]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(" UNION ALL ")
            .join(
                sql.SQL("(SELECT {} FROM {} LIMIT 1)").format(
                    sql.Literal(name), sql.Identifier(name)
                )
                for name in tables
            )
            .as_string(cursor.connection)
        )
        written = [name for (name,) in cursor.fetchall()]
        # Each of the log's tables, since the others' keys point at any one truncated.
        audit = [name for name in tables if name.startswith("audit_")]
        if any(name in audit for name in written):
            cursor.execute(
                sql.SQL("TRUNCATE {}")
                .format(sql.SQL(", ").join(map(sql.Identifier, audit)))
                .as_string(cursor.connection)
            )
        for name in written:
            if name not in audit:
                cursor.execute(
                    sql.SQL("DELETE FROM {}")
                    .format(sql.Identifier(name))
                    .as_string(cursor.connection)
                )
    emit_post_migrate_signal(verbosity=0, interactive=False, db=alias)
