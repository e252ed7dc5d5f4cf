"""Runway's own processes started from Python, as the Procfile starts them: a Celery worker, a
web process and the cluster simulator. The test suite's drills, its browser tests and the
benchmark all start them here, so that a process under test is the one that runs in production.

Each process writes to a log file (a pipe nobody reads would block it once full), is awaited
by what it leaves behind (the simulator writes its kubeconfig once it listens), and stops with
SIGTERM, then SIGKILL."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def celery_worker(
    *,
    log: Path,
    env: Mapping[str, str],
    name: str,
    concurrency: int | None = None,
    loglevel: str = "INFO",
    include: str = "",
    pool: str = "",
    queues: str = "",
) -> subprocess.Popen:
    """A worker named `name@host`: one process (the solo pool) unless `concurrency` asks for a
    prefork pool (or `pool` for another, such as threads), consuming every queue unless `queues`
    names some (-Q). `env` is its whole environment (database, broker, queue, kubeconfig)."""
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker"]
    command += [f"--pool={pool or ('solo' if concurrency is None else 'prefork')}"]
    if concurrency is not None:
        command += [f"--concurrency={concurrency}"]
    if queues:
        command += ["-Q", queues]
    command += ["--without-gossip", "--without-mingle", f"--loglevel={loglevel}"]
    command += ["-n", f"{name}@%h"]
    if include:
        command += ["--include", include]
    return _start(command, log=log, env=env)


def simulator(
    *,
    kubeconfig: Path,
    port: int,
    tick: float,
    ready_delay: float,
    log: Path | None = None,
    request_log: Path | None = None,
    timeout: float = 30,
) -> subprocess.Popen:
    """The cluster simulator on `port`, started and listening: it has written `kubeconfig`."""
    kubeconfig.unlink(missing_ok=True)
    command = [sys.executable, "-m", "simulator", "--port", str(port)]
    command += ["--tick", str(tick), "--ready-delay", str(ready_delay)]
    command += ["--kubeconfig-out", str(kubeconfig)]
    if request_log is not None:
        command += ["--request-log", str(request_log)]
    process = _start(command, log=log, env=os.environ)
    deadline = time.monotonic() + timeout
    while not kubeconfig.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"the cluster simulator did not start (log: {log})")
        time.sleep(0.05)
    return process


def web(*, port: int, env: Mapping[str, str], log: Path, timeout: float = 60) -> subprocess.Popen:
    """A web process as the Procfile's `web` runs it (uvicorn), answering /healthz on `port`."""
    command = [sys.executable, "-m", "uvicorn", "portal.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    process = _start(command, log=log, env=env)
    deadline = time.monotonic() + timeout
    while not _answers(f"http://127.0.0.1:{port}/healthz"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"the web process did not start (log: {log})")
        time.sleep(0.1)
    return process


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (a local http URL)
            return True
    except urllib.error.HTTPError:
        return True  # it answered (503: the database is away), so it is up
    except OSError:
        return False


def stop(process: subprocess.Popen, *, timeout: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(command: list[str], *, log: Path | None, env: Mapping[str, str]) -> subprocess.Popen:
    if log is None:
        return subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    with log.open("a") as output:
        return subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=dict(env), stdout=output, stderr=subprocess.STDOUT
        )
