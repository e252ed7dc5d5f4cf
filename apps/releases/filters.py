import django_filters
from django import forms
from django.db.models import Q

from apps.accounts import permissions
from apps.core.filters import IsoDateTimeFilter
from apps.releases.models import ChangeType, Release, ReleaseState


class Toggle(forms.CheckboxInput):
    """A switch on the page (a checkbox posts "on"); in a query string also true or false,
    1 or 0, yes or no."""

    def value_from_datadict(self, data, files, name) -> bool:
        value = data.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("on", "true", "1", "yes")
        return bool(value)


class ReleaseFilter(django_filters.FilterSet):
    """One filter for the releases page and the releases API."""

    # States are chips to tick (no Ctrl-click), "Mine" a switch; labels say what they keep.
    state = django_filters.MultipleChoiceFilter(
        choices=ReleaseState.choices, label="State", widget=forms.CheckboxSelectMultiple
    )
    service = django_filters.CharFilter(field_name="service__name", label="Service")
    environment = django_filters.CharFilter(field_name="environment__name", label="Environment")
    team = django_filters.CharFilter(
        field_name="service__owner__slug", label="Team", help_text="The owning team's slug."
    )
    change_type = django_filters.ChoiceFilter(
        choices=ChangeType.choices, empty_label="Any type", label="Change type"
    )
    since = IsoDateTimeFilter(field_name="planned_end", lookup_expr="gte", label="Ends after")
    until = IsoDateTimeFilter(field_name="planned_start", lookup_expr="lt", label="Starts before")
    mine = django_filters.BooleanFilter(
        method="filter_mine", label="Mine and my teams'", widget=Toggle
    )

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
