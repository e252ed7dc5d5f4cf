"""The steps of a rollout, planned from the service's delivery strategy when it starts."""

from apps.catalog.models import Strategy


def plan(strategy: str, params: dict) -> list[tuple[str, dict]]:
    if strategy == Strategy.CANARY:
        steps: list[tuple[str, dict]] = [("canary_start", {})]
        for step in params.get("steps", []):
            ((kind, value),) = step.items()
            if kind == "set_weight":
                steps.append(("set_weight", {"weight": value}))
            elif kind == "pause":
                steps.append(("pause", dict(value)))
            else:
                steps.append(("analysis", {"template": value["template"]}))
        return [*steps, ("canary_promote", {})]
    if strategy == Strategy.BLUE_GREEN:
        steps = [("bg_preview", {})]
        if params.get("pre_promotion_analysis"):
            steps.append(("analysis", {"template": params["pre_promotion_analysis"]}))
        if params.get("auto_promotion"):
            steps.append(("pause", {"seconds": params.get("auto_promotion_seconds", 0)}))
        else:
            steps.append(("pause", {}))
        steps.append(("bg_switch", {}))
        if params.get("post_promotion_analysis"):
            steps.append(
                (
                    "analysis",
                    {"template": params["post_promotion_analysis"], "on_failure": "switch_back"},
                )
            )
        steps.append(("bg_scale_down", {"delay": params.get("scale_down_delay_seconds", 30)}))
        return steps
    steps = [("apply", {}), ("wait_rollout", {})]
    if params.get("post_deploy_analysis"):
        steps.append(("analysis", {"template": params["post_deploy_analysis"]}))
    return steps


def canary_split(total: int, weight: int) -> tuple[int, int]:
    """(canary, stable) pods at a weight. The stable version keeps all `total` replicas until
    the weight is 100; the canary gets the count (1 to `total`) whose share of all pods comes
    closest to the weight. With few replicas the share is coarse (1 beside 1 is 50%), and the
    page shows it beside the planned weight."""
    if weight <= 0:
        return 0, total
    if weight >= 100:
        return total, 0
    canary = min(range(1, total + 1), key=lambda n: abs(100 * n / (n + total) - weight))
    return canary, total


def canary_share(canary: int, stable: int) -> int:
    """The canary's share of all pods serving, in per cent."""
    return round(100 * canary / (canary + stable)) if canary + stable else 0
