"""A standard pipeline names its template (`<name>@<version>`) with each release it requests:
Runway keeps the last one on the service, audited with the release's create."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.releases import services
from apps.releases.models import Release

pytestmark = pytest.mark.django_db


def _create(actor, web, **fields):
    start = timezone.now() + timedelta(hours=1)
    return services.release_create(
        actor=actor,
        service=web,
        environment=web.environments.get(name="dev"),
        version="registry/web:2.0.0",
        title="Web 2",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        **fields,
    )


def test_the_reported_template_is_kept_on_the_service_and_audited_with_the_create(developer, web):
    release = _create(developer, web, pipeline_template="python-web@3")

    web.refresh_from_db()
    assert (web.pipeline_template, web.pipeline_template_version) == ("python-web", 3)
    assert web.pipeline_reported_at is not None
    event = AuditEvent.objects.get(action="release.create", target_id=str(release.pk))
    assert event.after["pipeline_template"] == "python-web@3"


def test_a_later_report_replaces_the_earlier_one(developer, web):
    _create(developer, web, pipeline_template="python-web@2")
    _create(developer, web, pipeline_template="python-web@3")

    web.refresh_from_db()
    assert web.pipeline_template_version == 3


def test_a_release_without_one_changes_nothing_and_audits_no_template(developer, web):
    release = _create(developer, web)

    web.refresh_from_db()
    assert web.pipeline_template == "" and web.pipeline_reported_at is None
    event = AuditEvent.objects.get(action="release.create", target_id=str(release.pk))
    assert "pipeline_template" not in event.after


@pytest.mark.parametrize("value", ["python-web", "python-web@0", "Python-Web@3", "a@b", "web@3@4"])
def test_the_api_refuses_a_malformed_template_naming_the_field(api_as, developer, web, value):
    start = timezone.now() + timedelta(hours=1)
    response = api_as(developer).post(
        "/api/v1/releases/",
        {
            "service": "web",
            "environment": "dev",
            "version": "registry/web:2.0.0",
            "title": "Web 2",
            "planned_start": start.isoformat(),
            "planned_end": (start + timedelta(hours=1)).isoformat(),
            "pipeline_template": value,
        },
        format="json",
    )

    assert response.status_code == 400
    assert "pipeline_template" in response.json()
    assert not Release.objects.exists()
