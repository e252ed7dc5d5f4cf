"""PagerDuty V3 webhooks, sent to /api/v1/events/incidents.

The envelope is `{"event": {"id", "event_type", "occurred_at", "data": {incident}}}`.
`incident.triggered` opens an incident, `incident.resolved` resolves it, `incident.reopened`
opens it again; every other event type is acknowledged and ignored (202). The incident's
service is PagerDuty's service name (`data.service.summary`), matched to a catalog service's
name or title (case-insensitive), or to an alias an admin mapped it to.
The delivery id is `X-Webhook-Id`, stable across PagerDuty's retries (else `event.id`).
"""

from urllib.parse import urlsplit

from apps.insights.models import IncidentSource
from apps.insights.webhooks.events import Ignored, IncidentEvent, Interpretation, ServiceRef
from apps.insights.webhooks.fields import get, need, need_text
from apps.insights.webhooks.timestamps import parse_optional_time, parse_time

HANDLED = {"incident.triggered", "incident.resolved", "incident.reopened"}


def delivery_id(headers, payload: dict) -> str:
    return headers.get("x-webhook-id", "") or str(get(payload, "event.id", "") or "")


def event_name(payload: dict) -> str:
    value = get(payload, "event.event_type", "")
    return value if isinstance(value, str) else ""


def interpret(event: str, payload: dict) -> Interpretation:
    if not event:
        need(payload, "event.event_type")
    if event not in HANDLED:
        return Ignored(f"Runway does not use PagerDuty's {event!r} events.")
    incident_id = need_text(payload, "event.data.id")
    html_url = get(payload, "event.data.html_url", "")
    host = urlsplit(html_url).hostname if isinstance(html_url, str) and html_url else None
    occurred_at = parse_time(need(payload, "event.occurred_at"), "event.occurred_at")
    created_at = parse_optional_time(get(payload, "event.data.created_at"), "event.data.created_at")
    return IncidentEvent(
        service=ServiceRef(incident_service=need_text(payload, "event.data.service.summary")),
        source=IncidentSource.PAGERDUTY,
        external_id=f"{host or 'pagerduty'}/incidents/{incident_id}",
        title=str(get(payload, "event.data.title", ""))[:300],
        opened_at=created_at or (occurred_at if event == "incident.triggered" else None),
        resolved_at=occurred_at if event == "incident.resolved" else None,
        reopened=event == "incident.reopened",
    )
