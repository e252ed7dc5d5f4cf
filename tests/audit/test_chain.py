import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from apps.audit.chain import GENESIS, seal_mac
from apps.audit.checkpoints import audit_checkpoint, read_checkpoints
from apps.audit.models import AuditEvent, AuditLogIsAppendOnly, AuditPending, AuditSeal
from apps.audit.services import audit_record, audit_seal
from apps.audit.verification import audit_chain_verify


def record_three(actor=None, *, sealed=True):
    events = [
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
    if sealed:
        audit_seal()
    return events


def seal_of(event) -> AuditSeal:
    return AuditSeal.objects.get(event=event)


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def without_the_trigger(table):
    """What someone who owns the table can do: switch its triggers off."""
    return (
        f"ALTER TABLE {table} DISABLE TRIGGER USER"
        if connection.vendor == "postgresql"
        else "SELECT 1"
    )


def tamper(statement, params=(), *, table="audit_auditevent"):
    if connection.vendor == "postgresql":
        sql("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for no deferred checks
    sql(without_the_trigger(table))
    sql(statement, params)
    if connection.vendor == "postgresql":
        sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


@pytest.mark.django_db
def test_events_wait_for_their_transaction_to_commit_before_they_are_sealed(developer):
    first, second, third = record_three(developer, sealed=False)
    assert AuditSeal.objects.count() == 0
    assert AuditPending.objects.count() == 3
    assert audit_seal() == 3
    assert AuditPending.objects.count() == 0
    seals = [seal_of(e) for e in (first, second, third)]
    assert [s.seq for s in seals] == [1, 2, 3]
    assert seals[0].prev_mac == GENESIS
    assert seals[1].prev_mac == seals[0].mac and seals[2].prev_mac == seals[1].mac
    assert len({s.mac for s in seals}) == 3
    assert {s.key_id for s in seals} == {"t1"}
    assert first.actor_label == "dana"
    assert audit_seal() == 0  # sealing again does nothing


@pytest.mark.django_db(transaction=True)
def test_a_committed_event_is_sealed_without_anyone_asking():
    with transaction.atomic():
        event = audit_record(actor=None, action="thing.commit", target_type="t", target_id="1")
        assert not AuditSeal.objects.filter(event=event).exists()
    assert seal_of(event).seq == 1
    assert not AuditPending.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_event_rolled_back_with_its_change_leaves_no_seal_and_no_gap():
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=None, action="thing.undone", target_type="t", target_id="1")
        raise RuntimeError("the change failed")
    kept = audit_record(actor=None, action="thing.done", target_type="t", target_id="2")
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["thing.done"]
    assert seal_of(kept).seq == 1
    assert audit_chain_verify().intact


@pytest.mark.django_db
def test_an_intact_log_verifies(capsys):
    record_three()
    audit_checkpoint()
    report = audit_chain_verify()
    assert report.intact and report.rows_checked == 3 and report.checkpoints_checked == 1
    call_command("audit_verify")
    out = capsys.readouterr().out
    assert "Audit log intact: 3 sealed events" in out
    assert "1 checkpoint" in out


@pytest.mark.django_db
def test_a_row_altered_in_sql_is_caught_and_named():
    _, second, _ = record_three()
    tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["thing.forged", second.id])
    report = audit_chain_verify()
    assert report.first_bad_id == second.id
    assert "content" in report.problem
    with pytest.raises(CommandError, match=f"altered at event {second.id}"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_a_json_value_altered_in_sql_is_caught():
    first, _, _ = record_three()
    tamper("UPDATE audit_auditevent SET after = %s WHERE id = %s", ['{"n": 999}', first.id])
    assert audit_chain_verify().first_bad_id == first.id


@pytest.mark.django_db
def test_a_row_removed_in_sql_leaves_a_gap_in_the_seals():
    _, second, third = record_three()
    tamper("DELETE FROM audit_auditseal WHERE event_id = %s", [second.id], table="audit_auditseal")
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [second.id])
    report = audit_chain_verify()
    assert report.first_bad_id == third.id
    assert "missing" in report.problem


@pytest.mark.django_db
def test_rewriting_a_row_and_its_seal_needs_the_key():
    """Someone with SQL but without the key computes a new MAC the only way they can: with a
    key of their own. The seal no longer matches."""
    from django.test import override_settings

    _, second, _ = record_three()
    second.action = "thing.forged"
    seal = seal_of(second)
    with override_settings(AUDIT_KEYS={"t1": b"a key the attacker made up, 32 chars+"}):
        forged = seal_mac(second, seq=seal.seq, prev_mac=seal.prev_mac, key_id="t1")
    tamper("UPDATE audit_auditevent SET action = 'thing.forged' WHERE id = %s", [second.id])
    tamper(
        "UPDATE audit_auditseal SET mac = %s WHERE seq = %s",
        [forged, seal.seq],
        table="audit_auditseal",
    )
    report = audit_chain_verify()
    assert report.first_bad_id == second.id and "content" in report.problem


@pytest.mark.django_db
def test_removing_the_newest_rows_is_caught_by_the_last_checkpoint(settings):
    record_three()
    audit_checkpoint()
    newest = AuditSeal.objects.order_by("-seq").first()
    tamper("DELETE FROM audit_auditseal WHERE seq = %s", [newest.seq], table="audit_auditseal")
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [newest.event_id])
    report = audit_chain_verify()
    assert not report.intact
    assert "saw 3 sealed events, the log holds 2" in report.problem
    with pytest.raises(CommandError, match="newest events were removed"):
        call_command("audit_verify")


@pytest.mark.django_db
def test_a_forged_checkpoint_is_refused(settings):
    record_three()
    audit_checkpoint()
    path = settings.AUDIT_CHECKPOINT_FILE
    line = json.loads(path.read_text())
    line["seq"] = 2  # pretend the log was shorter, to cover a truncation
    path.write_text(json.dumps(line) + "\n")
    report = audit_chain_verify()
    assert "forged" in report.problem


@pytest.mark.django_db
def test_checkpoints_are_written_only_when_the_head_moved(settings):
    assert audit_checkpoint() is None  # an empty log has nothing to sign
    record_three()
    first = audit_checkpoint()
    assert audit_checkpoint().seq == first.seq == 3
    audit_record(actor=None, action="thing.more", target_type="t", target_id="4")
    audit_seal()
    audit_checkpoint()
    assert [c.seq for c in read_checkpoints()] == [3, 4]
    assert all(c.signed for c in read_checkpoints())


@pytest.mark.django_db
def test_a_rotated_key_still_verifies_what_the_old_key_sealed(settings):
    record_three()
    settings.AUDIT_KEYS = {"t2": b"the new key, thirty-two chars or more", **settings.AUDIT_KEYS}
    settings.AUDIT_KEY_ID = "t2"
    newer = audit_record(actor=None, action="thing.after", target_type="t", target_id="4")
    audit_seal()
    assert seal_of(newer).key_id == "t2"
    assert audit_chain_verify().intact
    settings.AUDIT_KEYS = {"t2": settings.AUDIT_KEYS["t2"]}  # the old key dropped too early
    report = audit_chain_verify()
    assert "key 't1'" in report.problem and report.rows_checked == 0


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
    with pytest.raises(AuditLogIsAppendOnly):
        AuditSeal.objects.all().delete()
    assert AuditEvent.objects.count() == 3
    assert audit_chain_verify().intact


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'x'",
        "DELETE FROM audit_auditevent",
        "UPDATE audit_auditseal SET mac = 'x'",
        "DELETE FROM audit_auditseal",
        "TRUNCATE audit_auditevent CASCADE",
        "TRUNCATE audit_auditseal",
    ],
)
def test_the_database_itself_refuses_to_change_the_log(statement):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    record_three()
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql("SET LOCAL runway.audit_truncate = 'off'")  # as anyone but the test runner
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql(statement)
    assert AuditEvent.objects.count() == AuditSeal.objects.count() == 3


@pytest.mark.django_db
def test_an_actor_with_audit_history_cannot_be_deleted(developer):
    from django.db.models import ProtectedError

    audit_record(actor=developer, action="thing.touch", target=developer)
    with pytest.raises(ProtectedError):
        developer.delete()


@pytest.mark.django_db
def test_beat_seals_what_a_crash_after_commit_left_pending():
    from apps.audit.tasks import audit_checkpoint_task, audit_seal_task

    record_three(sealed=False)  # committed, but the process died before sealing
    assert audit_seal_task() == 3
    assert audit_checkpoint_task() == 3
    assert audit_chain_verify().intact


@pytest.mark.django_db
def test_an_event_written_around_runway_is_named():
    record_three()
    sql(
        "INSERT INTO audit_auditevent (occurred_at, actor_label, action, target_type, target_id, "
        "target_label, request_id) VALUES (%s, 'mallory', 'thing.slipped_in', 't', '9', '', '')",
        ["2026-01-01T00:00:00Z"],
    )
    report = audit_chain_verify()
    assert "in no seal" in report.problem
    assert AuditEvent.objects.get(pk=report.first_bad_id).action == "thing.slipped_in"


@pytest.mark.django_db
def test_the_admin_shows_the_checkpoints_and_whether_the_chain_still_matches(client):
    from tests.factories import UserFactory

    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    record_three()
    audit_checkpoint()
    client.force_login(admin_user)
    page = client.get("/admin/audit/auditevent/").content.decode()
    assert "3 sealed events" in page and "matches" in page and "does not match" not in page
    newest = AuditSeal.objects.order_by("-seq").first()
    tamper("DELETE FROM audit_auditseal WHERE seq = %s", [newest.seq], table="audit_auditseal")
    page = client.get("/admin/audit/auditevent/").content.decode()
    assert "does not match" in page


@pytest.mark.django_db(transaction=True)
def test_a_transaction_of_several_events_is_sealed_once_after_it_commits():
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        record_three(sealed=False)
    sql = [q["sql"] for q in queries.captured_queries]
    locks = [q for q in sql if "advisory" in q]
    seals = [q for q in sql if q.startswith('INSERT INTO "audit_auditseal"')]
    assert len(seals) == 1  # one insert for the three seals
    if connection.vendor == "postgresql":
        assert len(locks) == 1
    assert AuditPending.objects.count() == 0
    assert list(AuditSeal.objects.values_list("seq", flat=True)) == [1, 2, 3]
    assert audit_chain_verify().intact


@pytest.mark.django_db(transaction=True)
def test_an_event_after_a_rolled_back_savepoint_is_still_sealed():
    with transaction.atomic():
        try:
            with transaction.atomic():
                audit_record(actor=None, action="thing.undone", target_type="t", target_id="1")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        kept = audit_record(actor=None, action="thing.kept", target_type="t", target_id="2")
    assert seal_of(kept).seq >= 1
    assert not AuditEvent.objects.filter(action="thing.undone").exists()
    assert AuditPending.objects.count() == 0
