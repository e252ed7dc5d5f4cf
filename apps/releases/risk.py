"""A release's risk, from what is changing where: shown with its reasons, never a bare label."""

from apps.catalog.models import EnvironmentKind, Tier
from apps.releases.models import ChangeType


def assess_risk(*, tier: int, environment_kind: str, change_type: str) -> tuple[str, list[str]]:
    score, reasons = 0, []
    if tier == Tier.CRITICAL:
        score += 2
        reasons.append("Tier 1 (critical) service")
    elif tier == Tier.IMPORTANT:
        score += 1
        reasons.append("Tier 2 service")
    if environment_kind == EnvironmentKind.PRODUCTION:
        score += 2
        reasons.append("Production environment")
    elif environment_kind == EnvironmentKind.STAGING:
        score += 1
        reasons.append("Staging environment")
    if change_type == ChangeType.EMERGENCY:
        score += 2
        reasons.append("Emergency change: skips the usual order")
    elif change_type == ChangeType.STANDARD:
        score -= 1
        reasons.append("Standard change from a pre-approved template")
    level = "high" if score >= 4 else "medium" if score >= 2 else "low"
    return level, reasons or ["Low-tier service outside production"]
