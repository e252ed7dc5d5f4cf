"""Pin an environment to a version, lift the pin, mark a version bad: each one transaction
with its audit row."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import User
from apps.audit.services import audit_record
from apps.catalog.models import Environment, Service
from apps.core.exceptions import Conflict
from apps.releases.models import BadVersion, VersionPin
from apps.releases.versions.transitions import REFUSED, lock_pin, require_action

MIN_REASON = 10


def _check(version: str, reason: str) -> tuple[str, str]:
    version, reason = version.strip(), reason.strip()
    errors = {}
    if not version:
        errors["version"] = "Name the version: the image reference its releases use."
    if len(reason) < MIN_REASON:
        errors["reason"] = f"Say why, in {MIN_REASON} characters or more: others will read it."
    if errors:
        raise ValidationError(errors)
    return version, reason


@transaction.atomic
def version_mark_bad(*, actor: User, service: Service, version: str, reason: str) -> BadVersion:
    """Never release `version` of `service` again. For good: there is no unmarking, a fixed
    build is a new version."""
    permissions.require(permissions.can_hold_versions(actor, service), REFUSED)
    version, reason = _check(version, reason)
    try:
        with transaction.atomic():
            bad = BadVersion.objects.create(
                service=service, version=version, reason=reason, marked_by=actor
            )
    except IntegrityError:
        raise Conflict({"version": f"{version} is already marked bad."}) from None
    audit_record(
        actor=actor,
        action="version.mark_bad",
        target=service,
        after={"version": version, "reason": reason},
    )
    return bad


@transaction.atomic
def version_pin(*, actor: User, environment: Environment, version: str, reason: str) -> VersionPin:
    """Hold `environment` at `version`: releases of any other version wait until it is lifted."""
    service = environment.service
    permissions.require(permissions.can_hold_versions(actor, service), REFUSED)
    version, reason = _check(version, reason)
    if BadVersion.objects.filter(service=service, version=version).exists():
        raise ValidationError({"version": f"{version} is marked bad: pin a good version."})
    # Lock the environment, so two pins at once make one and a clear refusal.
    Environment.objects.select_for_update().filter(pk=environment.pk).get()
    held = VersionPin.objects.filter(environment=environment, lifted_at__isnull=True).first()
    if held is not None:
        raise Conflict(
            {"environment": f"{environment.name} is already pinned to {held.version}: lift it."}
        )
    pin = VersionPin.objects.create(
        environment=environment, version=version, reason=reason, pinned_by=actor
    )
    # On the service, whose page shows its audit trail.
    audit_record(
        actor=actor,
        action="version.pin",
        target=service,
        after={"environment": environment.name, "version": version, "reason": reason},
    )
    return pin


@transaction.atomic
def version_unpin(*, actor: User, pin: VersionPin, reason: str) -> VersionPin:
    pin = lock_pin(pin.pk)
    require_action(pin, actor, "lift")
    reason = reason.strip()
    if len(reason) < MIN_REASON:
        raise ValidationError(
            {"reason": f"Say why the pin goes, in {MIN_REASON} characters or more."}
        )
    pin.lifted_at, pin.lifted_by, pin.lift_reason = timezone.now(), actor, reason
    pin.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    audit_record(
        actor=actor,
        action="version.unpin",
        target=pin.environment.service,
        before={"environment": pin.environment.name, "version": pin.version, "reason": pin.reason},
        after={"environment": pin.environment.name, "version": None, "reason": reason},
    )
    return pin
