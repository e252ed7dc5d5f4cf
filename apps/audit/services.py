import functools
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction

from apps.audit.chain import GENESIS, normalise_json, seal_mac, signing_key_id
from apps.audit.models import AuditEvent, AuditPending, AuditSeal
from apps.core.request_context import current_client_ip, current_request_id

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.accounts.models import User

_P = ParamSpec("_P")
_R = TypeVar("_R")

# One chain means one sealer at a time; audited writes themselves never take this lock.
_CHAIN_LOCK_KEY = 0x52554E574159  # "RUNWAY"
SEAL_BATCH = 200
MAX_SEAL_ROUNDS = 10

logger = logging.getLogger(__name__)


def audit_record(
    *,
    actor: "User | AnonymousUser | None",
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit log, inside the caller's transaction. It is sealed into
    the chain once that transaction commits: no lock is held while the caller works on.

    `actor` is a user or None for Runway itself. `target` names the object acted on; callers
    without a model instance pass target_type / target_id instead.
    """
    event = _event(actor, action, target, target_type, target_id, target_label, before, after)
    # No savepoint: an event that fails to write fails the caller's whole transaction.
    with transaction.atomic(savepoint=False):
        event.save()
        AuditPending.objects.create(event=event)
    _seal_once_after_commit()
    return event


def audit_records(
    *,
    actor: "User | AnonymousUser | None",
    action: str,
    targets: Sequence[tuple[models.Model, dict[str, Any] | None, dict[str, Any] | None]],
) -> list[AuditEvent]:
    """audit_record for many targets at once, each (target, before, after): one event each,
    written in two queries whatever their number."""
    events = [
        _event(actor, action, target, "", "", "", before, after)
        for target, before, after in targets
    ]
    if not events:
        return []
    with transaction.atomic(savepoint=False):
        # The log's own writer: its queryset refuses bulk writes to everyone else.
        models.QuerySet.bulk_create(AuditEvent.objects.all(), events)
        AuditPending.objects.bulk_create(AuditPending(event=event) for event in events)
    _seal_once_after_commit()
    return events


def _event(actor, action, target, target_type, target_id, target_label, before, after):
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
        target_label = target_label or str(target)[:255]
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent(
        actor=user,
        actor_label=user.get_username() if user is not None else "runway",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        before=normalise_json(before),
        after=normalise_json(after),
        request_id=current_request_id() or "",
        ip=current_client_ip(),
    )


def state_change(from_state: str, to_state: str, reason: str = "") -> tuple[dict, dict]:
    """The before and after of a transition's audit event: the states, and why if said."""
    return {"state": from_state}, {"state": to_state, **({"reason": reason} if reason else {})}


def audit_state_changes(
    *,
    actor: "User | None",
    action: str,
    targets: Sequence[models.Model],
    before: dict[int, str],
    to_state: str,
    reasons: dict[int, str],
) -> list[AuditEvent]:
    """audit_records for a bulk transition: each target moved from `before[pk]` to `to_state`,
    with its reason if it has one."""
    return audit_records(
        actor=actor,
        action=action,
        targets=[
            (target, *state_change(before[target.pk], to_state, reasons.get(target.pk, "")))
            for target in targets
        ],
    )


def _seal_once_after_commit() -> None:
    """After the outermost commit, once however many events the transaction recorded; beat's
    audit.seal picks up what a crash leaves pending."""
    hooks = transaction.get_connection().run_on_commit  # Django's (savepoint ids, hook, robust)
    if not any(hook is _seal_after_commit for _ids, hook, _robust in hooks):
        transaction.on_commit(_seal_after_commit)


def _seal_after_commit() -> None:
    try:
        _seal_unless_busy()
    except Exception:  # the caller's change is committed; beat seals what is left
        logger.exception("audit sealing after commit failed")


def _seal_unless_busy() -> None:
    """Seal without waiting for another sealer: a commit never queues behind the chain's lock.
    Whoever finds the lock taken leaves its events to the holder, and every holder looks for
    pending events again after letting go. The skipped events committed before the holder let
    go, so that look (or a sealer that took the lock since, and reads after taking it) sees
    them. A holder works at most MAX_SEAL_ROUNDS rounds; under a flood beyond that, beat's
    audit.seal takes over."""
    for _round in range(MAX_SEAL_ROUNDS):
        try:
            count = _seal_round(SEAL_BATCH, wait=False)
        except IntegrityError:
            return  # SQLite: another sealer took the same numbers first; it looks again after
        if count is None or (count < SEAL_BATCH and not AuditPending.objects.exists()):
            return


def audit_seal(*, batch: int = SEAL_BATCH) -> int:
    """Seal every committed event not sealed yet and return how many. Each round is one short
    transaction under the chain's lock, so seals follow commits closely."""
    sealed, looks = 0, 0
    while True:
        try:
            count = _seal_round(batch) or 0
        except IntegrityError:
            return sealed  # another sealer took the same numbers first (SQLite); it goes on
        sealed += count
        if count == batch:
            continue
        # As a holder of the lock, look again for events left to it (see _seal_unless_busy).
        if looks == MAX_SEAL_ROUNDS or not AuditPending.objects.exists():
            return sealed
        looks += 1


@transaction.atomic
def _seal_round(batch: int, *, wait: bool = True) -> int | None:
    """Seal up to `batch` pending events under the chain's lock; None when `wait` is off and
    another sealer holds the lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
            else:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
                if not cursor.fetchone()[0]:
                    return None
    pending = list(AuditPending.objects.select_related("event").order_by("event_id")[:batch])
    if not pending:
        return 0
    head = AuditSeal.objects.order_by("-seq").only("seq", "mac").first()
    seq, prev_mac = (head.seq, head.mac) if head else (0, GENESIS)
    key_id = signing_key_id()
    seals = []
    for row in pending:
        seq += 1
        mac = seal_mac(row.event, seq=seq, prev_mac=prev_mac, key_id=key_id)
        seals.append(AuditSeal(seq=seq, event=row.event, key_id=key_id, prev_mac=prev_mac, mac=mac))
        prev_mac = mac
    # One insert for the round (a train's batch of starts seals a few hundred events at once),
    # past the append-only queryset's refusal, as audit_records writes events.
    models.QuerySet.bulk_create(AuditSeal.objects.all(), seals)
    AuditPending.objects.filter(event_id__in=[row.event_id for row in pending]).delete()
    return len(pending)


def snapshot(instance: models.Model, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The named fields of an instance, for an event's before / after. Related objects are
    recorded by their name, as a person reading the log would know them."""

    def readable(value):
        return str(value) if isinstance(value, models.Model) else value

    return normalise_json({name: readable(getattr(instance, name)) for name in fields})


def audit_refusals(action: str, *, target: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Record a refused attempt at a service (a ValidationError or PermissionDenied: not allowed,
    not possible now) as `<action>.refused`, naming who, on what and why. The refused change
    rolled back with its own audit rows, so the refusal is written after it, in a transaction
    of its own; then the refusal goes on to the caller. `target` names the keyword argument
    that holds the object acted on."""

    def decorate(service: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(service)
        def attempt(*args: _P.args, **arguments: _P.kwargs) -> _R:
            try:
                return service(*args, **arguments)
            except (ValidationError, PermissionDenied) as refusal:
                actor = cast("User | None", arguments.get("actor"))
                # Runway's own attempts (the dispatcher's) are retried, not refused.
                if actor is None:
                    raise
                reasons = getattr(refusal, "messages", None) or [str(refusal) or "Not allowed."]
                with transaction.atomic():
                    audit_record(
                        actor=actor,
                        action=f"{action}.refused",
                        target=cast("models.Model | None", arguments.get(target)),
                        after={"reason": " ".join(reasons)[:1000]},
                    )
                raise

        return attempt

    return decorate
