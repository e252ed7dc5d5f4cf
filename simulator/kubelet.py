"""Pods coming to life: Pending, then Running, then Ready after the ready delay.

An image whose tag contains one of these words behaves otherwise, so failure paths and
deadlines can be shown:

- `imagepull`: the pod stays Pending, its container waiting in ErrImagePull / ImagePullBackOff.
- `crashloop`: the container keeps exiting; waiting in CrashLoopBackOff, restartCount rising.
- `unready`: the container runs but its readiness probe never passes.
- `slowstart`: the container runs, but its readiness probe passes only after SLOW_START times
  the ready delay, so a progress deadline can be met or missed on purpose.
- `unschedulable`: no node has room for the pod. The scheduler never binds it (no
  spec.nodeName), so it stays Pending with PodScheduled False, reason Unschedulable, and no
  container, IP or start time, as the API server reports such a pod.
"""

import hashlib
from dataclasses import dataclass, field

from simulator.defaults import image_tag
from simulator.resources import PODS
from simulator.store import Store, timestamp

NODE_NAME = "runway-sim-node"
HOST_IP = "172.18.0.2"
TAG_BEHAVIOURS = ("imagepull", "crashloop", "unready", "slowstart", "unschedulable")
SLOW_START = 10  # times the ready delay
UNSCHEDULABLE = (
    "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
    "1 No preemption victims found for incoming pod."
)
CONDITION_ORDER = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
)


def behaviour(image: str) -> str:
    """One of TAG_BEHAVIOURS, or `ok`."""
    tag = image_tag(image or "")
    return next((word for word in TAG_BEHAVIOURS if word in tag), "ok")


def schedulable(spec: dict) -> bool:
    """Whether the scheduler finds a node for a pod with this spec."""
    return not any(
        behaviour(container.get("image", "")) == "unschedulable"
        for container in spec.get("containers") or []
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _PodLife:
    seen_at: float
    ip: str
    times: dict = field(default_factory=dict)
    # The stored pod once its status no longer moves with time (stored pods are replaced,
    # never changed in place, on every write): until it is written again, nothing to do.
    settled: dict | None = None


class Kubelet:
    def __init__(self, store: Store, *, ready_delay: float):
        self.store = store
        self.ready_delay = ready_delay
        self._pods: dict[str, _PodLife] = {}
        self._next_ip = 10

    def _allocate_ip(self) -> str:
        n, self._next_ip = self._next_ip, self._next_ip + 1
        return f"10.244.{(n // 250) % 250}.{n % 250 + 2}"

    def sync(self, now: float) -> None:
        pods, _ = self.store.list(PODS, shared=True)
        live = {pod["metadata"]["uid"] for pod in pods}
        for uid in set(self._pods) - live:
            del self._pods[uid]
        for pod in pods:
            uid = pod["metadata"]["uid"]
            life = self._pods.get(uid)
            if life is None:
                life = self._pods[uid] = _PodLife(seen_at=now, ip=self._allocate_ip())
            if life.settled is pod:
                continue
            status = self.pod_status(pod, life, now)
            if status != pod["status"]:
                self.store.update(PODS, {**pod, "status": status}, status_only=True)
            elif self._settled(pod, now - life.seen_at):
                life.settled = pod

    def _settled(self, pod: dict, age: float) -> bool:
        """Whether the pod's status stays as it is now until the pod changes: it never got a
        node, or its containers are past their last step (a crash loop and an image pull go
        on for ever)."""
        if not pod["spec"].get("nodeName"):
            return True
        last_step = {
            "ok": self.ready_delay,
            "slowstart": self.ready_delay * SLOW_START,
            "unready": self.ready_delay / 2,
        }
        kinds = [behaviour(c.get("image", "")) for c in pod["spec"].get("containers") or []]
        return all(kind in last_step and age >= last_step[kind] for kind in kinds)

    def _container(self, container: dict, pod: dict, life: _PodLife, age: float) -> dict:
        name, image = container["name"], container.get("image", "")
        kind = behaviour(image)
        half = self.ready_delay / 2
        cycle = max(self.ready_delay, 1.0)
        started_at = timestamp(life.seen_at + half)
        container_id = "containerd://" + _digest(pod["metadata"]["uid"] + name)
        repository = image.split("@")[0]
        if ":" in repository.rsplit("/", 1)[-1]:
            repository = repository.rsplit(":", 1)[0]
        image_id = f"{repository}@sha256:{_digest(image)}"
        state = {
            "name": name,
            "image": image,
            "imageID": "",
            "ready": False,
            "restartCount": 0,
            "started": False,
            "lastState": {},
            "state": {"waiting": {"reason": "ContainerCreating"}},
        }
        if age < half:
            return state
        if kind == "imagepull":
            pulls = int((age - half) / cycle)
            reason = "ErrImagePull" if pulls % 2 == 0 else "ImagePullBackOff"
            message = (
                f'failed to pull and unpack image "{image}": not found'
                if reason == "ErrImagePull"
                else f'Back-off pulling image "{image}"'
            )
            state["state"] = {"waiting": {"reason": reason, "message": message}}
            return state
        state.update(containerID=container_id, imageID=image_id)
        if kind == "crashloop":
            restarts = int((age - half) / cycle) + 1
            exited = life.seen_at + half + (restarts - 1) * cycle
            state["restartCount"] = restarts
            state["lastState"] = {
                "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": timestamp(exited),
                    "finishedAt": timestamp(exited),
                    "containerID": container_id,
                }
            }
            backoff = min(10 * 2 ** (restarts - 1), 300)
            state["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {backoff}s restarting failed container={name} "
                    f"pod={pod['metadata']['name']}_{pod['metadata'].get('namespace', '')}"
                    f"({pod['metadata']['uid']})",
                }
            }
            return state
        state["state"] = {"running": {"startedAt": started_at}}
        state["started"] = True
        ready_after = self.ready_delay * (SLOW_START if kind == "slowstart" else 1)
        state["ready"] = kind in ("ok", "slowstart") and age >= ready_after
        return state

    def _condition(
        self,
        life: _PodLife,
        kind: str,
        ok: bool,
        now: float,
        why: str = "",
        reason: str = "ContainersNotReady",
    ) -> dict:
        value = "True" if ok else "False"
        previous = life.times.get(kind)
        if previous is None or previous[0] != value:
            life.times[kind] = previous = (value, timestamp(now))
        condition = {
            "type": kind,
            "status": value,
            "lastProbeTime": None,
            "lastTransitionTime": previous[1],
        }
        if not ok and why:
            condition["reason"] = reason
            condition["message"] = why
        return condition

    def pod_status(self, pod: dict, life: _PodLife, now: float) -> dict:
        if not pod["spec"].get("nodeName"):  # never scheduled: nothing runs it
            scheduled = self._condition(
                life, "PodScheduled", False, now, UNSCHEDULABLE, reason="Unschedulable"
            )
            return {
                "phase": "Pending",
                "conditions": [scheduled],
                "qosClass": pod["status"].get("qosClass", "BestEffort"),
            }
        age = now - life.seen_at
        containers = [
            self._container(c, pod, life, age) for c in pod["spec"].get("containers") or []
        ]
        waiting = [c for c in containers if "waiting" in c["state"]]
        creating = any(
            c["state"]["waiting"]["reason"]
            in ("ContainerCreating", "ErrImagePull", "ImagePullBackOff")
            for c in waiting
        )
        unready = [c["name"] for c in containers if not c["ready"]]
        why = f"containers with unready status: [{' '.join(unready)}]" if unready else ""
        sandbox = age >= self.ready_delay / 2
        conditions = {
            "PodReadyToStartContainers": self._condition(
                life, "PodReadyToStartContainers", sandbox, now
            ),
            "Initialized": self._condition(life, "Initialized", True, now),
            "Ready": self._condition(life, "Ready", not unready, now, why),
            "ContainersReady": self._condition(life, "ContainersReady", not unready, now, why),
            "PodScheduled": self._condition(life, "PodScheduled", True, now),
        }
        status = {
            "phase": "Pending" if creating else "Running",
            "conditions": [conditions[kind] for kind in CONDITION_ORDER],
            "hostIP": HOST_IP,
            "hostIPs": [{"ip": HOST_IP}],
            "startTime": timestamp(life.seen_at),
            "containerStatuses": containers,
            "qosClass": pod["status"].get("qosClass", "BestEffort"),
        }
        if sandbox:
            status["podIP"] = life.ip
            status["podIPs"] = [{"ip": life.ip}]
        return status


def is_ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def ready_since(pod: dict) -> str | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return condition.get("lastTransitionTime")
    return None
