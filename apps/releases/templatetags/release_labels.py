from django import template

from apps.releases.models import ChangeType, ReleaseState

register = template.Library()


@register.filter
def state_label(value: str) -> str:
    """A release state's label ("Rolled back") for its stored value ("rolled_back")."""
    return ReleaseState(value).label if value in ReleaseState.values else value


@register.filter
def change_type_label(value: str) -> str:
    return ChangeType(value).label if value in ChangeType.values else value
