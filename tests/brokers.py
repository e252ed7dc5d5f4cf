"""Brokers a test may stop and start (a private redis-server on a port of its own), a link to a
broker that a test may freeze, and pointing this process's publishing at one of them."""

import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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


DEFAULT_PORTS = {"redis": 6379, "amqp": 5672}


class SilencedLink:
    """A TCP relay to a broker that a test may silence: from `silence(after=n)`, the broker's
    next n bytes reach the client and then nothing (mid-frame when n is small), while what the
    client sends still reaches the broker and every socket stays open, as with a broker that
    stalls or a one-way partition. `speak()` delivers what was held."""

    def __init__(self, broker_url: str):
        parts = urlsplit(broker_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[parts.scheme])
        self.port = free_port()
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"127.0.0.1:{self.port}"
        self.url = urlunsplit(
            parts._replace(netloc=f"{credentials}@{netloc}" if credentials else netloc)
        )
        self._lock = threading.Lock()
        self._allowance: int | None = None  # bytes the broker may still send; None: no limit
        self._speaking = threading.Event()
        self._speaking.set()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def silence(self, *, after: int = 0) -> None:
        with self._lock:
            self._allowance = after
            self._speaking.clear()

    def speak(self) -> None:
        with self._lock:
            self._allowance = None
            self._speaking.set()

    def close(self) -> None:
        self.speak()
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(self.upstream)
            self._sockets += [client, upstream]
            for source, target, from_broker in (
                (client, upstream, False),
                (upstream, client, True),
            ):
                relay = threading.Thread(
                    target=self._relay, args=(source, target, from_broker), daemon=True
                )
                relay.start()

    def _relay(self, source: socket.socket, target: socket.socket, from_broker: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if from_broker:
                    chunk = self._pass_what_is_allowed(chunk, target)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                sock.close()

    def _pass_what_is_allowed(self, chunk: bytes, target: socket.socket) -> bytes:
        """Send the part of the chunk the allowance covers; the rest once the broker speaks."""
        with self._lock:
            if self._allowance is None:
                return chunk
            passed, chunk = chunk[: self._allowance], chunk[self._allowance :]
            self._allowance -= len(passed)
        target.sendall(passed)
        self._speaking.wait()
        return chunk


@contextmanager
def publishing_to(url: str):
    """Publish (the outbox, send_task, control) and consume through `url` in this process.
    CELERY_BROKER_URL, from the environment, outranks broker_url but not these two."""
    previous = app.conf.broker_write_url, app.conf.broker_read_url
    app.conf.broker_write_url = app.conf.broker_read_url = url
    outbox._forget_connection()
    # Celery keeps a producer pool made from the first broker it publishes to (a countdown's
    # send reaches for it too): one made here must not outlive the block.
    pools = app._pool, app.amqp._producer_pool
    app._pool = app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.broker_write_url, app.conf.broker_read_url = previous
        outbox._forget_connection()
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool, app.amqp._producer_pool = pools


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
