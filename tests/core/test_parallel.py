"""Independent reads side by side: on threads of their own with connections of their own when
nothing uncommitted could be missed, and one after another here otherwise."""

import threading
import zoneinfo

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Team
from apps.core import parallel


def where_and_what() -> tuple[str, list[str], str]:
    """This thread's name, the teams the thread's connection sees, and the active time zone."""
    teams = list(Team.objects.order_by("slug").values_list("slug", flat=True))
    return threading.current_thread().name, teams, timezone.get_current_timezone_name()


@pytest.mark.django_db(transaction=True)
def test_reads_outside_a_transaction_run_on_threads_of_their_own_and_see_what_is_committed(
    settings,
):
    settings.PARALLEL_READS = 3
    Team.objects.create(slug="payments", name="Payments")
    used = []

    def read(n: int):
        used.append(connections["default"])  # this thread's connection
        return n, where_and_what()

    with timezone.override(zoneinfo.ZoneInfo("Europe/Lisbon")):
        results = parallel.gather({f"read-{n}": (lambda n=n: read(n)) for n in range(4)})

    assert list(results) == ["read-0", "read-1", "read-2", "read-3"]
    for n, (name, result) in enumerate(results.values()):
        assert name == n
        thread, teams, zone = result
        assert thread.startswith("read") and thread != threading.current_thread().name
        assert teams == ["payments"]
        # The request's active time zone (and language) go with each read.
        assert zone == "Europe/Lisbon"
    # Each thread gave its connection back: none is left open for no request to close.
    assert used and all(wrapper.connection is None for wrapper in used)
    assert all(wrapper is not connections["default"] for wrapper in used)


@pytest.mark.django_db(transaction=True)
def test_the_first_error_of_a_read_is_raised_once_every_read_has_ended(settings):
    settings.PARALLEL_READS = 2
    finished = []

    def fails():
        raise LookupError("no such figure")

    def slow():
        list(Team.objects.all())
        finished.append("slow")
        return "slow"

    with pytest.raises(LookupError, match="no such figure"):
        parallel.gather({"fails": fails, "slow": slow, "slow again": slow})
    assert finished == ["slow", "slow"]


@pytest.mark.django_db
def test_inside_a_transaction_reads_run_here_and_see_what_it_has_written(settings):
    settings.PARALLEL_READS = 3
    Team.objects.create(slug="search", name="Search")  # not committed: the test's transaction

    results = parallel.gather({"a": where_and_what, "b": where_and_what})

    here = threading.current_thread().name
    assert [thread for thread, _, _ in results.values()] == [here, here]
    assert all(teams == ["search"] for _, teams, _ in results.values())


@pytest.mark.django_db(transaction=True)
def test_reads_run_here_while_queries_are_counted_or_when_one_thread_is_configured(settings):
    here = threading.current_thread().name
    settings.PARALLEL_READS = 3
    with CaptureQueriesContext(connection) as counted:
        results = parallel.gather({"a": where_and_what, "b": where_and_what})
    assert [thread for thread, _, _ in results.values()] == [here, here]
    assert len(counted) == 2

    settings.PARALLEL_READS = 1
    results = parallel.gather({"a": where_and_what, "b": where_and_what})
    assert [thread for thread, _, _ in results.values()] == [here, here]
