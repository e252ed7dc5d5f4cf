"""One benchmark run: the phases in order, and everything they measured."""

import platform
import subprocess
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from benchmarks import load
from benchmarks.config import ROOT, Config
from benchmarks.measure import Stopwatch

if TYPE_CHECKING:
    from benchmarks.server import WebServer


class Run:
    def __init__(self, cfg: Config, watch: Stopwatch):
        self.cfg, self.watch = cfg, watch
        self.meta: dict = {}
        self.sections: dict[str, object] = {}
        self.cleanup: list = []
        self._server: WebServer | None = None

    def server(self):
        """The web process on the bench database, started once for the phases that need it."""
        if self._server is None:
            from benchmarks.server import WebServer

            self._server = WebServer(self.cfg)
            self.cleanup.append(self._server.stop)
        return self._server

    def execute(self) -> None:
        self._load()
        if self.cfg.wants("web") or self.cfg.wants("dora"):
            from benchmarks import web

            with self.watch.phase("floors"):
                self.sections["floors"] = web.run_floors(self.cfg, self.meta, self.server())
        if self.cfg.wants("web"):
            from benchmarks import web

            with self.watch.phase("pages and APIs"):
                self.sections["web"] = web.run(self.cfg, self.meta, self.server())
        if self.cfg.wants("dora"):
            from benchmarks import insights

            with self.watch.phase("DORA reports"):
                self.sections["dora"] = insights.run_dora(self.cfg, self.meta, self.server())
        if self.cfg.wants("scorecards"):
            from benchmarks import insights

            with self.watch.phase("scorecards"):
                self.sections["scorecards"] = insights.run_scorecards(self.cfg, self.meta)
        if self.cfg.wants("dispatch"):
            from benchmarks import dispatch

            with self.watch.phase("rollout dispatch"):
                self.sections["dispatch"] = dispatch.run(self.cfg, self.meta)
        if self.cfg.wants("sustained"):
            from benchmarks import sustained

            with self.watch.phase("sustained rollouts"):
                self.sections["sustained"] = sustained.run(self.cfg, self.meta)
        if self.cfg.wants("trains"):
            from benchmarks import trains

            with self.watch.phase("release trains"):
                self.sections["trains"] = trains.run(self.cfg, self.meta)
        if self.cfg.wants("supplychain"):
            from benchmarks import supplychain

            with self.watch.phase("supply-chain verification"):
                self.sections["supplychain"] = supplychain.run(self.cfg)
        if self.cfg.wants("fanout"):
            from benchmarks import fanout

            with self.watch.phase("live status fan-out"):
                self.sections["fanout"] = fanout.run(self.cfg, self.meta, self.server())
        if self.cfg.wants("windows"):
            from benchmarks import windows

            with self.watch.phase("change-window checks"):
                self.sections["windows"] = windows.run(self.cfg)
        if self.cfg.wants("backstage"):
            from benchmarks import backstage

            with self.watch.phase("Backstage comparison"):
                self.sections["backstage"] = backstage.run(self.cfg)

    def _load(self) -> None:
        kept = load.stored_meta(self.cfg) if self.cfg.keep_db else None
        today = datetime.now(UTC).date()
        needs_db = any(
            self.cfg.wants(p)
            for p in (
                "load",
                "web",
                "dora",
                "scorecards",
                "dispatch",
                "sustained",
                "trains",
                "supplychain",
                "fanout",
            )
        )
        if kept and kept.get("fingerprint") == load.fingerprint(self.cfg, today):
            print(f"Reusing the loaded database {self.cfg.database} (--keep-db).")
            self.meta = kept
            self.sections["load"] = {"reused": True}
            return
        if not needs_db:
            return
        with self.watch.phase(f"load (scale {self.cfg.scale})"):
            _world, figures = load.load(self.cfg)
            self.meta = figures.pop("meta")
            self.sections["load"] = figures
            for table, rows in figures["rows"].items():
                print(f"   {table:34} {rows:>10,}")
            print(f"   {figures['seconds']}")

    def close(self) -> None:
        for fn in reversed(self.cleanup):
            fn()

    def results(self, *, total_seconds: float) -> dict:
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_facts(self.cfg),
            "scale": self.cfg.scale,
            "samples": self.cfg.samples,
            "warmup": self.cfg.warmup,
            "phases_seconds": self.watch.phases,
            "total_seconds": total_seconds,
            **self.sections,
        }


def machine_facts(cfg: Config) -> dict:
    import os

    import psycopg

    with psycopg.connect(cfg.server_url) as conn:
        version = conn.execute("SHOW server_version").fetchall()[0][0]
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
                "('shared_buffers', 'work_mem', 'jit', 'max_connections')"
            ).fetchall()
        )
    memory = ""
    try:
        with open("/proc/meminfo") as meminfo:
            kb = int(meminfo.readline().split()[1])
            memory = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass

    def git(*args: str) -> str:
        try:
            return subprocess.run(  # noqa: S603
                ["git", *args],  # noqa: S607 (git from PATH, as a person runs it)
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        except OSError:
            return ""

    return {
        "cores": os.cpu_count(),
        "memory": memory,
        "cpu": _cpu_model(),
        "postgresql": version,
        "postgresql_settings": settings,
        "python": platform.python_version(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
