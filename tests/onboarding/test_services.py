import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEvent
from apps.catalog import services as catalog
from apps.catalog.models import Service
from apps.onboarding import services, wizard_steps
from apps.onboarding.forms import STEP_FORMS
from apps.onboarding.models import OnboardingDraft, Step

pytestmark = pytest.mark.django_db


@pytest.fixture
def values(developer, answers):
    """The cleaned values of every step, as the draft keeps them."""
    cleaned = {}
    for step, posted in answers.items():
        form = STEP_FORMS[step](posted, user=developer)
        assert form.is_valid(), form.errors
        cleaned[step] = form.values()
    return cleaned


def test_errors_land_on_the_step_that_owns_the_field():
    error = ValidationError(
        {
            "pdb_min_available": "Too many.",
            "name": "Taken.",
            "links": "Bad link.",
            "strategy_params": "No 100.",
            "manifests": "Invalid Deployment.",
            "depends_on": "Not asked for.",
        }
    )
    assert wizard_steps.errors_by_step(error) == {
        Step.BASICS: {"name": ["Taken."]},
        Step.RUNTIME: {"pdb_min_available": ["Too many."], "manifests": ["Invalid Deployment."]},
        Step.DELIVERY: {"strategy_params": ["No 100."]},
        Step.OPERATIONS: {"links": ["Bad link."]},
        Step.REVIEW: {"depends_on": ["Not asked for."]},
    }
    assert wizard_steps.errors_by_step(ValidationError("Broken.")) == {
        Step.REVIEW: {"__all__": ["Broken."]}
    }


def test_the_service_arguments_hold_only_the_steps_filled_in(values, payments, python_web):
    values["runtime"]["template"] = python_web.pk
    arguments = services.service_arguments({"basics": values["basics"]})
    assert arguments["owner"] == payments
    assert arguments["system"] is None
    assert "replicas" not in arguments and "environments" not in arguments

    arguments = services.service_arguments(values)
    assert arguments["template"] == python_web
    assert arguments["replicas"] == 3
    assert arguments["environments"][1]["namespace"] == "ledger-live"


def test_a_step_submit_keeps_the_values_and_moves_on(developer, values):
    draft, errors = services.draft_step_submit(
        actor=developer, step=Step.BASICS, values=values["basics"]
    )
    assert errors == {}
    assert draft.step == Step.RUNTIME
    assert OnboardingDraft.objects.get(user=developer).data == {"basics": values["basics"]}
    assert not AuditEvent.objects.exists()  # a draft is the user's own scratch data


def test_a_catalog_error_in_this_step_stops_the_draft_here(developer, values):
    services.draft_step_submit(actor=developer, step=Step.BASICS, values=values["basics"])
    runtime = {**values["runtime"], "replicas": 3, "autoscale_max": 2}
    draft, errors = services.draft_step_submit(actor=developer, step=Step.RUNTIME, values=runtime)
    assert errors == {
        Step.RUNTIME: {"autoscale_max": ["The autoscaling maximum must be at least the replicas."]}
    }
    assert draft.step == Step.RUNTIME
    assert draft.data["runtime"] == runtime  # kept, to correct


def test_an_error_about_a_later_step_waits_for_that_step(developer, values):
    twice = [values["delivery"]["environments"][0]] * 2
    OnboardingDraft.objects.create(
        user=developer, data={"delivery": {**values["delivery"], "environments": twice}}
    )
    draft, errors = services.draft_step_submit(
        actor=developer, step=Step.BASICS, values=values["basics"]
    )
    assert errors == {}
    assert draft.step == Step.RUNTIME


def test_completing_creates_the_service_audits_it_and_drops_the_draft(developer, values, payments):
    draft = OnboardingDraft.objects.create(user=developer, data=values, step=Step.REVIEW)
    service = services.onboarding_complete(actor=developer, draft=draft)

    assert service.owner == payments and service.strategy == "canary"
    assert list(service.environments.values_list("name", flat=True)) == ["staging", "prod"]
    assert AuditEvent.objects.get(action="service.create").target_id == str(service.pk)
    assert not OnboardingDraft.objects.exists()


def test_a_catalog_error_on_completing_keeps_the_draft_at_the_owning_step(
    developer, other_developer, search, values
):
    draft = OnboardingDraft.objects.create(user=developer, data=values, step=Step.REVIEW)
    catalog.service_create(actor=other_developer, name="ledger", owner=search)

    with pytest.raises(ValidationError) as raised:
        services.onboarding_complete(actor=developer, draft=draft)

    assert "name" in raised.value.message_dict
    assert OnboardingDraft.objects.get(user=developer).step == Step.BASICS
    assert Service.objects.get().owner == search
    assert AuditEvent.objects.filter(action="service.create").count() == 1


def test_discarding_removes_only_the_users_own_draft(developer, other_developer):
    OnboardingDraft.objects.create(user=developer, data={})
    OnboardingDraft.objects.create(user=other_developer, data={})
    services.draft_discard(actor=developer)
    assert list(OnboardingDraft.objects.values_list("user__username", flat=True)) == ["sam"]
