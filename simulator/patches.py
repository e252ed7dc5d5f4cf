"""The three patch types of PATCH requests.

- JSON Patch (RFC 6902): `application/json-patch+json`, a list of operations.
- JSON Merge Patch (RFC 7386): `application/merge-patch+json`, null deletes, lists replace.
- Strategic merge patch: `application/strategic-merge-patch+json`, Kubernetes' own. Lists of
  named things (containers, env, ports, volumes, ...) merge by their key; `$patch: replace` /
  `$patch: delete`, `$retainKeys` and `$deleteFromPrimitiveList/<field>` are honoured,
  `$setElementOrder/<field>` is accepted and ignored.

The API server answers 400 for a patch it cannot read and 422 for one it cannot apply.
"""

import copy
import json

from simulator import errors

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)

# patchMergeKey of the list fields the simulated kinds have (k8s.io/api struct tags).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "podIPs": "ip",
    "hostIPs": "ip",
}
_CONTAINER_LISTS = {"containers", "initContainers", "ephemeralContainers"}
_PRIMITIVE_MERGE_LISTS = {"finalizers"}
_DELETE = object()


def apply(content_type: str, current: dict, body: bytes) -> dict:
    try:
        patch = json.loads(body or b"null")
    except ValueError as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from exc
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise errors.bad_request(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
        return json_patch(current, patch)
    if not isinstance(patch, dict):
        raise errors.bad_request("error decoding patch: the patch must be a JSON object")
    if content_type == MERGE_PATCH:
        return merge_patch(current, patch)
    if content_type == STRATEGIC_MERGE_PATCH:
        merged = strategic_merge_patch(current, patch, ())
        return {} if merged is _DELETE else merged
    raise errors.unsupported_media_type(content_type)


# --- JSON Merge Patch ---------------------------------------------------------------------


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- JSON Patch ---------------------------------------------------------------------------


def _pointer(path: object) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise errors.unprocessable(f"invalid JSON pointer: {path!r}")
    if path == "":
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list, token: str, *, appending: bool) -> int:
    if appending and token == "-":
        return len(container)
    if not token.isdigit():
        raise errors.unprocessable(f"invalid array index: {token!r}")
    index = int(token)
    if index > len(container) or (not appending and index == len(container)):
        raise errors.unprocessable(f"array index out of bounds: {index}")
    return index


def _parent(doc, tokens: list[str], op: str, path: object):
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise errors.unprocessable(
                f"{op} operation does not apply: doc is missing path: {path}: missing value"
            )
    return node


def _get(doc, path: object, op: str):
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent, last = _parent(doc, tokens, op, path), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise errors.unprocessable(
        f"{op} operation does not apply: doc is missing key: {path}: missing value"
    )


def _add(doc, path: object, value, op: str = "add"):
    tokens = _pointer(path)
    if not tokens:
        return copy.deepcopy(value)
    parent, last = _parent(doc, tokens, op, path), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, appending=True), copy.deepcopy(value))
    else:
        raise errors.unprocessable(f"{op} operation does not apply: {path} is not a container")
    return doc


def _remove(doc, path: object, op: str = "remove"):
    tokens = _pointer(path)
    if not tokens:
        raise errors.unprocessable(f"{op} operation does not apply: cannot remove the root")
    parent, last = _parent(doc, tokens, op, path), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, appending=False))
    raise errors.unprocessable(
        f"{op} operation does not apply: doc is missing key: {path}: missing value"
    )


def json_patch(current: dict, operations: list) -> dict:
    doc = copy.deepcopy(current)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation:
            raise errors.bad_request("invalid JSON patch operation: missing 'op'")
        op, path = operation["op"], operation.get("path")
        if op in ("add", "replace", "test") and "value" not in operation:
            raise errors.bad_request(f"invalid JSON patch operation: {op} needs a value")
        if op == "add":
            doc = _add(doc, path, operation["value"])
        elif op == "remove":
            _remove(doc, path)
        elif op == "replace":
            _get(doc, path, "replace")  # the target must exist
            tokens = _pointer(path)
            if tokens:
                parent = _parent(doc, tokens, "replace", path)
                key = int(tokens[-1]) if isinstance(parent, list) else tokens[-1]
                parent[key] = copy.deepcopy(operation["value"])
            else:
                doc = copy.deepcopy(operation["value"])
        elif op == "move":
            value = _remove(doc, operation.get("from"), "move")
            doc = _add(doc, path, value, "move")
        elif op == "copy":
            doc = _add(doc, path, _get(doc, operation.get("from"), "copy"), "copy")
        elif op == "test":
            if _get(doc, path, "test") != operation["value"]:
                raise errors.unprocessable(f"testing value {path} failed: test failed")
        else:
            raise errors.bad_request(f"Unexpected kind: {op}")
    if not isinstance(doc, dict):
        raise errors.unprocessable("the patched document is not an object")
    return doc


# --- Strategic merge patch ----------------------------------------------------------------


def _merge_key(path: tuple[str, ...]) -> str | None:
    field = path[-1]
    if field == "ports":
        return "containerPort" if _CONTAINER_LISTS & set(path) else "port"
    return _MERGE_KEYS.get(field)


def _clean(value):
    """A patch value going in whole: directives and nulls dropped."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return value


def _merge_list(original: list, patch: list, key: str, path: tuple[str, ...]) -> list:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return _clean(patch)
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            raise errors.unprocessable(f"{'.'.join(path)}: list items must be objects")
        if key not in item:
            raise errors.unprocessable(
                f"map: {json.dumps(item)} does not contain declared merge key: {key}"
            )
        found = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if found is not None:
                del result[found]
        elif found is None:
            result.append(_clean(item))
        else:
            result[found] = strategic_merge_patch(result[found], item, path)
    return result


def strategic_merge_patch(original, patch, path: tuple[str, ...]):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return _clean(patch)
    if directive == "delete":
        return _DELETE
    result = dict(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
            continue
        field_path = (*path, key)
        existing = result.get(key)
        if isinstance(value, dict):
            merged = strategic_merge_patch(existing, value, field_path)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            merge_key = _merge_key(field_path)
            if merge_key and isinstance(existing, list):
                result[key] = _merge_list(existing, value, merge_key, field_path)
            elif key in _PRIMITIVE_MERGE_LISTS and isinstance(existing, list):
                result[key] = existing + [v for v in value if v not in existing]
            else:
                result[key] = _clean(value)
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result
