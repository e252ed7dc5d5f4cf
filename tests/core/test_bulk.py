"""bulk_save: the named fields of many rows saved at once, each row with its own values."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import Service
from apps.core.bulk import bulk_save
from tests.factories import ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_of_the_named_fields_and_nothing_else():
    search = TeamFactory(name="search")
    services = [ServiceFactory(description="before", tier=1) for _ in range(3)]
    for index, service in enumerate(services):
        service.description = f"after {index}"
        service.owner = search if index else service.owner  # a key, saved by its column
        service.strategy_params = {"steps": [{"set_weight": 10 * index}]}  # JSON
        service.tier = 3  # changed in memory, not named: stays 1 in the database
    first_owner = services[0].owner_id

    with CaptureQueriesContext(connection) as captured:
        bulk_save(services, ["description", "owner", "strategy_params"])

    assert len(captured) == 1
    saved = {s.pk: s for s in Service.objects.filter(pk__in=[s.pk for s in services])}
    for index, service in enumerate(services):
        row = saved[service.pk]
        assert row.description == f"after {index}"
        assert row.owner_id == (search.pk if index else first_owner)
        assert row.strategy_params == {"steps": [{"set_weight": 10 * index}]}
        assert row.tier == 1


def test_no_rows_no_query():
    with CaptureQueriesContext(connection) as captured:
        bulk_save([], ["description"])
    assert len(captured) == 0
