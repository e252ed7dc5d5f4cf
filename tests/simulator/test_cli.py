"""`python -m simulator`: its own process, as `make run` starts it."""

import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from kubernetes import client, config

from tests.simulator.helpers import eventually

REPOSITORY = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def simulator(*args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "simulator", *args]
    return subprocess.Popen(
        command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def test_the_command_serves_a_kubeconfig_and_stops_on_sigterm(tmp_path):
    port, kubeconfig = free_port(), tmp_path / "var" / "kubeconfig.yaml"
    process = simulator(
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--tick",
        "0.05",
        "--ready-delay",
        "0.1",
        "--kubeconfig-out",
        str(kubeconfig),
    )
    try:
        eventually(lambda: answers(f"http://127.0.0.1:{port}/version"), timeout=30)
        configuration = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        with client.ApiClient(configuration) as api:
            namespaces = client.CoreV1Api(api).list_namespace().items
        assert configuration.host == f"http://127.0.0.1:{port}"
        assert "default" in {ns.metadata.name for ns in namespaces}
        assert "current-context: runway-sim" in kubeconfig.read_text()

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_command_refuses_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = simulator("--port", str(port))

        _, stderr = process.communicate(timeout=30)

    assert process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in stderr


def test_the_command_refuses_a_zero_tick():
    process = simulator("--tick", "0")

    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 2
    assert "--tick: must be greater than 0" in stderr


def test_the_simulator_is_a_program_of_its_own_that_imports_nothing_from_runway():
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, simulator.__main__, simulator.server; "
            "print(sorted({m.split('.')[0] for m in sys.modules}))",
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "simulator" in loaded
    for package in ("django", "apps", "portal", "celery", "rest_framework"):
        assert f"'{package}'" not in loaded
