from collections import OrderedDict

import django_filters
from django.db.models import Exists, F, OuterRef, QuerySet

from apps.catalog.models import Lifecycle, Service, ServiceType, Strategy, Tag, Tier
from apps.core.lookups import AnyOf


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
        """Name, title, description and tags, case-insensitive. The matching ids are found
        once, here: a page counts, facets and lists the matches, and a subquery would search
        the catalog again for each."""
        matching: set[int] | None = None
        for term in value.split()[:5]:
            found = {row["pk"] for row in _services_matching(term)}
            matching = found if matching is None else matching & found
        return queryset if matching is None else queryset.filter(AnyOf(F("pk"), sorted(matching)))

    def filter_tag(self, queryset, name, value):
        tagged = Service.tags.through.objects.filter(
            service_id=OuterRef("pk"), tag__name=value.strip().lower()
        )
        return queryset.filter(Exists(tagged))


def _services_matching(term: str) -> QuerySet:
    """The ids of services whose name, title, description or a tag contains `term`: a UNION
    of single-column LIKEs that PostgreSQL answers from its trigram indexes (migration 0007).
    An OR of the columns and the tags' subquery could use no index and read the whole catalog.

    The tags matching come first, from their small table: the planner cannot know that a
    pattern matches no tag, and would plan for a whole tag's worth of services."""
    tags = list(Tag.objects.filter(name__icontains=term).order_by().values_list("pk", flat=True))
    ids = Service.objects.order_by().values("pk")
    matching = ids.filter(name__icontains=term).union(
        ids.filter(title__icontains=term), ids.filter(description__icontains=term)
    )
    if tags:
        tagged = Service.tags.through.objects.filter(tag_id__in=tags)
        matching = matching.union(tagged.order_by().values("service_id"))
    return matching


def register_filter(name: str, filter_: django_filters.Filter) -> None:
    """Add a filter another app contributes (the insights app's scorecard `level`) to the
    catalog page and the services API alike, without the catalog importing that app. Call it
    from the contributing app's AppConfig.ready(); the filter goes before the sort order."""
    filter_.field_name = filter_.field_name or name
    filters = dict(ServiceFilter.base_filters)
    ordering = filters.pop("ordering")
    ServiceFilter.base_filters = OrderedDict({**filters, name: filter_, "ordering": ordering})
