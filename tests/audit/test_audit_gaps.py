"""What the audit log must not miss: refused attempts (with who and why), decisions named by
one scheme (a verb for what a person did, `.transition` for each state entered), password
changes, and what webhooks record."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.releases import services as release_services
from apps.rollouts import services as rollout_services
from apps.rollouts.models import RolloutState
from tests.rollouts.builders import rollout_row

pytestmark = pytest.mark.django_db


def refusals() -> list[tuple]:
    return list(
        AuditEvent.objects.filter(action__endswith=".refused")
        .order_by("id")
        .values_list("action", "actor_label", "target_id", "after")
    )


def test_a_refused_approval_is_recorded_with_who_and_why(make_release, developer, prod_policy):
    release = release_services.release_submit(actor=developer, release=make_release())
    with pytest.raises(PermissionDenied):
        release_services.release_approve(actor=developer, release=release)
    ((action, who, target, after),) = refusals()
    assert (action, who, target) == ("release.approve.refused", "dana", str(release.pk))
    assert "You requested this release" in after["reason"]
    assert not AuditEvent.objects.filter(action="release.approve").exists()


def test_a_refused_rejection_through_the_api_is_recorded(
    api_as, make_release, developer, outsider, prod_policy
):
    release = release_services.release_submit(actor=developer, release=make_release())
    response = api_as(outsider).post(
        f"/api/v1/releases/{release.pk}/reject/", {"comment": "no"}, format="json"
    )
    assert response.status_code in (400, 403)
    assert [row[:3] for row in refusals()] == [("release.reject.refused", "olly", str(release.pk))]


def test_a_refused_steer_is_recorded(web, prod, developer, outsider):
    rollout = rollout_row(service=web, environment=prod, requester=developer, current_step=1)
    with pytest.raises(PermissionDenied):
        rollout_services.rollout_pause(actor=outsider, rollout=rollout)
    assert [row[:3] for row in refusals()] == [("rollout.pause.refused", "olly", str(rollout.pk))]
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.RUNNING


def test_runways_own_refused_attempts_are_not_recorded(web, prod, developer, make_release):
    release = make_release()  # a draft: it cannot roll out
    with pytest.raises(ValidationError):
        rollout_services.rollout_start(actor=None, release=release)
    assert refusals() == []


def test_a_rejection_is_a_decision_and_a_transition(
    make_release, developer, release_manager, prod_policy
):
    release = release_services.release_submit(actor=developer, release=make_release())
    release_services.release_reject(actor=release_manager, release=release, comment="Not now")
    rows = AuditEvent.objects.filter(target_id=str(release.pk)).order_by("id")
    assert [(row.action, row.after.get("state")) for row in rows] == [
        ("release.create", None),
        ("release.transition", "pending_approval"),
        ("release.reject", None),
        ("release.transition", "rejected"),
    ]
    assert rows.get(action="release.reject").after["comment"] == "Not now"


def test_a_password_change_is_audited(client_as, developer, password):
    response = client_as(developer).post(
        "/accounts/password/change/",
        {"oldpassword": password, "password1": "a new Pass 2026!", "password2": "a new Pass 2026!"},
    )
    assert response.status_code == 302
    (event,) = AuditEvent.objects.filter(action="auth.password_change")
    assert (event.actor, event.target_id) == (developer, str(developer.pk))
