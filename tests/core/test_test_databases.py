"""How a transactional test leaves the database for the next one (tests/databases.py): as Django's
flush would, every table empty but for the rows post_migrate writes."""

from types import SimpleNamespace

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.insights.models import ScorecardRule
from tests import databases
from tests.factories import ServiceFactory, TeamFactory


def rows_in_every_table() -> dict[str, int]:
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    with connection.cursor() as cursor:
        counts = {}
        for name in tables:
            cursor.execute(f'SELECT COUNT(*) FROM "{name}"')
            counts[name] = cursor.fetchone()[0]
    return counts


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_leaves_only_what_post_migrate_writes(developer):
    team = TeamFactory(slug="emptied")
    ServiceFactory(name="emptied-service", owner=team)
    audit_record(actor=developer, action="team.create", target=team)  # sealed on commit
    ScorecardRule.objects.all().delete()
    content_types = ContentType.objects.count()
    before = rows_in_every_table()
    assert before["audit_auditevent"] == 1 and before["audit_auditseal"] == 1
    assert before["catalog_service"] == 1

    databases.empty_written_tables("default")

    after = rows_in_every_table()
    kept = {"django_content_type", "auth_permission", "insights_scorecardrule"}
    assert {name: n for name, n in after.items() if n and name not in kept} == {}
    assert ContentType.objects.count() == content_types
    # post_migrate wrote the scorecard rules again, as after a flush.
    assert ScorecardRule.objects.count() > 0
    assert not AuditEvent.objects.exists()


def test_a_case_flushing_some_apps_or_restoring_serialized_rows_gets_djangos_own_teardown():
    def case(**attributes):
        defaults = {"available_apps": None, "serialized_rollback": False}
        return SimpleNamespace(
            **(defaults | attributes), _databases_names=lambda include_mirrors: ["default"]
        )

    some_apps, serialized = case(available_apps=["apps.catalog"]), case(serialized_rollback=True)
    django_teardowns = []
    teardown = databases.quicker_fixture_teardown(django_teardowns.append)
    teardown(some_apps)
    teardown(serialized)
    assert django_teardowns == [some_apps, serialized]
