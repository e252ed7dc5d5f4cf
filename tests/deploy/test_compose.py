"""docker-compose.yml: the worker scales out with `docker compose up --scale worker=N`."""

import yaml

from tests.deploy.conftest import ROOT


def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_the_worker_can_run_as_many_containers():
    worker = services()["worker"]
    # A fixed container or host name, or a published host port, allows one container only.
    assert "container_name" not in worker
    assert "hostname" not in worker
    assert "ports" not in worker
    assert worker["command"][:4] == ["celery", "-A", "portal", "worker"]


def test_each_worker_replica_runs_a_fixed_number_of_processes():
    command = services()["worker"]["command"]
    assert "--concurrency=2" in command


def test_no_service_fixes_its_container_name():
    assert [name for name, service in services().items() if "container_name" in service] == []
