"""The command's HTTP client against a small local server that answers as told: what is retried,
what is sent once, and how often."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cli.client import Client, Refused
from cli.config import Settings
from cli.exits import FORBIDDEN, UNREACHABLE, CliError


class Script(BaseHTTPRequestHandler):
    """Answers each request with the next (status, headers) of the server's script; the last
    one repeats. Every request is recorded."""

    def _answer(self):
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        server.seen.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
        status, headers = server.script[min(len(server.seen), len(server.script)) - 1]
        body = json.dumps({"detail": f"answer {len(server.seen)}"}).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    httpd.seen, httpd.script = [], [(200, {})]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def client_for(server, **options) -> tuple[Client, list[float]]:
    waits: list[float] = []
    url = f"http://127.0.0.1:{server.server_address[1]}"
    client = Client(Settings(url=url, token="rw_test"), sleep=waits.append, **options)
    return client, waits


def test_a_read_is_retried_through_5xx_with_growing_back_off_and_the_token_sent(server):
    server.script = [(503, {}), (502, {}), (200, {})]
    client, waits = client_for(server, retries=4, backoff=0.5)

    assert client.get("/api/v1/releases/1/") == {"detail": "answer 3"}
    assert len(server.seen) == 3
    assert all(headers["Authorization"] == "Bearer rw_test" for _, _, headers, _ in server.seen)
    # Full jitter: each wait is at most the doubled back-off.
    assert len(waits) == 2 and waits[0] <= 1.0 and waits[1] <= 2.0


def test_a_create_without_a_key_is_sent_once_even_on_a_5xx(server):
    server.script = [(503, {})]
    client, _ = client_for(server, retries=4)

    with pytest.raises(CliError) as raised:
        client.post("/api/v1/releases/1/approve/", {"comment": "ok"})

    assert raised.value.code == UNREACHABLE
    assert "sent once" in raised.value.message
    assert len(server.seen) == 1


def test_a_create_with_a_key_is_retried_with_the_same_key_and_body(server):
    server.script = [(500, {}), (409, {"Retry-After": "1"}), (201, {})]
    client, waits = client_for(server, retries=4)

    client.post("/api/v1/releases/", {"service": "web"}, idempotency_key="k-1")

    assert len(server.seen) == 3
    assert {headers["Idempotency-Key"] for _, _, headers, _ in server.seen} == {"k-1"}
    assert {body for *_, body in server.seen} == {b'{"service": "web"}'}
    assert waits[1] == 1.0  # the 409's Retry-After


def test_retries_run_out_with_exit_7_naming_the_tries(server):
    server.script = [(503, {})]
    client, _ = client_for(server, retries=2)

    with pytest.raises(CliError) as raised:
        client.get("/api/v1/me/")

    assert raised.value.code == UNREACHABLE and "after 3 tries" in raised.value.message
    assert len(server.seen) == 3


@pytest.mark.parametrize(("status", "code"), [(401, FORBIDDEN), (403, FORBIDDEN)])
def test_401_and_403_are_not_retried_and_mean_exit_6(server, status, code):
    server.script = [(status, {})]
    client, _ = client_for(server)

    with pytest.raises(CliError) as raised:
        client.get("/api/v1/me/")

    assert raised.value.code == code and len(server.seen) == 1


def test_a_400_says_whether_a_policy_refused_it(server):
    server.script = [(400, {"Runway-Refusal": "policy"}), (400, {})]
    client, _ = client_for(server)

    with pytest.raises(Refused) as by_policy:
        client.post("/api/v1/releases/", {})
    with pytest.raises(Refused) as wrong:
        client.post("/api/v1/releases/", {})

    assert (by_policy.value.refused_by_policy, wrong.value.refused_by_policy) == (True, False)
    assert by_policy.value.message == "answer 1"
