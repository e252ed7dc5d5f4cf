"""Buttons and links in the release page's head that the apps after releases contribute (the
rollouts app's "Rollout #n" and "Start rollout now"), each registered from its
AppConfig.ready() (see apps/core/panels.py):

    register_action(Panel("rollouts", "Rollouts", "rollouts/panels/_release.html", context_fn))
"""

from apps.core.panels import Panel, PanelRegistry

__all__ = ["Panel", "register_action", "rendered_actions"]

release_actions = PanelRegistry("release")


def register_action(action: Panel) -> None:
    release_actions.register(action)


def rendered_actions(request, release) -> list[dict]:
    return release_actions.render(request, release)
