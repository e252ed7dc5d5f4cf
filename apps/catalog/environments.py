"""Changing an environment's delivery settings after its service was created: how many replicas
run there, how long a version soaks, whether Runway promotes from it by itself, and the cluster
it deploys to. Its name, namespace, order and kind stay as they were made: they name what
already runs there (Deployments in that namespace, releases and pins of that environment, its
place in the promotion order).

A rollout runs with the cluster and replicas its environment had when it started; changing them
under it would leave the rollout and the environment disagreeing about where and how big the
service runs. The rollouts app says whether one is active (the catalog imports no rollout): it
registers a guard from its AppConfig.ready(), and a change the guard refuses is a Conflict."""

from collections.abc import Callable, Collection

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import User
from apps.audit.services import audit_record, snapshot
from apps.catalog.models import Environment
from apps.catalog.services import _require_editor
from apps.core.exceptions import Conflict, Gone

EDITABLE_ENVIRONMENT_FIELDS = ("replicas", "soak_seconds", "auto_promote", "cluster")
# What a rollout took from its environment when it started (apps/rollouts/services.py).
ROLLOUT_BOUND_FIELDS = ("cluster", "replicas")

# Why `fields` of `environment` may not change now ("" when they may).
ChangeGuard = Callable[[Environment, Collection[str]], str]
_guards: list[ChangeGuard] = []


def register_change_guard(guard: ChangeGuard) -> None:
    if guard not in _guards:
        _guards.append(guard)


def environment_snapshot(environment: Environment) -> dict:
    return snapshot(environment, EDITABLE_ENVIRONMENT_FIELDS)


def _lock(environment: Environment) -> Environment:
    """The environment's row, locked for this transaction (FOR UPDATE: a rollout starting there
    inserts a row referring to it, which waits until we commit); Gone (404) if it was deleted."""
    locked = (
        Environment.objects.select_for_update(of=("self",))
        .select_related("service", "cluster")
        .filter(pk=environment.pk)
        .first()
    )
    if locked is None:
        raise Gone(f"Environment {environment.name} was deleted meanwhile.")
    return locked


@transaction.atomic
def environment_update(*, actor: User, environment: Environment, **changes) -> Environment:
    """Change any of EDITABLE_ENVIRONMENT_FIELDS, by the service's editors: one transaction, one
    audit row with the fields that changed (none for an edit that changes nothing). The cluster
    and replicas do not change while a rollout to the environment is active (a Conflict)."""
    unknown = set(changes) - set(EDITABLE_ENVIRONMENT_FIELDS)
    if unknown:
        raise ValidationError({field: "This field cannot be changed here." for field in unknown})
    environment = _lock(environment)
    _require_editor(actor, environment.service)
    before = environment_snapshot(environment)
    for field, value in changes.items():
        setattr(environment, field, value)
    environment.full_clean()
    after = environment_snapshot(environment)
    changed = [field for field in EDITABLE_ENVIRONMENT_FIELDS if after[field] != before[field]]
    if not changed:
        return environment
    bound = [field for field in changed if field in ROLLOUT_BOUND_FIELDS]
    for guard in _guards if bound else ():
        refusal = guard(environment, bound)
        if refusal:
            raise Conflict({bound[0]: refusal})
    environment.save(update_fields=changed)
    # On the service, whose page shows its audit trail, labelled with the environment.
    audit_record(
        actor=actor,
        action="environment.update",
        target=environment.service,
        target_label=str(environment),
        before={field: before[field] for field in changed},
        after={field: after[field] for field in changed},
    )
    return environment
