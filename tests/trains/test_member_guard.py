"""A train's member is steered only through its train: every action a person could take on
the release by itself is refused naming the train, by the services, the API (409) and the
pages (nothing offered, the reason said in place), and nothing starts it on its own."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.exceptions import Conflict
from apps.releases import services as release_services
from apps.releases.models import ChangeType, Release, ReleaseState
from apps.releases.transitions import available_actions, steered_by
from apps.rollouts import services as rollout_services
from apps.rollouts.models import Rollout
from apps.trains import services
from apps.trains.models import TrainState

pytestmark = pytest.mark.django_db

REASON = "Part of train “December train”: act on the train."


def member(train, name="a") -> Release:
    return Release.objects.get(train_membership__train=train, service__name=name)


def forced(release: Release, **fields) -> Release:
    """The member as if it had got there some other way: the guard must hold whatever its
    state."""
    Release.objects.filter(pk=release.pk).update(**fields)
    return Release.objects.get(pk=release.pk)


def refusals(action: str) -> list[str]:
    events = AuditEvent.objects.filter(action=f"{action}.refused")
    return [event.after["reason"] for event in events]


@pytest.fixture
def lone_release(diamond, developer):
    """A release of a member's service in no train."""
    service = diamond[0]
    start = timezone.now() + timedelta(days=1)
    return release_services.release_create(
        actor=developer,
        service=service,
        environment=service.environments.get(name="prod"),
        version="registry/a:1.0.0",
        title="On its own",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )


@pytest.fixture
def draft_member(make_train, diamond):
    return member(make_train())


@pytest.fixture
def approved_member(make_train, diamond):
    train = make_train(submit=True)
    assert train.state == TrainState.APPROVED
    return member(train)


@pytest.fixture
def pending_member(make_train, union_policies):
    train = make_train(submit=True)
    assert train.state == TrainState.SUBMITTED
    return forced(member(train), state=ReleaseState.PENDING_APPROVAL)


@pytest.fixture
def emergency_member(make_train, diamond):
    return forced(
        member(make_train()),
        state=ReleaseState.PENDING_APPROVAL,
        change_type=ChangeType.EMERGENCY,
        justification="Card payments fail for every customer.",
    )


@pytest.fixture
def due_member(approved_member):
    return forced(
        approved_member,
        state=ReleaseState.SCHEDULED,
        planned_start=timezone.now() - timedelta(minutes=1),
    )


# --- The rule, as the releases read it ----------------------------------------------------


def test_a_member_names_its_train_and_a_release_in_no_train_is_its_own(
    draft_member, lone_release, developer
):
    assert steered_by(draft_member) == REASON
    assert steered_by(lone_release) == ""
    assert available_actions(lone_release, developer) == {"submit", "cancel"}


def test_nothing_is_offered_on_a_member_to_anyone(
    draft_member, approved_member, developer, release_manager, platform_admin
):
    for release in (draft_member, approved_member):
        for user in (developer, release_manager, platform_admin):
            assert available_actions(Release.objects.get(pk=release.pk), user) == frozenset()


# --- Services -----------------------------------------------------------------------------


def test_submitting_a_member_by_itself_is_refused(draft_member, developer):
    with pytest.raises(Conflict) as refused:
        release_services.release_submit(actor=developer, release=draft_member)
    assert refused.value.messages == [REASON]
    assert Release.objects.get(pk=draft_member.pk).state == ReleaseState.DRAFT


def test_editing_a_member_by_itself_is_refused(approved_member, developer):
    with pytest.raises(Conflict) as refused:
        release_services.release_update(
            actor=developer, release=approved_member, version="registry/a:9.9.9"
        )
    assert refused.value.messages == [REASON]
    release = Release.objects.get(pk=approved_member.pk)
    assert (release.version, release.state) == ("registry/a:2.0.0", ReleaseState.APPROVED)


def test_an_outsider_editing_a_member_is_still_told_who_may(approved_member, other_developer):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        release_services.release_update(actor=other_developer, release=approved_member, title="x")


@pytest.mark.parametrize("user", ["developer", "release_manager"])
def test_cancelling_a_member_by_itself_is_refused(approved_member, user, request):
    with pytest.raises(Conflict) as refused:
        release_services.release_cancel(
            actor=request.getfixturevalue(user), release=approved_member
        )
    assert refused.value.messages == [REASON]
    assert Release.objects.get(pk=approved_member.pk).state == ReleaseState.APPROVED


def test_approving_a_member_by_itself_is_refused_and_audited(pending_member, release_manager):
    with pytest.raises(Conflict) as refused:
        release_services.release_approve(actor=release_manager, release=pending_member)
    assert refused.value.messages == [REASON]
    assert not pending_member.approvals.exists()
    assert refusals("release.approve") == [REASON]


def test_rejecting_a_member_by_itself_is_refused_and_audited(pending_member, release_manager):
    with pytest.raises(Conflict):
        release_services.release_reject(
            actor=release_manager, release=pending_member, comment="Not now."
        )
    assert Release.objects.get(pk=pending_member.pk).state == ReleaseState.PENDING_APPROVAL
    assert refusals("release.reject") == [REASON]


def test_breaking_glass_on_a_member_is_refused_and_audited(emergency_member, developer):
    with pytest.raises(Conflict):
        release_services.release_break_glass(
            actor=developer, release=emergency_member, reason="It cannot wait for anyone."
        )
    assert Release.objects.get(pk=emergency_member.pk).glass_broken is None
    assert refusals("release.break_glass") == [REASON]


def test_the_scheduler_neither_starts_nor_holds_a_due_member(due_member):
    assert release_services.releases_due_start() == []
    release = Release.objects.get(pk=due_member.pk)
    assert (release.state, release.hold_reason) == (ReleaseState.SCHEDULED, "")
    assert not AuditEvent.objects.filter(action="release.hold").exists()


def test_its_steerer_starts_a_due_member(due_member, developer):
    started, release = release_services.release_begin(
        release=due_member, actor=developer, as_steerer=True
    )
    assert started, release.hold_reason
    assert release.state == ReleaseState.IN_PROGRESS
    # Once begun, Runway's dispatcher rolls it out as any begun release.
    assert rollout_services.rollouts_dispatch() == [Rollout.objects.get(release=release).pk]


@pytest.mark.parametrize("user", ["developer", "platform_admin"])
def test_starting_a_rollout_of_a_member_by_hand_is_refused_and_audited(due_member, user, request):
    with pytest.raises(Conflict) as refused:
        rollout_services.rollout_start(actor=request.getfixturevalue(user), release=due_member)
    assert refused.value.messages == [REASON]
    assert not Rollout.objects.exists()
    assert Release.objects.get(pk=due_member.pk).state == ReleaseState.SCHEDULED
    assert refusals("rollout.start") == [REASON]


def test_its_steerer_starts_a_rollout_of_a_due_member(due_member, developer):
    rollout = rollout_services.rollout_start(actor=developer, release=due_member, as_steerer=True)
    assert rollout.release_id == due_member.pk
    assert Release.objects.get(pk=due_member.pk).state == ReleaseState.IN_PROGRESS
    assert refusals("rollout.start") == []


def test_runway_itself_does_not_start_a_member_that_its_train_has_not_begun(due_member):
    with pytest.raises(Conflict):
        rollout_services.rollout_start(actor=None, release=due_member)
    assert rollout_services.rollouts_dispatch() == []


# --- The train's own services still move its members ----------------------------------------


def test_the_train_still_approves_and_cancels_its_members(make_train, diamond, developer):
    train = make_train(submit=True)
    assert member(train).state == ReleaseState.APPROVED
    services.train_cancel(actor=developer, train=train)
    assert member(train).state == ReleaseState.CANCELLED


# --- API ----------------------------------------------------------------------------------


def url(release, action="") -> str:
    return f"/api/v1/releases/{release.pk}/" + (f"{action}/" if action else "")


def test_the_api_offers_no_action_on_a_member(api_as, approved_member, platform_admin):
    body = api_as(platform_admin).get(url(approved_member)).json()
    assert body["actions"] == []


@pytest.mark.parametrize(
    ("fixture", "user", "action", "body"),
    [
        ("draft_member", "developer", "submit", {}),
        ("approved_member", "developer", "cancel", {}),
        ("approved_member", "release_manager", "cancel", {"reason": "Not now."}),
        ("pending_member", "release_manager", "approve", {}),
        ("pending_member", "release_manager", "reject", {"comment": "Not now."}),
        ("emergency_member", "developer", "break-glass", {"reason": "It cannot wait at all."}),
    ],
)
def test_the_api_refuses_each_action_on_a_member_with_409(
    api_as, fixture, user, action, body, request
):
    release = request.getfixturevalue(fixture)
    before = release.state
    response = api_as(request.getfixturevalue(user)).post(url(release, action), body, format="json")
    assert response.status_code == 409, response.content
    assert response.json() == {"detail": REASON}
    assert Release.objects.get(pk=release.pk).state == before


def test_the_api_refuses_editing_a_member_with_409(api_as, approved_member, developer):
    response = api_as(developer).patch(
        url(approved_member), {"version": "registry/a:9.9.9"}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {"detail": REASON}
    assert Release.objects.get(pk=approved_member.pk).version == "registry/a:2.0.0"


def test_the_api_refuses_starting_a_rollout_of_a_member_with_409(api_as, due_member, developer):
    response = api_as(developer).post(
        "/api/v1/rollouts/", {"release": due_member.pk}, format="json"
    )
    assert response.status_code == 409, response.content
    assert response.json() == {"detail": REASON}
    assert not Rollout.objects.exists()


# --- Pages --------------------------------------------------------------------------------


def test_the_page_offers_nothing_on_a_member_and_says_why(client_as, due_member, platform_admin):
    page = client_as(platform_admin).get(f"/releases/{due_member.pk}/").content.decode()
    assert 'data-testid="steered-by"' in page and "act on the train." in page
    assert "Part of train &ldquo;December train&rdquo;" in page or "Part of train “December" in page
    for offer in ("Submit for approval", ">Cancel<", "Start rollout now", "Break glass<"):
        assert offer not in page


def test_the_page_of_a_release_in_no_train_says_nothing_of_trains(
    client_as, lone_release, platform_admin
):
    page = client_as(platform_admin).get(f"/releases/{lone_release.pk}/").content.decode()
    assert 'data-testid="steered-by"' not in page


@pytest.mark.parametrize(
    ("fixture", "user", "action", "body"),
    [
        ("draft_member", "developer", "submit", {}),
        ("approved_member", "developer", "cancel", {}),
        ("pending_member", "release_manager", "reject", {"comment": "Not now."}),
    ],
)
def test_posting_an_action_on_a_member_page_is_refused_in_place(
    client_as, fixture, user, action, body, request
):
    release = request.getfixturevalue(fixture)
    before = release.state
    client = client_as(request.getfixturevalue(user))
    response = client.post(f"/releases/{release.pk}/{action}/", body, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "act on the train." in response.content.decode()
    assert Release.objects.get(pk=release.pk).state == before


def test_breaking_glass_on_a_member_page_is_refused(client_as, emergency_member, developer):
    response = client_as(developer).post(
        f"/releases/{emergency_member.pk}/break-glass/", {"reason": "It cannot wait at all."}
    )
    assert response.status_code == 400
    assert "act on the train." in response.content.decode()
    assert Release.objects.get(pk=emergency_member.pk).glass_broken is None


def test_starting_a_rollout_of_a_member_from_its_page_is_refused(client_as, due_member, developer):
    client = client_as(developer)
    response = client.post(f"/rollouts/start/{due_member.pk}/", follow=True)
    assert "act on the train." in response.content.decode()
    assert not Rollout.objects.exists()
