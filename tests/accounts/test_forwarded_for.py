"""X-Forwarded-For is believed only from TRUSTED_PROXIES: the web process, started from the
Procfile's own line, records the address a client connects from, whatever header it sends,
unless the connection comes from a trusted proxy."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from apps.accounts import services
from apps.audit.models import AuditEvent
from tests.brokers import free_port
from tests.processes import ROOT, database_url_of_test_db, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SPOOFED = "203.0.113.9"


def web_command() -> str:
    (line,) = [
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    ]
    return line.removeprefix("web:").strip()


def create_token_through(port: int, key: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/tokens/",
        data=b'{"name": "through the proxy"}',
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "X-Forwarded-For": SPOOFED,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def recorded_address(developer, tmp_path: Path, trusted: str | None) -> str:
    _, key = services.api_token_create(actor=developer, name="bootstrap")
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": database_url_of_test_db(),
        "PORT": str(port),
        "RUNWAY_HOST": "127.0.0.1",
        # The Procfile says `python`: this virtualenv's, as `make run` runs it.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("TRUSTED_PROXIES", None)
    if trusted is not None:
        env["TRUSTED_PROXIES"] = trusted
    with (tmp_path / "web.log").open("a") as log:
        web = subprocess.Popen(
            ["bash", "-c", f"exec {web_command()}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        started = wait_for(lambda: _answers(port) or web.poll() is not None, timeout=30)
        assert started and web.poll() is None, (tmp_path / "web.log").read_text()
        create_token_through(port, key)
    finally:
        web.terminate()
        web.wait(timeout=10)
    return AuditEvent.objects.filter(action="api_token.create").latest("id").ip


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the web process needs a database it can share: PostgreSQL")


def test_a_client_cannot_choose_the_address_recorded_for_it(developer, tmp_path):
    assert recorded_address(developer, tmp_path, trusted=None) == "127.0.0.1"


def test_a_trusted_proxys_forwarded_address_is_recorded(developer, tmp_path):
    assert recorded_address(developer, tmp_path, trusted="127.0.0.1") == SPOOFED
