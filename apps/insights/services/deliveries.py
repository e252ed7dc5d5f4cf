"""Receiving webhook deliveries, and mapping the ones nobody could match.

A delivery is checked in this order, and refused with nothing stored at the first failure:
the source (`?source=`; unknown or inactive: 401), the signature (401), the endpoint for the
source's kind (400), the JSON (400, with line and column), the fields the event needs (400,
naming them). Then it is stored once per (source, delivery id) — a retry is answered
`duplicate` — and recorded, kept unmatched for an admin, or acknowledged and ignored.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Min
from django.utils import timezone

from apps.accounts import permissions
from apps.audit.services import audit_record
from apps.catalog.models import Service
from apps.insights import selectors, webhooks
from apps.insights.models import (
    AliasKind,
    DeliveryStatus,
    ServiceAlias,
    SourceKind,
    WebhookDelivery,
)
from apps.insights.services import facts
from apps.insights.services.sources import source_secrets
from apps.insights.webhooks import signatures
from apps.insights.webhooks.errors import BadPayload, Unauthorised
from apps.insights.webhooks.events import (
    DeploymentEvent,
    IncidentEvent,
    Interpretation,
    PipelineEvent,
    PushEvent,
    ServiceRef,
)

DUPLICATE = "duplicate"
HTTP_STATUS = {
    DeliveryStatus.RECORDED: 201,
    DeliveryStatus.UNMATCHED: 202,
    DeliveryStatus.IGNORED: 202,
    DUPLICATE: 200,
}


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str  # recorded | unmatched | ignored | duplicate
    delivery: WebhookDelivery

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.status]


def delivery_receive(
    *,
    source_ref: str,
    endpoint: str,
    headers: Mapping[str, str],
    body: bytes,
    content_type: str = "application/json",
) -> DeliveryOutcome:
    """Raises Unauthorised (401) or BadPayload (400); either way nothing is stored."""
    headers = {name.lower(): value for name, value in headers.items()}
    if not (source_ref or "").strip():
        raise BadPayload({"source": ["Name the webhook source: ?source=<its id or slug>."]})
    source = selectors.webhook_source_by_ref(source_ref)
    if source is None:
        raise Unauthorised(signatures.BAD_CREDENTIALS)
    signatures.verify(source.kind, source_secrets(source), headers, body)
    if source.kind not in webhooks.ENDPOINT_KINDS[endpoint]:
        other = webhooks.INCIDENTS if endpoint == webhooks.DEPLOYMENTS else webhooks.DEPLOYMENTS
        raise BadPayload(
            {
                "source": [
                    f"{source.name} sends {source.get_kind_display()} events: "
                    f"send them to /api/v1/events/{other}."
                ]
            }
        )
    payload = webhooks.load_json(body, content_type)
    delivery_id, event = webhooks.envelope(source.kind, endpoint, headers, payload, body)
    known = WebhookDelivery.objects.filter(source=source, delivery_id=delivery_id).first()
    if known is not None:
        return DeliveryOutcome(DUPLICATE, known)
    interpretation = webhooks.interpret(
        source.kind, endpoint, event, payload, source_slug=source.slug, delivery_id=delivery_id
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    source=source,
                    delivery_id=delivery_id,
                    event=event,
                    status=DeliveryStatus.IGNORED,
                    subject=(interpretation.subject or "")[:200],
                    occurred_at=interpretation.occurred_at,
                    payload=payload,
                )
        except IntegrityError:
            # A retry of the same delivery, arriving while the first was being recorded.
            known = WebhookDelivery.objects.get(source=source, delivery_id=delivery_id)
            return DeliveryOutcome(DUPLICATE, known)
        _apply(delivery, interpretation)
    return DeliveryOutcome(delivery.status, delivery)


def _resolve(ref: ServiceRef) -> tuple[Service | None, str, str, str]:
    """(service, alias kind, match key, why not found)."""
    if ref.service_name:
        service = Service.objects.filter(name=ref.service_name).first()
        if service is None:
            raise BadPayload({"service": [f"No catalog service is called “{ref.service_name}”."]})
        return service, "", "", ""
    if ref.incident_service:
        service, key = selectors.service_for_incident_service(ref.incident_service)
        why = "" if service else "No catalog service has this name: choose one."
        return service, AliasKind.INCIDENT_SERVICE, key, why
    service, key, why = selectors.service_for_repository(ref.repository)
    return service, AliasKind.REPOSITORY, key, why


def _apply(
    delivery: WebhookDelivery, interpretation: Interpretation, service: Service | None = None
) -> None:
    """Record what the delivery says, or keep it unmatched or ignored; saves the delivery."""
    delivery.subject = (interpretation.subject or "")[:200]
    delivery.occurred_at = interpretation.occurred_at
    if not isinstance(interpretation, DeploymentEvent | PushEvent | PipelineEvent | IncidentEvent):
        _finish(delivery, DeliveryStatus.IGNORED, interpretation.reason, keep_payload=False)
        return
    kind, key, why = "", "", ""
    if service is None:
        service, kind, key, why = _resolve(interpretation.service)
    delivery.match_kind, delivery.match_key = kind, key
    if service is None:
        if isinstance(interpretation, PushEvent):
            # Pushes from repositories that are not in the catalog are everyday noise (a GitHub
            # organisation's hook hears every repository): not for an admin's list.
            _finish(delivery, DeliveryStatus.IGNORED, f"Push ignored: {why}", keep_payload=False)
        else:
            _finish(delivery, DeliveryStatus.UNMATCHED, why, keep_payload=True)
        return

    if isinstance(interpretation, DeploymentEvent):
        delivery.deployment = _record_deployment(delivery, interpretation, service)[0]
        note = f"Deployment of {service.name} to {interpretation.environment}."
    elif isinstance(interpretation, PushEvent):
        facts.pushed_commits_record(
            service=service, head_sha=interpretation.head_sha, commits=interpretation.commits
        )
        note = f"{len(interpretation.commits)} commit(s) of {service.name} kept for lead time."
    elif isinstance(interpretation, PipelineEvent):
        delivery.pipeline_run = facts.pipeline_run_record(
            source=interpretation.source,
            external_id=interpretation.external_id,
            service=service,
            status=interpretation.status,
            started_at=interpretation.started_at,
            finished_at=interpretation.finished_at,
            duration_seconds=interpretation.duration_seconds,
            name=interpretation.name,
            ref=interpretation.ref,
            sha=interpretation.sha,
        )[0]
        note = f"Pipeline run of {service.name}."
    else:
        delivery.incident = facts.incident_record(
            source=interpretation.source,
            external_id=interpretation.external_id,
            service=service,
            title=interpretation.title,
            opened_at=interpretation.opened_at,
            resolved_at=interpretation.resolved_at,
            reopened=interpretation.reopened,
            caused_by_version=interpretation.caused_by_version,
        )[0]
        note = f"Incident of {service.name}."
    _finish(delivery, DeliveryStatus.RECORDED, note, keep_payload=True)
    # What a webhook records moves the delivery figures: it is audited like a person's change.
    audit_record(
        actor=None,
        action="webhook_delivery.record",
        target=delivery,
        after={"source": delivery.source.slug, "event": delivery.event, "note": note},
    )


def _record_deployment(delivery: WebhookDelivery, event: DeploymentEvent, service: Service):
    started_at = event.started_at
    if started_at is None:
        # GitLab sends no start: its `running` delivery of the same deployment, if it came.
        started_at = (
            WebhookDelivery.objects.filter(source_id=delivery.source_id, subject=event.external_id)
            .exclude(pk=delivery.pk)
            .aggregate(first=Min("occurred_at"))["first"]
        )
    if started_at is None or started_at > event.finished_at:
        started_at = event.finished_at
    return facts.deployment_fact_record(
        source=event.source,
        external_id=event.external_id,
        service=service,
        environment=event.environment,
        is_production=facts.environment_is_production(
            service=service, environment=event.environment, hint=event.production_hint
        ),
        version=event.version,
        started_at=started_at,
        finished_at=event.finished_at,
        result=event.result,
        commits=facts.pushed_commits_for(
            service=service, head_sha=event.head_sha, commits=event.commits
        ),
    )


def _finish(delivery: WebhookDelivery, status: str, note: str, *, keep_payload: bool) -> None:
    delivery.status = status
    delivery.note = note[:300]
    if not keep_payload:
        delivery.payload = {}
    delivery.save()


# --- Mapping what nobody could match ----------------------------------------------------------


def _endpoint_of(delivery: WebhookDelivery) -> str:
    if delivery.source.kind == SourceKind.PAGERDUTY or delivery.event == "incident":
        return webhooks.INCIDENTS
    return webhooks.DEPLOYMENTS


def _reinterpret(delivery: WebhookDelivery) -> Interpretation:
    try:
        return webhooks.interpret(
            delivery.source.kind,
            _endpoint_of(delivery),
            delivery.event,
            delivery.payload,
            source_slug=delivery.source.slug,
            delivery_id=delivery.delivery_id,
        )
    except BadPayload as exc:
        raise ValidationError(
            {"delivery": f"Its stored payload can no longer be read: {exc.detail}"}
        ) from None


@transaction.atomic
def unmatched_delivery_map(
    *, actor, delivery: WebhookDelivery, service: Service, remember: bool = True
) -> int:
    """Record an unmatched delivery as `service`'s. With `remember`, its repository (or incident
    service name) becomes an alias of the service: later deliveries match by themselves, and the
    other deliveries waiting with the same key are recorded now too. Returns how many deliveries
    were recorded."""
    permissions.require(
        permissions.can_manage_webhooks(actor), "Only platform admins map webhook deliveries."
    )
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("source")
        .get(pk=delivery.pk)
    )
    if delivery.status != DeliveryStatus.UNMATCHED:
        state = delivery.get_status_display().lower()
        raise ValidationError({"delivery": f"This delivery is {state}, not unmatched."})
    waiting = [delivery]
    alias_before = None
    if remember and delivery.match_kind and delivery.match_key:
        alias = ServiceAlias.objects.filter(
            kind=delivery.match_kind, key=delivery.match_key
        ).first()
        alias_before = alias.service.name if alias else None
        ServiceAlias.objects.update_or_create(
            kind=delivery.match_kind,
            key=delivery.match_key,
            defaults={"service": service, "created_by": actor},
        )
        waiting += list(
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("source")
            .filter(
                status=DeliveryStatus.UNMATCHED,
                match_kind=delivery.match_kind,
                match_key=delivery.match_key,
            )
            .exclude(pk=delivery.pk)
            .order_by("received_at", "pk")
        )
    now = timezone.now()
    for item in waiting:
        _apply(item, _reinterpret(item), service=service)
        item.mapped_by, item.mapped_at = actor, now
        item.save(update_fields=["mapped_by", "mapped_at"])
    audit_record(
        actor=actor,
        action="webhook_delivery.map",
        target=delivery,
        before={"alias": alias_before} if alias_before else None,
        after={
            "service": service.name,
            "key": delivery.match_key,
            "remember": remember,
            "recorded": len(waiting),
        },
    )
    return len(waiting)
