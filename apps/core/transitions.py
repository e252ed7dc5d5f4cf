"""What every stateful object's transitions module shares: refusing a move its edge table
does not have, in the same words for releases, rollouts and trains."""

from typing import Any

from django.core.exceptions import ValidationError


class IllegalTransition(ValidationError):
    pass


def require_edge(obj: Any, allowed: dict, to_state: str) -> None:
    """Refuse moving `obj` (a model with a `state` field of choices) to `to_state` unless
    `allowed[obj.state]` has it."""
    if to_state not in allowed[obj.state]:
        labels = dict(obj._meta.get_field("state").choices or ())
        raise IllegalTransition(
            f"A {obj._meta.verbose_name} that is {labels[obj.state].lower()} cannot become "
            f"{labels[to_state].lower()}."
        )
