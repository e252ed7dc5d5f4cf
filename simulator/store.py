"""The simulator's etcd: objects, resource versions, generations, and a change log for watches.

One re-entrant lock guards everything. Stored dicts are never changed in place: every write puts
a new dict, so the change log can share them, and readers get deep copies.
"""

from __future__ import annotations

import builtins
import functools
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from simulator import errors
from simulator.resources import BY_PLURAL, NAMESPACES, Resource


def clone(value):
    """A deep copy of a JSON-shaped object (dicts, lists and scalars, as stored), several times
    faster than copy.deepcopy, which the store's objects do not need."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value


NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery's rand.String alphabet

INITIAL_STATUS: dict[str, dict] = {
    "deployments": {},
    "replicasets": {"replicas": 0},
    "services": {"loadBalancer": {}},
    "pods": {"phase": "Pending", "qosClass": "BestEffort"},
    "namespaces": {"phase": "Active"},
}


def timestamp(seconds: float) -> str:
    """RFC 3339 in whole seconds, as the API server writes metav1.Time."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=4096)  # the controllers read the same few timestamps every tick
def parse_timestamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(NAME_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class Event:
    revision: int
    type: str  # ADDED | MODIFIED | DELETED
    resource: str
    object: dict


def _without_resource_version(obj: dict) -> dict:
    stripped = dict(obj)
    stripped["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return stripped


class Store:
    def __init__(self, *, clock: Callable[[], float] = time.time, history: int = 10_000):
        self.clock = clock
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self._objects: dict[tuple[str, str, str], dict] = {}
        self._revision = 0
        self._events: deque[Event] = deque(maxlen=history)
        self._compacted = 0  # the newest revision no longer in the change log
        self._closed = False
        for name in ("default", "kube-system"):
            self.ensure_namespace(name)

    # --- reads --------------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        with self.lock:
            return str(self._revision)

    def find(self, resource: Resource, namespace: str, name: str) -> dict | None:
        with self.lock:
            obj = self._objects.get((resource.plural, namespace, name))
            return clone(obj) if obj is not None else None

    def get(self, resource: Resource, namespace: str, name: str) -> dict:
        obj = self.find(resource, namespace, name)
        if obj is None:
            raise errors.not_found(resource, name)
        return obj

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        where: Callable[[dict], bool] | None = None,
        *,
        shared: bool = False,
    ) -> tuple[list[dict], str]:
        """Matching objects sorted by namespace and name (etcd's key order), and the revision.
        `shared` hands out the stored objects themselves, not copies: for the controllers'
        readers, which hold the lock and change nothing they are given."""
        with self.lock:
            # Narrowed before sorting and copied by clone: the controllers list every kind
            # several times a tick, and sorting and deep-copying everything made a tick grow
            # with the square of the number of objects (a second per tick at 200 Deployments).
            keys = sorted(
                key
                for key in self._objects
                if key[0] == resource.plural and (namespace is None or key[1] == namespace)
            )
            items = [self._objects[key] for key in keys]
            if where is not None:
                items = [obj for obj in items if where(obj)]
            if shared:
                return items, str(self._revision)
            return [clone(obj) for obj in items], str(self._revision)

    def uids(self) -> set[str]:
        with self.lock:
            return {obj["metadata"]["uid"] for obj in self._objects.values()}

    def _service_specs(self) -> builtins.list[dict]:
        return [obj["spec"] for key, obj in self._objects.items() if key[0] == "services"]

    def allocate_cluster_ip(self) -> str:
        """A free address in 10.96.0.0/16 (call with the lock held, then create)."""
        with self.lock:
            used = {spec.get("clusterIP") for spec in self._service_specs()}
            for n in range(10, 65_534):
                address = f"10.96.{n // 256}.{n % 256}"
                if address not in used:
                    return address
        raise errors.ApiError(500, "InternalError", "no cluster IP addresses left")

    def allocate_node_port(self) -> int:
        with self.lock:
            used = {
                port.get("nodePort")
                for spec in self._service_specs()
                for port in spec.get("ports") or []
            }
            for port in range(30_000, 32_768):
                if port not in used:
                    return port
        raise errors.ApiError(500, "InternalError", "no node ports left")

    # --- writes -------------------------------------------------------------------------------

    def _commit(self, resource: Resource, obj: dict, event_type: str) -> dict:
        self._revision += 1
        obj["metadata"]["resourceVersion"] = str(self._revision)
        key = (resource.plural, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if event_type == "DELETED":
            del self._objects[key]
        else:
            self._objects[key] = obj
        if len(self._events) == self._events.maxlen:
            self._compacted = self._events[0].revision
        self._events.append(Event(self._revision, event_type, resource.plural, obj))
        self._changed.notify_all()
        return clone(obj)

    def ensure_namespace(self, name: str) -> None:
        with self.lock:
            if (NAMESPACES.plural, "", name) not in self._objects:
                self.create(NAMESPACES, {"metadata": {"name": name}})

    def create(self, resource: Resource, obj: dict, *, dry_run: bool = False) -> dict:
        obj = clone(obj)
        metadata = obj.setdefault("metadata", {})
        with self.lock:
            namespace = metadata.get("namespace", "") if resource.namespaced else ""
            if (resource.plural, namespace, metadata["name"]) in self._objects:
                raise errors.already_exists(resource, metadata["name"])
            if resource.namespaced and not dry_run:
                self.ensure_namespace(namespace)
            obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
            metadata.pop("resourceVersion", None)
            metadata.pop("deletionTimestamp", None)
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = timestamp(self.clock())
            if resource.has_generation:
                metadata["generation"] = 1
            else:
                metadata.pop("generation", None)
            if resource is NAMESPACES:
                metadata.setdefault("labels", {})["kubernetes.io/metadata.name"] = metadata["name"]
                obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = clone(INITIAL_STATUS[resource.plural])
            if dry_run:
                return obj
            return self._commit(resource, obj, "ADDED")

    def update(
        self, resource: Resource, obj: dict, *, status_only: bool = False, dry_run: bool = False
    ) -> dict:
        """Replace an object. A non-empty metadata.resourceVersion must be the current one.

        The main resource ignores status; the status subresource takes only status. Identity
        (uid, creationTimestamp) is kept, generation goes up when the spec changes, and a write
        that changes nothing keeps its resourceVersion, as the API server does.
        """
        metadata = obj.get("metadata") or {}
        namespace = metadata.get("namespace", "") if resource.namespaced else ""
        with self.lock:
            current = self._objects.get((resource.plural, namespace, metadata.get("name", "")))
            if current is None:
                raise errors.not_found(resource, metadata.get("name", ""))
            expected = metadata.get("resourceVersion")
            if expected and expected != current["metadata"]["resourceVersion"]:
                raise errors.stale(resource, metadata["name"])
            if status_only:
                new = clone(current)
                new["status"] = clone(obj.get("status") or {})
            else:
                new = clone(obj)
                new["status"] = clone(current.get("status") or {})
                kept = ("uid", "creationTimestamp", "generation", "deletionTimestamp")
                for key in kept:
                    if key in current["metadata"]:
                        new["metadata"][key] = current["metadata"][key]
                    else:
                        new["metadata"].pop(key, None)
                if resource.has_generation and new.get("spec") != current.get("spec"):
                    new["metadata"]["generation"] = current["metadata"]["generation"] + 1
            new["apiVersion"], new["kind"] = resource.api_version, resource.kind
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            if _without_resource_version(new) == _without_resource_version(current) or dry_run:
                return clone(new)
            return self._commit(resource, new, "MODIFIED")

    def delete(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
    ) -> dict:
        with self.lock:
            current = self._objects.get((resource.plural, namespace, name))
            if current is None:
                raise errors.not_found(resource, name)
            if uid and uid != current["metadata"]["uid"]:
                raise errors.conflict(
                    resource,
                    name,
                    f"Precondition failed: UID in precondition: {uid}, "
                    f"UID in object meta: {current['metadata']['uid']}",
                )
            if resource_version and resource_version != current["metadata"]["resourceVersion"]:
                raise errors.conflict(
                    resource,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                    f"ResourceVersion in object meta: {current['metadata']['resourceVersion']}",
                )
            if dry_run:
                return clone(current)
            if resource is NAMESPACES:  # a namespace takes everything in it along
                for key in [key for key in self._objects if key[1] == name]:
                    self._commit(BY_PLURAL[key[0]], clone(self._objects[key]), "DELETED")
            return self._commit(resource, clone(current), "DELETED")

    # --- watches ------------------------------------------------------------------------------

    def close(self) -> None:
        """Wake every watcher so it can finish."""
        with self.lock:
            self._closed = True
            self._changed.notify_all()

    def events_after(
        self, resource: Resource, revision: int, timeout: float
    ) -> tuple[builtins.list[Event], int]:
        """Changes to this resource after `revision`, waiting up to `timeout` for the first one,
        and the revision the caller has now seen everything up to.

        Raises 410 Expired when `revision` is older than the change log remembers.
        """
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                if revision < self._compacted:
                    raise errors.gone(
                        f"too old resource version: {revision} ({self._compacted + 1})"
                    )
                found = [
                    Event(e.revision, e.type, e.resource, clone(e.object))
                    for e in self._events
                    if e.revision > revision and e.resource == resource.plural
                ]
                if found:
                    return found, found[-1].revision
                # Only other kinds changed: move on, so the next scan stays short.
                revision = self._revision
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return [], revision
                self._changed.wait(remaining)
