"""The Deployment controller, following kube-controller-manager's (pkg/controller/deployment).

Each pod-template change gets a ReplicaSet named `<deployment>-<hash of the template>`, with a
`deployment.kubernetes.io/revision` one above the others; going back to an earlier template
reuses that template's ReplicaSet under a new revision, as `kubectl rollout undo` does. The
arithmetic of RollingUpdate (maxSurge, maxUnavailable, proportional scaling) and Recreate, the
status fields, and the Available / Progressing conditions (with the progress deadline) follow the
Go code function by function, so the names here are theirs.
"""

import json
import math
from collections.abc import Iterable

from simulator import errors
from simulator.replicasets import controller_uid, omit_zero, owner_reference
from simulator.resources import DEPLOYMENTS, PODS, REPLICASETS
from simulator.store import NAME_ALPHABET, Store, clone, parse_timestamp, timestamp

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
_NOT_COPIED = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
}
_STATUS_COUNTS = (
    "observedGeneration",
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "unavailableReplicas",
)
NO_DEADLINE = 2**31 - 1
REVISION_HISTORY_CHARS = 2000


# --- arithmetic ---------------------------------------------------------------------------


def scaled_value(value: int | str, total: int, *, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    percent = int(value.rstrip("%"))
    return -(-percent * total // 100) if round_up else percent * total // 100


def _rolling(d: dict) -> dict | None:
    strategy = d["spec"]["strategy"]
    return strategy.get("rollingUpdate") if strategy["type"] == "RollingUpdate" else None


def resolve_fenceposts(d: dict) -> tuple[int, int]:
    """maxSurge and maxUnavailable as numbers of pods, for a RollingUpdate Deployment."""
    rolling, replicas = _rolling(d), d["spec"]["replicas"]
    if rolling is None:
        raise ValueError(
            f"a {d['spec']['strategy']['type']} Deployment has no fenceposts: "
            "only RollingUpdate surges or leaves pods unavailable"
        )
    surge = scaled_value(rolling["maxSurge"], replicas, round_up=True)
    unavailable = scaled_value(rolling["maxUnavailable"], replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # a rollout must be able to make progress
    return surge, unavailable


def max_surge(d: dict) -> int:
    return resolve_fenceposts(d)[0] if _rolling(d) else 0


def max_unavailable(d: dict) -> int:
    if not _rolling(d) or d["spec"]["replicas"] == 0:
        return 0
    return min(resolve_fenceposts(d)[1], d["spec"]["replicas"])


def _spec_replicas(rss: Iterable[dict]) -> int:
    return sum(rs["spec"].get("replicas", 0) for rs in rss)


def _status_count(rss: Iterable[dict], key: str) -> int:
    return sum(rs["status"].get(key, 0) for rs in rss)


def template_hash(template: dict, collision_count: int | None) -> str:
    """FNV-1a over the template, encoded like rand.SafeEncodeString (e.g. `7c5ddbdf54`)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":"))
    if collision_count:
        data += str(collision_count)
    value = 0x811C9DC5
    for byte in data.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(NAME_ALPHABET[ord(digit) % len(NAME_ALPHABET)] for digit in str(value))


def _without_hash(template: dict) -> dict:
    """The template as the Deployment wrote it, for comparing: a shallow copy, as it is read
    for every ReplicaSet of every Deployment on every tick."""
    labels = template.get("metadata", {}).get("labels") or {}
    if HASH_LABEL not in labels:
        return template
    kept = {key: value for key, value in labels.items() if key != HASH_LABEL}
    return {**template, "metadata": {**template["metadata"], "labels": kept}}


def revision(rs: dict) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _by_creation(rss: Iterable[dict]) -> list[dict]:
    return sorted(rss, key=lambda rs: (rs["metadata"]["creationTimestamp"], rs["metadata"]["name"]))


def _active(rss: Iterable[dict]) -> list[dict]:
    return [rs for rs in rss if rs["spec"].get("replicas", 0) > 0]


def _saturated(d: dict, rs: dict | None) -> bool:
    if rs is None:
        return False
    desired = (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
    replicas = d["spec"]["replicas"]
    return (
        rs["spec"]["replicas"] == replicas
        and desired == str(replicas)
        and rs["status"].get("availableReplicas", 0) == replicas
    )


# --- conditions ---------------------------------------------------------------------------


def get_condition(status: dict, kind: str) -> dict | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def new_condition(kind: str, value: str, reason: str, message: str, now: float) -> dict:
    at = timestamp(now)
    return {
        "type": kind,
        "status": value,
        "lastUpdateTime": at,
        "lastTransitionTime": at,
        "reason": reason,
        "message": message,
    }


def set_condition(status: dict, condition: dict) -> None:
    current = get_condition(status, condition["type"])
    if (
        current
        and current["status"] == condition["status"]
        and current["reason"] == condition["reason"]
    ):
        return
    if current and current["status"] == condition["status"]:
        condition["lastTransitionTime"] = current["lastTransitionTime"]
    remove_condition(status, condition["type"])
    status.setdefault("conditions", []).append(condition)


def remove_condition(status: dict, kind: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c["type"] != kind]


def has_progress_deadline(d: dict) -> bool:
    return d["spec"].get("progressDeadlineSeconds", NO_DEADLINE) != NO_DEADLINE


def deployment_complete(d: dict, status: dict) -> bool:
    replicas = d["spec"]["replicas"]
    return (
        status.get("updatedReplicas", 0) == replicas
        and status.get("replicas", 0) == replicas
        and status.get("availableReplicas", 0) == replicas
        and status.get("observedGeneration", 0) >= d["metadata"]["generation"]
    )


def deployment_progressing(d: dict, status: dict) -> bool:
    old = d["status"]
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = status.get("replicas", 0) - status.get("updatedReplicas", 0)
    return (
        status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
        or new_old < old_old
        or status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
        or status.get("availableReplicas", 0) > old.get("availableReplicas", 0)
    )


def deployment_timed_out(d: dict, status: dict, now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    condition = get_condition(status, "Progressing")
    if condition is None or condition["reason"] == "NewReplicaSetAvailable":
        return False
    if condition["reason"] == "ProgressDeadlineExceeded":
        return True
    last = parse_timestamp(condition["lastUpdateTime"])
    return last + d["spec"]["progressDeadlineSeconds"] < now


# --- the controller -----------------------------------------------------------------------


def waits_on_the_clock(d: dict) -> bool:
    """Whether a sync of this Deployment may change it with nothing else changed: a rollout
    under a progress deadline runs out of time, and Recreate waits on pods, which the
    ReplicaSets' versions do not show."""
    if d["spec"]["strategy"]["type"] == "Recreate":
        return True
    if not has_progress_deadline(d):
        return False
    condition = get_condition(d["status"], "Progressing")
    return condition is None or condition["reason"] not in (
        "NewReplicaSetAvailable",
        "ProgressDeadlineExceeded",
    )


def _versions(d: dict, rss: list[dict]) -> tuple[str, ...]:
    return (d["metadata"]["resourceVersion"], *(rs["metadata"]["resourceVersion"] for rs in rss))


class DeploymentController:
    def __init__(self, store: Store):
        self.store = store
        # Deployments whose last sync wrote nothing, by uid, with the versions of what it read:
        # a sync is a function of the Deployment and its ReplicaSets (and of the clock, where
        # waits_on_the_clock says so), so the same versions would write nothing again.
        self._idle: dict[str, tuple[str, ...]] = {}

    def sync_all(self, now: float) -> None:
        # One listing of the ReplicaSets for all Deployments: a sync only writes the
        # ReplicaSets of its own Deployment.
        deployments, _ = self.store.list(DEPLOYMENTS, shared=True)
        replica_sets, _ = self.store.list(REPLICASETS, shared=True)
        owned: dict[str | None, list[dict]] = {}
        for rs in replica_sets:
            owned.setdefault(controller_uid(rs), []).append(rs)
        idle, self._idle = self._idle, {}
        for d in deployments:
            uid = d["metadata"]["uid"]
            rss = owned.get(uid, [])
            versions = _versions(d, rss)
            if idle.get(uid) == versions:
                self._idle[uid] = versions
                continue
            revision = self.store.resource_version
            # A sync changes the dicts it is given as it writes: copies, not the stored ones.
            self.sync(clone(d), now, [clone(rs) for rs in rss])
            if self.store.resource_version == revision and not waits_on_the_clock(d):
                self._idle[uid] = versions

    def sync(self, d: dict, now: float, rss: list[dict]) -> None:
        self._check_paused_conditions(d, now)
        if d["spec"].get("paused") or self._is_scaling_event(d, rss, now):
            self._sync_scale(d, rss, now)
        elif d["spec"]["strategy"]["type"] == "Recreate":
            self._rollout_recreate(d, rss, now)
        else:
            self._rollout_rolling(d, rss, now)

    # --- writes, keeping the caller's dicts current --------------------------------------

    def _save(self, obj: dict, resource=DEPLOYMENTS, *, status: bool = False) -> None:
        saved = self.store.update(resource, obj, status_only=status)
        obj.clear()
        obj.update(saved)

    def _save_status(self, d: dict, status: dict) -> None:
        status = omit_zero(status, _STATUS_COUNTS)
        if not status.get("conditions"):
            status.pop("conditions", None)
        if status == d["status"]:
            return
        d["status"] = status
        self._save(d, status=True)

    def _scale(self, d: dict, rs: dict, replicas: int) -> bool:
        annotations = rs["metadata"].setdefault("annotations", {})
        wanted = {
            DESIRED_REPLICAS: str(d["spec"]["replicas"]),
            MAX_REPLICAS: str(d["spec"]["replicas"] + max_surge(d)),
        }
        if rs["spec"]["replicas"] == replicas and all(
            annotations.get(k) == v for k, v in wanted.items()
        ):
            return False
        scaled = rs["spec"]["replicas"] != replicas
        rs["spec"]["replicas"] = replicas
        annotations.update(wanted)
        self._save(rs, REPLICASETS)
        return scaled

    # --- paused, scaling ----------------------------------------------------------------

    def _check_paused_conditions(self, d: dict, now: float) -> None:
        if not has_progress_deadline(d):
            return
        condition = get_condition(d["status"], "Progressing")
        if condition and condition["reason"] == "ProgressDeadlineExceeded":
            return
        paused_condition = condition is not None and condition["reason"] == "DeploymentPaused"
        status = clone(d["status"])
        if d["spec"].get("paused") and not paused_condition:
            set_condition(
                status,
                new_condition(
                    "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now
                ),
            )
        elif not d["spec"].get("paused") and paused_condition:
            set_condition(
                status,
                new_condition(
                    "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now
                ),
            )
        self._save_status(d, status)

    def _is_scaling_event(self, d: dict, rss: list[dict], now: float) -> bool:
        new_rs, old_rss = self._new_and_old(d, rss, now, create=False)
        for rs in _active([*old_rss, *([new_rs] if new_rs else [])]):
            desired = (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
            if desired is not None and int(desired) != d["spec"]["replicas"]:
                return True
        return False

    def _sync_scale(self, d: dict, rss: list[dict], now: float) -> None:
        new_rs, old_rss = self._new_and_old(d, rss, now, create=False)
        self._scale_proportionally(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            self._cleanup(d, old_rss)
        all_rss = [*old_rss, *([new_rs] if new_rs else [])]
        self._save_status(d, self._calculate_status(d, all_rss, new_rs, now))

    def _scale_proportionally(self, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
        replicas = d["spec"]["replicas"]
        active = _active([*([new_rs] if new_rs else []), *old_rss])
        if len(active) <= 1:
            target = (
                active[0]
                if active
                else (new_rs or (_by_creation(old_rss)[-1] if old_rss else None))
            )
            if target is not None:
                self._scale(d, target, replicas)
            return
        if _saturated(d, new_rs):
            for rs in _active(old_rss):
                self._scale(d, rs, 0)
            return
        if not _rolling(d):
            return
        allowed = replicas + max_surge(d) if replicas > 0 else 0
        to_add = allowed - _spec_replicas(active)
        if to_add > 0:  # bigger first; of equal size, newer first
            active = sorted(reversed(_by_creation(active)), key=lambda rs: -rs["spec"]["replicas"])
        elif to_add < 0:  # bigger first; of equal size, older first
            active = sorted(_by_creation(active), key=lambda rs: -rs["spec"]["replicas"])
        added, sizes = 0, {}
        for rs in active:
            proportion = self._proportion(d, rs, to_add, added) if to_add else 0
            sizes[rs["metadata"]["name"]] = rs["spec"]["replicas"] + proportion
            added += proportion
        for i, rs in enumerate(active):
            size = sizes[rs["metadata"]["name"]]
            if i == 0 and to_add:
                size = max(size + to_add - added, 0)
            self._scale(d, rs, size)

    def _proportion(self, d: dict, rs: dict, to_add: int, added: int) -> int:
        if rs["spec"]["replicas"] == 0 or to_add == added:
            return 0
        if d["spec"]["replicas"] == 0:
            fraction = -rs["spec"]["replicas"]
        else:
            annotated = (rs["metadata"].get("annotations") or {}).get(MAX_REPLICAS)
            base = int(annotated) if annotated else d["status"].get("replicas", 0)
            target = d["spec"]["replicas"] + max_surge(d)
            size = math.floor(rs["spec"]["replicas"] * target / base + 0.5) if base else 0
            fraction = size - rs["spec"]["replicas"]
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    # --- the new ReplicaSet and the revision -----------------------------------------------

    def _new_and_old(
        self, d: dict, rss: list[dict], now: float, *, create: bool
    ) -> tuple[dict | None, list[dict]]:
        """getAllReplicaSetsAndSyncRevision: find (or create) the ReplicaSet of the current
        template and bring the revision annotations up to date."""
        template = d["spec"]["template"]
        new_rs = next(
            (rs for rs in _by_creation(rss) if _without_hash(rs["spec"]["template"]) == template),
            None,
        )
        old_rss = [rs for rs in rss if rs is not new_rs]
        new_revision = max((revision(rs) for rs in old_rss), default=0) + 1
        if new_rs is not None:
            changed = self._set_new_rs_annotations(d, new_rs, new_revision)
            if changed or new_rs["spec"].get("minReadySeconds", 0) != d["spec"].get(
                "minReadySeconds", 0
            ):
                new_rs["spec"]["minReadySeconds"] = d["spec"].get("minReadySeconds", 0)
                self._save(new_rs, REPLICASETS)
                return new_rs, old_rss
            self._set_deployment_revision(d, str(revision(new_rs)))
            if has_progress_deadline(d) and get_condition(d["status"], "Progressing") is None:
                status = clone(d["status"])
                message = f'Found new replica set "{new_rs["metadata"]["name"]}"'
                set_condition(
                    status, new_condition("Progressing", "True", "FoundNewReplicaSet", message, now)
                )
                self._save_status(d, status)
            return new_rs, old_rss
        if not create:
            return None, old_rss
        return self._create_new_rs(d, old_rss, new_revision, now), old_rss

    def _set_new_rs_annotations(self, d: dict, rs: dict, new_revision: int) -> bool:
        annotations = rs["metadata"].setdefault("annotations", {})
        before = dict(annotations)
        for key, value in (d["metadata"].get("annotations") or {}).items():
            if key not in _NOT_COPIED:
                annotations[key] = value
        old_revision = revision(rs)
        if old_revision < new_revision:
            annotations[REVISION] = str(new_revision)
            if old_revision:  # a ReplicaSet coming back: remember the revisions it had
                history = [r for r in annotations.get(REVISION_HISTORY, "").split(",") if r]
                history.append(str(old_revision))
                while len(",".join(history)) > REVISION_HISTORY_CHARS:
                    history.pop(0)
                annotations[REVISION_HISTORY] = ",".join(history)
        return annotations != before

    def _set_deployment_revision(self, d: dict, value: str) -> None:
        annotations = d["metadata"].setdefault("annotations", {})
        if annotations.get(REVISION) != value:
            annotations[REVISION] = value
            self._save(d)

    def _create_new_rs(
        self, d: dict, old_rss: list[dict], new_revision: int, now: float
    ) -> dict | None:
        collision_count = d["status"].get("collisionCount")
        pod_hash = template_hash(d["spec"]["template"], collision_count)
        template = clone(d["spec"]["template"])
        template["metadata"].setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = clone(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        name = f"{d['metadata']['name']}-{pod_hash}"
        rs = {
            "metadata": {
                "name": name,
                "namespace": d["metadata"]["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {},
                "ownerReferences": [owner_reference(d)],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
            "status": {},
        }
        self._set_new_rs_annotations(d, rs, new_revision)
        rs["metadata"]["annotations"].update(
            {
                DESIRED_REPLICAS: str(d["spec"]["replicas"]),
                MAX_REPLICAS: str(d["spec"]["replicas"] + max_surge(d)),
            }
        )
        rs["spec"]["replicas"] = self._new_rs_new_replicas(d, [*old_rss, rs], rs)
        try:
            created = self.store.create(REPLICASETS, rs)
        except errors.ApiError as exc:
            if exc.code != 409:
                raise
            # A ReplicaSet of that name exists but is not ours or has another template: a hash
            # collision. Count it so the next hash differs, as the controller does.
            status = clone(d["status"])
            status["collisionCount"] = (collision_count or 0) + 1
            self._save_status(d, status)
            return None
        self._set_deployment_revision(d, str(new_revision))
        if has_progress_deadline(d):
            status = clone(d["status"])
            message = f'Created new replica set "{name}"'
            set_condition(
                status, new_condition("Progressing", "True", "NewReplicaSetCreated", message, now)
            )
            self._save_status(d, status)
        return created

    def _new_rs_new_replicas(self, d: dict, all_rss: list[dict], new_rs: dict) -> int:
        if not _rolling(d):
            return d["spec"]["replicas"]
        current = _spec_replicas(all_rss)
        max_total = d["spec"]["replicas"] + max_surge(d)
        if current >= max_total:
            return new_rs["spec"]["replicas"]
        scale_up = min(max_total - current, d["spec"]["replicas"] - new_rs["spec"]["replicas"])
        return new_rs["spec"]["replicas"] + scale_up

    # --- RollingUpdate ------------------------------------------------------------------

    def _rollout_rolling(self, d: dict, rss: list[dict], now: float) -> None:
        new_rs, old_rss = self._new_and_old(d, rss, now, create=True)
        if new_rs is None:
            return  # a hash collision was counted; the next tick tries again
        all_rss = [*old_rss, new_rs]
        if self._reconcile_new_rs(d, all_rss, new_rs):
            return self._sync_rollout_status(d, all_rss, new_rs, now)
        if self._reconcile_old_rss(d, all_rss, _active(old_rss), new_rs):
            return self._sync_rollout_status(d, all_rss, new_rs, now)
        if deployment_complete(d, d["status"]):
            self._cleanup(d, old_rss)
        return self._sync_rollout_status(d, all_rss, new_rs, now)

    def _reconcile_new_rs(self, d: dict, all_rss: list[dict], new_rs: dict) -> bool:
        replicas = d["spec"]["replicas"]
        if new_rs["spec"]["replicas"] == replicas:
            return False
        if new_rs["spec"]["replicas"] > replicas:
            return self._scale(d, new_rs, replicas)
        return self._scale(d, new_rs, self._new_rs_new_replicas(d, all_rss, new_rs))

    def _reconcile_old_rss(
        self, d: dict, all_rss: list[dict], old_rss: list[dict], new_rs: dict
    ) -> bool:
        if _spec_replicas(old_rss) == 0:
            return False
        min_available = d["spec"]["replicas"] - max_unavailable(d)
        new_unavailable = new_rs["spec"]["replicas"] - new_rs["status"].get("availableReplicas", 0)
        max_scaled_down = _spec_replicas(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = self._cleanup_unhealthy(d, old_rss, max_scaled_down)
        scaled = self._scale_down_old_for_rolling(d, all_rss, old_rss)
        return cleaned + scaled > 0

    def _cleanup_unhealthy(self, d: dict, old_rss: list[dict], max_cleanup: int) -> int:
        total = 0
        for rs in _by_creation(old_rss):
            if total >= max_cleanup:
                break
            replicas, available = rs["spec"]["replicas"], rs["status"].get("availableReplicas", 0)
            if replicas == 0 or replicas == available:
                continue
            count = min(max_cleanup - total, replicas - available)
            self._scale(d, rs, replicas - count)
            total += count
        return total

    def _scale_down_old_for_rolling(self, d: dict, all_rss: list[dict], old_rss: list[dict]) -> int:
        min_available = d["spec"]["replicas"] - max_unavailable(d)
        available = _status_count(all_rss, "availableReplicas")
        if available <= min_available:
            return 0
        wanted, total = available - min_available, 0
        for rs in _by_creation(old_rss):
            if total >= wanted:
                break
            if rs["spec"]["replicas"] == 0:
                continue
            count = min(rs["spec"]["replicas"], wanted - total)
            self._scale(d, rs, rs["spec"]["replicas"] - count)
            total += count
        return total

    # --- Recreate -----------------------------------------------------------------------

    def _rollout_recreate(self, d: dict, rss: list[dict], now: float) -> None:
        new_rs, old_rss = self._new_and_old(d, rss, now, create=False)
        all_rss = [*old_rss, *([new_rs] if new_rs else [])]
        scaled_down = False
        for rs in _active(old_rss):
            scaled_down = self._scale(d, rs, 0) or scaled_down
        if scaled_down or self._old_pods_running(new_rs, old_rss):
            return self._sync_rollout_status(d, all_rss, new_rs, now)
        if new_rs is None:
            new_rs, old_rss = self._new_and_old(d, rss, now, create=True)
            if new_rs is None:
                return None
            all_rss = [*old_rss, new_rs]
        self._scale(d, new_rs, d["spec"]["replicas"])
        if deployment_complete(d, d["status"]):
            self._cleanup(d, old_rss)
        return self._sync_rollout_status(d, all_rss, new_rs, now)

    def _old_pods_running(self, new_rs: dict | None, old_rss: list[dict]) -> bool:
        if _status_count(old_rss, "replicas") > 0:
            return True
        old_uids = {rs["metadata"]["uid"] for rs in old_rss} - {
            (new_rs or {"metadata": {}})["metadata"].get("uid")
        }
        pods, _ = self.store.list(PODS, None, lambda pod: controller_uid(pod) in old_uids)
        return any(pod["status"].get("phase") not in ("Succeeded", "Failed") for pod in pods)

    # --- history and status -------------------------------------------------------------

    def _cleanup(self, d: dict, old_rss: list[dict]) -> None:
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        surplus = len(old_rss) - limit
        for rs in sorted(old_rss, key=revision)[: max(surplus, 0)]:
            if rs["status"].get("replicas", 0) or rs["spec"]["replicas"]:
                continue
            if rs["metadata"]["generation"] > rs["status"].get("observedGeneration", 0):
                continue
            self.store.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _calculate_status(
        self, d: dict, all_rss: list[dict], new_rs: dict | None, now: float
    ) -> dict:
        available = _status_count(all_rss, "availableReplicas")
        status = {
            "observedGeneration": d["metadata"]["generation"],
            "replicas": _status_count(all_rss, "replicas"),
            "updatedReplicas": new_rs["status"].get("replicas", 0) if new_rs else 0,
            "readyReplicas": _status_count(all_rss, "readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": max(_spec_replicas(all_rss) - available, 0),
            "conditions": clone(d["status"].get("conditions") or []),
        }
        if "collisionCount" in d["status"]:
            status["collisionCount"] = d["status"]["collisionCount"]
        if available >= d["spec"]["replicas"] - max_unavailable(d):
            condition = new_condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            )
        else:
            condition = new_condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            )
        set_condition(status, condition)
        return status

    def _sync_rollout_status(
        self, d: dict, all_rss: list[dict], new_rs: dict | None, now: float
    ) -> None:
        status = self._calculate_status(d, all_rss, new_rs, now)
        if not has_progress_deadline(d):
            remove_condition(status, "Progressing")
        current = get_condition(d["status"], "Progressing")
        complete_before = (
            status["replicas"] == status["updatedReplicas"]
            and current is not None
            and current["reason"] == "NewReplicaSetAvailable"
        )
        what = (
            f'ReplicaSet "{new_rs["metadata"]["name"]}"'
            if new_rs
            else f'Deployment "{d["metadata"]["name"]}"'
        )
        if has_progress_deadline(d) and not complete_before:
            if deployment_complete(d, status):
                message = f"{what} has successfully progressed."
                set_condition(
                    status,
                    new_condition("Progressing", "True", "NewReplicaSetAvailable", message, now),
                )
            elif deployment_progressing(d, status):
                condition = new_condition(
                    "Progressing", "True", "ReplicaSetUpdated", f"{what} is progressing.", now
                )
                if current is not None:
                    if current["status"] == "True":
                        condition["lastTransitionTime"] = current["lastTransitionTime"]
                    remove_condition(status, "Progressing")
                set_condition(status, condition)
            elif deployment_timed_out(d, status, now):
                message = f"{what} has timed out progressing."
                set_condition(
                    status,
                    new_condition("Progressing", "False", "ProgressDeadlineExceeded", message, now),
                )
        self._save_status(d, status)
