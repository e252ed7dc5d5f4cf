"""Holding versions: a version marked bad is never released again, and an environment pinned
to a version starts no other until a person lifts the pin, saying why."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from apps.audit.models import AuditEvent
from apps.catalog.models import Environment
from apps.core.exceptions import Conflict
from apps.releases import services
from apps.releases.gates import blocking_failures, readiness
from apps.releases.models import Release, ReleaseState
from apps.releases.soak import with_running_version
from apps.releases.versions import transitions
from apps.releases.versions.services import version_mark_bad, version_pin, version_unpin

pytestmark = pytest.mark.django_db

BAD = "registry/web:1.4.0"
REASON = "Writes refunds twice to the ledger"


def begun(release) -> tuple[bool, Release]:
    Release.objects.filter(pk=release.pk).update(state=ReleaseState.SCHEDULED)
    release.refresh_from_db()
    return services.release_begin(release=release)


def gate(release, key):
    from django.utils import timezone

    return {gate.key: gate for gate in readiness(release, now=timezone.now())}.get(key)


def test_a_version_marked_bad_is_refused_to_new_requests_and_held_where_already_asked(
    make_release, developer, web
):
    dev = web.environments.get(name="dev")
    asked = make_release(dev, version=BAD, hours_from_now=-1)
    version_mark_bad(actor=developer, service=web, version=BAD, reason=REASON)

    with pytest.raises(ValidationError) as refused:
        make_release(dev, version=BAD)
    assert f"{BAD} was marked bad by dana on" in refused.value.message_dict["version"][0]
    assert REASON in refused.value.message_dict["version"][0]

    held = gate(asked, "bad_version")
    assert (held.passed, held.blocking, held.pending) == (False, True, False)
    ok, asked = begun(asked)
    assert not ok and REASON in asked.hold_reason
    event = AuditEvent.objects.get(action="version.mark_bad")
    assert (event.actor, event.after) == (developer, {"version": BAD, "reason": REASON})


def test_an_emergency_does_not_start_a_bad_version(make_release, developer, web):
    dev = web.environments.get(name="dev")
    emergency = make_release(
        dev, version=BAD, change_type="emergency", justification="Checkout is down for all"
    )
    version_mark_bad(actor=developer, service=web, version=BAD, reason=REASON)
    assert "bad_version" in [
        gate.key for gate in blocking_failures(readiness(emergency, now=emergency.planned_start))
    ]


def test_marking_asks_for_a_reason_the_right_to_steer_and_happens_once(
    developer, other_developer, leadership, web
):
    with pytest.raises(ValidationError) as short:
        version_mark_bad(actor=developer, service=web, version=" ", reason="bad")
    assert set(short.value.message_dict) == {"version", "reason"}
    for stranger in (other_developer, leadership):
        with pytest.raises(PermissionDenied):
            version_mark_bad(actor=stranger, service=web, version=BAD, reason=REASON)
    version_mark_bad(actor=developer, service=web, version=BAD, reason=REASON)
    with pytest.raises(Conflict) as twice:
        version_mark_bad(actor=developer, service=web, version=BAD, reason=REASON)
    assert "already marked bad" in twice.value.message_dict["version"][0]
    assert AuditEvent.objects.filter(action="version.mark_bad").count() == 1


def test_a_pin_holds_other_versions_until_it_is_lifted_with_a_reason(
    make_release, developer, release_manager, web
):
    dev = web.environments.get(name="dev")
    other = make_release(dev, version="registry/web:1.5.0", hours_from_now=-1)
    same = make_release(dev, version="registry/web:1.4.1", hours_from_now=-1)
    pin = version_pin(
        actor=release_manager, environment=dev, version="registry/web:1.4.1", reason=REASON
    )

    held = gate(other, "pin")
    assert not held.passed and held.blocking
    assert held.detail == (
        f"dev is pinned to registry/web:1.4.1 by riley ({REASON}): lift the pin to release "
        "another version"
    )
    assert gate(same, "pin").passed
    ok, other = begun(other)
    assert not ok and "pinned to registry/web:1.4.1" in other.hold_reason

    with pytest.raises(ValidationError) as no_reason:
        version_unpin(actor=developer, pin=pin, reason="ok")
    assert "reason" in no_reason.value.message_dict
    assert transitions.available_actions(pin, developer) == {"lift"}
    version_unpin(actor=developer, pin=pin, reason="The ledger fix shipped in 1.5.0")
    pin.refresh_from_db()
    assert transitions.available_actions(pin, developer) == frozenset()
    with pytest.raises(ValidationError) as twice:
        version_unpin(actor=developer, pin=pin, reason="The ledger fix shipped in 1.5.0")
    assert "already lifted" in twice.value.message_dict["lifted_at"][0]

    ok, other = begun(other)
    assert ok and other.state == ReleaseState.IN_PROGRESS
    pinned, lifted = AuditEvent.objects.filter(action__startswith="version.").order_by("id")
    assert (pinned.action, pinned.actor, pinned.after["version"]) == (
        "version.pin",
        release_manager,
        "registry/web:1.4.1",
    )
    assert (lifted.action, lifted.actor, lifted.before["version"]) == (
        "version.unpin",
        developer,
        "registry/web:1.4.1",
    )


def test_one_pin_at_a_time_never_to_a_bad_version_and_only_by_those_who_steer(
    developer, other_developer, leadership, web
):
    prod = web.environments.get(name="prod")
    version_mark_bad(actor=developer, service=web, version=BAD, reason=REASON)
    with pytest.raises(ValidationError) as bad:
        version_pin(actor=developer, environment=prod, version=BAD, reason=REASON)
    assert "marked bad" in bad.value.message_dict["version"][0]
    for stranger in (other_developer, leadership):
        with pytest.raises(PermissionDenied):
            version_pin(actor=stranger, environment=prod, version="web:2", reason=REASON)
    pin = version_pin(actor=developer, environment=prod, version="web:2", reason=REASON)
    assert transitions.available_actions(pin, leadership) == frozenset()
    with pytest.raises(Conflict) as again:
        version_pin(actor=developer, environment=prod, version="web:3", reason=REASON)
    assert again.value.message_dict["environment"] == ["prod is already pinned to web:2: lift it."]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plan asked is PostgreSQL's")
def test_the_version_running_in_an_environment_is_read_in_order_from_an_index(web):
    """The service page, the versions API and soaks ask it of every environment: a service with
    years of releases must not sort them all to find the last one."""
    environments = with_running_version(Environment.objects.filter(service=web))
    sql, params = environments.query.sql_with_params()
    with connection.cursor() as cursor:
        # Too few rows here for the planner to prefer an index, or one index over another
        # (any index of a near-empty table is as cheap); forbid it the alternatives: scans
        # that are not by index, and sorting what an index in the wrong order gives.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "release_env_state_done_idx" in plan
    assert "Sort Key: u0.finished_at" not in plan
