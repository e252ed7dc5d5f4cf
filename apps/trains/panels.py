"""The train a release belongs to, as a link in the release page's head."""

from apps.releases.page_actions import Panel, register_action
from apps.trains.steering import train_of


def _release_context(request, release) -> dict:
    return {"train": train_of(release)}


register_action(Panel("trains", "Train", "trains/panels/_release.html", _release_context))
