"""Where the benchmark runs: its databases, its Redis, and the environment every process it
starts (manage.py, uvicorn, Celery workers) is given. Production mode (DEBUG off), with a fixed
bench-only SECRET_KEY: the timings are those of a real deployment, not of a debug server."""

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"

BENCH_SECRET_KEY = "bench-only-secret-key-never-used-anywhere-else-0123456789abcdefghijk"
BENCH_ENCRYPTION_KEY = "bench-only-encryption-key-0123456789abcdefghijkl"
BENCH_AUDIT_KEY = "bench:bench-only-audit-key-0123456789abcdefghijklmn"


def _database_url(name: str) -> str:
    server = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    return f"{server.rstrip('/')}/{name}"


def default_backstage_generator() -> Path:
    """benchmarks/backstage_catalog_gen.py, unless BACKSTAGE_GEN says."""
    configured = os.environ.get("BACKSTAGE_GEN")
    if configured:
        return Path(configured)
    return ROOT / "benchmarks" / "backstage_catalog_gen.py"


@dataclass
class Config:
    scale: float = 1.0
    database: str = "runway_bench"
    backstage_database: str = "runway_bench_backstage"
    redis_url: str = "redis://127.0.0.1:6379/7"
    samples: int = 30
    warmup: int = 5
    keep_db: bool = False
    only: set[str] = field(default_factory=set)
    backstage_gen: Path = field(default_factory=default_backstage_generator)
    # Backstage's own catalog backend measured in the run, rather than its recorded figures.
    backstage_live: bool = False
    seed: int = 20241
    out_dir: Path = RESULTS_DIR
    var_dir: Path = ROOT / "var" / "bench"

    @property
    def database_url(self) -> str:
        return _database_url(self.database)

    @property
    def backstage_database_url(self) -> str:
        return _database_url(self.backstage_database)

    @property
    def backstage_backend_database(self) -> str:
        """The database the Backstage backend itself keeps its catalog in (`--backstage`)."""
        return f"{self.backstage_database}_node"

    @property
    def server_url(self) -> str:
        return _database_url("postgres")

    def wants(self, phase: str) -> bool:
        return not self.only or phase in self.only

    def env(self, *, database_url: str | None = None, **extra: str) -> dict[str, str]:
        """The environment of a Runway process started by the benchmark."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "0",
            "SECRET_KEY": BENCH_SECRET_KEY,
            "RUNWAY_ENCRYPTION_KEY": BENCH_ENCRYPTION_KEY,
            "RUNWAY_AUDIT_KEY": BENCH_AUDIT_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # The benchmark's people sign in with a password alone.
            "MFA_REQUIRED_ROLES": "",
            "DATABASE_URL": database_url or self.database_url,
            "CELERY_BROKER_URL": self.redis_url,
            "LIVE_UPDATES_REDIS_URL": self.redis_url,
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            # Served from the source folders: no collectstatic step in a benchmark run.
            "STATIC_MANIFEST": "0",
            "RUNWAY_VAR_DIR": str(self.var_dir),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        env.update(extra)
        return env

    def apply_to_this_process(self) -> None:
        """Configure Django in the orchestrating process against the bench database."""
        os.environ.update(self.env())
        self.var_dir.mkdir(parents=True, exist_ok=True)


PYTHON = sys.executable
