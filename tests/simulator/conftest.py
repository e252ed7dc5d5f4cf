"""A cluster simulator per test, reached through the official client and a kubeconfig."""

import itertools

import pytest
from kubernetes import client, config

from simulator import start_simulator, write_kubeconfig
from tests.simulator.helpers import READY_DELAY, Cluster, MovableClock

_namespaces = itertools.count(1)


@pytest.fixture
def cluster(tmp_path):
    clock = MovableClock()
    url, stop = start_simulator(ready_delay=READY_DELAY, tick=0.05, clock=clock)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig.yaml", url)
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    api = client.ApiClient(configuration)
    yield Cluster(
        url=url,
        kubeconfig=str(kubeconfig),
        apps=client.AppsV1Api(api),
        core=client.CoreV1Api(api),
        namespace=f"team-{next(_namespaces)}",
        clock=clock,
    )
    api.close()
    stop()
