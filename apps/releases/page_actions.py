"""Buttons and links in the release page's head that the apps after releases contribute (the
rollouts app's "Rollout #n" and "Start rollout now"), and sections of the page's body (the
rollouts app's rings), each registered from its AppConfig.ready() (see apps/core/panels.py):

    register_action(Panel("rollouts", "Rollouts", "rollouts/panels/_release.html", context_fn))
    register_section(Panel("rings", "Rings", "rollouts/panels/_release_rings.html", context_fn))

A section whose HTML is empty is left out of the page.
"""

from apps.core.panels import Panel, PanelRegistry

__all__ = ["Panel", "register_action", "register_section", "rendered_actions", "rendered_sections"]

release_actions = PanelRegistry("release")
release_sections = PanelRegistry("release")


def register_action(action: Panel) -> None:
    release_actions.register(action)


def rendered_actions(request, release) -> list[dict]:
    return release_actions.render(request, release)


def register_section(section: Panel) -> None:
    release_sections.register(section)


def rendered_sections(request, release) -> list[dict]:
    return [s for s in release_sections.render(request, release) if s["html"].strip()]
