"""DORA reports (the API, and the leadership page when it exists) and the scorecard evaluation
of every service."""

import time
from datetime import UTC, datetime, timedelta

from benchmarks import sql
from benchmarks.config import Config
from benchmarks.server import WebServer
from benchmarks.web import BUSY_TEAM, Probe, measure_all

ORG_YEAR_LIMIT_MS = 1000.0
SCORECARDS_LIMIT_S = 10.0


def dora_probes(meta: dict) -> list[Probe]:
    today = datetime.now(UTC).date()
    service = meta["facts"]["busiest_service"]
    probes = []
    for days, label in ((90, "90 days"), (365, "a year")):
        first = today - timedelta(days=days - 1)
        window = f"from={first.isoformat()}&to={today.isoformat()}"
        for scope, name, title in (
            ("org", "", "organisation"),
            ("team", BUSY_TEAM, f"team {BUSY_TEAM}"),
            ("service", service, f"service {service}"),
        ):
            limit = ORG_YEAR_LIMIT_MS if (scope, days) == ("org", 365) else None
            probe = Probe(
                f"DORA API, {title}, {label}",
                f"/api/v1/reports/dora?scope={scope}&name={name}&{window}",
                "lead",
                api=True,
                sql=sql.dora(scope),
                params=sql.dora_params(scope, name, first, today),
            )
            if limit:
                probe.limit_ms = limit
            probes.append(probe)
    return probes


def dashboard_probe() -> Probe | None:
    """The leadership page (/reports/), once it exists."""
    from django.urls import NoReverseMatch, reverse

    try:
        path = reverse("insights:dashboard")
    except NoReverseMatch:
        return None
    return Probe("Leadership dashboard page (/reports/, default window)", path, "lead", api=False)


def run_dora(cfg: Config, meta: dict, server: WebServer) -> dict:
    probes = dora_probes(meta)
    dashboard = dashboard_probe()
    rows = measure_all(cfg, server, meta, probes)
    if dashboard is not None:
        try:
            rows += measure_all(cfg, server, meta, [dashboard])
        except RuntimeError as exc:
            rows.append({"name": dashboard.name, "error": str(exc)[:300], "target_met": None})
            print(f"   {dashboard.name}: not measured ({exc})")
    else:
        rows.append({"name": "Leadership dashboard page", "error": "not available yet"})
    return {"rows": rows}


def run_scorecards(cfg: Config, meta: dict) -> dict:
    """apps.insights.scorecards.services.scorecards_refresh() over every service, in this
    process, against the bench database: best of three after one warm-up."""
    try:
        from apps.insights.scorecards.services import scorecards_refresh
    except ImportError as exc:
        print(f"   scorecards: not available ({exc})")
        return {"seconds": None, "note": f"not available: {exc}", "target_met": None}
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    scorecards_refresh()
    runs, evaluated = [], 0
    queries = None
    for attempt in range(3):
        started = time.perf_counter()
        if attempt == 0:
            with CaptureQueriesContext(connection) as captured:
                evaluated = scorecards_refresh()
            queries = len(captured)
        else:
            evaluated = scorecards_refresh()
        runs.append(time.perf_counter() - started)
    best = min(runs)
    print(f"   scorecards_refresh(): {evaluated:,} services in {best:.2f} s ({queries} queries)")
    return {
        "seconds": round(best, 2),
        "runs_seconds": [round(r, 2) for r in runs],
        "services": evaluated,
        "queries": queries,
        "target_met": best <= SCORECARDS_LIMIT_S,
        "note": f"{evaluated:,} services, {queries} queries",
    }
