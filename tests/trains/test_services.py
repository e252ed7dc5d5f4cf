from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.releases.models import Release, ReleaseState, ReleaseTransition
from apps.trains import services
from apps.trains.models import Train, TrainApproval, TrainState, TrainTransition
from apps.trains.transitions import available_actions
from tests.trains.fixtures import members_of

pytestmark = pytest.mark.django_db


def states(train: Train) -> dict[str, str]:
    return dict(
        Release.objects.filter(train_membership__train=train).values_list("service__name", "state")
    )


def train_events(train: Train) -> list[tuple[str, dict]]:
    events = AuditEvent.objects.filter(target_type="trains.train", target_id=str(train.pk))
    return list(events.order_by("id").values_list("action", "after"))


def test_a_train_is_one_draft_release_per_member_with_its_plan(make_train, diamond, developer):
    train = make_train()
    assert train.state == TrainState.DRAFT
    assert train.plan == [["d", "e"], ["b", "c"], ["a"]]
    assert states(train) == dict.fromkeys("abcde", ReleaseState.DRAFT)
    release = Release.objects.get(service__name="a", train_membership__train=train)
    assert (release.environment.name, release.version) == ("prod", "registry/a:2.0.0")
    assert release.requester == developer
    ((action, after),) = train_events(train)
    assert action == "train.create"
    assert after["plan"] == [["d", "e"], ["b", "c"], ["a"]]
    assert sorted(after["members"]) == list("abcde")


@pytest.mark.parametrize("count", [1, 201])
def test_a_train_has_two_to_two_hundred_members(make_train, prod_services, count):
    names = [f"svc{n}" for n in range(count)]
    prod_services(names)
    with pytest.raises(ValidationError) as refused:
        make_train(names)
    assert refused.value.message_dict == {
        "members": [f"A train has 2 to 200 members; this one has {count}."]
    }
    assert not Train.objects.exists()
    assert not Release.objects.exists()


def test_a_service_listed_twice_is_refused(make_train, diamond):
    with pytest.raises(ValidationError) as refused:
        make_train("abca")
    assert refused.value.message_dict == {"members": ["Each service once: a twice."]}


def test_a_service_without_the_environment_is_refused_naming_it(make_train, diamond):
    with pytest.raises(ValidationError) as refused:
        make_train("ab", environment_name="staging")
    assert refused.value.message_dict == {"members": ["a, b have no environment called “staging”."]}


def test_an_unknown_service_is_refused_naming_it(make_train, diamond):
    with pytest.raises(ValidationError) as refused:
        make_train(["a", "nope"])
    assert refused.value.message_dict == {"members": ["No service is called nope."]}


def test_a_cycle_is_refused_at_request_naming_it_and_nothing_is_saved(make_train, prod_services):
    prod_services("abcd", {"a": "b", "b": "c", "c": "a"})
    with pytest.raises(ValidationError) as refused:
        make_train("abcd")
    assert "a → b → c → a" in refused.value.message_dict["members"][0]
    assert not Train.objects.exists()
    assert not Release.objects.exists()


def test_a_member_refused_by_the_releases_rules_refuses_the_whole_train(make_train, diamond):
    members = members_of("ab")
    members[1]["version"] = ""
    with pytest.raises(ValidationError) as refused:
        make_train(members=members)
    assert refused.value.message_dict["members"][0].startswith("b: version:")
    assert not Release.objects.exists()


def test_someone_of_another_team_cannot_put_a_service_in_a_train(
    make_train, prod_services, other_developer, search
):
    prod_services("ab")
    prod_services("s", owner=search)
    with pytest.raises(PermissionDenied):
        make_train("abs", actor=other_developer)
    assert not Train.objects.exists()


def test_leadership_cannot_request_a_train(make_train, diamond, leadership):
    with pytest.raises(PermissionDenied):
        make_train(actor=leadership)


def test_a_train_no_policy_covers_is_approved_on_submission_with_its_members(
    make_train, diamond, developer
):
    train = make_train(submit=True)
    assert train.state == TrainState.APPROVED
    assert train.plan_frozen_at is not None
    # Approved, not scheduled: executing the waves starts them, in order.
    assert states(train) == dict.fromkeys("abcde", ReleaseState.APPROVED)
    assert list(train.transitions.values_list("from_state", "to_state")) == [
        ("draft", "submitted"),
        ("submitted", "approved"),
    ]
    assert [action for action, _ in train_events(train)] == [
        "train.create",
        "train.transition",
        "train.transition",
    ]


def test_under_the_union_policy_one_approval_does_not_approve(
    make_train, union_policies, release_manager, second_release_manager, security_reviewer
):
    train = make_train(submit=True)
    assert train.state == TrainState.SUBMITTED
    assert states(train) == dict.fromkeys("abcde", ReleaseState.DRAFT)

    services.train_approve(actor=release_manager, train=train)
    train.refresh_from_db()
    assert train.state == TrainState.SUBMITTED
    services.train_approve(actor=security_reviewer, train=train)
    train.refresh_from_db()
    assert train.state == TrainState.SUBMITTED  # release managers need two

    services.train_approve(actor=second_release_manager, train=train, comment="ship it")
    train.refresh_from_db()
    assert train.state == TrainState.APPROVED
    assert states(train) == dict.fromkeys("abcde", ReleaseState.APPROVED)
    assert sorted(train.approvals.values_list("approver__username", "rule__name")) == [
        ("riley", "Release managers"),
        ("robin", "Release managers"),
        ("sasha", "Security"),
    ]
    actions = [action for action, _ in train_events(train)]
    assert actions.count("train.approve") == 3
    assert actions[-1] == "train.transition"
    history = ReleaseTransition.objects.filter(release__service__name="a")
    assert list(history.values_list("from_state", "to_state", "reason")) == [
        ("draft", "approved", f"Approved with train #{train.pk}")
    ]


def test_rules_asking_the_same_group_need_the_highest_count_not_the_sum(
    make_train, union_policies, release_manager, second_release_manager, security_reviewer
):
    from apps.accounts.models import Role
    from apps.releases.models import ApprovalPolicy, ApprovalRule

    also = ApprovalPolicy.objects.create(name="Tier 2 prod", environment_kind="production", tier=2)
    ApprovalRule.objects.create(
        policy=also, name="One release manager", role=Role.RELEASE_MANAGER, required_count=1
    )
    train = make_train(submit=True)
    for approver in (release_manager, second_release_manager, security_reviewer):
        services.train_approve(actor=approver, train=train)
    train.refresh_from_db()
    assert train.state == TrainState.APPROVED


def test_a_commit_author_of_any_member_may_not_approve_the_train(
    make_train, union_policies, release_manager
):
    members = members_of("abcde")
    members[3]["commits"] = [
        {
            "sha": "c0ffee" * 6,
            "author": release_manager.email,
            "message": "fix",
            "committed_at": timezone.now() - timedelta(hours=1),
        }
    ]
    train = make_train(members=members, submit=True)
    with pytest.raises(PermissionDenied) as refused:
        services.train_approve(actor=release_manager, train=train)
    assert str(refused.value).startswith("d: You wrote commit c0ffeec0ff")
    assert not TrainApproval.objects.exists()
    assert train_events(train)[-1][0] == "train.approve.refused"


def test_the_requester_may_not_approve_their_own_train(make_train, union_policies, platform_admin):
    train = make_train(actor=platform_admin, submit=True)
    assert "approve" not in available_actions(
        train, platform_admin, members=list(Release.objects.all())
    )
    with pytest.raises(PermissionDenied, match="You requested this train"):
        services.train_approve(actor=platform_admin, train=train)


def test_a_developer_cannot_approve(make_train, union_policies, other_developer):
    train = make_train(submit=True)
    with pytest.raises(PermissionDenied, match="not in a group that approves this train"):
        services.train_approve(actor=other_developer, train=train)


def test_rejecting_needs_a_reason_and_cancels_the_members(
    make_train, union_policies, release_manager
):
    train = make_train(submit=True)
    with pytest.raises(ValidationError) as refused:
        services.train_reject(actor=release_manager, train=train, comment=" ")
    assert "comment" in refused.value.message_dict
    services.train_reject(actor=release_manager, train=train, comment="Not during the sale")
    train.refresh_from_db()
    assert train.state == TrainState.REJECTED
    assert states(train) == dict.fromkeys("abcde", ReleaseState.CANCELLED)
    assert [a for a, _ in train_events(train)][-2:] == ["train.reject", "train.transition"]


def test_cancelling_cancels_every_member_not_yet_finished(make_train, diamond, developer):
    train = make_train(submit=True)
    member = Release.objects.get(service__name="e")
    from apps.releases.transitions import release_transition

    release_transition(release=member, to_state=ReleaseState.SCHEDULED, actor=None)
    release_transition(release=member, to_state=ReleaseState.IN_PROGRESS, actor=None)
    release_transition(release=member, to_state=ReleaseState.SUCCEEDED, actor=None)

    services.train_cancel(actor=developer, train=train, reason="Postponed")
    train.refresh_from_db()
    assert train.state == TrainState.CANCELLED
    assert states(train) == {**dict.fromkeys("abcd", ReleaseState.CANCELLED), "e": "succeeded"}
    transition = TrainTransition.objects.get(train=train, to_state="cancelled")
    assert (transition.from_state, transition.actor, transition.reason) == (
        "approved",
        developer,
        "Postponed",
    )
    assert train_events(train)[-1] == (
        "train.transition",
        {"state": "cancelled", "reason": "Postponed"},
    )


def test_a_cancelled_train_cannot_be_cancelled_again(make_train, diamond, developer):
    train = make_train()
    services.train_cancel(actor=developer, train=train)
    with pytest.raises(ValidationError, match="cancelled cannot become cancelled"):
        services.train_cancel(actor=developer, train=train)


def test_leadership_cannot_cancel_a_train(make_train, diamond, leadership):
    train = make_train()
    with pytest.raises(PermissionDenied):
        services.train_cancel(actor=leadership, train=train)
    assert states(train) == dict.fromkeys("abcde", ReleaseState.DRAFT)


def test_a_freeze_over_the_train_refuses_its_submission_naming_the_members(
    make_train, diamond, developer
):
    from apps.releases.models import Freeze, WindowScope

    Freeze.objects.create(
        name="Holiday freeze",
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(days=3),
        scope=WindowScope.ORGANISATION,
    )
    train = make_train()
    with pytest.raises(ValidationError) as refused:
        services.train_submit(actor=developer, train=train)
    (message,) = refused.value.message_dict["planned_start"]
    assert message.startswith("a: ") and "Holiday freeze" in message and "e: " in message
    train.refresh_from_db()
    assert train.state == TrainState.DRAFT


def test_the_plan_follows_the_catalog_until_approval_and_is_frozen_then(
    make_train, diamond, developer, prod_services
):
    train = make_train()
    prod_services([], {"e": "a"})  # e now depends on a
    train = services.train_submit(actor=developer, train=train)  # approved: no policy applies
    assert train.plan == [["d"], ["b", "c"], ["a"], ["e"]]
    frozen_at = train.plan_frozen_at
    prod_services([], {"d": "e"})  # a cycle now: the frozen plan does not care
    train.refresh_from_db()
    assert (train.plan, train.plan_frozen_at) == ([["d"], ["b", "c"], ["a"], ["e"]], frozen_at)


def test_a_cycle_drawn_after_the_request_refuses_the_submission(
    make_train, diamond, developer, prod_services
):
    train = make_train()
    prod_services([], {"d": "a"})
    with pytest.raises(ValidationError) as refused:
        services.train_submit(actor=developer, train=train)
    assert "a → b → d → a" in refused.value.message_dict["members"][0]
    train.refresh_from_db()
    assert (train.state, train.plan) == (TrainState.DRAFT, [["d", "e"], ["b", "c"], ["a"]])
