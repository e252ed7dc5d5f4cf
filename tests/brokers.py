"""Brokers a test may stop and start (a private redis-server on a port of its own), and
pointing this process's publishing at one of them."""

import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import redis

from apps.core import outbox
from portal.celery import app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """redis-server on a free port. With `directory` it keeps an append-only file there, fsynced
    on every write, so what it held survives a crash (as a production broker is configured)."""

    def __init__(self, *, directory: Path | None = None):
        self.port = free_port()
        self.directory = directory
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def start(self) -> "RedisServer":
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.directory is None:
            args += ["--appendonly", "no"]
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            args += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            [*args, "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not self.answers():
            assert self.process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not answer within 10 s"
            time.sleep(0.05)
        return self

    def answers(self) -> bool:
        try:
            with self.client() as client:
                return client.ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """A crash, not a shutdown: SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def publishing_to(url: str):
    """Publish (the outbox, send_task, control) and consume through `url` in this process.
    CELERY_BROKER_URL, from the environment, outranks broker_url but not these two."""
    previous = app.conf.broker_write_url, app.conf.broker_read_url
    app.conf.broker_write_url = app.conf.broker_read_url = url
    outbox._forget_connection()
    try:
        yield
    finally:
        app.conf.broker_write_url, app.conf.broker_read_url = previous
        outbox._forget_connection()


@contextmanager
def routed(routes: dict[str, str]):
    """Send tasks to queues of the test's own while it runs: {task name or glob: queue}."""
    previous = app.conf.task_routes
    app.conf.task_routes = {task: {"queue": queue} for task, queue in routes.items()}
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)  # the router is cached: rebuild it from the routes
    try:
        yield
    finally:
        app.conf.task_routes = previous
        app.amqp.flush_routes()
        app.amqp.__dict__.pop("router", None)
