import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.audit.chain import GENESIS
from apps.audit.models import AuditEvent, AuditLogIsAppendOnly
from apps.audit.services import audit_record
from apps.audit.verification import audit_chain_verify


def record_three(actor=None):
    return [
        audit_record(
            actor=actor,
            action=f"thing.step{n}",
            target_type="test.thing",
            target_id=str(n),
            before={"n": n - 1},
            after={"n": n, "when": "2026-01-01", "ratio": 0.1},
        )
        for n in range(1, 4)
    ]


@pytest.mark.django_db
def test_each_event_is_chained_to_the_one_before(developer):
    first, second, third = record_three(developer)
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3
    assert first.actor_label == "dana"


@pytest.mark.django_db
def test_an_intact_log_verifies(capsys):
    record_three()
    report = audit_chain_verify()
    assert report.intact and report.rows_checked == 3
    call_command("audit_verify")
    assert "Audit log intact: 3 events" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_row_altered_in_sql_is_caught_and_named():
    _, second, _ = record_three()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET action = %s WHERE id = %s", ["thing.forged", second.id]
        )
    report = audit_chain_verify()
    assert report.first_bad_id == second.id
    assert "content" in report.problem
    with pytest.raises(CommandError, match=f"altered at event {second.id}"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_a_json_value_altered_in_sql_is_caught():
    first, _, _ = record_three()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET after = %s WHERE id = %s", ['{"n": 999}', first.id]
        )
    assert audit_chain_verify().first_bad_id == first.id


@pytest.mark.django_db
def test_a_row_deleted_in_sql_breaks_the_link_of_the_next_one():
    _, second, third = record_three()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [second.id])
    report = audit_chain_verify()
    assert report.first_bad_id == third.id
    assert "link" in report.problem


@pytest.mark.django_db
def test_a_rehashed_forgery_still_breaks_the_chain_after_it():
    """Rewriting a row and recomputing its own hash is not enough: the next row still points
    at the old hash."""
    from apps.audit.chain import event_hash

    _, second, third = record_three()
    second.action = "thing.forged"
    forged_hash = event_hash(second, second.prev_hash)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET action = %s, hash = %s WHERE id = %s",
            ["thing.forged", forged_hash, second.id],
        )
    assert audit_chain_verify().first_bad_id == third.id


@pytest.mark.django_db
def test_the_orm_refuses_to_update_or_delete_events():
    event, _, _ = record_three()
    event.action = "thing.changed"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 3
    assert audit_chain_verify().intact


@pytest.mark.django_db
def test_an_actor_with_audit_history_cannot_be_deleted(developer):
    from django.db.models import ProtectedError

    audit_record(actor=developer, action="thing.touch", target=developer)
    with pytest.raises(ProtectedError):
        developer.delete()
