"""Discovery documents: what clients (kubectl above all) read before their first real request.

Aggregated discovery is not offered: answering `/api` and `/apis` with plain `application/json`
makes clients fall back to the per-group-version documents served here.
"""

from simulator import resources

VERSION = {
    "major": "1",
    "minor": "33",
    "emulationMajor": "1",
    "emulationMinor": "33",
    "gitVersion": "v1.33.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server_address: str) -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str, versions: list[str]) -> dict:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def api_groups() -> dict:
    groups = sorted({r.group for r in resources.ALL if r.group})
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, ["v1"]) for name in groups],
    }


def api_group(name: str) -> dict | None:
    if not any(r.group == name for r in resources.ALL):
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, ["v1"])}


def resource_list(group_version: str) -> dict | None:
    members = resources.group_versions().get(group_version)
    if members is None:
        return None
    entries = []
    for resource in members:
        entry = {
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": sorted(resource.verbs),
        }
        if resource.short_names:
            entry["shortNames"] = list(resource.short_names)
        if resource.categories:
            entry["categories"] = list(resource.categories)
        entries.append(entry)
        for sub in resource.subresources:
            entry = {
                "name": f"{resource.plural}/{sub}",
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": ["get", "patch", "update"],
            }
            if sub == "scale":
                entry.update(group="autoscaling", version="v1", kind="Scale")
            entries.append(entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }


# --- OpenAPI ------------------------------------------------------------------------------

OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def openapi_v2() -> dict:
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
        "paths": {},
        "definitions": {},
    }


# --- OpenAPI v3 ---------------------------------------------------------------------------
# Just enough for kubectl's check that the server validates fields itself (the `fieldValidation`
# parameter on PATCH): with it, `kubectl apply` and `kubectl create` skip client-side schema
# validation, which would need the full OpenAPI v2 document.


def _openapi_path(group_version: str) -> str:
    return f"api/{group_version}" if "/" not in group_version else f"apis/{group_version}"


def openapi_index() -> dict:
    return {
        "paths": {
            _openapi_path(gv): {"serverRelativeURL": f"/openapi/v3/{_openapi_path(gv)}"}
            for gv in resources.group_versions()
        }
    }


def openapi_group_version(path: str) -> dict | None:
    """The OpenAPI v3 document of one group version, e.g. `apis/apps/v1`."""
    group_version = next(
        (gv for gv in resources.group_versions() if _openapi_path(gv) == path), None
    )
    if group_version is None:
        return None
    paths = {}
    for resource in resources.group_versions()[group_version]:
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
        paths[f"{resource.base_path}{scope}/{resource.plural}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{resource.kind}",
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }
