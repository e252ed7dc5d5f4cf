"""The scorecard's rules, defined once: what each checks and how to pass it.

Which level a rule belongs to and whether it counts are data: a ScorecardRule row, written when
a platform admin changes the rule on the rules page. A rule without a row counts, at its
default level.

Each check is a plain predicate on ServiceFacts, which evaluation.py gathers for many services
at once; a check never queries the database.
"""

from collections.abc import Callable
from dataclasses import dataclass

from apps.catalog.models import Environment, Service, Strategy
from apps.insights.models import Level
from apps.releases.models import ApprovalPolicy, ChangeType, Release
from apps.releases.policies import applicable_policies
from apps.rollouts.plans import plan

WEEKS_OF_DEPLOYMENTS = 4
CHANGE_FAILURE_DAYS = 90
# DORA's elite and high performers stay under this.
MAX_CHANGE_FAILURE_RATE = 0.15


@dataclass(frozen=True)
class ServiceFacts:
    """What the rules look at for one service."""

    service: Service
    owner_has_members: bool
    open_emergency: bool
    production_environments: list[Environment]
    active_policies: list[ApprovalPolicy]
    template_version: int | None
    latest_template_version: int | None
    # Production deployments in each of the last WEEKS_OF_DEPLOYMENTS 7-day periods ending
    # today, newest first.
    weekly_production_deployments: tuple[int, ...]
    production_deployments: int  # over the last CHANGE_FAILURE_DAYS days
    production_failures: int
    # Whether the latest production release to start had its artifact's signature and SLSA
    # provenance verified (Release.artifact_verified); None with no production release started.
    latest_production_verified: bool | None = None


@dataclass(frozen=True)
class Rule:
    key: str
    title: str
    how_to_pass: str
    check: Callable[[ServiceFacts], bool]
    default_level: int


def _has_owner(facts: ServiceFacts) -> bool:
    # The owner is mandatory; a team nobody (active) belongs to is the real absence of an owner.
    return facts.owner_has_members


def _has_runbook(facts: ServiceFacts) -> bool:
    return bool(facts.service.runbook_url.strip())


def _has_on_call(facts: ServiceFacts) -> bool:
    return bool(facts.service.on_call.strip())


def _production_policy(facts: ServiceFacts) -> bool:
    """Every production environment is covered by an active policy for normal changes, matched
    exactly as a release to it would be (apps.releases.policies)."""
    if not facts.production_environments:
        return False
    return all(
        applicable_policies(
            Release(service=facts.service, environment=environment, change_type=ChangeType.NORMAL),
            facts.active_policies,
        )
        for environment in facts.production_environments
    )


def _latest_template(facts: ServiceFacts) -> bool:
    return (
        facts.template_version is not None
        and facts.template_version == facts.latest_template_version
    )


def _verification_gate(facts: ServiceFacts) -> bool:
    """The rollout plan (apps.rollouts.plans, the one definition of it) has an analysis step."""
    service = facts.service
    try:
        steps = plan(service.strategy, service.strategy_params or {})
    except (AttributeError, KeyError, TypeError, ValueError):
        return False  # parameters the executor could not plan from verify nothing
    return any(kind == "analysis" for kind, _ in steps)


def _no_open_emergency(facts: ServiceFacts) -> bool:
    return not facts.open_emergency


def _progressive_delivery(facts: ServiceFacts) -> bool:
    return facts.service.strategy in (Strategy.CANARY, Strategy.BLUE_GREEN)


def _deploys_weekly(facts: ServiceFacts) -> bool:
    weeks = facts.weekly_production_deployments
    return len(weeks) == WEEKS_OF_DEPLOYMENTS and all(count > 0 for count in weeks)


def _change_failure_rate(facts: ServiceFacts) -> bool:
    if not facts.production_deployments:
        return True  # nothing deployed, nothing failed
    return facts.production_failures / facts.production_deployments < MAX_CHANGE_FAILURE_RATE


def _signed_with_provenance(facts: ServiceFacts) -> bool:
    return bool(facts.latest_production_verified)


RULES: tuple[Rule, ...] = (
    Rule(
        "has_owner",
        "Owned by a team with people",
        "Add people to the owning team (its page under Teams), or move the service to a team "
        "that has members.",
        _has_owner,
        Level.BRONZE,
    ),
    Rule(
        "has_runbook",
        "Runbook linked",
        "Add the runbook's URL to the service's operations settings.",
        _has_runbook,
        Level.BRONZE,
    ),
    Rule(
        "has_on_call",
        "On-call named",
        "Name the on-call rota, pager or channel in the service's operations settings.",
        _has_on_call,
        Level.BRONZE,
    ),
    Rule(
        "production_policy",
        "Production changes need approval",
        "Give the service a production environment, and have an active approval policy cover "
        "normal changes to each of its production environments (by environment kind or by "
        "environment, for the service's tier). Release managers and platform admins manage "
        "policies.",
        _production_policy,
        Level.BRONZE,
    ),
    Rule(
        "latest_template",
        "On the latest golden path",
        "Build the service from the newest version of its golden-path template (a service "
        "made from no template does not pass).",
        _latest_template,
        Level.SILVER,
    ),
    Rule(
        "verification_gate",
        "Verified after deploying",
        "Add an analysis step to the delivery settings: a canary analysis step, a blue/green "
        "pre- or post-promotion analysis, or a rolling update's post-deploy analysis.",
        _verification_gate,
        Level.SILVER,
    ),
    Rule(
        "no_open_emergency",
        "No emergency awaiting review",
        "Have every emergency release of the service that started before approval approved "
        "retrospectively (Releases → needs review).",
        _no_open_emergency,
        Level.SILVER,
    ),
    Rule(
        "progressive_delivery",
        "Progressive delivery",
        "Deliver with the canary or blue/green strategy instead of a plain rolling update.",
        _progressive_delivery,
        Level.GOLD,
    ),
    Rule(
        "deploys_weekly",
        "Deploys to production every week",
        f"Deploy to production at least once in each of the last {WEEKS_OF_DEPLOYMENTS} weeks "
        "(7-day periods ending today).",
        _deploys_weekly,
        Level.GOLD,
    ),
    Rule(
        "change_failure_rate",
        f"Change failure rate under {MAX_CHANGE_FAILURE_RATE:.0%}",
        f"Keep failed production deployments (failed, rolled back or causing an incident) under "
        f"{MAX_CHANGE_FAILURE_RATE:.0%} of the last {CHANGE_FAILURE_DAYS} days' production "
        "deployments. A service with no deployments passes.",
        _change_failure_rate,
        Level.GOLD,
    ),
    Rule(
        "signed_with_provenance",
        "Signed with provenance",
        "Sign the image and attest its SLSA provenance in CI, upload both to Runway, and have a "
        "trust policy for production verify them: the latest production release must have "
        "started with its artifact verified.",
        _signed_with_provenance,
        Level.GOLD,
    ),
)
RULES_BY_KEY: dict[str, Rule] = {rule.key: rule for rule in RULES}
