"""The cluster simulator in the test process, and services with a `dev` environment on it;
for rings, two clusters: that simulator registered as eu-1 and a second one as eu-2."""

import pytest

from apps.catalog.models import Cluster, Environment
from simulator import start_simulator, write_kubeconfig
from tests.factories import ServiceFactory


@pytest.fixture
def cluster(tmp_path, settings):
    """Its requests are logged to `tmp_path / "simulator-requests.log"` (see `writes_to`)."""
    running = start_simulator(
        ready_delay=0.2, tick=0.05, request_log=str(tmp_path / "simulator-requests.log")
    )
    settings.KUBECONFIG = str(write_kubeconfig(tmp_path / "kubeconfig", running.url))
    yield running
    running.stop()


@pytest.fixture
def eu1(cluster, settings):
    """The `cluster` simulator, registered as a cluster of its own."""
    return Cluster.objects.create(name="eu-1", kubeconfig_path=settings.KUBECONFIG)


@pytest.fixture
def eu2(tmp_path, db):
    """A second simulator: another cluster, with Deployments of its own."""
    running = start_simulator(ready_delay=0.2, tick=0.05)
    kubeconfig = write_kubeconfig(tmp_path / "eu-2-kubeconfig", running.url)
    yield Cluster.objects.create(name="eu-2", kubeconfig_path=str(kubeconfig))
    running.stop()


@pytest.fixture
def shop(payments):
    def make(strategy="rolling", params=None, replicas=2, *, name=""):
        service = ServiceFactory(
            name=name or f"shop-{strategy}",
            owner=payments,
            strategy=strategy,
            strategy_params=params or {},
            container_port=8080,
        )
        Environment.objects.create(
            service=service,
            name="dev",
            kind="development",
            order=1,
            namespace="shop",
            replicas=replicas,
        )
        return service

    return make
