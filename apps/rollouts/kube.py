"""The one module that talks to Kubernetes, through the official client.

It returns plain dataclasses, so the executor does not care whether the API server is a real
cluster or Runway's cluster simulator: both are reached over HTTP through a kubeconfig.
"""

from dataclasses import dataclass, field
from functools import cache

import urllib3
from django.conf import settings
from kubernetes import client, config
from kubernetes.client.rest import ApiException


class KubeUnavailable(Exception):
    """The API server could not be reached: retry later."""


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message


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

    def apply_deployment(self, namespace: str, manifest: dict) -> DeploymentStatus:
        """Create the Deployment, or patch it to this manifest (strategic merge)."""
        name = manifest["metadata"]["name"]
        if self.deployment(namespace, name) is None:
            try:
                raw = _call(
                    self.apps.create_namespaced_deployment,
                    namespace,
                    manifest,
                    _request_timeout=self.timeout,
                )
                return _status(raw)
            except KubeError as exc:
                if exc.status != 409:  # someone created it meanwhile: patch instead
                    raise
        raw = _call(
            self.apps.patch_namespaced_deployment,
            name,
            namespace,
            manifest,
            _request_timeout=self.timeout,
        )
        return _status(raw)

    def set_image(self, namespace: str, name: str, container: str, image: str):
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}
        }
        return _status(
            _call(
                self.apps.patch_namespaced_deployment,
                name,
                namespace,
                patch,
                _request_timeout=self.timeout,
            )
        )

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

    # --- Services ---------------------------------------------------------------------------

    def apply_service(self, namespace: str, manifest: dict) -> None:
        name = manifest["metadata"]["name"]
        try:
            _call(self.core.read_namespaced_service, name, namespace, _request_timeout=self.timeout)
        except KubeError as exc:
            if exc.status != 404:
                raise
            _call(
                self.core.create_namespaced_service,
                namespace,
                manifest,
                _request_timeout=self.timeout,
            )
            return
        _call(
            self.core.patch_namespaced_service,
            name,
            namespace,
            manifest,
            _request_timeout=self.timeout,
        )

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


def _status(raw) -> DeploymentStatus:
    status = raw.status
    containers = raw.spec.template.spec.containers or []
    conditions = {
        c.type: (c.status, c.reason or "", c.message or "") for c in (status.conditions or [])
    }
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
    )
