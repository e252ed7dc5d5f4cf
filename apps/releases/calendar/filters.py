"""One filter each for the lists of change windows and of freezes, shared by the pages and the
API. Unless asked, a list holds what is in force: deleted rows, and inactive windows, only on
request (`status`)."""

from collections.abc import Callable

import django_filters
from django import forms
from django.db.models import QuerySet

from apps.catalog.models import EnvironmentKind
from apps.releases.models import ChangeWindow, Freeze, WindowScope


class _RuleFilter(django_filters.FilterSet):
    # Each kind of rule says what is listed for a status ("" for what is in force).
    by_status: Callable[[QuerySet, str], QuerySet]

    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")
    scope = django_filters.ChoiceFilter(choices=WindowScope.choices, empty_label="Any scope")
    team = django_filters.CharFilter(field_name="team__slug", label="Team (slug)")
    service = django_filters.CharFilter(field_name="service__name", label="Service")
    environment_kind = django_filters.ChoiceFilter(
        choices=EnvironmentKind.choices, empty_label="Any", label="Environment kind"
    )

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        status = self.form.cleaned_data.get("status") or ""
        return self.by_status(queryset, status)


class ChangeWindowFilter(_RuleFilter):
    kind = django_filters.ChoiceFilter(
        choices=ChangeWindow.Kind.choices, empty_label="Allow or deny", label="Allow or deny"
    )
    status = django_filters.ChoiceFilter(
        choices=[("inactive", "Inactive"), ("deleted", "Deleted"), ("all", "All, deleted too")],
        empty_label="In force",
        method=lambda queryset, name, value: queryset,  # by_status, also when not given
        label="Status",
    )

    class Meta:
        model = ChangeWindow
        fields: list[str] = []

    @staticmethod
    def by_status(queryset: QuerySet, status: str) -> QuerySet:
        if status == "all":
            return queryset
        if status == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset.filter(deleted_at__isnull=True, is_active=status != "inactive")


class FreezeFilter(_RuleFilter):
    recurring = django_filters.BooleanFilter(
        method="filter_recurring",
        label="Recurring",
        widget=forms.Select(
            choices=[("", "One-off or recurring"), ("true", "Recurring"), ("false", "One-off")]
        ),
    )
    status = django_filters.ChoiceFilter(
        choices=[("deleted", "Deleted"), ("all", "All, deleted too")],
        empty_label="Not deleted",
        method=lambda queryset, name, value: queryset,  # by_status, also when not given
        label="Status",
    )

    class Meta:
        model = Freeze
        fields: list[str] = []

    def filter_recurring(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(rrule="") if value else queryset.filter(rrule="")

    @staticmethod
    def by_status(queryset: QuerySet, status: str) -> QuerySet:
        if status == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=status != "deleted")
