"""Demo rings: search-api's production rolls out to two clusters in turn, with a five-minute
soak between them, so its service page shows the rings and its release awaiting approval
("Search relevance tuning") shows each ring it will roll out to.

`make run` starts one cluster simulator, so both clusters name Runway's default kubeconfig
(the simulator's): each ring's rollout really runs there, ring 1 against what ring 0 already
put in the same namespace. A second real cluster would name its own kubeconfig or context."""

from django.db import transaction

from apps.accounts.models import User
from apps.catalog.models import Cluster, Service
from apps.catalog.services import cluster_create
from apps.core.exceptions import Conflict
from apps.rollouts.rings import environment_rings_set

SOAK_SECONDS = 5 * 60
CLUSTERS = (
    ("sim-eu-1", "Ring 0 of search-api's production: the cluster simulator `make run` starts."),
    (
        "sim-eu-2",
        "Ring 1 of search-api's production: the same simulator, standing in for a second region.",
    ),
)


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
                    actor=admin, name=name, description=description, check_connection=_unchecked
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
