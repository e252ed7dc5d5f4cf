"""Routing and handlers: HTTP requests in, Kubernetes-shaped answers out.

The handlers know nothing of sockets: `Api.handle` takes a `Request` and returns a `Response`
(or a stream of watch events), which `server.py` writes.
"""

import json
import logging
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field

from simulator import (
    defaults,
    discovery,
    errors,
    label_selectors,
    metrics,
    patches,
    resources,
    tables,
    validation,
)
from simulator.errors import ApiError
from simulator.resources import DEPLOYMENTS, PODS, REPLICASETS, Resource
from simulator.store import Store, random_suffix

logger = logging.getLogger(__name__)

MAX_WATCH_SECONDS = 1800.0
WATCH_HEARTBEAT_SECONDS = 1.0
# The API server returns the deleted object for these kinds, a Status for the others.
_DELETE_RETURNS_OBJECT = {"pods", "services", "namespaces"}


@dataclass
class Request:
    method: str
    target: str  # path and query string
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def __post_init__(self):
        parts = urllib.parse.urlsplit(self.target)
        self.path = parts.path.rstrip("/") or "/"
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise errors.bad_request(f"error decoding request body: {exc}") from exc


@dataclass
class Response:
    status: int
    body: dict | str | None = None
    content_type: str = "application/json"
    # Watch events; None items are heartbeats that let the server notice a gone client.
    stream: Iterator[dict | None] | None = None


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def _success(resource: Resource, obj: dict) -> dict:
    details = {
        "name": obj["metadata"]["name"],
        "group": resource.group,
        "kind": resource.plural,
        "uid": obj["metadata"]["uid"],
    }
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {k: v for k, v in details.items() if v},
    }


def _prune(value):
    """Nulls dropped, as decoding into Go structs does: `creationTimestamp: null` in a pod
    template read back from a ReplicaSet is the same template as one without it."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _item(obj: dict) -> dict:
    """A list item: the API server leaves out kind and apiVersion."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


class Api:
    def __init__(self, store: Store, *, server_address: str = "127.0.0.1"):
        self.store = store
        self.server_address = server_address

    # --- entry point ----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            return self._route(request)
        except ApiError as exc:
            return Response(exc.code, exc.status())
        except Exception as exc:  # a bug here must still answer, as the API server's 500 does
            logger.exception("%s %s failed", request.method, request.target)
            return Response(500, ApiError(500, "InternalError", f"{exc!r}").status())

    def _route(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path.startswith("/prometheus/"):
            return self._prometheus(request)
        if path.startswith("/probe/"):
            return self._probe(request)
        fixed = self._fixed(request)
        if fixed is not None:
            if method not in ("GET", "HEAD"):
                raise errors.method_not_allowed(method, path)
            return fixed
        target = self._resource_target(path)
        if target is None:
            raise errors.path_not_found()
        return self._dispatch(request, *target)

    def _fixed(self, request: Request) -> Response | None:
        path = request.path
        if path in ("/healthz", "/livez", "/readyz"):
            return Response(200, "ok", "text/plain; charset=utf-8")
        documents = {
            "/version": lambda: discovery.VERSION,
            "/api": lambda: discovery.api_versions(self.server_address),
            "/apis": discovery.api_groups,
            "/api/v1": lambda: discovery.resource_list("v1"),
            "/openapi/v3": discovery.openapi_index,
        }
        if path in documents:
            return Response(200, documents[path]())
        if path == "/openapi/v2":
            return self._openapi_v2(request)
        if path.startswith("/openapi/v3/"):
            document = discovery.openapi_group_version(path.removeprefix("/openapi/v3/"))
            return Response(200, document) if document is not None else None
        if path.startswith("/apis/"):
            parts = path.split("/")[2:]
            if len(parts) == 1 and discovery.api_group(parts[0]):
                return Response(200, discovery.api_group(parts[0]))
            if len(parts) == 2:
                listing = discovery.resource_list("/".join(parts))
                if listing is not None:
                    return Response(200, listing)
        return None

    @staticmethod
    def _openapi_v2(request: Request) -> Response:
        """An empty OpenAPI v2 document. kubectl asks for it in protobuf, where an empty
        message is a valid, empty Document: it then skips client-side schema validation and
        builds apply patches from its compiled-in types."""
        if "protobuf" in request.headers.get("accept", ""):
            return Response(200, "", discovery.OPENAPI_V2_PROTOBUF)
        return Response(200, discovery.openapi_v2())

    def _resource_target(self, path: str):
        """(resource, namespace or None, name or None, subresource or None), or None."""
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        if len(rest) >= 3 and rest[0] == "namespaces":
            resource = resources.lookup(group, version, rest[2])
            if resource is not None and resource.namespaced and len(rest) <= 5:
                return resource, rest[1], *[*rest[3:], None, None][:2]
        resource = resources.lookup(group, version, rest[0])
        if resource is None or len(rest) > 3:
            return None
        name, sub = [*rest[1:], None, None][:2]
        if resource.namespaced and name is not None:
            return None  # a namespaced object needs its namespace in the path
        return resource, None, name, sub

    def _dispatch(self, request: Request, resource: Resource, namespace, name, sub) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        if name is None:
            if method == "GET":
                return self._list(request, resource, namespace)
            if method == "POST" and (namespace is not None or not resource.namespaced):
                self._allow(resource, "create", method, request.path)
                return self._create(request, resource, namespace or "")
            raise errors.method_not_allowed(method, request.path)
        namespace = namespace or ""
        if sub == "scale" and "scale" in resource.subresources:
            return self._scale(request, resource, namespace, name)
        if sub not in (None, "status"):
            raise errors.path_not_found()
        status_only = sub == "status"
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
        if verb is None or (status_only and verb == "delete"):
            raise errors.method_not_allowed(method, request.path)
        if not status_only:  # every kind's status may be written, as the controllers do
            self._allow(resource, verb, method, request.path)
        if verb == "get":
            return self._get(request, resource, namespace, name)
        if verb == "update":
            return self._replace(request, resource, namespace, name, status_only)
        if verb == "patch":
            return self._patch(request, resource, namespace, name, status_only)
        return self._delete(request, resource, namespace, name)

    @staticmethod
    def _allow(resource: Resource, verb: str, method: str, path: str) -> None:
        if verb not in resource.verbs:
            raise errors.method_not_allowed(method, path)

    # --- reads ----------------------------------------------------------------------------

    def _get(self, request: Request, resource: Resource, namespace: str, name: str) -> Response:
        obj = self.store.get(resource, namespace, name)
        if tables.wants_table(request.headers.get("accept", "")):
            return Response(200, self._table(request, resource, [obj], self.store.resource_version))
        return Response(200, obj)

    def _table(self, request: Request, resource: Resource, items: list, rv: str) -> dict:
        include = request.query.get("includeObject", "Metadata")
        return tables.table(resource, items, rv, self.store.clock(), include)

    def _filter(self, request: Request):
        labels = label_selectors.parse_label_selector(request.query.get("labelSelector"))
        fields = label_selectors.parse_field_selector(request.query.get("fieldSelector"))
        return lambda obj: (
            label_selectors.matches_all(labels, obj["metadata"].get("labels")) and fields(obj)
        )

    def _list(self, request: Request, resource: Resource, namespace: str | None) -> Response:
        where = self._filter(request)
        if _flag(request.query.get("watch")):
            events = self._watch(request, resource, namespace, where)
            if tables.wants_table(request.headers.get("accept", "")):
                events = self._table_events(request, resource, events)
            return Response(200, stream=events)
        items, rv = self.store.list(resource, namespace, where)
        if tables.wants_table(request.headers.get("accept", "")):
            return Response(200, self._table(request, resource, items, rv))
        return Response(
            200,
            {
                "kind": resource.list_kind,
                "apiVersion": resource.api_version,
                "metadata": {"resourceVersion": rv},
                "items": [_item(obj) for obj in items],
            },
        )

    def _table_events(self, request: Request, resource: Resource, events: Iterator) -> Iterator:
        """`kubectl get -w`: each event carries a one-row Table; only the first has headers."""
        first = True
        for event in events:
            if event is None or event["type"] not in ("ADDED", "MODIFIED", "DELETED"):
                yield event
                continue
            obj = event["object"]
            table = self._table(request, resource, [obj], obj["metadata"]["resourceVersion"])
            if not first:
                del table["columnDefinitions"]
            first = False
            yield {"type": event["type"], "object": table}

    def _watch(self, request: Request, resource: Resource, namespace, where) -> Iterator:
        query = request.query
        try:
            seconds = float(query.get("timeoutSeconds") or MAX_WATCH_SECONDS)
            start = query.get("resourceVersion", "")
            revision = int(start) if start not in ("", "0") else 0
        except ValueError as exc:
            raise errors.bad_request(f"invalid watch parameter: {exc}") from exc
        deadline = time.monotonic() + min(seconds, MAX_WATCH_SECONDS)

        def wanted(obj: dict) -> bool:
            in_namespace = namespace is None or obj["metadata"].get("namespace") == namespace
            return in_namespace and where(obj)

        def events() -> Iterator[dict | None]:
            nonlocal revision
            if start in ("", "0") or _flag(query.get("sendInitialEvents")):
                items, rv = self.store.list(resource, namespace, where)
                for obj in items:
                    yield {"type": "ADDED", "object": obj}
                revision = int(rv)
                if _flag(query.get("sendInitialEvents")):
                    end = {"k8s.io/initial-events-end": "true"}
                    yield {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": resource.kind,
                            "apiVersion": resource.api_version,
                            "metadata": {"resourceVersion": rv, "annotations": end},
                        },
                    }
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    found, revision = self.store.events_after(
                        resource, revision, min(remaining, WATCH_HEARTBEAT_SECONDS)
                    )
                except ApiError as exc:
                    yield {"type": "ERROR", "object": exc.status()}
                    return
                for event in found:
                    if wanted(event.object):
                        yield {"type": event.type, "object": event.object}
                yield None

        return events()

    # --- writes ---------------------------------------------------------------------------

    def _body(self, request: Request, resource: Resource) -> dict:
        body = request.json()
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != resource.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({resource.api_version})"
            )
        if kind and kind != resource.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"
            )
        if not isinstance(body.get("metadata", {}), dict):
            raise errors.bad_request("metadata must be an object")
        return body

    def _prepare(self, resource: Resource, obj: dict, current: dict | None) -> None:
        """Defaulting, then validation (422 on failure), as the API server does on writes."""
        pruned = _prune(obj)
        obj.clear()
        obj.update(pruned)
        if resource is DEPLOYMENTS:
            defaults.deployment(obj)
        elif resource is resources.SERVICES:
            defaults.service(obj, self.store, current)
        validation.check(resource, obj, current)

    def _create(self, request: Request, resource: Resource, namespace: str) -> Response:
        obj = self._body(request, resource)
        metadata = obj.setdefault("metadata", {})
        if resource.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            metadata["namespace"] = namespace
        dry_run = request.query.get("dryRun") == "All"
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + random_suffix()
        with self.store.lock:
            self._prepare(resource, obj, None)
            return Response(201, self.store.create(resource, obj, dry_run=dry_run))

    def _replace(self, request, resource, namespace, name, status_only) -> Response:
        obj = self._body(request, resource)
        metadata = obj.setdefault("metadata", {})
        if metadata.get("name") and metadata["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({metadata['name']}) does not match the name on the URL "
                f"({name})"
            )
        if resource.namespaced and metadata.get("namespace", namespace) != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        metadata["name"], metadata["namespace"] = name, namespace
        return self._write(request, resource, obj, status_only)

    def _write(self, request: Request, resource: Resource, obj: dict, status_only: bool):
        dry_run = request.query.get("dryRun") == "All"
        metadata = obj["metadata"]
        with self.store.lock:
            current = self.store.get(resource, metadata["namespace"], metadata["name"])
            if not status_only:
                self._prepare(resource, obj, current)
            updated = self.store.update(resource, obj, status_only=status_only, dry_run=dry_run)
        return Response(200, updated)

    def _patch(self, request, resource, namespace, name, status_only) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type not in patches.TYPES:
            raise errors.unsupported_media_type(content_type)
        with self.store.lock:  # no other write between reading and writing back
            current = self.store.get(resource, namespace, name)
            patched = patches.apply(content_type, current, request.body)
            metadata = patched.get("metadata")
            if not isinstance(metadata, dict):
                raise errors.unprocessable("metadata must be an object")
            identity = (
                {"name": name, "namespace": namespace} if resource.namespaced else {"name": name}
            )
            for key, value in identity.items():
                if metadata.get(key) != value:
                    problem = errors.FieldError(
                        "Invalid", f"metadata.{key}", "field is immutable", metadata.get(key)
                    )
                    raise errors.invalid(resource, name, [problem])
            return self._write(request, resource, patched, status_only)

    def _delete(self, request: Request, resource: Resource, namespace: str, name: str):
        options = request.json() if request.body else {}
        options = options if isinstance(options, dict) else {}
        preconditions = options.get("preconditions") or {}
        policy = request.query.get("propagationPolicy") or options.get("propagationPolicy")
        with self.store.lock:
            deleted = self.store.delete(
                resource,
                namespace,
                name,
                uid=preconditions.get("uid"),
                resource_version=preconditions.get("resourceVersion"),
                dry_run=request.query.get("dryRun") == "All",
            )
            if policy == "Orphan":
                self._orphan(deleted["metadata"]["uid"])
        if resource.plural in _DELETE_RETURNS_OBJECT:
            return Response(200, deleted)
        return Response(200, _success(resource, deleted))

    def _orphan(self, uid: str) -> None:
        for kind in (REPLICASETS, PODS):
            dependents, _ = self.store.list(
                kind,
                None,
                lambda obj: any(
                    o.get("uid") == uid for o in obj["metadata"].get("ownerReferences") or []
                ),
            )
            for obj in dependents:
                owners = [o for o in obj["metadata"]["ownerReferences"] if o.get("uid") != uid]
                obj["metadata"]["ownerReferences"] = owners
                if not owners:
                    del obj["metadata"]["ownerReferences"]
                self.store.update(kind, obj)

    # --- the scale subresource (autoscaling/v1 Scale) -------------------------------------

    @staticmethod
    def _scale_of(obj: dict) -> dict:
        metadata = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                key: metadata[key]
                for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            },
            "spec": {"replicas": obj["spec"].get("replicas", 0)},
            "status": {
                "replicas": obj["status"].get("replicas", 0),
                "selector": label_selectors.selector_string(obj["spec"].get("selector")),
            },
        }

    def _scale(self, request: Request, resource: Resource, namespace: str, name: str):
        method = "GET" if request.method == "HEAD" else request.method
        if method == "GET":
            return Response(200, self._scale_of(self.store.get(resource, namespace, name)))
        if method not in ("PUT", "PATCH"):
            raise errors.method_not_allowed(method, request.path)
        with self.store.lock:
            current = self.store.get(resource, namespace, name)
            scale = self._scale_of(current)
            if method == "PUT":
                wanted = request.json()
                if not isinstance(wanted, dict):
                    raise errors.bad_request("the request body must be a JSON object")
            else:
                content_type = request.headers.get("content-type", "").split(";")[0].strip()
                if content_type not in patches.TYPES:
                    raise errors.unsupported_media_type(content_type)
                wanted = patches.apply(content_type, scale, request.body)
            replicas = (wanted.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                problem = errors.FieldError(
                    "Invalid", "spec.replicas", "must be greater than or equal to 0", replicas
                )
                raise errors.invalid(resources.SCALE, name, [problem])
            current["spec"]["replicas"] = replicas
            current["metadata"]["resourceVersion"] = (wanted.get("metadata") or {}).get(
                "resourceVersion"
            )
            dry_run = request.query.get("dryRun") == "All"
            updated = self.store.update(resource, current, dry_run=dry_run)
        return Response(200, self._scale_of(updated))

    # --- metrics and probes ---------------------------------------------------------------

    def _prometheus(self, request: Request) -> Response:
        if request.path != "/prometheus/api/v1/query":
            return Response(404, {"status": "error", "errorType": "not_found", "error": "unknown"})
        params = dict(request.query)
        if request.method == "POST":
            form = urllib.parse.parse_qs(request.body.decode("utf-8", "replace"))
            params.update({k: v[-1] for k, v in form.items()})
        try:
            at = float(params["time"]) if params.get("time") else None
            result = metrics.query(self.store, params.get("query", ""), at)
        except (metrics.QueryError, ValueError) as exc:
            return Response(400, {"status": "error", "errorType": "bad_data", "error": str(exc)})
        return Response(
            200, {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    def _probe(self, request: Request) -> Response:
        parts = request.path.split("/")[2:]
        if len(parts) != 2 or request.method not in ("GET", "HEAD"):
            raise errors.path_not_found()
        code, body = metrics.probe(self.store, parts[0], parts[1])
        return Response(code, body)
