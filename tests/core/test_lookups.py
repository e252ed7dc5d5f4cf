import pytest
from django.db.models import F

from apps.catalog.models import Service
from apps.core.lookups import AnyOf, any_of_parameter
from tests.factories import ServiceFactory


def test_the_ids_go_as_one_postgresql_array_literal():
    assert any_of_parameter([3, 1, 20]) == "{3,1,20}"
    assert any_of_parameter([]) == "{}"


@pytest.mark.django_db
def test_any_of_keeps_exactly_the_rows_whose_ids_are_given():
    first, _, third = (ServiceFactory(name=f"s{i}") for i in range(3))
    kept = Service.objects.filter(AnyOf(F("pk"), [first.pk, third.pk])).order_by("name")
    assert [service.name for service in kept] == ["s0", "s2"]
    assert not Service.objects.filter(AnyOf(F("pk"), [])).exists()
