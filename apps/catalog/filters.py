from collections import OrderedDict

import django_filters
from django.db.models import Exists, OuterRef, Q

from apps.catalog.models import Lifecycle, Service, ServiceType, Strategy, Tier


class ServiceFilter(django_filters.FilterSet):
    """One filter for the catalog page and the services API."""

    q = django_filters.CharFilter(method="search", label="Search")
    owner = django_filters.CharFilter(field_name="owner__slug", label="Team")
    system = django_filters.CharFilter(field_name="system__name")
    tier = django_filters.ChoiceFilter(choices=Tier.choices, empty_label="Any tier")
    lifecycle = django_filters.ChoiceFilter(choices=Lifecycle.choices, empty_label="Any lifecycle")
    type = django_filters.ChoiceFilter(choices=ServiceType.choices, empty_label="Any type")
    strategy = django_filters.ChoiceFilter(choices=Strategy.choices, empty_label="Any strategy")
    tag = django_filters.CharFilter(method="filter_tag")
    ordering = django_filters.OrderingFilter(
        fields=(
            ("name", "name"),
            ("title", "title"),
            ("tier", "tier"),
            ("owner__slug", "owner"),
            ("updated_at", "updated"),
        ),
        label="Sort",
        empty_label="Name",
    )

    class Meta:
        model = Service
        fields: list[str] = []

    def search(self, queryset, name, value):
        """Name, title, description and tags, case-insensitive."""
        terms = value.split()
        for term in terms[:5]:
            tagged = Service.tags.through.objects.filter(
                service_id=OuterRef("pk"), tag__name__icontains=term
            )
            queryset = queryset.filter(
                Q(name__icontains=term)
                | Q(title__icontains=term)
                | Q(description__icontains=term)
                | Exists(tagged)
            )
        return queryset

    def filter_tag(self, queryset, name, value):
        tagged = Service.tags.through.objects.filter(
            service_id=OuterRef("pk"), tag__name=value.strip().lower()
        )
        return queryset.filter(Exists(tagged))


def register_filter(name: str, filter_: django_filters.Filter) -> None:
    """Add a filter another app contributes (the insights app's scorecard `level`) to the
    catalog page and the services API alike, without the catalog importing that app. Call it
    from the contributing app's AppConfig.ready(); the filter goes before the sort order."""
    filter_.field_name = filter_.field_name or name
    filters = dict(ServiceFilter.base_filters)
    ordering = filters.pop("ordering")
    ServiceFilter.base_filters = OrderedDict({**filters, name: filter_, "ordering": ordering})
