"""Side by side with Backstage, on the same data: the deterministic catalog that
benchmarks/backstage_catalog_gen.py writes (10,000 Components, 200 Groups, 500 Systems,
~50,000 dependsOn), imported with `manage.py import_backstage` into an empty database, then the
API equivalents of the Backstage catalog queries against a web process on that database.

Backstage's figures are the ones recorded on this kind of machine with exactly this data, or,
with `--backstage`, Backstage's catalog backend measured in the same run (backstage_live.py)."""

import gzip
import json
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from benchmarks import backstage_live, load
from benchmarks.config import PYTHON, ROOT, Config
from benchmarks.server import WebServer, api_client, timed_get
from benchmarks.tables import Table

BACKSTAGE: dict[str, Any] = {
    "import_seconds": (182, 254),
    "a": 42.0,
    "b": 6.0,
    "c": 87.0,
    "d": 87.0,
    "e": 1.3,
    "f_plain": 132.0,
    "f_gzip": 1260.0,
    "rss_mb": 765,
}
IMPORT_LIMIT_S = 24.0
RSS_LIMIT_MB = 200.0


def generate(cfg: Config) -> tuple[list[str], dict]:
    out = cfg.var_dir / "backstage-catalog"
    result = subprocess.run(  # noqa: S603
        [PYTHON, str(cfg.backstage_gen), str(out)], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise RuntimeError(f"the Backstage generator failed:\n{result.stderr}")
    manifest = json.loads((out / "manifest.json").read_text())
    return manifest["files"], manifest


def import_catalog(cfg: Config, files: list[str]) -> float:
    """The whole import as a person runs it: the command, start to finish."""
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", "import_backstage", *files],
        cwd=ROOT,
        env=cfg.env(database_url=cfg.backstage_database_url),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode:
        raise RuntimeError(f"import_backstage failed:\n{result.stdout[-2000:]}{result.stderr}")
    return seconds


def _queryable(cfg: Config) -> dict:
    with psycopg.connect(cfg.backstage_database_url) as conn:

        def count(table: str) -> int:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]  # noqa: S608

        return {
            "services": count("catalog_service"),
            "teams": count("accounts_team"),
            "systems": count("catalog_system"),
            "relations": count("catalog_dependency"),
        }


def _reader_token(cfg: Config) -> str:
    """A signed-in reader for the API: a user with the leadership role and a token."""
    from apps.accounts.models import ApiToken, RoleGrant, User

    now = datetime.now(UTC)
    key = f"{ApiToken.PREFIX}bench-backstage-reader"
    with psycopg.connect(cfg.backstage_database_url) as conn:
        Table(
            User,
            ["id", "username", "email", "password", "first_name", "last_name", "date_joined"],
            now=now,
        ).copy(conn, [(900_000, "bench-reader", "reader@bench.example.com", "!", "", "", now)])
        Table(RoleGrant, ["user", "role", "granted_at"], now=now).copy(
            conn, [(900_000, "leadership", now)]
        )
        Table(ApiToken, ["user", "name", "key_hash", "key_hint", "created_at"], now=now).copy(
            conn, [(900_000, "benchmark", ApiToken.hash_key(key), key[:12], now)]
        )
    with psycopg.connect(cfg.backstage_database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return key


def backstage_figures(live: dict | None) -> dict:
    """Backstage's side: measured in this run when there is one (`--backstage`), else the
    recorded figures."""
    if live is None:
        return {**BACKSTAGE, "measured": False}
    return {
        **{key: row["p50_ms"] for key, row in live["queries"].items()},
        "import_seconds": live["import_seconds"],
        "rss_mb": live["rss_mb"],
        "measured": True,
    }


def target_ms(limit: float) -> float:
    """A limit as the table shows it: measured figures have more digits than are worth
    reading."""
    return round(limit, 2 if limit < 10 else 1)


def run(cfg: Config) -> dict:
    files, manifest = generate(cfg)
    # Backstage first, alone on the machine; Runway's side after, as without --backstage.
    live = backstage_live.run(cfg, files, manifest) if cfg.backstage_live else None
    backstage = backstage_figures(live)
    load.recreate_database(cfg, cfg.backstage_database)
    load.migrate(cfg, cfg.backstage_database_url)
    seconds = import_catalog(cfg, files)
    found = _queryable(cfg)
    expected = manifest["counts"]
    complete = (
        found["services"] == expected["components"]
        and found["systems"] >= expected["systems"]
        and found["teams"] >= expected["groups"]
        and found["relations"] >= manifest["stats"]["dependsOn_total"] * 0.99
    )
    print(f"   import_backstage: {seconds:.1f} s; queryable: {found}")
    token = _reader_token(cfg)
    server = WebServer(cfg, database_url=cfg.backstage_database_url, log_name="web-backstage")
    try:
        client = api_client(token)
        base = f"{server.url}/api/v1/services"
        term = manifest.get("fulltext_term_example", "falcon")
        name = manifest.get("example_name", "svc-pearl-04242")
        queries = [
            (
                "a",
                "(a) 50 services sorted by name",
                f"{base}/?ordering=name&page_size=50",
                "identity",
                0.5,
            ),
            (
                "b",
                f"(b) the same, search `{term}` (~1%)",
                f"{base}/?q={term}&ordering=name&page_size=50",
                "identity",
                1.0,
            ),
            (
                "c",
                "(c) lifecycle = production, owner = team-7",
                f"{base}/?lifecycle=production&owner=team-7",
                "identity",
                0.5,
            ),
            (
                "d",
                "(d) counts per owner and per lifecycle (facets)",
                f"{base}/facets/",
                "identity",
                0.5,
            ),
            ("e", "(e) one service by name", f"{base}/{name}/", "identity", 1.0),
            (
                "f_plain",
                "(f) all 10,000 services, streamed export, plain",
                f"{base}/export/",
                "identity",
                1.0,
            ),
            ("f_gzip", "(f) the same, gzip", f"{base}/export/", "gzip", 1.0),
        ]
        rows = []
        for key, label, url, encoding, share in queries:
            measured = timed_get(cfg, client, url, encoding=encoding, stream=key.startswith("f"))
            body = measured.pop("body")
            limit = backstage[key] * share
            row = {
                "name": label,
                "url": url.replace(server.url, ""),
                **measured,
                "backstage_p50_ms": backstage[key],
                "target": f"p50 ≤ {target_ms(limit):g} ms" + (" (half)" if share < 1 else ""),
                "target_met": measured["p50_ms"] <= limit,
            }
            row["check"] = _check(key, body, manifest)
            if live:
                row["backstage_url"] = live["queries"][key]["path"]
                row["backstage_answer"] = live["queries"][key]["answer"]
            rows.append(row)
            print(
                f"   {label}: p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms, "
                f"{row['bytes']:,} bytes ({row['check']}); Backstage p50 {backstage[key]} ms"
            )
        rss = server.rss_mb()
    finally:
        server.stop()
    return {
        "catalog": {
            "components": expected["components"],
            "groups": expected["groups"],
            "systems": expected["systems"],
            "relations": manifest["stats"]["dependsOn_total"],
        },
        "import": {
            "seconds": round(seconds, 1),
            "queryable": found,
            "complete": complete,
            "backstage_seconds": backstage["import_seconds"],
            "target_met": complete and seconds <= IMPORT_LIMIT_S,
        },
        "queries": rows,
        "rss_mb": rss,
        "rss_target_met": rss is not None and rss < RSS_LIMIT_MB,
        "backstage": {
            "measured": backstage["measured"],
            "rss_mb": backstage["rss_mb"],
            **(
                {key: live[key] for key in ("versions", "database", "startup_seconds")}
                if live
                else {}
            ),
        },
    }


def _check(key: str, body: bytes, manifest: dict) -> str:
    """What came back, in a few words, so a fast wrong answer shows."""
    try:
        if key.startswith("f"):
            text = gzip.decompress(body) if key == "f_gzip" else body
            return f"{len(text.splitlines()):,} lines"
        data = json.loads(body)
    except (ValueError, OSError) as exc:
        return f"unreadable: {exc}"
    if key in ("a", "b", "c"):
        return f"{data['count']:,} matching, {len(data['results'])} returned"
    if key == "d":
        return f"{len(data['owner'])} owners, {len(data['lifecycle'])} lifecycles"
    return data.get("name", "?")
