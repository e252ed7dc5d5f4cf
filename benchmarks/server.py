"""The real web process, started as the Procfile starts it (uvicorn serving portal.asgi), on a
free port against a benchmark database; a keep-alive HTTP client signed in as a seeded user."""

import socket
import subprocess
import time
from pathlib import Path

import requests

from benchmarks.config import PYTHON, ROOT, Config
from benchmarks.measure import timed

WEB_POOL_SIZE = "10"  # as docker-compose.yml runs the web process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WebServer:
    def __init__(self, cfg: Config, *, database_url: str | None = None, log_name: str = "web"):
        self.cfg = cfg
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg.var_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = Path(cfg.var_dir) / f"{log_name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(  # noqa: S603
            [
                PYTHON,
                "-m",
                "uvicorn",
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            cwd=ROOT,
            # Pooled connections, as docker-compose runs the web process.
            env=cfg.env(database_url=database_url, DATABASE_POOL_SIZE=WEB_POOL_SIZE),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the web process exited; see {self.log_path}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the web process did not answer /healthz; see {self.log_path}")

    def rss_mb(self) -> float | None:
        return resident_mb(self.process.pid)

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()


def resident_mb(pid: int) -> float | None:
    """Resident memory of a process (VmRSS), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, and SIGKILL if it has not exited 15 s later."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def timed_get(
    cfg: Config, client: requests.Session, url: str, *, encoding: str = "identity", stream=False
) -> dict:
    """A GET sampled with the run's warm-up and sample counts; the last body comes back too,
    so the caller can check what was answered. `stream` keeps the body as sent (gzip stays
    compressed, so its size is the bytes on the wire)."""
    sizes = []

    def request():
        response = client.get(url, headers={"Accept-Encoding": encoding}, stream=stream)
        body = response.raw.read(decode_content=False) if stream else response.content
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}: {body[:300]!r}")
        sizes.append(len(body))
        return body

    timing, body = timed(request, warmup=cfg.warmup, samples=cfg.samples)
    return {**timing.as_dict(), "bytes": sizes[-1], "body": body}


def session_for(username: str) -> str:
    """A signed-in session for a seeded user, made as django.contrib.auth.login makes one."""
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username=username)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    # The backend that signs people in with a password, as login() records it: a session
    # naming a backend the settings do not list is no session at all.
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    if store.session_key is None:
        raise RuntimeError(f"no session was made for {username}")
    return store.session_key


def browser(session_key: str) -> requests.Session:
    client = requests.Session()
    client.headers["Cookie"] = f"sessionid={session_key}"
    return client


def api_client(token: str) -> requests.Session:
    client = requests.Session()
    client.headers["Authorization"] = f"Bearer {token}"
    client.headers["Accept"] = "application/json"
    return client
