"""Backstage entity references, `[kind:][namespace/]name`, and the names Runway gives them.

Backstage compares kinds, namespaces and names case-insensitively, and lets each field imply a
kind (`owner: cncf` means `group:default/cncf`). Runway has no namespaces and stricter names:
services, systems and teams are DNS-1123 labels, so a Backstage name is lowercased and its `_`
and `.` become `-`. The original name and namespace are kept in the row's `extra["backstage"]`.
"""

import re
from dataclasses import dataclass

DEFAULT_NAMESPACE = "default"

# The kind a reference means when it does not say; keyed by the Backstage field.
DEFAULT_KINDS = {
    "owner": "group",
    "system": "system",
    "domain": "domain",
    "dependsOn": "component",
    "dependencyOf": "component",
    "providesApis": "api",
    "consumesApis": "api",
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class RefError(ValueError):
    """A reference that is not of the form [kind:][namespace/]name."""


@dataclass(frozen=True)
class EntityRef:
    """A parsed reference: kind and namespace lowercased, name as written."""

    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> tuple[str, str]:
        """What Runway matches on: the kind and the Runway name (namespaces are not kept apart)."""
        return self.kind, runway_name(self.name)

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"


def parse_ref(
    value, *, field: str | None = None, default_kind: str | None = None, default_namespace=None
) -> EntityRef:
    """Parse `[kind:][namespace/]name` the way Backstage's parseEntityRef does.

    The kind defaults to `default_kind`, or to the one `field` implies (see DEFAULT_KINDS); a
    reference with neither is an error. The namespace defaults to "default".
    """
    if not isinstance(value, str) or not value.strip():
        raise RefError(f"{value!r} is not an entity reference; expected [kind:][namespace/]name.")
    text = value.strip()
    colon, slash = text.find(":"), text.find("/")
    if slash != -1 and slash < colon:
        colon = -1  # "ns/na:me": the colon belongs to the name
    kind = text[:colon] if colon != -1 else None
    namespace = text[colon + 1 : slash] if slash != -1 else None
    name = text[max(colon + 1, slash + 1) :]
    if kind == "" or namespace == "" or not name or "/" in name:
        raise RefError(f"{value!r} is not of the form [kind:][namespace/]name.")
    kind = kind or default_kind or DEFAULT_KINDS.get(field or "")
    if not kind:
        raise RefError(f"{value!r} does not say its kind and {field or 'this field'} implies none.")
    return EntityRef(
        kind=kind.lower(),
        namespace=(namespace or default_namespace or DEFAULT_NAMESPACE).lower(),
        name=name,
    )


def runway_name(name: str) -> str:
    """The Runway name of a Backstage name: lowercased, `_` and `.` turned into `-`.

    The result may still be invalid (too long, starts with '-', other characters); check it
    with is_dns_label where Runway requires a DNS label.
    """
    return str(name).strip().lower().replace("_", "-").replace(".", "-")


def is_dns_label(name: str) -> bool:
    return bool(_DNS_LABEL.match(name))


def dns_label_problem(original: str) -> str | None:
    """Why `original` cannot become a Runway service, system or team name, or None if it can."""
    name = runway_name(original)
    if is_dns_label(name):
        return None
    if len(name) > 63:
        return f"{original!r} is longer than 63 characters."
    return (
        f"{original!r} cannot become a Runway name ({name!r}): use lowercase letters, digits and "
        "'-', starting and ending with a letter or digit."
    )
