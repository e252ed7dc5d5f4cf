"""Registering a cluster checks that Runway can reach it: against the cluster simulator in its
own process, as `make run` starts it, and against files and ports that are no cluster."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apps.audit.models import AuditEvent
from apps.catalog.models import Cluster
from apps.rollouts import kube
from portal import processes
from simulator.discovery import VERSION
from simulator.kubeconfig import write_kubeconfig

SIMULATOR_VERSION = VERSION["gitVersion"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    """The simulator's kubeconfig, written by the simulator once it listens."""
    kubeconfig = tmp_path_factory.mktemp("simulator") / "kubeconfig.yaml"
    process = processes.simulator(
        kubeconfig=kubeconfig, port=free_port(), tick=0.2, ready_delay=1.0
    )
    yield str(kubeconfig)
    processes.stop(process, timeout=10)


@pytest.fixture
def admin_api(api_client, platform_admin):
    api_client.force_authenticate(platform_admin)
    return api_client


def register(admin_api, **body):
    return admin_api.post("/api/v1/clusters/", {"name": "eu-1", **body}, format="json")


def assert_nothing_saved():
    assert not Cluster.objects.exists()
    assert not AuditEvent.objects.exists()


# --- Registering -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cluster_that_answers_is_registered_with_its_version_and_audited(admin_api, simulator):
    response = register(admin_api, kubeconfig_path=simulator, context="runway-sim")

    assert response.status_code == 201
    assert response.json()["server_version"] == SIMULATOR_VERSION
    cluster = Cluster.objects.get(name="eu-1")
    assert response.json()["id"] == cluster.pk
    assert cluster.server_version == SIMULATOR_VERSION
    event = AuditEvent.objects.get(action="cluster.create")
    assert event.actor_label == "ada" and event.target_id == str(cluster.pk)
    assert event.after == {
        "name": "eu-1",
        "description": "",
        "kubeconfig_path": simulator,
        "context": "runway-sim",
        "in_cluster": False,
        "server_version": SIMULATOR_VERSION,
    }


@pytest.mark.django_db
def test_without_a_context_the_kubeconfigs_current_context_is_used(admin_api, simulator):
    response = register(admin_api, kubeconfig_path=simulator)

    assert response.status_code == 201
    assert response.json()["server_version"] == SIMULATOR_VERSION


@pytest.mark.django_db
def test_a_file_that_is_not_a_kubeconfig_is_refused_naming_kubeconfig_path(admin_api):
    response = register(admin_api, kubeconfig_path="/etc/passwd")

    assert response.status_code == 400
    assert response.json() == {
        "kubeconfig_path": [
            "/etc/passwd is not a kubeconfig: it needs lists of clusters, contexts and users."
        ]
    }
    assert_nothing_saved()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n", "is not a kubeconfig: it needs"),
        ("clusters: [\n", "is not a kubeconfig: it is not YAML."),
    ],
)
def test_yaml_that_is_not_a_kubeconfig_is_refused(admin_api, tmp_path, content, message):
    path = tmp_path / "config.yaml"
    path.write_text(content)

    response = register(admin_api, kubeconfig_path=str(path))

    assert response.status_code == 400
    (error,) = response.json()["kubeconfig_path"]
    assert error.startswith(str(path)) and message in error
    assert_nothing_saved()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["missing.yaml", "."])
def test_a_kubeconfig_that_is_not_a_file_is_refused(admin_api, tmp_path, name):
    path = str((tmp_path / name).resolve())

    response = register(admin_api, kubeconfig_path=path)

    assert response.status_code == 400
    assert response.json() == {"kubeconfig_path": [f"There is no kubeconfig file at {path}."]}
    assert_nothing_saved()


@pytest.mark.django_db
def test_an_unknown_context_is_refused_naming_context(admin_api, simulator):
    response = register(admin_api, kubeconfig_path=simulator, context="prod-admin")

    assert response.status_code == 400
    assert response.json() == {
        "context": [f"{simulator} has no context 'prod-admin' (it has: runway-sim)."]
    }
    assert_nothing_saved()


@pytest.mark.django_db
def test_a_kubeconfig_without_a_current_context_needs_a_context(admin_api, simulator, tmp_path):
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(Path(simulator).read_text().replace("current-context: runway-sim\n", ""))

    refused = register(admin_api, kubeconfig_path=str(path))
    accepted = register(admin_api, kubeconfig_path=str(path), context="runway-sim")

    assert refused.status_code == 400
    assert refused.json()["context"] == [
        f"{path} has no current-context: name one of its contexts (runway-sim)."
    ]
    assert accepted.status_code == 201


@pytest.mark.django_db
def test_an_api_server_that_does_not_answer_is_refused(admin_api, tmp_path):
    server = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    path = write_kubeconfig(tmp_path / "kubeconfig.yaml", server)

    response = register(admin_api, kubeconfig_path=str(path))

    assert response.status_code == 400
    assert response.json() == {
        "kubeconfig_path": [f"The API server did not answer at {server}: Connection refused."]
    }
    assert_nothing_saved()


@pytest.mark.django_db
def test_in_cluster_is_refused_outside_a_cluster(admin_api, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    response = register(admin_api, in_cluster=True)

    assert response.status_code == 400
    (error,) = response.json()["in_cluster"]
    assert error.startswith("Runway is not running inside a Kubernetes cluster")
    assert_nothing_saved()


# --- Changing --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_context_is_checked_and_a_refused_change_saves_nothing(admin_api, simulator):
    register(admin_api, kubeconfig_path=simulator)

    response = admin_api.patch(
        "/api/v1/clusters/eu-1/", {"context": "prod-admin", "description": "Frankfurt"}
    )

    assert response.status_code == 400 and "context" in response.json()
    cluster = Cluster.objects.get(name="eu-1")
    assert (cluster.context, cluster.description) == ("", "")
    assert not AuditEvent.objects.filter(action="cluster.update").exists()


@pytest.mark.django_db
def test_pointing_a_cluster_at_a_working_kubeconfig_records_its_version(admin_api, simulator):
    Cluster.objects.create(name="eu-1", kubeconfig_path="/etc/runway/gone.yaml")

    response = admin_api.patch("/api/v1/clusters/eu-1/", {"kubeconfig_path": simulator})

    assert response.status_code == 200
    assert response.json()["server_version"] == SIMULATOR_VERSION
    event = AuditEvent.objects.get(action="cluster.update")
    assert event.before["server_version"] == ""
    assert event.after["server_version"] == SIMULATOR_VERSION


@pytest.mark.django_db
def test_changing_only_the_description_does_not_call_the_cluster(admin_api):
    Cluster.objects.create(name="eu-1", kubeconfig_path="/etc/runway/gone.yaml")

    response = admin_api.patch("/api/v1/clusters/eu-1/", {"description": "Frankfurt"})

    assert response.status_code == 200
    assert Cluster.objects.get(name="eu-1").description == "Frankfurt"


# --- The check itself ------------------------------------------------------------------------


def test_a_server_that_accepts_but_never_answers_times_out(tmp_path):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        server = f"http://127.0.0.1:{silent.getsockname()[1]}"
        path = write_kubeconfig(tmp_path / "kubeconfig.yaml", server)

        with pytest.raises(kube.KubeUnavailable) as exc:
            kube.check_connection(kubeconfig=str(path), timeout=0.5)

    assert str(exc.value) == f"The API server did not answer at {server}: timed out after 0.5 s."


def test_a_web_server_that_is_not_kubernetes_is_refused(tmp_path):
    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    web = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    server = f"http://127.0.0.1:{web.server_address[1]}"
    path = write_kubeconfig(tmp_path / "kubeconfig.yaml", server)
    try:
        with pytest.raises(ValueError) as exc:
            kube.check_connection(kubeconfig=str(path))
    finally:
        web.shutdown()
        web.server_close()

    assert str(exc.value) == (
        f"The API server at {server} refused the version check: 404 Not Found."
    )
