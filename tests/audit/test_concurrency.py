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
