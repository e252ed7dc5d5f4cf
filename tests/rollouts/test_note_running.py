"""Rollouts started together (a train's wave) have what runs on their clusters noted side by
side as their start commits (rollouts_note_running): each first step then writes at once
instead of taking a hop to read, and the version to go back to is still the one that ran
before the start."""

import pytest

from apps.rollouts import services
from apps.rollouts.kube import Kube
from apps.rollouts.models import Rollout, RolloutState, StepState
from tests.rollouts.executing import drive, release_of

pytestmark = pytest.mark.django_db


def start(service, version, developer) -> Rollout:
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, version, actor=developer)
    )
    # As a batch's start hands its rollouts over: with their service, environment and cluster.
    return Rollout.objects.select_related("service", "environment", "cluster").get(pk=rollout.pk)


def test_the_running_version_is_noted_and_the_first_step_writes_at_once(cluster, shop, developer):
    running, new = shop("rolling", name="shop-running"), shop("rolling", name="shop-new")
    drive(start(running, "shop-running:1", developer))
    second, first = start(running, "shop-running:2", developer), start(new, "shop-new:1", developer)

    services.rollouts_note_running([second, first])

    second.refresh_from_db()
    first.refresh_from_db()
    assert second.plan_state["previous_recorded"] and first.plan_state["previous_recorded"]
    assert second.previous_image == "shop-running:1"
    assert second.previous_template["spec"]["containers"][0]["image"] == "shop-running:1"
    assert (first.previous_image, first.previous_template) == ("", None)  # nothing ran before
    # One run of the first step writes the new version: no hop spent on reading.
    services.rollout_advance(second.pk)
    apply = second.steps.get(index=0)
    assert (apply.state, apply.message) == (StepState.SUCCEEDED, "Applied shop-running:2")
    assert Kube().deployment("shop", "shop-running").image == "shop-running:2"
    second = drive(second)
    assert second.state == RolloutState.SUCCEEDED
    assert second.previous_image == "shop-running:1"


def test_blue_green_notes_the_colour_that_serves_and_its_version(cluster, shop, developer):
    params = {"auto_promotion": True, "auto_promotion_seconds": 0, "scale_down_delay_seconds": 0}
    service = shop("blue-green", params)
    drive(start(service, "shop:1", developer))
    second = start(service, "shop:2", developer)

    services.rollouts_note_running([second])

    second.refresh_from_db()
    assert (second.plan_state["active"], second.plan_state["preview"]) == ("blue", "green")
    assert second.previous_image == "shop:1"
    second = drive(second)
    assert second.state == RolloutState.SUCCEEDED
    assert Kube().service_selector("shop", service.name)["runway.dev/colour"] == "green"


def test_a_note_its_own_step_took_first_is_kept(cluster, shop, developer):
    service = shop("rolling")
    drive(start(service, "shop:1", developer))
    second = start(service, "shop:2", developer)
    # Its step notes shop:1, then writes shop:2; a late batch note would read shop:2.
    services.rollout_advance(second.pk)
    Rollout.objects.filter(pk=second.pk).update(next_run_at=None)
    services.rollout_advance(second.pk)
    assert Kube().deployment("shop", service.name).image == "shop:2"

    services.rollouts_note_running([second])

    second.refresh_from_db()
    assert second.previous_image == "shop:1"


def test_a_cluster_that_cannot_be_read_is_left_to_the_first_step(
    cluster, shop, developer, settings, tmp_path
):
    service = shop("rolling")
    drive(start(service, "shop:1", developer))
    second = start(service, "shop:2", developer)
    reachable, settings.KUBECONFIG = settings.KUBECONFIG, str(tmp_path / "no-kubeconfig")

    services.rollouts_note_running([second])

    second.refresh_from_db()
    assert "previous_recorded" not in second.plan_state
    settings.KUBECONFIG = reachable
    services.rollout_advance(second.pk)
    second.refresh_from_db()
    assert second.previous_image == "shop:1"
    assert second.steps.get(index=0).message.startswith("Noted the running version")
