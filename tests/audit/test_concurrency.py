"""Concurrent writers must still produce one unbroken chain (PostgreSQL only: it has real
concurrent transactions)."""

import threading

import pytest
from django.db import connection, connections

from apps.audit.services import audit_record
from apps.audit.verification import audit_chain_verify


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_keep_one_unbroken_chain():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real concurrent transactions")
    start = threading.Barrier(6)
    errors = []

    def writer(n):
        try:
            start.wait()
            for i in range(10):
                audit_record(actor=None, action="load.write", target_type="t", target_id=f"{n}-{i}")
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = audit_chain_verify()
    assert report.intact
    assert report.rows_checked == 60


@pytest.mark.django_db(transaction=True)
def test_a_slow_transaction_holding_an_event_does_not_hold_up_other_audited_writes():
    """The chain used to be locked from an event's write to its transaction's commit, so one
    slow transaction stopped every audited write. Now only sealing, after commit, is serial."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real concurrent transactions")
    from django.db import transaction

    from apps.audit.models import AuditSeal

    holding, finished = threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                audit_record(actor=None, action="slow.write", target_type="t", target_id="1")
                holding.set()
                assert finished.wait(timeout=30)
        finally:
            connections.close_all()

    slow = threading.Thread(target=slow_writer)
    slow.start()
    assert holding.wait(timeout=30)
    try:
        quick = audit_record(actor=None, action="quick.write", target_type="t", target_id="2")
        assert AuditSeal.objects.get(event=quick).seq == 1  # sealed while the slow one is open
    finally:
        finished.set()
        slow.join()
    assert audit_chain_verify().intact
    assert list(AuditSeal.objects.values_list("event__action", flat=True)) == [
        "quick.write",
        "slow.write",
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("holder_is", ["a commit", "beat"])
def test_a_commit_never_waits_for_another_sealer_which_seals_its_event_before_it_stops(
    monkeypatch, holder_is
):
    """Sealing after commit takes the chain's lock only if it is free: a commit that finds it
    taken leaves its event to the sealer holding it (another commit's, or beat's audit.seal),
    which looks again before it stops."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real concurrent transactions")
    from apps.audit import services
    from apps.audit.models import AuditPending, AuditSeal

    sealing, go_on = threading.Event(), threading.Event()
    key_id = services.signing_key_id

    def slow_key_id():
        if threading.current_thread().name == "holder" and not go_on.is_set():
            sealing.set()  # the holder has read what is pending and holds the lock
            assert go_on.wait(timeout=30)
        return key_id()

    monkeypatch.setattr(services, "signing_key_id", slow_key_id)

    def write(action):
        try:
            audit_record(actor=None, action=action, target_type="t", target_id=action)
        finally:
            connections.close_all()

    if holder_is == "beat":
        with monkeypatch.context() as unsealed:  # committed, left for beat to seal
            unsealed.setattr(services, "_seal_once_after_commit", lambda: None)
            audit_record(actor=None, action="first.write", target_type="t", target_id="1")

        def beat():
            try:
                services.audit_seal()
            finally:
                connections.close_all()

        holder = threading.Thread(target=beat, name="holder")
    else:
        holder = threading.Thread(target=write, args=("first.write",), name="holder")
    holder.start()
    assert sealing.wait(timeout=30)
    second = threading.Thread(target=write, args=("second.write",))
    second.start()
    second.join(timeout=30)
    try:
        assert not second.is_alive(), "the second commit waited for the sealer"
        assert AuditPending.objects.filter(event__action="second.write").exists()
    finally:
        go_on.set()
        holder.join(timeout=30)
    assert AuditPending.objects.count() == 0
    assert list(AuditSeal.objects.order_by("seq").values_list("event__action", flat=True)) == [
        "first.write",
        "second.write",
    ]
    assert audit_chain_verify().intact
