"""Demo rings: search-api's production rolls out to two clusters in turn, with a five-minute
soak between them, so its service page shows the rings and its release awaiting approval
("Search relevance tuning") shows each ring it will roll out to.

`make run` starts two cluster simulators (the Procfile's `simulator` and `simulator-eu-2`):
ring 0 rolls out to the first, through Runway's default kubeconfig, and ring 1 to the second,
through the kubeconfig that one writes, so each ring changes a cluster of its own."""

from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.accounts.models import User
from apps.catalog.models import Cluster, Service
from apps.catalog.services import cluster_create
from apps.core.exceptions import Conflict
from apps.rollouts.rings import environment_rings_set

SOAK_SECONDS = 5 * 60
CLUSTERS = (
    ("sim-eu-1", "Ring 0 of search-api's production: the cluster simulator `make run` starts."),
    ("sim-eu-2", "Ring 1 of search-api's production: the second simulator, another region."),
)


def _kubeconfig(name: str) -> str:
    """sim-eu-1 reaches the default kubeconfig (the first simulator); sim-eu-2 the one the
    Procfile's second simulator writes beside it."""
    if name == "sim-eu-1":
        return ""
    return str(Path(settings.KUBECONFIG).resolve().with_name("kubeconfig-simulator-eu-2.yaml"))


def load() -> list[str]:
    if Cluster.objects.filter(name__in=[name for name, _ in CLUSTERS]).exists():
        return []
    admin = User.objects.get(username="admin")
    prod = Service.objects.get(name="search-api").environments.get(name="prod")
    try:
        with transaction.atomic():
            # Not asked for their version: the simulator starts after the demo is loaded.
            clusters = [
                cluster_create(
                    actor=admin,
                    name=name,
                    description=description,
                    kubeconfig_path=_kubeconfig(name),
                    check_connection=_unchecked,
                )
                for name, description in CLUSTERS
            ]
            environment_rings_set(
                actor=admin,
                environment=prod,
                rings=[
                    {"cluster": clusters[0], "soak_seconds": SOAK_SECONDS},
                    {"cluster": clusters[1], "soak_seconds": 0},
                ],
            )
    except Conflict:
        return []  # a release to search-api's production is under way: the next seed sets them
    return [f"clusters {', '.join(c.name for c in clusters)}", "rings of search-api/prod"]


def _unchecked(**_) -> str:
    return ""
