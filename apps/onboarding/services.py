"""The wizard's writes: its draft (the user's own scratch data, so not audited) and the service
it finally creates through the catalog, which audits that.

The checks run through catalog's service_preview outside any transaction of ours on purpose: a
preview ends by taking the audit chain's lock, and that lock is held until the outermost
transaction ends.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import Team, User
from apps.catalog.models import GoldenPathTemplate, Service, System
from apps.catalog.services import service_create, service_preview
from apps.onboarding import wizard_steps
from apps.onboarding.models import OnboardingDraft, Step

# Keys of a step's values that name a row in another table, and which table.
_RELATED = {"owner": Team, "system": System, "template": GoldenPathTemplate}


def service_arguments(data: dict) -> dict:
    """service_create's keyword arguments from a draft's values. A step not filled in yet adds
    nothing, so the catalog's defaults stand in for it."""
    arguments: dict = {}
    for step in wizard_steps.FORM_STEPS:
        arguments.update(data.get(step, {}))
    for field, model in _RELATED.items():
        if field in arguments:
            pk = arguments[field]
            arguments[field] = model._default_manager.filter(pk=pk).first() if pk else None
    arguments.setdefault("name", "")
    arguments.setdefault("owner", None)
    return arguments


def onboarding_preview(*, actor: User, data: dict) -> dict:
    """What the wizard would create: manifests, catalog-info.yaml, environments. Raises the
    catalog's ValidationError."""
    return service_preview(actor=actor, **service_arguments(data))


def onboarding_errors(*, actor: User, data: dict, up_to: Step) -> wizard_steps.StepErrors:
    """The catalog's objections to the values so far, for this step and the ones before it
    (later steps still hold defaults, and get their turn)."""
    try:
        onboarding_preview(actor=actor, data=data)
    except ValidationError as exc:
        found = wizard_steps.errors_by_step(exc)
        return {
            s: e
            for s, e in found.items()
            if wizard_steps.position(s) <= wizard_steps.position(up_to)
        }
    return {}


def _draft_save(*, actor: User, data: dict, step: Step) -> OnboardingDraft:
    draft, _ = OnboardingDraft.objects.update_or_create(
        user=actor, defaults={"data": data, "step": step}
    )
    return draft


def draft_step_submit(
    *, actor: User, step: Step, values: dict
) -> tuple[OnboardingDraft, wizard_steps.StepErrors]:
    """Keep a step's cleaned values and move on to the next step; where the catalog objects to
    this step or an earlier one, the draft stops at the first step with an error instead."""
    draft = OnboardingDraft.objects.filter(user=actor).first()
    data = _without_left(draft.data if draft else {}, step)
    data[step] = values
    errors = onboarding_errors(actor=actor, data=data, up_to=step)
    if errors:
        resume_at = wizard_steps.first_step_with_errors(errors)
    else:  # the next step, unless an earlier one was skipped (by a hand-made request)
        resume_at = min(
            wizard_steps.next_step(step),
            wizard_steps.first_open_step(data),
            key=wizard_steps.position,
        )
    return _draft_save(actor=actor, data=data, step=resume_at), errors


def draft_step_leave(
    *, actor: User, step: Step, values: dict | None, typed: dict
) -> OnboardingDraft:
    """Back: the step's checked `values` are kept as Next keeps them; a step not valid yet keeps
    what was `typed`, shown again when the user comes back. Nothing is checked against the
    catalog until Next."""
    draft = OnboardingDraft.objects.filter(user=actor).first()
    data = _without_left(draft.data if draft else {}, step)
    if values is not None:
        data[step] = values
    else:
        data[wizard_steps.LEFT_KEY] = {**data.get(wizard_steps.LEFT_KEY, {}), step: typed}
    back_to = wizard_steps.previous_step(step) or step
    return _draft_save(actor=actor, data=data, step=back_to)


def _without_left(data: dict, step: Step) -> dict:
    """The draft's data without what `step` left typed (it is being saved again now)."""
    left = {s: typed for s, typed in data.get(wizard_steps.LEFT_KEY, {}).items() if s != step}
    data = {key: value for key, value in data.items() if key != wizard_steps.LEFT_KEY}
    return {**data, wizard_steps.LEFT_KEY: left} if left else data


def draft_discard(*, actor: User) -> None:
    OnboardingDraft.objects.filter(user=actor).delete()


def onboarding_complete(*, actor: User, draft: OnboardingDraft) -> Service:
    """Create the service from the draft and drop the draft, in one transaction. On a catalog
    error the draft resumes at the step that owns the field, and the error is raised."""
    try:
        with transaction.atomic():
            service = service_create(actor=actor, **service_arguments(draft.data))
            draft.delete()
    except ValidationError as exc:
        draft.step = wizard_steps.first_step_with_errors(wizard_steps.errors_by_step(exc))
        draft.save(update_fields=["step", "updated_at"])
        raise
    return service
