from django import template

from apps.rollouts.models import RolloutState, StepState

register = template.Library()


@register.filter
def rollout_state_label(value: str) -> str:
    """A rollout state's label ("Rolled back") for its stored value ("rolled_back")."""
    return RolloutState(value).label if value in RolloutState.values else value


@register.filter
def step_state_label(value: str) -> str:
    return StepState(value).label if value in StepState.values else value
