"""Runway's own JSON shapes, for senders that are not GitHub, GitLab or PagerDuty (a CI script,
another deploy tool, an incident tool). Authenticate with `X-Runway-Signature-256:
sha256=<hex HMAC-SHA256(secret, raw body)>` or `Authorization: Bearer <secret>`.

Deployment (POST /api/v1/events/deployments?source=<slug>):

    {"delivery_id": "ci-8812-deploy",        optional; else a hash of the body
     "id": "8812",                           optional: the deployment's id in your system
     "service": "checkout",                  a catalog service name, or instead:
     "repository": "git@github.com:acme/checkout.git",
     "environment": "production",
     "version": "1.4.2",
     "status": "success" | "failure" | "rolled_back",
     "started_at": "2025-01-10T09:00:00Z",   ISO 8601 with a time zone
     "finished_at": "2025-01-10T09:04:00Z",  for rolled_back: when the rollback finished
     "commits": [{"sha": "9f2c1e7", "timestamp": "2025-01-09T17:30:00+01:00"}]}

Sending the same `id` again updates that deployment (a failure, then its rollback).

Incident (POST /api/v1/events/incidents?source=<slug>):

    {"delivery_id": "...", "id": "INC-42", "service": "checkout", "title": "Checkout errors",
     "opened_at": "2025-01-10T09:30:00Z", "resolved_at": null,
     "caused_by_version": "1.4.2"}           optional; else the latest production
                                             deployment of the service before it opened

A `service` must name a catalog service (400 otherwise); an unknown `repository` leaves the
delivery unmatched for an admin to map.
"""

from rest_framework import serializers

from apps.insights.models import DeploymentResult, FactSource, IncidentSource
from apps.insights.serializer_fields import AwareDateTimeField, PlainChoiceField
from apps.insights.webhooks.errors import BadPayload
from apps.insights.webhooks.events import (
    CommitInfo,
    DeploymentEvent,
    IncidentEvent,
    Interpretation,
    ServiceRef,
)

STATUSES = {
    "success": DeploymentResult.SUCCEEDED,
    "failure": DeploymentResult.FAILED,
    "rolled_back": DeploymentResult.ROLLED_BACK,
}
MAX_COMMITS = 1000


class GenericCommitSerializer(serializers.Serializer):
    sha = serializers.CharField(max_length=64)
    timestamp = AwareDateTimeField(
        required=False, allow_null=True, help_text="When the commit was made (for lead time)."
    )


class GenericDeploymentSerializer(serializers.Serializer):
    delivery_id = serializers.CharField(
        max_length=200, required=False, help_text="Retries with the same id are stored once."
    )
    id = serializers.CharField(
        max_length=150,
        required=False,
        help_text="The deployment's id in your system: a later delivery with the same id "
        "updates it. Defaults to the delivery id.",
    )
    service = serializers.CharField(max_length=63, required=False, help_text="A catalog name.")
    repository = serializers.CharField(
        max_length=500, required=False, help_text="Any spelling of the repository's URL."
    )
    environment = serializers.CharField(max_length=63)
    version = serializers.CharField(max_length=300)
    status = PlainChoiceField(list(STATUSES))
    started_at = AwareDateTimeField()
    finished_at = AwareDateTimeField()
    # many=True makes a ListSerializer, which takes max_length; the stubs check Serializer's.
    commits = GenericCommitSerializer(  # type: ignore[call-arg]
        many=True, required=False, max_length=MAX_COMMITS
    )

    def validate(self, data):
        if bool(data.get("service")) == bool(data.get("repository")):
            raise serializers.ValidationError(
                {"service": ["Name the service, or give its repository instead (one of them)."]}
            )
        if data["finished_at"] < data["started_at"]:
            raise serializers.ValidationError(
                {"finished_at": ["The deployment cannot finish before it started."]}
            )
        shas = [commit["sha"] for commit in data.get("commits", [])]
        if len(set(shas)) != len(shas):
            raise serializers.ValidationError({"commits": ["The same commit is listed twice."]})
        return data


class GenericIncidentSerializer(serializers.Serializer):
    delivery_id = serializers.CharField(max_length=200, required=False)
    id = serializers.CharField(
        max_length=150, help_text="The incident's id: a later delivery with it updates it."
    )
    service = serializers.CharField(max_length=63, help_text="A catalog service name.")
    title = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    opened_at = AwareDateTimeField()
    resolved_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    caused_by_version = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        default="",
        help_text="The version whose production deployment caused it, when known.",
    )

    def validate(self, data):
        if data["resolved_at"] is not None and data["resolved_at"] < data["opened_at"]:
            raise serializers.ValidationError(
                {"resolved_at": ["An incident cannot be resolved before it opened."]}
            )
        return data


def _validated(serializer_class, payload: dict) -> dict:
    serializer = serializer_class(data=payload)
    if not serializer.is_valid():
        raise BadPayload(serializer.errors)
    return serializer.validated_data


def interpret_deployment(payload: dict, *, source_slug: str, delivery_id: str) -> Interpretation:
    data = _validated(GenericDeploymentSerializer, payload)
    return DeploymentEvent(
        service=ServiceRef(
            service_name=data.get("service", ""), repository=data.get("repository", "")
        ),
        source=FactSource.GENERIC,
        external_id=f"{source_slug}/{data.get('id') or delivery_id}",
        environment=data["environment"],
        version=data["version"],
        result=STATUSES[data["status"]],
        started_at=data["started_at"],
        finished_at=data["finished_at"],
        commits=tuple(
            CommitInfo(sha=c["sha"], committed_at=c.get("timestamp"))
            for c in data.get("commits", [])
        ),
    )


def interpret_incident(payload: dict, *, source_slug: str) -> Interpretation:
    data = _validated(GenericIncidentSerializer, payload)
    return IncidentEvent(
        service=ServiceRef(service_name=data["service"]),
        source=IncidentSource.GENERIC,
        external_id=f"{source_slug}/{data['id']}",
        title=data["title"],
        opened_at=data["opened_at"],
        resolved_at=data["resolved_at"],
        caused_by_version=data["caused_by_version"],
    )
