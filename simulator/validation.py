"""Validation of written objects, worded like the API server's field errors (422 Invalid).

It covers what a client of the simulator is likely to get wrong, not the whole of Kubernetes'
validation.
"""

import re

from simulator import errors, label_selectors
from simulator.errors import FieldError

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PERCENT = re.compile(r"^[0-9]+%$")
_EXPRESSION_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

SUBDOMAIN_HELP = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_HELP = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def metadata(obj: dict, *, dns_label: bool = False) -> list[FieldError]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [FieldError("Required", "metadata")]
    name = meta.get("name")
    if not name:
        return [FieldError("Required", "metadata.name", "name or generateName is required")]
    pattern, help_text, limit = (
        (_LABEL, LABEL_HELP, 63) if dns_label else (_SUBDOMAIN, SUBDOMAIN_HELP, 253)
    )
    if not isinstance(name, str) or not pattern.match(name):
        return [FieldError("Invalid", "metadata.name", help_text, name)]
    if len(name) > limit:
        return [
            FieldError("Invalid", "metadata.name", f"must be no more than {limit} characters", name)
        ]
    problems = []
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            problems.append(
                FieldError("Invalid", f"metadata.{key}", "must be a map of strings", value)
            )
    return problems


def _int_or_percent(value, field: str) -> tuple[list[FieldError], int | None]:
    """Errors, and the number (a count or a percentage)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return [FieldError("Invalid", field, "must be an integer or percentage", value)], None
    if isinstance(value, int):
        if value < 0:
            return [FieldError("Invalid", field, "must be greater than or equal to 0", value)], None
        return [], value
    if not _PERCENT.match(value):
        detail = (
            "a valid percent string must be a numeric string followed by an ending '%' "
            "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
        )
        return [FieldError("Invalid", field, detail, value)], None
    if int(value[:-1]) > 100:
        return [FieldError("Invalid", field, "must not be greater than 100%", value)], None
    return [], int(value[:-1])


def label_selector(selector, field: str) -> list[FieldError]:
    if not isinstance(selector, dict):
        return [FieldError("Invalid", field, "must be a label selector", selector)]
    problems = []
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, dict) or not all(
        isinstance(v, str) for v in match_labels.values()
    ):
        problems.append(
            FieldError("Invalid", f"{field}.matchLabels", "must be a map of strings", match_labels)
        )
    for i, expression in enumerate(selector.get("matchExpressions") or []):
        where = f"{field}.matchExpressions[{i}]"
        operator = expression.get("operator") if isinstance(expression, dict) else None
        if operator not in _EXPRESSION_OPERATORS:
            problems.append(
                FieldError(
                    "NotSupported",
                    f"{where}.operator",
                    '"DoesNotExist", "Exists", "In", "NotIn"',
                    operator,
                )
            )
        elif operator in ("In", "NotIn") and not expression.get("values"):
            problems.append(
                FieldError(
                    "Required",
                    f"{where}.values",
                    "must be specified when `operator` is 'In' or 'NotIn'",
                )
            )
    return problems


def _containers(spec: dict, field: str) -> list[FieldError]:
    containers = spec.get("containers")
    if not containers or not isinstance(containers, list):
        return [FieldError("Required", f"{field}.containers")]
    problems, seen = [], set()
    for i, container in enumerate(containers):
        where = f"{field}.containers[{i}]"
        if not isinstance(container, dict):
            problems.append(FieldError("Invalid", where, "must be an object", container))
            continue
        name = container.get("name")
        if not name:
            problems.append(FieldError("Required", f"{where}.name"))
        elif not isinstance(name, str) or not _LABEL.match(name):
            problems.append(FieldError("Invalid", f"{where}.name", LABEL_HELP, name))
        elif name in seen:
            problems.append(FieldError("Duplicate", f"{where}.name", value=name))
        seen.add(name)
        if not container.get("image"):
            problems.append(FieldError("Required", f"{where}.image"))
        for j, port in enumerate(container.get("ports") or []):
            number = port.get("containerPort") if isinstance(port, dict) else None
            if number is None:
                problems.append(FieldError("Required", f"{where}.ports[{j}].containerPort"))
            elif not isinstance(number, int) or not 1 <= number <= 65535:
                problems.append(
                    FieldError(
                        "Invalid",
                        f"{where}.ports[{j}].containerPort",
                        "must be between 1 and 65535, inclusive",
                        number,
                    )
                )
    return problems


def pod_template(template, field: str) -> list[FieldError]:
    if not isinstance(template, dict):
        return [FieldError("Required", field)]
    spec = template.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("Required", f"{field}.spec")]
    problems = _containers(spec, f"{field}.spec")
    policy = spec.get("restartPolicy", "Always")
    if policy != "Always":
        problems.append(
            FieldError("NotSupported", f"{field}.spec.restartPolicy", '"Always"', policy)
        )
    return problems


def _strategy(spec: dict) -> list[FieldError]:
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        return [FieldError("Invalid", "spec.strategy", "must be an object", strategy)]
    kind = strategy.get("type")
    if kind not in ("RollingUpdate", "Recreate"):
        return [
            FieldError("NotSupported", "spec.strategy.type", '"Recreate", "RollingUpdate"', kind)
        ]
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            detail = "may not be specified when strategy `type` is 'Recreate'"
            return [FieldError("Forbidden", "spec.strategy.rollingUpdate", detail)]
        return []
    where = "spec.strategy.rollingUpdate"
    if not isinstance(rolling, dict):
        return [FieldError("Invalid", where, "must be an object", rolling)]
    surge_problems, surge = _int_or_percent(rolling.get("maxSurge"), f"{where}.maxSurge")
    unavailable_problems, unavailable = _int_or_percent(
        rolling.get("maxUnavailable"), f"{where}.maxUnavailable"
    )
    problems = surge_problems + unavailable_problems
    if not problems and surge == 0 and unavailable == 0:
        problems.append(
            FieldError(
                "Invalid",
                f"{where}.maxUnavailable",
                "may not be 0 when `maxSurge` is 0",
                rolling.get("maxUnavailable"),
            )
        )
    return problems


def deployment(obj: dict, current: dict | None) -> list[FieldError]:
    problems = metadata(obj)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [*problems, FieldError("Required", "spec")]
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        problems.append(
            FieldError("Invalid", "spec.replicas", "must be greater than or equal to 0", replicas)
        )
    selector = spec.get("selector")
    template = spec.get("template")
    if selector is None:
        selector_problems = [FieldError("Required", "spec.selector")]
    else:
        selector_problems = label_selector(selector, "spec.selector")
        if not selector_problems and not label_selectors.from_label_selector(selector):
            selector_problems.append(
                FieldError(
                    "Invalid", "spec.selector", "empty selector is invalid for deployment", selector
                )
            )
    template_problems = pod_template(template, "spec.template")
    problems += selector_problems + template_problems
    if not selector_problems and not template_problems and isinstance(template, dict):
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not label_selectors.matches_all(label_selectors.from_label_selector(selector), labels):
            problems.append(
                FieldError(
                    "Invalid",
                    "spec.template.metadata.labels",
                    "`selector` does not match template `labels`",
                    labels,
                )
            )
    problems += _strategy(spec)
    for key in ("minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        value = spec.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(
                FieldError("Invalid", f"spec.{key}", "must be greater than or equal to 0", value)
            )
    deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds", 0)
    if isinstance(deadline, int) and isinstance(min_ready, int) and deadline <= min_ready:
        problems.append(
            FieldError(
                "Invalid",
                "spec.progressDeadlineSeconds",
                "must be greater than minReadySeconds",
                deadline,
            )
        )
    if current is not None and selector != current["spec"].get("selector"):
        problems.append(FieldError("Invalid", "spec.selector", "field is immutable", selector))
    return problems


def service(obj: dict, current: dict | None) -> list[FieldError]:
    problems = metadata(obj, dns_label=True)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [*problems, FieldError("Required", "spec")]
    kind = spec.get("type")
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        problems.append(
            FieldError(
                "NotSupported",
                "spec.type",
                '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
                kind,
            )
        )
    ports = spec.get("ports") or []
    if not ports and kind != "ExternalName":
        problems.append(FieldError("Required", "spec.ports"))
    names = set()
    for i, port in enumerate(ports):
        where = f"spec.ports[{i}]"
        if not isinstance(port, dict):
            problems.append(FieldError("Invalid", where, "must be an object", port))
            continue
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            problems.append(
                FieldError(
                    "Invalid", f"{where}.port", "must be between 1 and 65535, inclusive", number
                )
            )
        name = port.get("name", "")
        if len(ports) > 1 and not name:
            problems.append(FieldError("Required", f"{where}.name"))
        elif name in names:
            problems.append(FieldError("Duplicate", f"{where}.name", value=name))
        names.add(name)
    selector = spec.get("selector")
    if selector is not None and not (
        isinstance(selector, dict) and all(isinstance(v, str) for v in selector.values())
    ):
        problems.append(
            FieldError("Invalid", "spec.selector", "must be a map of strings", selector)
        )
    if current is not None:
        old_ip = current["spec"].get("clusterIP")
        if old_ip and spec.get("clusterIP") != old_ip and kind == current["spec"].get("type"):
            problems.append(
                FieldError("Invalid", "spec.clusterIP", "field is immutable", spec.get("clusterIP"))
            )
    return problems


def namespace(obj: dict, current: dict | None) -> list[FieldError]:
    return metadata(obj, dns_label=True)


VALIDATORS = {"deployments": deployment, "services": service, "namespaces": namespace}


def check(resource, obj: dict, current: dict | None) -> None:
    """Raise 422 Invalid naming every field that is wrong."""
    validator = VALIDATORS.get(resource.plural)
    problems = validator(obj, current) if validator else []
    if problems:
        name = (obj.get("metadata") or {}).get("name") or ""
        raise errors.invalid(resource, name, problems)
