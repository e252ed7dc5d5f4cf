"""The steps of a rollout, planned from the service's delivery strategy when it starts."""

from apps.catalog.models import Strategy


def plan(strategy: str, params: dict) -> list[tuple[str, dict]]:
    if strategy == Strategy.CANARY:
        steps = [("canary_start", {})]
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
