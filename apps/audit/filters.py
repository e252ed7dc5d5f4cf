import django_filters
from django import forms

from apps.audit.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    """One filter for the audit page and the audit API."""

    actor = django_filters.CharFilter(field_name="actor_label", lookup_expr="iexact")
    action = django_filters.CharFilter(
        method="filter_action", help_text="An action (team.create) or a prefix (team.)."
    )
    target_type = django_filters.CharFilter(lookup_expr="iexact")
    target_id = django_filters.CharFilter()
    request_id = django_filters.CharFilter()
    since = django_filters.DateFilter(
        field_name="occurred_at",
        lookup_expr="date__gte",
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="occurred_at",
        lookup_expr="date__lte",
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_action(self, queryset, name, value):
        if value.endswith("."):
            return queryset.filter(action__startswith=value)
        return queryset.filter(action=value)
