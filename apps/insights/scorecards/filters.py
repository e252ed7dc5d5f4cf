"""Filters by scorecard level: the `level` the catalog's ServiceFilter gets (registered in
InsightsConfig.ready()), and the one FilterSet of the scorecards API."""

import django_filters
from django.db.models import Q

from apps.insights.models import Level, ServiceScore


def _services_at_level(queryset, name, value):
    """ "No level" also finds the services never scored."""
    level = int(value)
    if level == Level.NONE:
        return queryset.filter(Q(scorecard__level=level) | Q(scorecard__isnull=True))
    return queryset.filter(scorecard__level=level)


def catalog_level_filter() -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(
        choices=Level.choices,
        method=_services_at_level,
        label="Scorecard",
        empty_label="Any level",
    )


class ScorecardFilter(django_filters.FilterSet):
    """The scorecards API: `?team=<slug>`, `?service=<name>`, `?level=0..3`."""

    team = django_filters.CharFilter(field_name="service__owner__slug", label="Team (slug)")
    service = django_filters.CharFilter(field_name="service__name", label="Service (name)")
    level = django_filters.ChoiceFilter(choices=Level.choices, empty_label="Any level")

    class Meta:
        model = ServiceScore
        fields: list[str] = []
