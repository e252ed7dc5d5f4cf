"""What the wizard panel shows: one step with its form (or the review), and the progress."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from apps.onboarding import services, wizard_steps
from apps.onboarding.forms import StepForm, form_for_draft
from apps.onboarding.models import OnboardingDraft, Step


@dataclass
class WizardPanel:
    step: Step
    data: dict
    has_draft: bool
    form: StepForm | None = None
    preview: dict | None = None
    errors: list[str] = field(default_factory=list)
    # After moving to a step, focus (and scroll to) its heading; a redraw keeps focus in place.
    focus_heading: bool = True

    @property
    def number(self) -> int:
        return wizard_steps.position(self.step) + 1

    @property
    def total(self) -> int:
        return len(wizard_steps.ORDER)

    @property
    def previous(self) -> Step | None:
        return wizard_steps.previous_step(self.step)

    @property
    def progress(self) -> list[dict]:
        furthest = wizard_steps.position(wizard_steps.first_open_step(self.data))
        return [
            {
                "step": step,
                "number": index + 1,
                "current": step == self.step,
                "done": step in self.data,
                "reachable": index <= furthest,
            }
            for index, step in enumerate(wizard_steps.ORDER)
        ]


def _data(draft: OnboardingDraft | None) -> dict:
    return draft.data if draft else {}


def _focus_first_error(form: StepForm) -> bool:
    """Put the cursor in the first field in error, so the user starts where the problem is."""
    name = next((name for name in form.errors if name in form.fields), None)
    if name is not None:
        form.fields[name].widget.attrs["autofocus"] = True
    return name is not None


def step_panel(*, user, draft: OnboardingDraft | None, step: Step) -> WizardPanel:
    """A step as the draft left it. A step the user has not reached yet opens the furthest one
    they have; the review shows the preview, or sends them to the step the catalog objects to."""
    data = _data(draft)
    if wizard_steps.position(step) > wizard_steps.position(wizard_steps.first_open_step(data)):
        step = wizard_steps.first_open_step(data)
    if step == Step.REVIEW:
        try:
            preview = services.onboarding_preview(actor=user, data=data)
        except ValidationError as exc:
            return error_panel(user=user, draft=draft, errors=wizard_steps.errors_by_step(exc))
        return WizardPanel(step=step, data=data, has_draft=True, preview=preview)
    form = form_for_draft(step, user=user, draft_data=data)
    return WizardPanel(step=step, data=data, has_draft=draft is not None, form=form)


def error_panel(
    *, user, draft: OnboardingDraft | None, errors: wizard_steps.StepErrors
) -> WizardPanel:
    """The first step the catalog's errors are about, its values checked, the errors in place."""
    data, step = _data(draft), wizard_steps.first_step_with_errors(errors)
    if step == Step.REVIEW:
        messages = [message for found in errors[step].values() for message in found]
        return WizardPanel(step=step, data=data, has_draft=True, errors=messages)
    form = form_for_draft(step, user=user, draft_data=data, bound=True)
    form.add_step_errors(errors[step])
    return WizardPanel(
        step=step,
        data=data,
        has_draft=draft is not None,
        form=form,
        focus_heading=not _focus_first_error(form),
    )


def form_panel(
    *, draft: OnboardingDraft | None, form: StepForm, redrawn: bool = False
) -> WizardPanel:
    """A form as the user posted it: with its errors, or redrawn after adding a row."""
    return WizardPanel(
        step=form.step,
        data=_data(draft),
        has_draft=draft is not None,
        form=form,
        focus_heading=not redrawn and not _focus_first_error(form),
    )
