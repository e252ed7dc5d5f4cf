"""The benchmark's report marks each page and API against the floors measured in the same run."""

from benchmarks import report


def results(**sections) -> dict:
    return {
        "generated_at": "2026-01-05T10:00:00+00:00",
        "machine": {
            "cores": 2,
            "memory": "",
            "cpu": "",
            "postgresql": "",
            "python": "",
            "commit": "abc",
        },
        "scale": 1.0,
        "samples": 30,
        "warmup": 5,
        "total_seconds": 10,
        **sections,
    }


def row(name, *, api, p95, sql=None, **extra) -> dict:
    return {"name": name, "api": api, "p50_ms": p95 / 2, "p95_ms": p95, "sql_p50_ms": sql, **extra}


def test_pages_are_read_against_the_page_floor_and_apis_against_the_api_floor():
    run = results(
        floors={"page": 10.0, "api": 4.0, "rows": []},
        web={
            "rows": [
                row("page within", api=False, p95=45.0, sql=5.0),  # 3 x (5 + 10) = 45
                row("page over", api=False, p95=45.1, sql=5.0),
                row("api within", api=True, p95=27.0, sql=5.0),  # 3 x (5 + 4) = 27
                row(
                    "api over", api=True, p95=30.0, sql=5.0
                ),  # within the page floor, not the API's
            ]
        },
        dora={"rows": [row("no plain SQL", api=False, p95=1.0)]},
    )
    report.floor_checks(run)
    marks = {
        r["name"]: (r["floor_bound_ms"], r["floor_met"])
        for r in run["web"]["rows"] + run["dora"]["rows"]
    }
    assert marks == {
        "page within": (45.0, True),
        "page over": (45.0, False),
        "api within": (27.0, True),
        "api over": (27.0, False),
        "no plain SQL": (None, None),
    }


def test_without_floors_nothing_is_marked_and_the_old_columns_stay():
    run = results(
        web={
            "rows": [
                row(
                    "page",
                    api=False,
                    p95=45.0,
                    sql=5.0,
                    target_met=True,
                    ratio=4.5,
                    queries=3,
                    bytes=2000,
                )
            ]
        }
    )
    report.floor_checks(run)
    assert run["web"]["rows"][0]["floor_met"] is None
    text = report.markdown(run)
    header = next(line for line in text.splitlines() if line.startswith("| What | p50"))
    assert "page ÷ SQL" in header and "target met" in header and "3 × (SQL + floor)" in header
    assert "| page | 22.5 ms | 45.0 ms | 5.0 ms | 4.5 × | 3 | 2.0 kB | yes | — | — |" in text


def test_the_floors_are_rows_of_the_table_and_named_under_it():
    floors = [
        {
            "name": "Floor: profile page",
            "api": False,
            "floor": "page",
            "p50_ms": 8.0,
            "p95_ms": 9.0,
        },
    ]
    run = results(
        floors={"page": 8.0, "api": 3.0, "rows": floors},
        web={"rows": [row("page", api=False, p95=100.0, sql=20.0)]},
    )
    report.floor_checks(run)
    text = report.markdown(run)
    assert "| Floor: profile page | 8.0 ms | 9.0 ms |" in text
    assert "| 84.0 ms | **no** |" in text  # 3 x (20 + 8) = 84 < 100
    assert "page p50 8.0 ms, API p50 3.0 ms" in text
