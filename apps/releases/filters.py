import django_filters
from django.db.models import Q

from apps.accounts import permissions
from apps.core.filters import IsoDateTimeFilter
from apps.releases.models import ChangeType, Release, ReleaseState


class ReleaseFilter(django_filters.FilterSet):
    """One filter for the releases page and the releases API."""

    state = django_filters.MultipleChoiceFilter(choices=ReleaseState.choices)
    service = django_filters.CharFilter(field_name="service__name")
    environment = django_filters.CharFilter(field_name="environment__name")
    team = django_filters.CharFilter(field_name="service__owner__slug")
    change_type = django_filters.ChoiceFilter(choices=ChangeType.choices, empty_label="Any type")
    since = IsoDateTimeFilter(field_name="planned_end", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="planned_start", lookup_expr="lt")
    mine = django_filters.BooleanFilter(method="filter_mine", label="Mine and my teams'")

    class Meta:
        model = Release
        fields: list[str] = []

    def filter_mine(self, queryset, name, value):
        if not value or self.request is None:
            return queryset
        user = self.request.user
        return queryset.filter(
            Q(requester=user) | Q(service__owner_id__in=permissions.team_ids_of(user))
        )
