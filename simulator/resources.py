"""The kinds of object the simulator serves, described once for routing, discovery and storage."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    plural: str
    singular: str
    kind: str
    group: str  # "" for the core group
    version: str
    verbs: tuple[str, ...]
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ("status",)
    # Kinds whose spec changes bump metadata.generation (the workload controllers' objects).
    has_generation: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """How the API server names the resource in messages: `deployments.apps`, `services`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def base_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


_READ = ("get", "list", "watch")
_WRITE = ("create", "update", "patch", "delete")

DEPLOYMENTS = Resource(
    plural="deployments",
    singular="deployment",
    kind="Deployment",
    group="apps",
    version="v1",
    verbs=(*_READ, *_WRITE),
    short_names=("deploy",),
    categories=("all",),
    subresources=("status", "scale"),
    has_generation=True,
)
REPLICASETS = Resource(
    plural="replicasets",
    singular="replicaset",
    kind="ReplicaSet",
    group="apps",
    version="v1",
    verbs=(*_READ, "delete"),
    short_names=("rs",),
    categories=("all",),
    has_generation=True,
)
SERVICES = Resource(
    plural="services",
    singular="service",
    kind="Service",
    group="",
    version="v1",
    verbs=(*_READ, *_WRITE),
    short_names=("svc",),
    categories=("all",),
)
PODS = Resource(
    plural="pods",
    singular="pod",
    kind="Pod",
    group="",
    version="v1",
    verbs=(*_READ, "delete"),
    short_names=("po",),
    categories=("all",),
)
NAMESPACES = Resource(
    plural="namespaces",
    singular="namespace",
    kind="Namespace",
    group="",
    version="v1",
    verbs=(*_READ, "create", "delete"),
    namespaced=False,
    short_names=("ns",),
)

# The autoscaling/v1 view of a Deployment's replicas (the `scale` subresource).
SCALE = Resource(
    plural="deployments",
    singular="scale",
    kind="Scale",
    group="autoscaling",
    version="v1",
    verbs=("get", "patch", "update"),
    subresources=(),
)

ALL = (DEPLOYMENTS, REPLICASETS, SERVICES, PODS, NAMESPACES)
BY_PLURAL = {r.plural: r for r in ALL}


def lookup(group: str, version: str, plural: str) -> Resource | None:
    resource = BY_PLURAL.get(plural)
    if resource is None or resource.group != group or resource.version != version:
        return None
    return resource


def group_versions() -> dict[str, list[Resource]]:
    """Resources per group version, in the order discovery lists them."""
    grouped: dict[str, list[Resource]] = {}
    for resource in ALL:
        grouped.setdefault(resource.api_version, []).append(resource)
    return grouped
