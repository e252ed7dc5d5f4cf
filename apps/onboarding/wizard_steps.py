"""The wizard's steps in order, and which step owns each field of a service, so that an error
the catalog finds anywhere sends the user back to the step where that field is edited."""

from collections.abc import Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from apps.onboarding.models import Step

ORDER: tuple[Step, ...] = tuple(Step)
# Steps with a form; the review step only shows what the others made.
FORM_STEPS: tuple[Step, ...] = ORDER[:-1]

STEP_FIELDS: dict[Step, tuple[str, ...]] = {
    Step.BASICS: (
        "name", "title", "description", "owner", "system", "type", "tier", "lifecycle",
        "language", "repository_url", "tags",
    ),
    Step.RUNTIME: (
        "template", "image", "container_port", "replicas", "cpu", "memory", "health_path",
        "autoscale_max", "pdb_min_available", "manifests",
    ),
    Step.DELIVERY: ("strategy", "strategy_params", "environments"),
    Step.OPERATIONS: ("runbook_url", "on_call", "links"),
}  # fmt: skip
FIELD_STEP: dict[str, Step] = {
    field: step for step, fields in STEP_FIELDS.items() for field in fields
}

StepErrors = dict[Step, dict[str, list[str]]]

# A draft's data: {step: its checked values} and, under this key, {step: what was typed} for a
# step left with Back before it was valid, so coming back to it shows what was typed.
LEFT_KEY = "left"


def position(step: str) -> int:
    return ORDER.index(Step(step))


def next_step(step: str) -> Step:
    return ORDER[min(position(step) + 1, len(ORDER) - 1)]


def previous_step(step: str) -> Step | None:
    return ORDER[position(step) - 1] if position(step) > 0 else None


def first_open_step(data: dict) -> Step:
    """The first step without saved values: the furthest the user may go."""
    return next((step for step in FORM_STEPS if step not in data), Step.REVIEW)


def errors_by_step(error: ValidationError) -> StepErrors:
    """A service's ValidationError sorted by the step owning each field, in step order. What no
    step owns (non-field errors, fields the wizard does not ask for) shows on the review step."""
    items: Iterable[tuple[str, list[str]]]
    if hasattr(error, "error_dict"):
        items = error.message_dict.items()
    else:
        items = [(NON_FIELD_ERRORS, error.messages)]
    by_step: StepErrors = {}
    for field, messages in items:
        by_step.setdefault(FIELD_STEP.get(field, Step.REVIEW), {})[field] = list(messages)
    return dict(sorted(by_step.items(), key=lambda item: position(item[0])))


def first_step_with_errors(errors: StepErrors) -> Step:
    return next(iter(errors))
