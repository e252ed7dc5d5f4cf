"""Runway's main pages, each with the demo persona who uses it: the one list that the
accessibility and phone sweeps walk (tests/browser/test_accessibility.py, test_phone.py).

The pages are those of the demo organisation (`manage.py seed_demo`), which the `demo_site`
fixture loads once per module; `demo_extras` adds what the demo leaves empty (an onboarding draft
to walk through, a canary under way, an API token, a webhook source with an unmatched delivery).
Paths that name a row are looked up when a test runs: primary keys differ from load to load.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import api_token_create
from apps.catalog.models import GoldenPathTemplate, Service
from apps.insights.models import DeliveryStatus, WebhookDelivery
from apps.insights.services.sources import webhook_source_create
from apps.onboarding import services as onboarding
from apps.onboarding.forms import STEP_FORMS
from apps.onboarding.models import Step
from apps.releases.models import ChangeWindow, Freeze, Release, ReleaseState
from apps.rollouts.models import ACTIVE_STATES, Rollout
from apps.trains.models import Train
from tests.rollouts.builders import rollout_row

# The demo's sign-ins (apps/demo/world.py): one persona per role.
DEVELOPER, RELEASE_MANAGER, LEADERSHIP, ADMIN = "dev", "rm", "lead", "admin"
ANONYMOUS = ""


@dataclass(frozen=True)
class MainPage:
    name: str
    persona: str
    where: str | Callable[[], str]

    @property
    def path(self) -> str:
        return self.where() if callable(self.where) else self.where

    def __str__(self) -> str:
        return self.name


def _release(title: str) -> Callable[[], str]:
    def path() -> str:
        return f"/releases/{Release.objects.get(title=title).pk}/"

    return path


def _train(name: str) -> Callable[[], str]:
    def path() -> str:
        return f"/trains/{Train.objects.get(name=name).pk}/"

    return path


def _train_member() -> str:
    release = Release.objects.get(
        train_membership__train__name="Payments spring release", service__name="ledger"
    )
    return f"/releases/{release.pk}/"


def _evidence() -> str:
    release = Release.objects.filter(state=ReleaseState.SUCCEEDED).latest("planned_start")
    return f"/releases/{release.pk}/evidence/"


def _rollout(*, running: bool) -> Callable[[], str]:
    def path() -> str:
        active = Rollout.objects.filter(state__in=ACTIVE_STATES)
        rollouts = active if running else Rollout.objects.exclude(pk__in=active)
        return f"/rollouts/{rollouts.latest('pk').pk}/"

    return path


def _window(suffix: str = "") -> Callable[[], str]:
    def path() -> str:
        window = ChangeWindow.objects.get(name="Production office hours")
        return f"/releases/change-calendar/windows/{window.pk}/{suffix}"

    return path


def _freeze(suffix: str = "") -> Callable[[], str]:
    def path() -> str:
        freeze = Freeze.objects.get(name="Year-end freeze")
        return f"/releases/change-calendar/freezes/{freeze.pk}/{suffix}"

    return path


def _calendar(view: str) -> Callable[[], str]:
    # The month of the year-end freeze: it has releases, a freeze and the window's weekdays.
    def path() -> str:
        return f"/releases/calendar/?view={view}&date={timezone.now().year}-12-18"

    return path


MAIN_PAGES: tuple[MainPage, ...] = (
    MainPage("sign-in", ANONYMOUS, "/accounts/login/"),
    MainPage("home", DEVELOPER, "/"),
    MainPage("home-release-manager", RELEASE_MANAGER, "/"),
    MainPage("catalog", DEVELOPER, "/catalog/"),
    MainPage("service", DEVELOPER, "/catalog/services/payments-api/"),
    MainPage("service-edit", DEVELOPER, "/catalog/services/payments-api/edit/"),
    MainPage(
        "environment-edit", DEVELOPER, "/catalog/services/payments-api/environments/prod/edit/"
    ),
    MainPage(
        "environment-rings", DEVELOPER, "/rollouts/services/search-api/environments/prod/rings/"
    ),
    MainPage("catalog-import", ADMIN, "/catalog/import/"),
    MainPage("onboarding-basics", DEVELOPER, "/onboard/steps/basics/"),
    MainPage("onboarding-runtime", DEVELOPER, "/onboard/steps/runtime/"),
    MainPage("onboarding-delivery", DEVELOPER, "/onboard/steps/delivery/"),
    MainPage("onboarding-operations", DEVELOPER, "/onboard/steps/operations/"),
    MainPage("onboarding-review", DEVELOPER, "/onboard/steps/review/"),
    MainPage("releases", DEVELOPER, "/releases/"),
    MainPage("release-new", DEVELOPER, "/releases/new/"),
    MainPage("release-pending", RELEASE_MANAGER, _release("Search relevance tuning")),
    MainPage("release-draft", DEVELOPER, _release("New checkout layout")),
    MainPage("release-train-member", DEVELOPER, _train_member),
    MainPage("release-evidence", LEADERSHIP, _evidence),
    MainPage("evidence-export", LEADERSHIP, "/releases/evidence/"),
    MainPage("inbox", RELEASE_MANAGER, "/releases/inbox/"),
    MainPage("calendar-month", DEVELOPER, _calendar("month")),
    MainPage("calendar-week", DEVELOPER, _calendar("week")),
    MainPage("calendar-list", DEVELOPER, _calendar("agenda")),
    MainPage("windows", RELEASE_MANAGER, "/releases/change-calendar/windows/"),
    MainPage("window-new", RELEASE_MANAGER, "/releases/change-calendar/windows/new/"),
    MainPage("window", RELEASE_MANAGER, _window()),
    MainPage("window-edit", RELEASE_MANAGER, _window("edit/")),
    MainPage("freezes", RELEASE_MANAGER, "/releases/change-calendar/freezes/"),
    MainPage("freeze-new", RELEASE_MANAGER, "/releases/change-calendar/freezes/new/"),
    MainPage("freeze", RELEASE_MANAGER, _freeze()),
    MainPage("freeze-edit", RELEASE_MANAGER, _freeze("edit/")),
    MainPage("trains", DEVELOPER, "/trains/"),
    MainPage("train-new", DEVELOPER, "/trains/new/"),
    MainPage("train-approved", DEVELOPER, _train("Payments spring release")),
    MainPage("train-pending", RELEASE_MANAGER, _train("Search stack 2.4")),
    MainPage("rollouts", DEVELOPER, "/rollouts/"),
    MainPage("rollout-running", DEVELOPER, _rollout(running=True)),
    MainPage("rollout-finished", DEVELOPER, _rollout(running=False)),
    MainPage("reports", LEADERSHIP, "/reports/"),
    MainPage("report-team", LEADERSHIP, "/reports/teams/payments/"),
    MainPage("report-service", LEADERSHIP, "/reports/services/payments-api/"),
    MainPage("scorecard-rules", ADMIN, "/reports/scorecards/rules/"),
    MainPage("audit-log", ADMIN, "/audit/"),
    MainPage("webhooks", ADMIN, "/reports/webhooks/"),
    MainPage("teams", ADMIN, "/teams/"),
    MainPage("team", ADMIN, "/teams/payments/"),
    MainPage("team-edit", ADMIN, "/teams/payments/edit/"),
    MainPage("people", ADMIN, "/people/"),
    MainPage("trust", ADMIN, "/supply-chain/"),
    MainPage("trust-policy-new", ADMIN, "/supply-chain/policies/new/"),
    MainPage("profile-and-tokens", DEVELOPER, "/profile/"),
)

# A new service's answers, step by step, as the wizard's forms take them.
ONBOARDING_ANSWERS = {
    "basics": {
        "name": "billing",
        "title": "Billing",
        "description": "Sends the invoices.",
        "owner": None,  # the developer's team
        "system": "",
        "type": "service",
        "tier": "2",
        "lifecycle": "production",
        "repository_url": "https://git.example.com/payments/billing",
        "tags": "python, money",
    },
    "runtime": {
        "template": "",
        "image": "registry.example.com/payments/billing:1.0.0",
        "container_port": "8080",
        "replicas": "3",
        "cpu": "250m",
        "memory": "256Mi",
        "health_path": "/healthz",
        "autoscale_max": "6",
        "pdb_min_available": "2",
    },
    "delivery": {
        "strategy": "canary",
        "canary-TOTAL_FORMS": "3",
        "canary-INITIAL_FORMS": "3",
        "canary-0-type": "set_weight",
        "canary-0-value": "10",
        "canary-1-type": "analysis",
        "canary-1-value": "http-smoke",
        "canary-2-type": "set_weight",
        "canary-2-value": "100",
        "environments-TOTAL_FORMS": "2",
        "environments-INITIAL_FORMS": "2",
        "environments-0-name": "staging",
        "environments-0-kind": "staging",
        "environments-0-replicas": "1",
        "environments-0-namespace": "",
        "environments-1-name": "prod",
        "environments-1-kind": "production",
        "environments-1-replicas": "3",
        "environments-1-namespace": "",
    },
    "operations": {
        "runbook_url": "https://wiki.example.com/billing/runbook",
        "on_call": "#payments-oncall",
        "links-TOTAL_FORMS": "1",
        "links-INITIAL_FORMS": "1",
        "links-0-title": "Dashboard",
        "links-0-url": "https://grafana.example.com/d/billing",
    },
}


def demo_extras() -> None:
    """What the main pages show beyond the demo: the developer's onboarding draft up to its
    review (on the golden path), a canary under way, an API token, and a webhook source with a
    delivery no service matched yet."""
    developer, admin = (User.objects.get(username=name) for name in (DEVELOPER, ADMIN))
    for step, answers in ONBOARDING_ANSWERS.items():
        if step == "basics":
            answers = {**answers, "owner": str(developer.teams.get(slug="payments").pk)}
        if step == "runtime":  # on the golden path: the review shows its CI pipelines too
            golden_path = GoldenPathTemplate.objects.get(is_default=True)
            answers = {**answers, "template": str(golden_path.pk)}
        form = STEP_FORMS[Step(step)](answers, user=developer)
        assert form.is_valid(), (step, form.errors)
        _, errors = onboarding.draft_step_submit(
            actor=developer, step=Step(step), values=form.values()
        )
        assert not errors, (step, errors)
    payments_api = Service.objects.get(name="payments-api")
    rollout_row(
        service=payments_api,
        environment=payments_api.environments.get(name="prod"),
        requester=developer,
        version="registry.example.com/payments/payments-api:1.2.0",
    )
    api_token_create(actor=developer, name="Laptop CLI", expires_in_days=90)
    source, _ = webhook_source_create(actor=admin, name="Deploy bot", kind="generic")
    WebhookDelivery.objects.create(
        source=source,
        delivery_id="demo-1",
        event="deployment",
        status=DeliveryStatus.UNMATCHED,
        subject="deploy of acme/billing-worker to production",
        occurred_at=timezone.now(),
        match_kind="repository",
        match_key="github.com/acme/billing-worker",
    )
