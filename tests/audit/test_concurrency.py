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
