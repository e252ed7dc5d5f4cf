"""Reading vendor payloads by dotted path, with errors that name the path."""

from typing import Any

from apps.insights.webhooks.errors import BadPayload

_MISSING = object()


def get(payload: Any, path: str, default: Any = None) -> Any:
    node = payload
    for part in path.split("."):
        if not isinstance(node, dict):
            return default
        node = node.get(part, _MISSING)
        if node is _MISSING or node is None:
            return default
    return node


def need(payload: Any, path: str) -> Any:
    value = get(payload, path, _MISSING)
    if value is _MISSING or value == "":
        raise BadPayload({path: ["This field is required."]})
    return value


def need_text(payload: Any, path: str) -> str:
    value = need(payload, path)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadPayload({path: ["Expected a string."]})
    return str(value)


def need_list(payload: Any, path: str) -> list:
    value = get(payload, path, [])
    if not isinstance(value, list):
        raise BadPayload({path: ["Expected a list."]})
    return value
