"""What may be done with a version pin, after the shape of apps/releases/transitions.py: the
edges, the one function that locks the row, and `available_actions(pin, user)` that the pages,
the API and the services all read. A bad version has no transitions: marking is for good."""

from django.core.exceptions import ValidationError
from django.db import models

from apps.accounts import permissions
from apps.core.exceptions import Gone
from apps.releases.models import VersionPin


class PinState(models.TextChoices):
    IN_FORCE = "in_force", "In force"
    LIFTED = "lifted", "Lifted"


PIN_ACTIONS: dict[str, frozenset[str]] = {
    PinState.IN_FORCE: frozenset({"lift"}),
    PinState.LIFTED: frozenset(),
}
REFUSED = "Only the owning team, release managers and platform admins hold its versions."


def state_of(pin: VersionPin) -> str:
    return PinState.IN_FORCE if pin.in_force else PinState.LIFTED


def available_actions(pin: VersionPin, user) -> frozenset[str]:
    if not permissions.can_hold_versions(user, pin.environment.service):
        return frozenset()
    return PIN_ACTIONS[state_of(pin)]


def require_action(pin: VersionPin, user, action: str) -> None:
    """403 for who; a ValidationError naming the field when the pin's state refuses it."""
    permissions.require(permissions.can_hold_versions(user, pin.environment.service), REFUSED)
    if action not in PIN_ACTIONS[state_of(pin)]:
        raise ValidationError({"lifted_at": f"The pin to {pin.version} was already lifted."})


def lock_pin(pk: int) -> VersionPin:
    """The pin's row, locked for this transaction."""
    pin = VersionPin.objects.select_for_update().select_related("environment__service")
    found = pin.filter(pk=pk).first()
    if found is None:
        raise Gone("That pin does not exist.")
    return found
