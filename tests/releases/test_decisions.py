"""A decision on production waits for the decider's password, then is made as it was sent: the
comment is kept, the prompt names the release, and the service still decides whether it may be
made. allauth keeps the posted decision and sends it again once the password is confirmed, so
the prompt's `next` is the decision's own address. Personas: dana (payments developer, the
requester), riley and robin (release managers), sam (search developer), lee (leadership)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import Role, RoleGrant
from apps.audit.models import AuditEvent
from apps.releases import services
from apps.releases.decisions import PENDING_SESSION_KEY
from apps.releases.models import Approval, ReleaseState

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def pending(make_release, developer, prod_policy):
    """A production release of web waiting for two release managers."""
    return services.release_submit(actor=developer, release=make_release())


def detail(release) -> str:
    return f"/releases/{release.pk}/"


def prompt(path: str) -> str:
    """The password prompt a decision posted to `path` is sent to."""
    return f"/accounts/reauthenticate/?next={path.replace('/', '%2F')}"


def confirm(client, password, path: str):
    """Confirm the password on the prompt of a decision posted to `path`."""
    return client.post(prompt(path), {"password": password})


def test_an_approval_is_made_with_its_comment_once_the_password_is_confirmed(
    client_as, pending, release_manager, password
):
    client = client_as(release_manager)
    response = client.post(f"{detail(pending)}approve/", {"comment": "Ship it"}, headers=HTMX)
    assert response.status_code == 204
    prompt_url = f"/accounts/reauthenticate/?next=%2Freleases%2F{pending.pk}%2Fapprove%2F"
    assert response["HX-Redirect"] == prompt_url
    assert not pending.approvals.exists()

    page = client.get(prompt_url).content.decode()
    assert f"Confirm your password to approve release #{pending.pk} of web to prod." in page

    response = confirm(client, password, f"{detail(pending)}approve/")
    assert response.status_code == 302 and response["Location"] == detail(pending)
    approval = pending.approvals.get()
    assert (approval.approver, approval.decision, approval.comment) == (
        release_manager,
        Approval.Decision.APPROVE,
        "Ship it",
    )
    event = AuditEvent.objects.get(action="release.approve")
    assert event.actor == release_manager and event.after["comment"] == "Ship it"
    page = client.get(detail(pending)).content.decode()
    assert f"You approved release #{pending.pk}." in page
    assert "<q>Ship it</q>" in page


def test_a_rejection_is_made_with_its_reason_once_the_password_is_confirmed(
    client_as, pending, release_manager, password
):
    client = client_as(release_manager)
    response = client.post(f"{detail(pending)}reject/", {"comment": "Not during the sale"})
    assert response.status_code == 302
    assert (
        response["Location"]
        == f"/accounts/reauthenticate/?next=%2Freleases%2F{pending.pk}%2Freject%2F"
    )
    assert f"to reject release #{pending.pk} of web to prod." in (
        client.get(response["Location"]).content.decode()
    )
    pending.refresh_from_db()
    assert pending.state == ReleaseState.PENDING_APPROVAL

    assert confirm(client, password, f"{detail(pending)}reject/")["Location"] == detail(pending)
    pending.refresh_from_db()
    assert pending.state == ReleaseState.REJECTED
    rejection = pending.approvals.get()
    assert (rejection.approver, rejection.decision, rejection.comment) == (
        release_manager,
        Approval.Decision.REJECT,
        "Not during the sale",
    )
    event = AuditEvent.objects.get(action="release.reject")
    assert event.actor == release_manager and event.after["comment"] == "Not during the sale"


def test_from_the_inbox_the_decision_is_made_and_the_inbox_shown_again(
    client_as, pending, release_manager, password
):
    client = client_as(release_manager)
    response = client.post(
        f"/releases/inbox/{pending.pk}/approve/", {"comment": "Second pair of eyes"}, headers=HTMX
    )
    assert (
        response["HX-Redirect"]
        == f"/accounts/reauthenticate/?next=%2Freleases%2Finbox%2F{pending.pk}%2Fapprove%2F"
    )
    assert confirm(client, password, f"/releases/inbox/{pending.pk}/approve/")["Location"] == (
        "/releases/inbox/"
    )
    assert pending.approvals.get().comment == "Second pair of eyes"
    inbox = client.get("/releases/inbox/")
    assert f"You approved release #{pending.pk}." in inbox.content.decode()
    assert [item["release"].pk for item in inbox.context["items"]] == []


def test_a_decision_left_waiting_too_long_is_not_made(
    client_as, pending, release_manager, password, monkeypatch
):
    client = client_as(release_manager)
    client.post(f"{detail(pending)}approve/", {"comment": "Ship it"}, headers=HTMX)
    later = timezone.now() + timedelta(minutes=6)
    with monkeypatch.context() as clock:
        clock.setattr(timezone, "now", lambda: later)
        response = confirm(client, password, f"{detail(pending)}approve/")
    assert response["Location"] == detail(pending)
    assert not pending.approvals.exists()
    assert not AuditEvent.objects.filter(action="release.approve").exists()
    page = client.get(detail(pending)).content.decode()
    assert f"Your decision on release #{pending.pk} waited more than 5 minutes" in page
    # The password was confirmed all the same: deciding again is not asked for it twice.
    response = client.post(f"{detail(pending)}approve/", {"comment": "Ship it"}, headers=HTMX)
    assert response.status_code == 200
    assert pending.approvals.get().comment == "Ship it"


def test_a_kept_decision_is_made_once(client_as, pending, developer, release_manager, password):
    client = client_as(release_manager)
    client.post(f"{detail(pending)}approve/", {"comment": "Ship it"}, headers=HTMX)
    confirm(client, password, f"{detail(pending)}approve/")
    # What ships changes, so the approval no longer counts; confirming again approves nothing.
    services.release_update(actor=developer, release=pending, version="registry/web:1.4.1")
    confirm(client, password, f"{detail(pending)}approve/")
    assert pending.approvals.count() == 1
    assert pending.approvals.get().invalidated_at is not None
    assert "Confirm your password to" not in (
        client.get("/accounts/reauthenticate/").content.decode()
    )


def test_a_decision_kept_in_a_session_is_not_made_for_the_next_person_to_sign_in(
    client, pending, release_manager, second_release_manager, password
):
    client.force_login(release_manager)
    client.post(f"{detail(pending)}approve/", {"comment": "Ship it"}, headers=HTMX)
    client.post("/accounts/logout/")
    client.force_login(second_release_manager)
    confirm(client, password, f"{detail(pending)}approve/")
    assert not pending.approvals.exists()


def test_a_kept_decision_that_names_someone_else_is_not_made(
    client_as, pending, release_manager, second_release_manager, password
):
    client = client_as(release_manager)
    client.post(f"{detail(pending)}approve/", {"comment": "Ship it"}, headers=HTMX)
    session = client.session
    session[PENDING_SESSION_KEY]["user"] = second_release_manager.pk
    session.save()
    confirm(client, password, f"{detail(pending)}approve/")
    assert not pending.approvals.exists()
    assert "You approved" not in client.get(detail(pending)).content.decode()


def test_whether_the_release_can_be_approved_is_decided_when_the_password_is_confirmed(
    client_as, pending, developer, release_manager, password
):
    client = client_as(release_manager)
    client.post(f"{detail(pending)}approve/", {"comment": "Ship it"}, headers=HTMX)
    services.release_cancel(actor=developer, release=pending, reason="Wrong build")
    assert confirm(client, password, f"{detail(pending)}approve/")["Location"] == detail(pending)
    assert not pending.approvals.exists()
    page = client.get(detail(pending)).content.decode()
    assert "A release that is cancelled cannot be approved." in page


def test_who_may_approve_is_decided_when_the_password_is_confirmed(
    client_as, pending, release_manager, password
):
    client = client_as(release_manager)
    client.post(f"{detail(pending)}approve/", {"comment": "Ship it"}, headers=HTMX)
    RoleGrant.objects.filter(user=release_manager, role=Role.RELEASE_MANAGER).delete()
    confirm(client, password, f"{detail(pending)}approve/")
    assert not pending.approvals.exists()
    page = client.get(detail(pending)).content.decode()
    assert "You are not in a group that approves this release (Release managers)." in page


@pytest.mark.parametrize("persona", ["other_developer", "leadership"])
@pytest.mark.parametrize(
    "path",
    [
        "/releases/{pk}/approve/",
        "/releases/{pk}/reject/",
        "/releases/inbox/{pk}/approve/",
        "/releases/inbox/{pk}/reject/",
    ],
)
def test_someone_who_may_not_decide_is_refused_before_being_asked_for_a_password(
    request, client_as, pending, persona, path
):
    client = client_as(request.getfixturevalue(persona))
    kept = set(client.session.keys())
    response = client.post(path.format(pk=pending.pk), {"comment": "Fine by me"}, headers=HTMX)
    assert response.status_code == 403
    assert "HX-Redirect" not in response
    assert set(client.session.keys()) == kept  # nothing kept to be made later
    assert not pending.approvals.exists()


def test_the_requester_is_refused_before_being_asked_for_a_password(
    client_as, make_release, developer, prod_policy
):
    RoleGrant.objects.create(user=developer, role=Role.RELEASE_MANAGER)
    release = services.release_submit(actor=developer, release=make_release())
    response = client_as(developer).post(f"{detail(release)}approve/")
    assert response.status_code == 403
    assert not release.approvals.exists()


def test_a_prompt_left_unanswered_does_not_hold_up_a_later_decision(
    client_as, pending, make_release, developer, release_manager, password
):
    client = client_as(release_manager)
    client.post(f"{detail(pending)}approve/", {"comment": "Ship it"}, headers=HTMX)
    # The password is confirmed elsewhere, not on this decision's prompt: nothing is sent again.
    client.post("/accounts/reauthenticate/", {"password": password})
    assert not pending.approvals.exists()
    other = services.release_submit(actor=developer, release=make_release(hours_from_now=5))
    response = client.post(f"{detail(other)}approve/", {"comment": "Fine"}, headers=HTMX)
    assert response.status_code == 200
    assert other.approvals.get().comment == "Fine"
    assert not pending.approvals.exists()
