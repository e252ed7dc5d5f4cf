"""The one module that talks to Kubernetes, through the official client.

It returns plain dataclasses, so the executor does not care whether the API server is a real
cluster or Runway's cluster simulator: both are reached over HTTP through a kubeconfig.
"""

import copy
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

import urllib3
from django.conf import settings
from kubernetes import client, config
from kubernetes.client.rest import ApiException

# Set by `apply_*` on what it writes: a fingerprint of the manifest, so applying the same manifest
# again (a step run again after a worker died, a poll) reads and writes nothing.
APPLIED = "runway.dev/applied"


class KubeUnavailable(Exception):
    """The API server could not be reached: retry later."""


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


@dataclass(frozen=True)
class PodStatus:
    """What a pod says about its health: the signals a rollout reads besides the Deployment's."""

    name: str
    image: str
    phase: str
    ready: bool
    restarts: int
    waiting_reason: str = ""  # CrashLoopBackOff, ImagePullBackOff, ErrImagePull, ...
    waiting_message: str = ""
    unschedulable: str = ""  # the scheduler's message while the pod cannot be placed


@dataclass(frozen=True)
class DeploymentStatus:
    name: str
    generation: int
    observed_generation: int
    replicas: int
    spec_replicas: int
    updated: int
    ready: int
    available: int
    image: str
    template: dict
    conditions: dict = field(default_factory=dict)  # type -> (status, reason, message)
    selector: dict = field(default_factory=dict)  # spec.selector.matchLabels
    # The Progressing condition's lastUpdateTime: when the controller last saw progress (a new
    # ReplicaSet, pods scaled or available), by the cluster's clock.
    progressed_at: datetime | None = None

    @property
    def applied(self) -> str:
        """The fingerprint of the manifest that set this pod template, if Runway applied it."""
        return (self.template.get("metadata") or {}).get("annotations", {}).get(APPLIED, "")

    @property
    def progress_deadline_exceeded(self) -> bool:
        return self.conditions.get("Progressing", ("", "", ""))[1] == "ProgressDeadlineExceeded"

    @property
    def rolled_out(self) -> bool:
        """What `kubectl rollout status` waits for."""
        return (
            self.observed_generation >= self.generation
            and self.updated == self.spec_replicas
            and self.replicas == self.updated
            and self.available == self.updated
        )


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ApiException as exc:
        if exc.status in (0, 502, 503, 504) or exc.status is None:
            raise KubeUnavailable(str(exc.reason)) from exc
        reason, message = exc.reason or "", ""
        try:
            import json

            body = json.loads(exc.body or "{}")
            reason, message = body.get("reason", reason), body.get("message", "")
        except ValueError:
            message = exc.body or ""
        raise KubeError(exc.status, reason, message) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise KubeUnavailable(str(exc)) from exc


@cache
def _api_client(kubeconfig: str, context: str, in_cluster: bool) -> client.ApiClient:
    configuration = client.Configuration()
    if in_cluster:
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(
            config_file=kubeconfig or None,
            context=context or None,
            client_configuration=configuration,
        )
    configuration.retries = False  # the executor retries with back-off, not the client
    return client.ApiClient(configuration)


def preload() -> None:
    """Build the client's API classes now. The kubernetes package creates them on first use,
    which takes about a second; a Celery worker does this once, before its pool forks, instead
    of in the first task of every worker process."""
    client.AppsV1Api  # noqa: B018 (the attribute access is the import)
    client.CoreV1Api  # noqa: B018


class Kube:
    """Operations on one cluster. Every call is idempotent for the same arguments."""

    def __init__(self, *, kubeconfig: str = "", context: str = "", in_cluster: bool = False):
        path = kubeconfig or settings.KUBECONFIG
        try:
            api = _api_client(path, context, in_cluster)
        except (config.ConfigException, OSError) as exc:
            # No kubeconfig yet (the simulator not started) is a wait, not a crash.
            raise KubeUnavailable(f"cannot load kubeconfig {path!r}: {exc}") from exc
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.timeout = settings.KUBE_REQUEST_TIMEOUT

    @classmethod
    def for_cluster(cls, cluster) -> "Kube":
        if cluster is None:
            return cls()
        return cls(
            kubeconfig=cluster.kubeconfig_path,
            context=cluster.context,
            in_cluster=cluster.in_cluster,
        )

    # --- Deployments ------------------------------------------------------------------------

    def deployment(self, namespace: str, name: str) -> DeploymentStatus | None:
        try:
            raw = _call(
                self.apps.read_namespaced_deployment,
                name,
                namespace,
                _request_timeout=self.timeout,
            )
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return _status(raw)

    def apply_deployment(self, namespace: str, manifest: dict) -> bool:
        """Create the Deployment, or patch it to this manifest (strategic merge). Nothing is
        written when the cluster already runs this manifest at its replica count: False."""
        manifest = copy.deepcopy(manifest)
        name, replicas = manifest["metadata"]["name"], manifest["spec"].get("replicas")
        spec = {key: value for key, value in manifest["spec"].items() if key != "replicas"}
        fingerprint = _fingerprint({**manifest, "spec": spec})
        # On the pod template: a rollback that puts an earlier template back brings its own.
        template_meta = manifest["spec"]["template"].setdefault("metadata", {})
        template_meta.setdefault("annotations", {})[APPLIED] = fingerprint
        current = self.deployment(namespace, name)
        if current is None:
            try:
                _call(
                    self.apps.create_namespaced_deployment,
                    namespace,
                    manifest,
                    _request_timeout=self.timeout,
                )
                return True
            except KubeError as exc:
                if exc.status != 409:  # someone created it meanwhile: patch instead
                    raise
        elif current.applied == fingerprint and (
            replicas is None or current.spec_replicas == replicas
        ):
            return False
        _call(
            self.apps.patch_namespaced_deployment,
            name,
            namespace,
            manifest,
            _request_timeout=self.timeout,
        )
        return True

    def set_template(self, namespace: str, name: str, template: dict) -> DeploymentStatus:
        """Put an earlier pod template back, as `kubectl rollout undo` does."""
        patch = [{"op": "replace", "path": "/spec/template", "value": template}]
        return _status(
            _call(
                self.apps.patch_namespaced_deployment,
                name,
                namespace,
                patch,
                _request_timeout=self.timeout,
            )
        )

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        _call(
            self.apps.patch_namespaced_deployment_scale,
            name,
            namespace,
            {"spec": {"replicas": replicas}},
            _request_timeout=self.timeout,
        )

    def delete_deployment(self, namespace: str, name: str) -> None:
        try:
            _call(
                self.apps.delete_namespaced_deployment,
                name,
                namespace,
                _request_timeout=self.timeout,
            )
        except KubeError as exc:
            if exc.status != 404:
                raise

    def pods(self, namespace: str, selector: dict) -> list[PodStatus]:
        """The pods matching a Deployment's selector, as health signals."""
        label_selector = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
        raw = _call(
            self.core.list_namespaced_pod,
            namespace,
            label_selector=label_selector,
            _request_timeout=self.timeout,
        )
        return [_pod(item) for item in raw.items or []]

    # --- Services ---------------------------------------------------------------------------

    def apply_service(self, namespace: str, manifest: dict) -> bool:
        """Create the Service, or patch it to this manifest; nothing is written when it already
        has this manifest and its selector (which `set_service_selector` may have moved):
        False."""
        manifest = copy.deepcopy(manifest)
        name = manifest["metadata"]["name"]
        fingerprint = _fingerprint(manifest)
        manifest["metadata"].setdefault("annotations", {})[APPLIED] = fingerprint
        try:
            raw = _call(
                self.core.read_namespaced_service, name, namespace, _request_timeout=self.timeout
            )
        except KubeError as exc:
            if exc.status != 404:
                raise
            _call(
                self.core.create_namespaced_service,
                namespace,
                manifest,
                _request_timeout=self.timeout,
            )
            return True
        applied = (raw.metadata.annotations or {}).get(APPLIED)
        if applied == fingerprint and dict(raw.spec.selector or {}) == manifest["spec"].get(
            "selector", {}
        ):
            return False
        _call(
            self.core.patch_namespaced_service,
            name,
            namespace,
            manifest,
            _request_timeout=self.timeout,
        )
        return True

    def service_selector(self, namespace: str, name: str) -> dict:
        raw = _call(
            self.core.read_namespaced_service, name, namespace, _request_timeout=self.timeout
        )
        return dict(raw.spec.selector or {})

    def set_service_selector(self, namespace: str, name: str, selector: dict) -> None:
        patch = [{"op": "replace", "path": "/spec/selector", "value": selector}]
        _call(
            self.core.patch_namespaced_service,
            name,
            namespace,
            patch,
            _request_timeout=self.timeout,
        )


def _fingerprint(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:20]


def _status(raw) -> DeploymentStatus:
    status = raw.status
    containers = raw.spec.template.spec.containers or []
    conditions = {
        c.type: (c.status, c.reason or "", c.message or "") for c in (status.conditions or [])
    }
    progressing = next((c for c in status.conditions or [] if c.type == "Progressing"), None)
    template = client.ApiClient().sanitize_for_serialization(raw.spec.template)
    return DeploymentStatus(
        name=raw.metadata.name,
        generation=raw.metadata.generation or 0,
        observed_generation=status.observed_generation or 0,
        replicas=status.replicas or 0,
        spec_replicas=raw.spec.replicas if raw.spec.replicas is not None else 1,
        updated=status.updated_replicas or 0,
        ready=status.ready_replicas or 0,
        available=status.available_replicas or 0,
        image=containers[0].image if containers else "",
        template=template,
        conditions=conditions,
        selector=dict(raw.spec.selector.match_labels or {}) if raw.spec.selector else {},
        progressed_at=progressing.last_update_time if progressing else None,
    )


def _pod(raw) -> PodStatus:
    status = raw.status
    containers = status.container_statuses or []
    waiting = next(
        (c.state.waiting for c in containers if c.state and c.state.waiting),
        None,
    )
    conditions = {c.type: c for c in status.conditions or []}
    scheduled = conditions.get("PodScheduled")
    unschedulable = ""
    if scheduled is not None and scheduled.status == "False":
        unschedulable = scheduled.message or scheduled.reason or "cannot be scheduled"
    ready = conditions.get("Ready")
    spec_containers = raw.spec.containers or []
    return PodStatus(
        name=raw.metadata.name,
        image=spec_containers[0].image if spec_containers else "",
        phase=status.phase or "",
        ready=ready is not None and ready.status == "True",
        restarts=sum(c.restart_count or 0 for c in containers),
        waiting_reason=(waiting.reason or "") if waiting else "",
        waiting_message=(waiting.message or "") if waiting else "",
        unschedulable=unschedulable,
    )


def _first_strerror(error: BaseException | None) -> str | None:
    """The first operating-system reason in an error's chain of causes."""
    while error is not None:
        strerror = getattr(error, "strerror", None)
        if strerror:
            return str(strerror)
        error = error.__cause__ or error.__context__
    return None


def check_connection(
    *, kubeconfig: str = "", context: str = "", in_cluster: bool = False, timeout: float = 5.0
) -> str:
    """Check that a cluster can be reached the way the executor will reach it, and return the
    API server's version (its gitVersion, e.g. "v1.31.0").

    Raises ValueError when the kubeconfig (or, in a cluster, the pod's service account) cannot
    be used or the server answers with an error or not as Kubernetes does, LookupError when the
    kubeconfig has no such context (nor a current-context), and KubeUnavailable when the API
    server does not answer within `timeout` seconds.
    """
    import json
    import os

    import yaml

    configuration = client.Configuration()
    if in_cluster:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException as exc:
            raise ValueError(f"Runway is not running inside a Kubernetes cluster: {exc}") from exc
    else:
        path = kubeconfig or settings.KUBECONFIG
        if not os.path.isfile(path):  # a device or a FIFO could be read for ever
            raise ValueError(f"There is no kubeconfig file at {path}.")
        try:
            with open(path, encoding="utf-8") as file:
                document = yaml.safe_load(file)
        except OSError as exc:
            raise ValueError(f"Cannot read {path}: {exc.strerror}.") from exc
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ValueError(f"{path} is not a kubeconfig: it is not YAML.") from exc
        sections = ("clusters", "contexts", "users")
        if not isinstance(document, dict) or not all(
            isinstance(document.get(key), list | None) and key in document for key in sections
        ):
            raise ValueError(
                f"{path} is not a kubeconfig: it needs lists of clusters, contexts and users."
            )
        names = [c.get("name") for c in document["contexts"] or [] if isinstance(c, dict)]
        listed = ", ".join(str(name) for name in names) or "none"
        chosen = context or document.get("current-context") or ""
        if not chosen:
            raise LookupError(
                f"{path} has no current-context: name one of its contexts ({listed})."
            )
        if chosen not in names:
            raise LookupError(f"{path} has no context {chosen!r} (it has: {listed}).")
        try:
            config.load_kube_config(
                config_file=path,
                context=chosen,
                client_configuration=configuration,
                persist_config=False,
            )
        except (config.ConfigException, OSError, ValueError) as exc:
            raise ValueError(f"{path} cannot be used: {exc}") from exc
    configuration.retries = False
    with client.ApiClient(configuration) as api:
        try:
            response = _call(
                client.VersionApi(api).get_code, _preload_content=False, _request_timeout=timeout
            )
        except KubeUnavailable as exc:
            # The socket's own error says it best: "Connection refused".
            strerror = _first_strerror(exc.__cause__)
            if strerror is not None:
                reason = strerror
            elif isinstance(exc.__cause__, urllib3.exceptions.TimeoutError):
                reason = f"timed out after {timeout:g} s"
            else:
                reason = str(exc)
            raise KubeUnavailable(
                f"The API server did not answer at {configuration.host}: {reason}."
            ) from exc
        except KubeError as exc:
            raise ValueError(
                f"The API server at {configuration.host} refused the version check: "
                f"{exc.status} {exc.reason}."
            ) from exc
    try:
        version = json.loads(response.data).get("gitVersion")
    except (ValueError, AttributeError):
        version = None
    if not isinstance(version, str) or not version:
        raise ValueError(
            f"{configuration.host} answered, but not as a Kubernetes API server: "
            "/version has no gitVersion."
        )
    return version


def cluster_server_version(
    *, kubeconfig: str = "", context: str = "", in_cluster: bool = False
) -> str:
    """check_connection as the catalog's cluster services take it (apps/catalog/services.py):
    a server that does not answer makes the connection as unusable as any other fault."""
    try:
        return check_connection(kubeconfig=kubeconfig, context=context, in_cluster=in_cluster)
    except KubeUnavailable as exc:
        raise ValueError(str(exc)) from exc
