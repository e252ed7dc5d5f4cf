"""Reading webhook deliveries: the body, which delivery it is, and what it says.

Pure functions over headers (lower-case names) and the payload: no database. The services in
apps.insights.services.deliveries verify, store and record.
"""

import hashlib
import json
from collections.abc import Mapping
from urllib.parse import parse_qs

from apps.core import bounded_input
from apps.insights.models import SourceKind
from apps.insights.webhooks import generic, github, gitlab, pagerduty
from apps.insights.webhooks.errors import BadPayload
from apps.insights.webhooks.events import Interpretation

DEPLOYMENTS = "deployments"
INCIDENTS = "incidents"
# Which kinds of source may send to which endpoint. GitHub and GitLab send all their events
# (deployments, pushes, pipelines) to the one URL configured in their webhook settings.
ENDPOINT_KINDS = {
    DEPLOYMENTS: (SourceKind.GITHUB, SourceKind.GITLAB, SourceKind.GENERIC),
    INCIDENTS: (SourceKind.PAGERDUTY, SourceKind.GENERIC),
}
MAX_DELIVERY_ID = 200


def load_json(body: bytes, content_type: str = "application/json") -> dict:
    """The payload as a dict, or BadPayload saying where the JSON breaks. GitHub's optional
    form encoding (`payload=<json>`) is unwrapped; the signature covers the raw body."""
    if content_type.split(";")[0].strip() == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("utf-8", errors="replace")).get("payload")
        if not values:
            raise BadPayload({"payload": ["A form-encoded delivery needs a `payload` field."]})
        text = values[0]
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadPayload(f"The body is not UTF-8 text (byte {exc.start}).") from None
    if not text.strip():
        raise BadPayload("The body is empty: send the event as a JSON object.")
    try:
        payload = bounded_input.load_json(text)
    except bounded_input.BadInput as exc:
        raise BadPayload({exc.field: [exc.message]}) from None
    except json.JSONDecodeError as exc:
        raise BadPayload(
            f"Malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    if not isinstance(payload, dict):
        raise BadPayload("The body must be a JSON object.")
    return payload


def body_hash(body: bytes) -> str:
    return f"sha256:{hashlib.sha256(body).hexdigest()}"


def envelope(
    kind: str, endpoint: str, headers: Mapping[str, str], payload: dict, body: bytes
) -> tuple[str, str]:
    """(delivery id, event name). Without a delivery id from the sender, the body's hash serves:
    a retry sends the same bytes."""
    if kind == SourceKind.GITHUB:
        delivery, event = github.delivery_id(headers), github.event_name(headers)
    elif kind == SourceKind.GITLAB:
        delivery, event = gitlab.delivery_id(headers), gitlab.event_name(headers)
    elif kind == SourceKind.PAGERDUTY:
        delivery, event = pagerduty.delivery_id(headers, payload), pagerduty.event_name(payload)
    else:
        given = payload.get("delivery_id")
        delivery = (
            str(given) if isinstance(given, str | int) and not isinstance(given, bool) else ""
        )
        event = "deployment" if endpoint == DEPLOYMENTS else "incident"
    delivery = delivery.strip() or body_hash(body)
    if len(delivery) > MAX_DELIVERY_ID:
        delivery = body_hash(delivery.encode())
    return delivery, event[:100]


def interpret(
    kind: str, endpoint: str, event: str, payload: dict, *, source_slug: str, delivery_id: str
) -> Interpretation:
    if kind == SourceKind.GITHUB:
        return github.interpret(event, payload)
    if kind == SourceKind.GITLAB:
        return gitlab.interpret(event, payload)
    if kind == SourceKind.PAGERDUTY:
        return pagerduty.interpret(event, payload)
    if endpoint == DEPLOYMENTS:
        return generic.interpret_deployment(
            payload, source_slug=source_slug, delivery_id=delivery_id
        )
    return generic.interpret_incident(payload, source_slug=source_slug)
