"""The HTTP server around `Api`, and the simulator's life cycle: in a process of its own
(`python -m simulator`) or inside a test (`start_simulator`)."""

import json
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

from simulator.api import Api, Request, Response
from simulator.controller import Controller
from simulator.store import Store

logger = logging.getLogger("simulator")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked watch streams
    # Headers and body go out as separate writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK of the headers, some 40 ms per request on a keep-alive connection.
    disable_nagle_algorithm = True
    server: "_HttpServer"

    def _serve(self) -> None:
        received = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = self.server.api.handle(Request(self.command, self.path, headers, body))
        if self.server.request_log is not None:
            # Once handled: a client killed while sending its body leaves a refused write.
            self.server.request_log.record(received, self.command, self.path, response.status)
        if response.stream is not None:
            self._stream(response.stream)
        else:
            self._send(response)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _send(self, response: Response) -> None:
        if isinstance(response.body, dict):
            data = json.dumps(response.body).encode()
        else:
            data = (response.body or "").encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream(self, stream: Iterator[dict | None]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        try:
            for event in stream:
                if self.server.stopping.is_set():
                    break
                if event is None:
                    if self._client_gone():
                        return
                    continue
                data = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client went away mid-write
            return

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class RequestLog:
    """Optional: one line per request (wall-clock time it arrived, method, path, the status it
    was answered with) appended to a file once it is handled, for measuring from outside when
    the cluster was first called about something (the benchmark's time from starting a rollout
    to its first Kubernetes call) and which writes it took (the crash drills)."""

    def __init__(self, path: str):
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 (closed in close())
        self._lock = threading.Lock()

    def record(self, received: float, method: str, target: str, status: int) -> None:
        line = f"{received:.6f} {method} {target} {status}\n"
        with self._lock:
            self._file.write(line)

    def close(self) -> None:
        with self._lock:
            self._file.close()


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int]):
        super().__init__(address, _Handler)
        self.stopping = threading.Event()
        self.api: Api
        self.request_log: RequestLog | None = None


class Simulator:
    """A cluster: the store, the HTTP API in front of it and the controllers behind it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ready_delay: float = 1.0,
        tick: float = 0.2,
        request_log: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.store = Store()
        self.http = _HttpServer((host, port))
        if request_log:
            self.http.request_log = RequestLog(request_log)
        self.port = self.http.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.http.api = Api(self.store, server_address=f"{host}:{self.port}")
        self.controller = Controller(self.store, tick=tick, ready_delay=ready_delay, clock=clock)
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the command line)."""
        self.controller.start()
        try:
            self.http.serve_forever()
        finally:
            self._close()

    def start(self) -> None:
        """Serve from background threads (tests)."""
        self.controller.start()
        self._thread = threading.Thread(
            target=self.http.serve_forever, args=(0.05,), name="simulator-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.http.shutdown()
        self._close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _close(self) -> None:
        self.http.stopping.set()
        self.store.close()
        self.controller.stop()
        self.http.server_close()
        if self.http.request_log is not None:
            self.http.request_log.close()


class RunningSimulator(NamedTuple):
    url: str
    stop: Callable[[], None]


def start_simulator(
    *,
    host: str = "127.0.0.1",
    ready_delay: float = 0.3,
    tick: float = 0.05,
    request_log: str | None = None,
    clock: Callable[[], float] = time.time,
) -> RunningSimulator:
    """Start a simulator in this process on a free port: returns (url, stop). Tests may pass
    a clock they move, so that waits are run out rather than waited out."""
    simulator = Simulator(
        host=host,
        port=0,
        ready_delay=ready_delay,
        tick=tick,
        request_log=request_log,
        clock=clock,
    )
    simulator.start()
    return RunningSimulator(simulator.url, simulator.stop)
