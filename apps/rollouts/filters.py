import django_filters

from apps.rollouts.models import Rollout, RolloutState


class RolloutFilter(django_filters.FilterSet):
    """One filter for the rollouts page and the rollouts API."""

    state = django_filters.MultipleChoiceFilter(choices=RolloutState.choices)
    service = django_filters.CharFilter(field_name="service__name", label="Service")
    environment = django_filters.CharFilter(field_name="environment__name", label="Environment")
    release = django_filters.NumberFilter(field_name="release_id", label="Release", min_value=1)

    class Meta:
        model = Rollout
        fields: list[str] = []
