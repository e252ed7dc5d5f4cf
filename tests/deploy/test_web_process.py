"""The web container as the overlay renders it (command line and environment) answers the
kubelet's probes: addressed to the pod's IP, over plain HTTP."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.brokers import free_port
from tests.deploy.conftest import (
    ROOT,
    container_environment,
    expand,
    pod_spec,
    secret_example,
)
from tests.processes import database_url_of_test_db, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

POD_IP = "127.0.0.1"  # the test connects where the kubelet would: the pod's own address


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(port: int, path: str, host: str, **headers: str) -> tuple[int, bytes, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Host": host, **headers}
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, response.read(), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Location", "")


@pytest.fixture
def web(small, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the web process needs a database it can share: PostgreSQL")
    container = pod_spec(small.get("Deployment", "runway-web"))["containers"][0]
    config = small.get("ConfigMap", "runway-config")["data"]
    secret = {
        **secret_example()["stringData"],
        "DATABASE_URL": database_url_of_test_db(),
        "CACHE_URL": "locmemcache://probe",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
    }
    env = container_environment(container, config, secret, POD_IP)
    env.pop("LIVE_UPDATES_REDIS_URL")
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["RUNWAY_AUDIT_CHECKPOINT_FILE"] = str(tmp_path / "checkpoints.jsonl")
    port = free_port()
    command = [expand(arg, env) for arg in container["command"]]
    command = [f"--port={port}" if arg.startswith("--port=") else arg for arg in command]
    log = tmp_path / "web.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
    try:
        assert wait_for(lambda: _listening(port) or process.poll() is not None, timeout=30)
        assert process.poll() is None, log.read_text()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _listening(port: int) -> bool:
    try:
        get(port, "/healthz", POD_IP)
        return True
    except OSError:
        return False


def test_the_probe_addressed_to_the_pod_gets_a_healthy_answer(web):
    status, body, location = get(web, "/healthz", f"{POD_IP}:8000")
    assert (status, location) == (200, "")
    assert json.loads(body)["database"] == "ok"


def test_pages_still_go_to_https_on_the_public_host(web):
    status, _, location = get(web, "/", "runway.example.com")
    assert (status, location) == (301, "https://runway.example.com/")


def test_a_host_nobody_allowed_is_refused(web):
    status, _, _ = get(web, "/healthz", "elsewhere.example")
    assert status >= 400


def test_prometheus_scrapes_the_pod_with_the_secrets_token(web):
    token = secret_example()["stringData"]["METRICS_TOKEN"]
    status, body, _ = get(web, "/metrics", f"{POD_IP}:8000", Authorization=f"Bearer {token}")
    assert status == 200
    # The dashboard's figures that the web pods serve (the probes made the first request).
    for metric in (
        b"django_http_requests_latency_seconds_by_view_method_bucket",
        b"runway_outbox_backlog",
        b"runway_queue_depth",
        b"runway_rollouts",
    ):
        assert metric in body, metric
    assert get(web, "/metrics", f"{POD_IP}:8000")[0] == 401
