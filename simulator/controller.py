"""The control loop: every tick, garbage collection, the ReplicaSet controller, the kubelet and
the Deployment controller run once, in that order, under the store's lock.

Holding the lock for the whole tick makes every API read see the cluster between two ticks,
never half-way through one, so invariants such as maxUnavailable can be checked by sampling.
"""

import logging
import threading
import time
from collections.abc import Callable

from simulator import replicasets
from simulator.deployments import DeploymentController
from simulator.kubelet import Kubelet
from simulator.replicasets import controller_uid
from simulator.resources import PODS, REPLICASETS
from simulator.store import Store

logger = logging.getLogger(__name__)


def collect_garbage(store: Store) -> None:
    """Delete what a deleted owner left behind (background cascading deletion)."""
    uids = store.uids()

    def orphaned(obj: dict) -> bool:
        owner = controller_uid(obj)
        return owner is not None and owner not in uids

    for resource in (REPLICASETS, PODS):
        orphans, _ = store.list(resource, None, orphaned, shared=True)
        for obj in orphans:
            store.delete(resource, obj["metadata"]["namespace"], obj["metadata"]["name"])


class Controller:
    def __init__(
        self,
        store: Store,
        *,
        tick: float,
        ready_delay: float,
        clock: Callable[[], float] = time.time,
    ):
        self.store, self.interval, self.clock = store, tick, clock
        self.kubelet = Kubelet(store, ready_delay=ready_delay)
        self.replica_set_statuses = replicasets.StatusUpdater(store)
        self.deployments = DeploymentController(store)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        now = self.clock()
        with self.store.lock:
            collect_garbage(self.store)
            replicasets.manage_pods(self.store)
            self.kubelet.sync(now)
            self.replica_set_statuses.update(now)
            self.deployments.sync_all(now)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.tick()
            except Exception:  # one bad object must not stop the cluster
                logger.exception("controller tick failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="simulator-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
