"""Sections of a release's evidence that the apps after releases contribute (the rollouts app's
rollout record), each registered from its AppConfig.ready(), as the release page's actions are
(apps/releases/page_actions.py). The releases app names none of them.

A section is read for many releases at once: `collect(releases)` returns each release's data by
its id, in a fixed number of queries however many releases there are, so a period's export
costs what one pack does. The data is JSON as it stands: the pack carries it under the
section's `key` (in the page's JSON, the API and the export), the evidence page draws it with
`template` (given `release` and `section`, the data), the export's index gives it a column
named `title` with `summary(data)`, and the API schema documents it with `serializer`.

    register_section(EvidenceSection("rollouts", "Rollouts", collect, "rollouts/evidence/...",
                                     RolloutRecordSerializer, many=True, summary=summarise))

Collecting happens after the pack's audit events are sealed, so a section's own audit events
carry their seals and the pack's checkpoint covers them.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

__all__ = ["EvidenceSection", "collect", "register_section", "rendered", "sections"]


@dataclass(frozen=True)
class EvidenceSection:
    key: str
    title: str
    collect: Callable[[Sequence[Any]], Mapping[int, Any]]
    template: str
    serializer: type  # a DRF serializer class, for the schema
    many: bool = False
    summary: Callable[[Any], str] | None = None
    order: int = 50


_sections: dict[str, EvidenceSection] = {}


def register_section(section: EvidenceSection) -> None:
    _sections[section.key] = section


def sections() -> list[EvidenceSection]:
    return sorted(_sections.values(), key=lambda section: (section.order, section.key))


def collect(releases: Sequence[Any]) -> dict[int, dict[str, Any]]:
    """Every section's data for each release: {release id: {section key: data}}."""
    found: dict[int, dict[str, Any]] = {release.pk: {} for release in releases}
    for section in sections():
        data = section.collect(releases) if releases else {}
        empty: list | None = [] if section.many else None
        for release in releases:
            found[release.pk][section.key] = data.get(release.pk, empty)
    return found


def rendered(request, release, pack: Mapping[str, Any]) -> list[dict]:
    """The sections of `pack` drawn for the evidence page: key, title and html."""
    return [
        {
            "key": section.key,
            "title": section.title,
            "html": render_to_string(
                section.template,
                {"release": release, "section": pack.get(section.key)},
                request,
            ),
        }
        for section in sections()
    ]
