"""Delivery strategy parameters: what each strategy accepts, checked in one place.

Canary steps follow Argo Rollouts: `{"set_weight": 20}`, `{"pause": {"seconds": 300}}` or
`{"pause": {}}` (until someone promotes), `{"analysis": {"template": "http-smoke"}}`.
"""

import re
from typing import Any

from django.core.exceptions import ValidationError

from apps.catalog.models import Strategy

# Parameters naming a verification gate (an analysis template) to run at that point.
ANALYSIS_KEYS = {"post_deploy_analysis", "pre_promotion_analysis", "post_promotion_analysis"}
_PERCENT_OR_COUNT = re.compile(r"^(\d{1,3}%|\d{1,4})$")
# Accepted by every strategy and left out unless given: how long each wait step may take before
# the rollout fails and rolls back (ROLLOUT_PROGRESS_DEADLINE_SECONDS when not given).
COMMON_KEYS = {"progress_deadline_seconds"}

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    Strategy.ROLLING: {"max_surge": "25%", "max_unavailable": "25%", "post_deploy_analysis": ""},
    Strategy.CANARY: {
        "steps": [
            {"set_weight": 20},
            {"pause": {"seconds": 60}},
            {"set_weight": 50},
            {"pause": {"seconds": 60}},
            {"set_weight": 100},
        ]
    },
    Strategy.BLUE_GREEN: {
        "auto_promotion": False,
        "auto_promotion_seconds": 0,
        "scale_down_delay_seconds": 30,
        "pre_promotion_analysis": "",
        "post_promotion_analysis": "",
    },
}


def _error(message: str) -> ValidationError:
    return ValidationError({"strategy_params": message})


def _seconds(value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 86_400:
        raise _error(f"{what} must be a whole number of seconds between 0 and 86400.")
    return value


def _canary_steps(steps) -> list[dict]:
    if not isinstance(steps, list) or not steps:
        raise _error("A canary needs a list of steps.")
    clean: list[dict[str, Any]] = []
    last_weight = 0
    for number, step in enumerate(steps, start=1):
        if not isinstance(step, dict) or len(step) != 1:
            raise _error(f"Step {number}: use one of set_weight, pause or analysis.")
        ((kind, value),) = step.items()
        if kind == "set_weight":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 100:
                raise _error(f"Step {number}: set_weight must be 1 to 100.")
            if value < last_weight:
                raise _error(f"Step {number}: weights only go up ({last_weight} then {value}).")
            last_weight = value
            clean.append({"set_weight": value})
        elif kind == "pause":
            if not isinstance(value, dict) or set(value) - {"seconds"}:
                raise _error(f"Step {number}: pause takes {{}} or {{'seconds': N}}.")
            clean.append(
                {"pause": {"seconds": _seconds(value["seconds"], f"Step {number}: pause")}}
                if "seconds" in value
                else {"pause": {}}
            )
        elif kind == "analysis":
            if not isinstance(value, dict) or not str(value.get("template", "")).strip():
                raise _error(f"Step {number}: analysis needs a template name.")
            clean.append({"analysis": {"template": str(value["template"]).strip()}})
        else:
            raise _error(f"Step {number}: unknown step {kind!r}.")
    if last_weight != 100:
        raise _error("The last weight must be 100, or the new version never takes all traffic.")
    return clean


def clean_strategy_params(strategy: str, params: dict | None) -> dict:
    """Validated parameters for the strategy, with defaults for whatever is not given."""
    if strategy not in Strategy.values:
        raise ValidationError({"strategy": f"Choose one of {', '.join(Strategy.values)}."})
    params = dict(params or {})
    merged = {**DEFAULT_PARAMS[strategy], **params}
    unknown = set(params) - set(DEFAULT_PARAMS[strategy]) - COMMON_KEYS
    if unknown:
        raise _error(f"Unknown parameter(s) for {strategy}: {', '.join(sorted(unknown))}.")
    if "progress_deadline_seconds" in merged:
        deadline = _seconds(merged["progress_deadline_seconds"], "progress_deadline_seconds")
        if deadline < 10:
            raise _error("progress_deadline_seconds must be at least 10.")
    for key in ANALYSIS_KEYS & set(merged):
        if not isinstance(merged[key], str):
            raise _error(f"{key} names an analysis template (or is empty).")
        merged[key] = merged[key].strip()
    if strategy == Strategy.ROLLING:
        for key in ("max_surge", "max_unavailable"):
            if not _PERCENT_OR_COUNT.match(str(merged[key])):
                raise _error(f"{key} must be a count (1) or a percentage (25%).")
            merged[key] = str(merged[key])
        if merged["max_surge"] in ("0", "0%") and merged["max_unavailable"] in ("0", "0%"):
            raise _error("max_surge and max_unavailable cannot both be zero.")
    elif strategy == Strategy.CANARY:
        merged["steps"] = _canary_steps(merged["steps"])
    else:
        if not isinstance(merged["auto_promotion"], bool):
            raise _error("auto_promotion must be true or false.")
        merged["auto_promotion_seconds"] = _seconds(
            merged["auto_promotion_seconds"], "auto_promotion_seconds"
        )
        merged["scale_down_delay_seconds"] = _seconds(
            merged["scale_down_delay_seconds"], "scale_down_delay_seconds"
        )
    return merged
