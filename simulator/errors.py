"""Errors shaped like the API server's: a `kind: Status` body with a reason and a code."""

import json
from dataclasses import dataclass

from simulator.resources import Resource


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details or {},
            "code": self.code,
        }
        if not self.reason:
            del body["reason"]
        return body


def _details(resource: Resource, name: str, **extra) -> dict:
    details = {"name": name, "group": resource.group, "kind": resource.plural, **extra}
    return {key: value for key, value in details.items() if value not in ("", None)}


def not_found(resource: Resource, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{resource.qualified} "{name}" not found', _details(resource, name)
    )


def already_exists(resource: Resource, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{resource.qualified} "{name}" already exists',
        _details(resource, name),
    )


def conflict(resource: Resource, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource.qualified} "{name}": {why}',
        _details(resource, name),
    )


def stale(resource: Resource, name: str) -> ApiError:
    return conflict(
        resource,
        name,
        "the object has been modified; please apply your changes to the latest version "
        "and try again",
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def method_not_allowed(method: str, what: str) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method} {what})",
    )


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json, "
        f'application/strategic-merge-patch+json (got "{content_type}")',
    )


def unprocessable(message: str) -> ApiError:
    """A patch that cannot be applied: 422 like the API server, without field causes."""
    return ApiError(422, "Invalid", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def go_value(value) -> str:
    """Values in messages the way the API server (Go's %#v) prints them, near enough."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        pairs = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return f"map[string]string{{{pairs}}}"
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    """One field's problem, worded like k8s.io/apimachinery's field.Error."""

    kind: str  # Required | Invalid | Duplicate | Forbidden | NotSupported
    field: str
    detail: str = ""
    value: object = None

    _REASONS = {
        "Required": "FieldValueRequired",
        "Invalid": "FieldValueInvalid",
        "Duplicate": "FieldValueDuplicate",
        "Forbidden": "FieldValueForbidden",
        "NotSupported": "FieldValueNotSupported",
    }

    def text(self) -> str:
        if self.kind == "Required":
            return "Required value" + (f": {self.detail}" if self.detail else "")
        if self.kind == "Invalid":
            return f"Invalid value: {go_value(self.value)}: {self.detail}"
        if self.kind == "Duplicate":
            return f"Duplicate value: {go_value(self.value)}"
        if self.kind == "Forbidden":
            return f"Forbidden: {self.detail}"
        return f"Unsupported value: {go_value(self.value)}: supported values: {self.detail}"

    def cause(self) -> dict:
        return {"reason": self._REASONS[self.kind], "message": self.text(), "field": self.field}


def invalid(resource: Resource, name: str, errors: list[FieldError]) -> ApiError:
    texts = [f"{error.field}: {error.text()}" for error in errors]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{resource.kind}{"." + resource.group if resource.group else ""} "{name}" is invalid: '
        f"{summary}",
        _details(resource, name, kind=resource.kind, causes=[e.cause() for e in errors]),
    )
