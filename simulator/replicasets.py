"""The ReplicaSet controller: keep spec.replicas pods per ReplicaSet and report their state."""

from simulator import errors, label_selectors
from simulator.kubelet import NODE_NAME, is_ready, ready_since, schedulable
from simulator.resources import PODS, REPLICASETS
from simulator.store import Store, clone, parse_timestamp, random_suffix


def controller_uid(obj: dict) -> str | None:
    for owner in obj["metadata"].get("ownerReferences") or []:
        if owner.get("controller"):
            return owner.get("uid")
    return None


def owner_reference(owner: dict) -> dict:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and parse_timestamp(since) + min_ready_seconds <= now


def omit_zero(status: dict, keys: tuple[str, ...]) -> dict:
    """Drop zero counts, as Go's `omitempty` does on the wire."""
    return {k: v for k, v in status.items() if not (k in keys and v == 0)}


def _deletion_rank(pod: dict) -> tuple:
    """Pods to delete first come first: not ready, not running, restarted, newest."""
    statuses = pod["status"].get("containerStatuses") or []
    restarts = sum(s.get("restartCount", 0) for s in statuses)
    return (
        is_ready(pod),
        pod["status"].get("phase") == "Running",
        -restarts,
        -parse_timestamp(pod["metadata"]["creationTimestamp"]),
    )


def _new_pod(rs: dict) -> dict:
    template = rs["spec"]["template"]
    name = rs["metadata"]["name"]
    metadata = {
        "generateName": f"{name}-",
        "namespace": rs["metadata"]["namespace"],
        "labels": dict(template.get("metadata", {}).get("labels") or {}),
        "ownerReferences": [owner_reference(rs)],
    }
    annotations = template.get("metadata", {}).get("annotations")
    if annotations:
        metadata["annotations"] = dict(annotations)
    spec = clone(template["spec"])
    if schedulable(spec):  # the scheduler binds the pod to the node at once
        spec["nodeName"] = NODE_NAME
    return {"metadata": metadata, "spec": spec}


def _create_pod(store: Store, rs: dict) -> None:
    pod = _new_pod(rs)
    for _ in range(10):
        pod["metadata"]["name"] = pod["metadata"]["generateName"] + random_suffix()
        try:
            store.create(PODS, pod)
            return
        except errors.ApiError as exc:
            if exc.code != 409:
                raise


def manage_pods(store: Store) -> None:
    """Create or delete pods until each ReplicaSet has spec.replicas of them."""
    pods, _ = store.list(PODS, shared=True)
    owned: dict[str, list[dict]] = {}
    for pod in pods:
        owned.setdefault(controller_uid(pod) or "", []).append(pod)
    replica_sets, _ = store.list(REPLICASETS, shared=True)
    for rs in replica_sets:
        mine = owned.get(rs["metadata"]["uid"], [])
        want = rs["spec"].get("replicas", 1)
        for _ in range(want - len(mine)):
            _create_pod(store, rs)
        if len(mine) > want:
            for pod in sorted(mine, key=_deletion_rank)[: len(mine) - want]:
                store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])


class StatusUpdater:
    """Each ReplicaSet's status from its pods. A status is a function of the ReplicaSet and its
    pods, and of the clock while a ready pod waits out minReadySeconds: a ReplicaSet none of
    which changed since its status was last found current is not looked at again."""

    def __init__(self, store: Store):
        self.store = store
        self._current: dict[str, tuple[str, ...]] = {}  # uid -> versions of what it read

    def update(self, now: float) -> None:
        pods, _ = self.store.list(PODS, shared=True)
        owned: dict[str, list[dict]] = {}
        for pod in pods:
            owned.setdefault(controller_uid(pod) or "", []).append(pod)
        replica_sets, _ = self.store.list(REPLICASETS, shared=True)
        current, self._current = self._current, {}
        for rs in replica_sets:
            uid = rs["metadata"]["uid"]
            mine = owned.get(uid, [])
            versions = (rs["metadata"]["resourceVersion"], *_versions(mine))
            if current.get(uid) == versions:
                self._current[uid] = versions
                continue
            status = _update_status(self.store, rs, mine, now)
            waiting = status.get("readyReplicas", 0) != status.get("availableReplicas", 0)
            if status == rs["status"] and not waiting:
                self._current[uid] = versions


def _versions(objects: list[dict]) -> list[str]:
    return [obj["metadata"]["resourceVersion"] for obj in objects]


def _update_status(store: Store, rs: dict, pods: list[dict], now: float) -> dict:
    labels = label_selectors.from_label_selector(
        {"matchLabels": rs["spec"]["template"].get("metadata", {}).get("labels") or {}}
    )
    min_ready = rs["spec"].get("minReadySeconds", 0)
    status = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(
            label_selectors.matches_all(labels, p["metadata"].get("labels")) for p in pods
        ),
        "readyReplicas": sum(is_ready(p) for p in pods),
        "availableReplicas": sum(is_available(p, min_ready, now) for p in pods),
        "observedGeneration": rs["metadata"]["generation"],
    }
    status = omit_zero(status, ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"))
    if status != rs["status"]:
        store.update(REPLICASETS, {**rs, "status": status}, status_only=True)
    return status
