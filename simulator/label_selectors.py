"""Label and field selectors: the `?labelSelector=` / `?fieldSelector=` syntax and LabelSelector
objects (`matchLabels`, `matchExpressions`)."""

import re
from collections.abc import Callable
from dataclasses import dataclass

from simulator.errors import bad_request


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # = | != | in | notin | exists | !
    values: tuple[str, ...] = ()

    def matches(self, labels: dict) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "=":
            return present and value == self.values[0]
        if self.operator == "!=":
            return not present or value != self.values[0]
        if self.operator == "in":
            return present and value in self.values
        if self.operator == "notin":
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        return not present


_SET = re.compile(
    r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\)|(==|!=|=)\s*(\S*))?\s*$"
)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside `in (a,b)`."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term for term in terms if term.strip()]


def parse_label_selector(text: str | None) -> list[Requirement]:
    requirements = []
    for term in _split_terms(text or ""):
        match = _SET.match(term)
        if match is None:
            raise bad_request(f"unable to parse requirement: {term.strip()!r}")
        negated, key, set_op, set_values, op, value = match.groups()
        if negated and (set_op or op):
            raise bad_request(f"unable to parse requirement: {term.strip()!r}")
        if set_op:
            values = tuple(v.strip() for v in set_values.split(",") if v.strip())
            requirements.append(Requirement(key, set_op, values))
        elif op:
            requirements.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
        else:
            requirements.append(Requirement(key, "!" if negated else "exists"))
    return requirements


def matches_all(requirements: list[Requirement], labels: dict | None) -> bool:
    return all(requirement.matches(labels or {}) for requirement in requirements)


_EXPRESSION_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def from_label_selector(selector: dict | None) -> list[Requirement]:
    """Requirements of a LabelSelector object. An empty selector matches everything."""
    selector = selector or {}
    requirements = [
        Requirement(key, "=", (str(value),))
        for key, value in sorted((selector.get("matchLabels") or {}).items())
    ]
    for expression in selector.get("matchExpressions") or []:
        operator = _EXPRESSION_OPERATORS.get(expression.get("operator", ""))
        if operator is None:
            continue  # validation rejects these before they are stored
        values = tuple(str(v) for v in expression.get("values") or ())
        requirements.append(Requirement(expression.get("key", ""), operator, values))
    return requirements


def selector_string(selector: dict | None) -> str:
    """The query-string form of a LabelSelector object, as `kubectl` and Scale show it."""
    parts = []
    for requirement in from_label_selector(selector):
        if requirement.operator == "=":
            parts.append(f"{requirement.key}={requirement.values[0]}")
        elif requirement.operator in ("in", "notin"):
            parts.append(
                f"{requirement.key} {requirement.operator} ({','.join(requirement.values)})"
            )
        elif requirement.operator == "exists":
            parts.append(requirement.key)
        else:
            parts.append(f"!{requirement.key}")
    return ",".join(parts)


# Field selectors: the few fields the API server indexes. Unknown fields are ignored (the real
# server refuses them with 400; the simulator is lenient on purpose).
_FIELDS: dict[str, Callable[[dict], str]] = {
    "metadata.name": lambda obj: obj["metadata"].get("name", ""),
    "metadata.namespace": lambda obj: obj["metadata"].get("namespace", ""),
    "status.phase": lambda obj: (obj.get("status") or {}).get("phase", ""),
    "spec.nodeName": lambda obj: (obj.get("spec") or {}).get("nodeName", ""),
}


def parse_field_selector(text: str | None) -> Callable[[dict], bool]:
    checks = []
    for term in (text or "").split(","):
        match = re.match(r"^\s*([A-Za-z.]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
        if match is None or match.group(1) not in _FIELDS:
            continue
        field, op, value = match.groups()
        checks.append((_FIELDS[field], op != "!=", value))
    return lambda obj: all((get(obj) == value) == equal for get, equal, value in checks)
