"""The train a release belongs to, as a link in the release page's head."""

from apps.releases.page_actions import Panel, register_action
from apps.trains.models import TrainMember


def _release_context(request, release) -> dict:
    membership = TrainMember.objects.select_related("train").filter(release=release).first()
    return {"train": membership.train if membership else None}


register_action(Panel("trains", "Train", "trains/panels/_release.html", _release_context))
