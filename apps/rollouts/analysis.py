"""Verification gates: one measurement per call, judged like Argo Rollouts' AnalysisRuns."""

import json
import operator
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from apps.rollouts.models import AnalysisTemplate

SUCCESSFUL, FAILED, INCONCLUSIVE = "successful", "failed", "inconclusive"
_CONDITION = re.compile(r"^\s*result\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.]+)\s*$")
_OPERATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Measurement:
    phase: str
    value: str

    def as_dict(self) -> dict:
        return {"phase": self.phase, "value": self.value}


def _fill(text: str, *, service: str, namespace: str, deployment: str) -> str:
    return (
        text.replace("{service}", service)
        .replace("{namespace}", namespace)
        .replace("{deployment}", deployment)
    )


def _get(url: str, timeout: int):
    if not url.startswith(("http://", "https://")):
        raise ValueError("analysis URLs must be http(s)")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310


def measure(
    template: AnalysisTemplate, *, service: str, namespace: str, deployment: str
) -> Measurement:
    """One measurement of the version under test (`deployment`: the canary, the preview
    colour, or the service's own Deployment)."""
    names = {"service": service, "namespace": namespace, "deployment": deployment}
    if template.kind == AnalysisTemplate.Kind.HTTP:
        return _measure_http(template, _fill(template.url, **names))
    query = _fill(template.query, **names)
    url = template.url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    return _measure_prometheus(template, url)


def _measure_http(template: AnalysisTemplate, url: str) -> Measurement:
    try:
        with _get(url, template.timeout_seconds) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Measurement(INCONCLUSIVE, f"no answer: {exc}")
    phase = SUCCESSFUL if status == template.expected_status else FAILED
    return Measurement(phase, f"HTTP {status}")


def _measure_prometheus(template: AnalysisTemplate, url: str) -> Measurement:
    try:
        with _get(url, template.timeout_seconds) as response:
            body = json.loads(response.read())
        result = body["data"]["result"]
        value = float(result[0]["value"][1]) if result else None
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        return Measurement(INCONCLUSIVE, f"no usable answer: {exc}")
    if value is None:
        return Measurement(INCONCLUSIVE, "empty result")
    condition = _CONDITION.match(template.success_condition)
    try:
        if condition is None:
            raise ValueError
        op, threshold = condition.group(1), float(condition.group(2))
    except ValueError:
        # A person must fix the template: judging the version by it is impossible, not failed.
        return Measurement(
            INCONCLUSIVE,
            f"{value:g}, but the success condition {template.success_condition!r} is not "
            "readable (e.g. result >= 0.95)",
        )
    passed = _OPERATORS[op](value, threshold)
    return Measurement(SUCCESSFUL if passed else FAILED, f"{value:g}")


def verdict(template: AnalysisTemplate, results: list[dict]) -> str | None:
    """successful / failed / inconclusive once decided, or None while more are needed."""
    failures = sum(r["phase"] == FAILED for r in results)
    inconclusive = sum(r["phase"] == INCONCLUSIVE for r in results)
    if failures > template.failure_limit:
        return FAILED
    if inconclusive > template.inconclusive_limit:
        return INCONCLUSIVE
    if len(results) >= template.count:
        return SUCCESSFUL
    return None
