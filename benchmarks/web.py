"""Pages and APIs over HTTP against the real web process, each beside its plain SQL."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from benchmarks import sql
from benchmarks.config import Config
from benchmarks.measure import timed
from benchmarks.server import WebServer, api_client, browser, session_for

SEARCH_TERM = "payments"
BUSY_TEAM = "team-0"
PAGE_LIMIT_MS = 100.0
RATIO_LIMIT = 3.0
FLOOR_PAGE, FLOOR_API = "page", "api"


@dataclass
class Probe:
    name: str
    path: str
    persona: str
    api: bool
    sql: str | None = None
    params: dict = field(default_factory=dict)
    limit_ms: float = PAGE_LIMIT_MS
    check: Callable[[bytes], bool] | None = None
    floor: str | None = None  # FLOOR_PAGE or FLOOR_API: what a request costs before its query


def catalog_probes(meta: dict) -> list[Probe]:
    query = f"q={SEARCH_TERM}&lifecycle=production&type=service&ordering=-updated"
    service = meta["facts"]["busiest_service"]
    return [
        Probe(
            "Catalog list page: search + 2 filters + sort, page of 50",
            f"/catalog/?{query}",
            "dev",
            api=False,
            sql=sql.CATALOG_PAGE,
            params=sql.catalog_params(SEARCH_TERM),
        ),
        Probe(
            "Catalog list API: same query, page of 50",
            f"/api/v1/services/?{query}",
            "dev",
            api=True,
            sql=sql.CATALOG_API,
            params=sql.catalog_params(SEARCH_TERM),
        ),
        Probe(
            f"Service detail page (busiest service, {service})",
            f"/catalog/services/{service}/",
            "dev",
            api=False,
            sql=sql.SERVICE_DETAIL,
            params={"name": service},
        ),
    ]


def release_probes(meta: dict) -> list[Probe]:
    today = datetime.now(UTC).date()
    return [
        Probe(
            f"Release calendar, month view, busy team ({BUSY_TEAM})",
            f"/releases/calendar/?view=month&team={BUSY_TEAM}",
            "dev",
            api=False,
            sql=sql.CALENDAR,
            params=sql.calendar_params(BUSY_TEAM, today),
        ),
        Probe(
            f"Approver inbox ({meta['facts'].get('pending_releases', '?')} pending releases)",
            "/releases/inbox/",
            "rm",
            api=False,
            sql=sql.INBOX,
        ),
    ]


def floor_probes(meta: dict) -> list[Probe]:
    """The least a signed-in request costs, beside which the others are read: the home page
    (the person's name, roles and teams, and whether the database and workers answer: a few
    one-row queries, 3 kB) and one API token by id (one row, a five-field serializer). The
    profile page is not light enough: its time-zone choice alone is 600 options, 40 kB."""
    from apps.accounts.models import ApiToken

    token = ApiToken.objects.filter(user__username="dev").order_by("pk").first()
    if token is None:
        raise RuntimeError("the benchmark's dev has no API token")
    return [
        Probe(
            "Floor: home page (signed in, little to render)",
            "/",
            "dev",
            api=False,
            floor=FLOOR_PAGE,
        ),
        Probe(
            f"Floor: API, one token by id (GET /api/v1/tokens/{token.pk}/)",
            f"/api/v1/tokens/{token.pk}/",
            "dev",
            api=True,
            floor=FLOOR_API,
        ),
    ]


class Clients:
    """Keep-alive HTTP clients per persona: a browser session or an API token."""

    def __init__(self, server: WebServer, meta: dict):
        self.server, self.meta = server, meta
        self._browsers: dict[str, object] = {}
        self._apis: dict[str, object] = {}

    def get(self, probe: Probe):
        if probe.api:
            if probe.persona not in self._apis:
                self._apis[probe.persona] = api_client(self.meta["tokens"][probe.persona])
            return self._apis[probe.persona]
        if probe.persona not in self._browsers:
            self._browsers[probe.persona] = browser(session_for(probe.persona))
        return self._browsers[probe.persona]


def count_queries(probe: Probe, meta: dict) -> int:
    """How many queries the request runs, counted in this process with Django's test client on
    the same database (the web process is not instrumented)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    headers: dict[str, Any] = {}
    if probe.api:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {meta['tokens'][probe.persona]}"
    else:
        client.force_login(get_user_model().objects.get(username=probe.persona))
    client.get(probe.path, **headers)  # the first request may fill caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(probe.path, **headers)
    if response.status_code != 200:
        raise RuntimeError(f"{probe.path}: HTTP {response.status_code}")
    return len(queries)


def measure(cfg: Config, clients: Clients, conn, probe: Probe) -> dict:
    client = clients.get(probe)
    url = clients.server.url + probe.path
    sizes = []

    def request():
        response = client.get(url, timeout=120)
        if response.status_code != 200:
            raise RuntimeError(f"{probe.path}: HTTP {response.status_code}: {response.text[:300]}")
        if response.history:  # a sign-in page answered instead: not the page meant
            raise RuntimeError(f"{probe.path}: redirected to {response.url}")
        sizes.append(len(response.content))
        return response

    timing, _ = timed(request, warmup=cfg.warmup, samples=cfg.samples)
    row = {
        "name": probe.name,
        "path": probe.path,
        "api": probe.api,
        **timing.as_dict(),
        "bytes": sizes[-1],
    }
    if probe.floor:
        row["floor"] = probe.floor
    if probe.sql:
        sql_timing, _ = timed(
            lambda: conn.execute(probe.sql, probe.params).fetchall(),
            warmup=cfg.warmup,
            samples=cfg.samples,
        )
        row["sql_p50_ms"] = round(sql_timing.p50, 2)
        row["sql_p95_ms"] = round(sql_timing.p95, 2)
        row["ratio"] = round(timing.p50 / sql_timing.p50, 2) if sql_timing.p50 else None
    try:
        row["queries"] = count_queries(probe, clients.meta)
    except Exception as exc:  # a count is a nicety; the timing stands
        row["queries"] = None
        row["queries_error"] = str(exc)[:200]
    row["limit_ms"] = probe.limit_ms
    row["target_met"] = row["p95_ms"] <= probe.limit_ms and (
        row.get("ratio") is None or row["ratio"] <= RATIO_LIMIT
    )
    ratio = f", {row['ratio']:.1f}× SQL" if row.get("ratio") else ""
    print(
        f"   {probe.name}: p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms"
        f"{ratio}, {row['queries']} queries, {row['bytes']:,} bytes",
        flush=True,
    )
    return row


def measure_all(cfg: Config, server: WebServer, meta: dict, probes: list[Probe]) -> list[dict]:
    clients = Clients(server, meta)
    with psycopg.connect(cfg.database_url, autocommit=True) as conn:
        return [measure(cfg, clients, conn, probe) for probe in probes]


def run_floors(cfg: Config, meta: dict, server: WebServer) -> dict:
    """The floors, measured in the same run as the pages and APIs read against them."""
    rows = measure_all(cfg, server, meta, floor_probes(meta))
    return {"rows": rows, **{row["floor"]: row["p50_ms"] for row in rows}}


def run(cfg: Config, meta: dict, server: WebServer) -> dict:
    probes = catalog_probes(meta) + release_probes(meta)
    return {"rows": measure_all(cfg, server, meta, probes)}
