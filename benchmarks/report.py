"""The results as a markdown table and a JSON file under benchmarks/results/."""

import json
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.config import Config
from benchmarks.web import FLOOR_API, FLOOR_PAGE

FLOOR_FACTOR = 3.0


def floor_checks(results: dict) -> None:
    """Mark every page and API against its floor: p95 ≤ 3 x (its plain SQL p50 + the floor's
    p50), the page floor for HTML pages and the API floor for APIs. What a request costs beyond
    its query (signing in, the session, rendering) is then allowed for once, at its least,
    and the rest must come from the query. Rows without a plain SQL or a floor are not marked."""
    floors = results.get("floors") or {}
    for row in results.get("web", {}).get("rows", []) + results.get("dora", {}).get("rows", []):
        floor = floors.get(FLOOR_API if row.get("api") else FLOOR_PAGE)
        sql_p50 = row.get("sql_p50_ms")
        if "api" not in row or floor is None or sql_p50 is None or row.get("p95_ms") is None:
            row["floor_bound_ms"], row["floor_met"] = None, None
            continue
        bound = FLOOR_FACTOR * (sql_p50 + floor)
        row["floor_bound_ms"] = round(bound, 2)
        row["floor_met"] = row["p95_ms"] <= bound


def write(cfg: Config, results: dict) -> list[Path]:
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    floor_checks(results)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    text = markdown(results)
    body = json.dumps(results, indent=2, default=str)
    paths = []
    for name in ("latest", stamp):
        md, js = cfg.out_dir / f"{name}.md", cfg.out_dir / f"{name}.json"
        md.write_text(text)
        js.write_text(body + "\n")
        paths += [md, js]
    return paths


def _ms(value) -> str:
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def _bytes(value) -> str:
    if not value:
        return "—"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f} MB"
    if value >= 1000:
        return f"{value / 1000:.1f} kB"
    return f"{value} B"


def _mark(ok) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"# Runway benchmark, {results['generated_at'][:10]}",
        "",
        f"Machine: {m['cores']} cores, {m['memory']}, {m['cpu']}; PostgreSQL {m['postgresql']}; "
        f"Python {m['python']}; commit `{m['commit']}`"
        + (" with uncommitted changes" if m.get("uncommitted_changes") else "")
        + f". Scale {results['scale']}, {results['warmup']} warm-up runs and "
        f"{results['samples']} samples per figure. Whole run: {results['total_seconds']:.0f} s.",
        "",
    ]
    load = results.get("load")
    if load and not load.get("reused"):
        seconds, rows = load["seconds"], load["rows"]
        big = ", ".join(
            f"{rows[t]:,} {label}"
            for t, label in (
                ("catalog_service", "services"),
                ("catalog_dependency", "dependencies"),
                ("catalog_environment", "environments"),
                ("releases_release", "releases"),
                ("insights_deploymentfact", "deployments"),
                ("insights_commitfact", "commits"),
                ("insights_incidentfact", "incidents"),
                ("insights_scorecardsnapshot", "scorecard snapshots"),
            )
            if t in rows
        )
        lines += [
            f"**Load:** {big} in {seconds['total']:.0f} s (migrate {seconds['migrate']:.0f} s, "
            f"COPY {seconds['copy']:.0f} s, indexes and keys {seconds['indexes_and_keys']:.0f} s, "
            f"VACUUM ANALYZE {seconds['vacuum_analyze']:.0f} s).",
            "",
        ]
    floor_rows = results.get("floors", {}).get("rows", [])
    rows = results.get("web", {}).get("rows", []) + results.get("dora", {}).get("rows", [])
    if rows or floor_rows:
        lines += [
            "## Pages and APIs (one uvicorn process, over HTTP)",
            "",
            "| What | p50 | p95 | plain SQL p50 | page ÷ SQL | queries | bytes | target met "
            "| 3 × (SQL + floor) | within |",
            "|---|---:|---:|---:|---:|---:|---:|:--:|---:|:--:|",
        ]
        for row in floor_rows + rows:
            ratio = f"{row['ratio']:.1f} ×" if row.get("ratio") is not None else "—"
            lines.append(
                f"| {row['name']} | {_ms(row.get('p50_ms'))} | {_ms(row.get('p95_ms'))} | "
                f"{_ms(row.get('sql_p50_ms'))} | {ratio} | {row.get('queries', '—')} | "
                f"{_bytes(row.get('bytes'))} | {_mark(row.get('target_met'))} | "
                f"{_ms(row.get('floor_bound_ms'))} | {_mark(row.get('floor_met'))} |"
            )
        lines.append("")
        lines.append(
            "Targets: p95 ≤ 100 ms and ≤ 3 × the plain SQL's p50 (the same rows or figures "
            "straight from PostgreSQL over an open connection); DORA for the organisation over a "
            "year ≤ 1 s."
        )
        floors = results.get("floors", {})
        if floors.get(FLOOR_PAGE) is not None or floors.get(FLOOR_API) is not None:
            lines += [
                "",
                f"Floors (the least a signed-in request costs, measured in the same run): page "
                f"p50 {_ms(floors.get(FLOOR_PAGE))}, API p50 {_ms(floors.get(FLOOR_API))}. "
                f"Within: p95 ≤ 3 × (the plain SQL's p50 + the floor's p50), the page floor for "
                f"pages and the API floor for APIs; rows without a plain SQL are not marked.",
            ]
        lines.append("")
    other = []
    sc = results.get("scorecards")
    if sc:
        other.append(
            (
                "Scorecard evaluation of every service",
                _ms(sc.get("seconds") * 1000) if sc.get("seconds") is not None else "not available",
                "≤ 10 s",
                _mark(sc.get("target_met")),
                sc.get("note", ""),
            )
        )
    dp = results.get("dispatch")
    if dp:
        if dp.get("error"):
            other.append(("Rollout dispatch", "failed", "", "**no**", dp["error"]))
        else:
            other.append(
                (
                    f"Rollout dispatch: start → first Kubernetes call ({dp['rollouts']} rollouts, "
                    f"{dp['workers']})",
                    f"p50 {_ms(dp['first_call']['p50_ms'])}, p95 {_ms(dp['first_call']['p95_ms'])}",
                    "p95 ≤ 500 ms",
                    _mark(dp.get("target_met")),
                    "",
                )
            )
            other.append(
                (
                    f"Rollout dispatch: all {dp['rollouts']} finished",
                    _ms(dp["all_finished_seconds"] * 1000)
                    if dp.get("all_finished_seconds") is not None
                    else "did not finish",
                    "",
                    "—",
                    dp.get("note", ""),
                )
            )
    su = results.get("sustained")
    if su:
        if su.get("error"):
            other.append(("Sustained rollouts", "failed", "", "**no**", su["error"]))
        else:
            other.append(
                (
                    f"Sustained rollouts: {su['per_hour']:,} an hour for {su['minutes']:g} min "
                    f"({su['rollouts']} rollouts, {su['workers']})",
                    f"{su['steps_doubled']} with a step doubled; first Kubernetes call p95 "
                    f"{_ms(su['first_call']['p95_ms'])}",
                    "all succeed, no step doubled",
                    _mark(su.get("target_met")),
                    f"states {su['states']}",
                )
            )
    tr = results.get("trains")
    if tr:
        if tr.get("error"):
            other.append(("Release train", "failed", "", "**no**", tr["error"]))
        else:
            other.append(
                (
                    f"Release train: plan of {tr['members']} members over the catalog graph",
                    f"p50 {_ms(tr['plan']['p50_ms'])}, p95 {_ms(tr['plan']['p95_ms'])}",
                    "p95 ≤ 100 ms",
                    _mark(tr.get("plan_target_met")),
                    f"{len(tr['waves'])} waves: {', '.join(map(str, tr['waves']))}",
                )
            )
            other.append(
                (
                    f"Release train: start → first Kubernetes call of each of the first "
                    f"wave's {tr['first_wave']} members",
                    f"p50 {_ms(tr['first_call']['p50_ms'])}, p95 {_ms(tr['first_call']['p95_ms'])}",
                    "p95 ≤ 1 s",
                    _mark(tr.get("dispatch_target_met")),
                    f"{tr['first_call_missing']} without a call",
                )
            )
    sc = results.get("supplychain")
    if sc:
        other.append(
            (
                f"Supply chain: verify one release's artifact ({sc['attestations']} attestations: "
                f"a signature, provenance, a scan of {sc['findings_in_scan']} findings)",
                f"p50 {_ms(sc['verify']['p50_ms'])}, p95 {_ms(sc['verify']['p95_ms'])}",
                "—",
                "—",
                f"{sc['requirements']} requirements, "
                + ("all passed" if sc["passed"] else "**not all passed**"),
            )
        )
    fo = results.get("fanout")
    if fo:
        if fo.get("error"):
            other.append(("Live status fan-out", "failed", "", "**no**", fo["error"]))
        else:
            other.append(
                (
                    f"Live status fan-out: state change → event at each of {fo['watchers']} "
                    f"SSE watchers ({fo['changes']} changes, one web process)",
                    f"p50 {_ms(fo['latency']['p50_ms'])}, p95 {_ms(fo['latency']['p95_ms'])}",
                    "p95 ≤ 1 s",
                    _mark(fo.get("target_met")),
                    f"{fo['received']}/{fo['expected']} events received; web RSS "
                    f"{fo.get('rss_mb', '—')} MB",
                )
            )
    if other:
        lines += [
            "## Background work and live status",
            "",
            "| What | Result | Target | Met | Notes |",
        ]
        lines.append("|---|---|---|:--:|---|")
        lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in other]
        lines.append("")
    wn = results.get("windows")
    if wn:
        lines += _windows_markdown(wn)
    bs = results.get("backstage")
    if bs:
        lines += _backstage_markdown(bs)
    return "\n".join(lines) + "\n"


def _windows_markdown(wn: dict) -> list[str]:
    lines = [
        "## Change-window checks",
        "",
        f"Is an instant inside a window, target p95 < 1 ms whatever the rule's age: "
        f"{_mark(wn['target_met'])} (worst p95 {_short(wn['worst_p95_ms'])}).",
        "",
        "| Rule | First occurrence | How | p50 | p95 |",
        "|---|---|---|--:|--:|",
    ]
    for check in wn["checks"]:
        how = "dateutil from the start (before)" if check.get("walked") else "Runway"
        lines.append(
            f"| {check['rule']} | {check['since']} | {how} | {_short(check['p50_ms'])} | "
            f"{_short(check['p95_ms'])} |"
        )
    return [*lines, ""]


def _short(ms: float) -> str:
    return f"{ms * 1000:.0f} µs" if ms < 1 else _ms(ms)


def _backstage_markdown(bs: dict) -> list[str]:
    if bs.get("error"):
        return ["## Side by side with Backstage", "", f"Not measured: {bs['error']}", ""]
    imp = bs["import"]
    theirs = bs.get("backstage") or {}
    measured = bool(theirs.get("measured"))
    if measured:
        source = "Backstage p50 (measured in this run)"
        their_import = imp["backstage_seconds"]
        import_cell = f"{their_import:.1f} s"
        their_rss = theirs.get("rss_mb")
    else:
        source = "Backstage p50 (recorded)"
        their_import = imp["backstage_seconds"][0]
        import_cell = "–".join(f"{s:g}" for s in imp["backstage_seconds"]) + " s"
        their_rss = theirs.get("rss_mb", 765)
    lines = [
        "## Side by side with Backstage (same generated catalog: "
        f"{bs['catalog']['components']:,} Components, {bs['catalog']['groups']} Groups, "
        f"{bs['catalog']['systems']} Systems, {bs['catalog']['relations']:,} dependsOn)",
        "",
        f"| What | Runway p50 | Runway p95 | Runway bytes | {source} | Runway ÷ Backstage "
        "| target | met |",
        "|---|---:|---:|---:|---:|---:|---|:--:|",
        f"| Import (`import_backstage`, until queryable) | {imp['seconds']:.1f} s | | | "
        f"{import_cell} | {imp['seconds'] / their_import:.2f} × | ≤ 24 s | "
        f"{_mark(imp.get('target_met'))} |",
    ]
    for row in bs["queries"]:
        ratio = row["p50_ms"] / row["backstage_p50_ms"] if row.get("backstage_p50_ms") else None
        lines.append(
            f"| {row['name']} | {_ms(row['p50_ms'])} | {_ms(row['p95_ms'])} | "
            f"{_bytes(row.get('bytes'))} | {_ms(row.get('backstage_p50_ms'))} | "
            + (f"{ratio:.2f} × | " if ratio is not None else "— | ")
            + f"{row.get('target', '')} | {_mark(row.get('target_met'))} |"
        )
    rss = bs.get("rss_mb")
    lines.append(
        f"| Web process resident memory after the run | {rss} MB | | | {their_rss} MB | "
        + (f"{rss / their_rss:.2f} × | " if rss and their_rss else "— | ")
        + f"< 200 MB | {_mark(bs.get('rss_target_met'))} |"
    )
    lines.append("")
    if measured:
        lines += _backstage_measured_notes(bs, theirs)
    return lines


def _backstage_measured_notes(bs: dict, theirs: dict) -> list[str]:
    """What Backstage ran as and what it answered, so its figures can be read and checked."""
    versions = theirs.get("versions") or {}
    node = versions.get("node", "?")
    packages = ", ".join(f"{name} {v}" for name, v in versions.items() if name != "node")
    lines = [
        f"Backstage measured in this run: {packages} on Node {node}, "
        f"{theirs.get('database', '?')}; its import is from starting the backend until every "
        "entity and both directions of every dependsOn are queryable (its catalog API answered "
        f"after {theirs.get('startup_seconds', '?')} s); its resident memory is the Node "
        "process's after the queries.",
        "",
        "| Query | Backstage URL | Backstage answered | Runway answered |",
        "|---|---|---|---|",
    ]
    for row in bs["queries"]:
        lines.append(
            f"| {row['name']} | `{row.get('backstage_url', '')}` | "
            f"{row.get('backstage_answer', '')} | {row.get('check', '')} |"
        )
    return [*lines, ""]
