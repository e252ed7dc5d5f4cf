"""Fill a fresh PostgreSQL database with a large, realistic organisation, fast.

The schema comes from `manage.py migrate` on a new database. Rows are generated with a seeded
random (the same data every run for the same seed, scale and day) and streamed with COPY in
dependency order; the secondary indexes and foreign keys of the big tables are dropped first and
rebuilt afterwards, as a bulk load should. The daily deployment roll-up is computed from the
facts by one INSERT ... SELECT ... GROUP BY, with the same rules as the application.

The organisation is the demo's world (apps.demo.world) at the run's scale: the demo's teams,
people and services with a generated organisation around them. Skew like real life: services
and teams are drawn with Zipf weights mixed with a uniform share, so a few services deploy many
times a day and most deploy a few times a month; popular services are depended on by many. Each
service's year of deployments is planned as the demo's history plans its services'
(apps.demo.history_plan), at the service's own pace.
"""

import hashlib
import json
import random
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from benchmarks.catalog_data import CatalogData
from benchmarks.config import PYTHON, ROOT, Config
from benchmarks.delivery_data import DeliveryData
from benchmarks.tables import Table

if TYPE_CHECKING:
    from apps.demo.world import Organisation


@dataclass
class Sizes:
    """The delivery's sizes; the organisation's are apps.demo.world.Size's."""

    releases: int
    deployments: int  # about: each service's pace comes from its share
    snapshot_weeks: int

    @classmethod
    def at(cls, scale: float) -> "Sizes":
        def n(value: int, minimum: int) -> int:
            return max(minimum, round(value * scale))

        return cls(
            releases=n(100_000, 400),
            deployments=n(1_000_000, 2_000),
            snapshot_weeks=52,
        )


@dataclass
class World:
    """What later tables need to know of earlier ones (ids and a few attributes)."""

    now: datetime
    organisation: "Organisation | None" = None
    users: list[dict] = field(default_factory=list)
    personas: dict[str, int] = field(default_factory=dict)
    team_members: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    release_managers: list[int] = field(default_factory=list)
    teams: list[dict] = field(default_factory=list)
    services: list[dict] = field(default_factory=list)
    service_weights: list[float] = field(default_factory=list)  # busyness, sums to 1
    environments: dict[int, dict[str, int]] = field(default_factory=dict)  # service -> name -> id
    clusters: dict[str, int] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)
    scorecard_keys: list[tuple[str, int]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)  # figures the benchmark asks about later


# --- Databases ------------------------------------------------------------------------------


def recreate_database(cfg: Config, name: str) -> None:
    with psycopg.connect(cfg.server_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_exists(cfg: Config, name: str) -> bool:
    with psycopg.connect(cfg.server_url, autocommit=True) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            is not None
        )


def migrate(cfg: Config, database_url: str) -> None:
    result = subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [PYTHON, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=cfg.env(database_url=database_url),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py migrate failed:\n{result.stdout}\n{result.stderr}")


# --- Bulk-load mechanics ------------------------------------------------------------------------


class _Deferred:
    """Drop the secondary indexes, unique constraints and foreign keys of some tables; put them
    back (and check them) after the load."""

    def __init__(self, conn, tables: list[str]):
        self.conn, self.tables = conn, tables
        self.constraints: list[tuple[str, str, str]] = []
        self.indexes: list[str] = []

    def drop(self) -> None:
        rows = self.conn.execute(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype "
            "FROM pg_constraint c "
            "WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('f','u') "
            "ORDER BY c.contype",
            [self.tables],
        ).fetchall()
        for table, name, definition, _kind in rows:
            self.constraints.append((table, name, definition))
            self.conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
            )
        indexes = self.conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [self.tables],
        ).fetchall()
        for name, definition in indexes:
            self.indexes.append(definition)
            self.conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))

    def restore(self) -> None:
        self.conn.execute("SET maintenance_work_mem = '512MB'")
        for definition in self.indexes:
            self.conn.execute(definition)
        # Unique constraints first (foreign keys may need them), then foreign keys.
        ordered = sorted(self.constraints, key=lambda c: "FOREIGN KEY" in c[2])
        for table, name, definition in ordered:
            self.conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
                + sql.SQL(definition)
            )


def _reset_sequences(conn, tables: list[str]) -> None:
    for table in tables:
        has_id = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = 'id'",
            [table],
        ).fetchone()
        if not has_id:
            continue  # keyed by another table's row (a one-to-one primary key)
        sequence = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table]).fetchone()[0]
        if sequence:
            conn.execute(
                sql.SQL("SELECT setval(%s, GREATEST((SELECT max(id) FROM {}), 1))").format(
                    sql.Identifier(table)
                ),
                [sequence],
            )


# --- The loader ---------------------------------------------------------------------------------


class Loader(CatalogData, DeliveryData):
    def __init__(self, cfg: Config, conn, *, today: date | None = None):
        self.cfg, self.conn = cfg, conn
        self.sizes = Sizes.at(cfg.scale)
        self.random = random.Random(cfg.seed)  # noqa: S311 (data, not secrets)
        today = today or datetime.now(UTC).date()
        self.now = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
        self.world = World(now=self.now)
        self.rows: dict[str, int] = {}
        self.timings: dict[str, float] = {}

    def copy(self, model, fields: list[str], rows) -> int:
        started = time.perf_counter()
        count = Table(model, fields, now=self.now).copy(self.conn, rows)
        name = model._meta.db_table
        self.rows[name] = self.rows.get(name, 0) + count
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started
        return count

    def run(self) -> dict:
        from django.apps import apps

        loaded = [
            m._meta.db_table
            for m in apps.get_models(include_auto_created=True)
            if m._meta.app_label in {"accounts", "catalog", "releases", "insights", "audit"}
            and not m._meta.proxy
            and m._meta.managed
        ]
        self.read_before_loading()
        started = time.perf_counter()
        with self.conn.transaction():
            self.conn.execute("SET LOCAL synchronous_commit = off")
            deferred = _Deferred(self.conn, loaded)
            deferred.drop()
            self.load_accounts()
            self.load_catalog()
            self.load_releases()
            self.load_insights()
            self.load_audit()
            generated = time.perf_counter()
            deferred.restore()
            _reset_sequences(self.conn, loaded)
        indexed = time.perf_counter()
        self.conn.execute("VACUUM (ANALYZE)")
        done = time.perf_counter()
        return {
            "rows": dict(sorted(self.rows.items())),
            "seconds": {
                "copy": round(generated - started, 1),
                "indexes_and_keys": round(indexed - generated, 1),
                "vacuum_analyze": round(done - indexed, 1),
            },
            "copy_seconds_by_table": {k: round(v, 2) for k, v in sorted(self.timings.items())},
        }


def fingerprint(cfg: Config, today: date) -> str:
    """Identifies a load: a kept database is reused only if it was made the same way."""
    from apps.demo.world import Size

    text = f"{cfg.scale}:{cfg.seed}:{today.isoformat()}:{Size.at(cfg.scale)}:{Sizes.at(cfg.scale)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load(cfg: Config) -> tuple[World, dict]:
    """Create the bench database, migrate it and fill it. Returns the world and the figures."""
    started = time.perf_counter()
    recreate_database(cfg, cfg.database)
    migrate(cfg, cfg.database_url)
    migrated = time.perf_counter()
    with psycopg.connect(cfg.database_url, autocommit=True) as conn:
        loader = Loader(cfg, conn)
        figures = loader.run()
        meta = {
            "fingerprint": fingerprint(cfg, loader.now.date()),
            "tokens": loader.world.tokens,
            "personas": loader.world.personas,
            "facts": loader.world.facts,
            "now": loader.now.isoformat(),
        }
        conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (doc jsonb)")
        conn.execute("TRUNCATE bench_meta")
        conn.execute("INSERT INTO bench_meta VALUES (%s::jsonb)", [json.dumps(meta)])
    figures["seconds"] = {"migrate": round(migrated - started, 1), **figures["seconds"]}
    figures["seconds"]["total"] = round(time.perf_counter() - started, 1)
    figures["meta"] = meta
    return loader.world, figures


def stored_meta(cfg: Config) -> dict | None:
    """What a previous load recorded, when the database is still there."""
    if not database_exists(cfg, cfg.database):
        return None
    try:
        with psycopg.connect(cfg.database_url) as conn:
            row = conn.execute("SELECT doc FROM bench_meta").fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None
