"""`runway rollout follow` in a CI log and on a terminal, `runway attest upload` and the listing
commands, against a live server."""

import json
import os
import pty
import subprocess
import sys

import pytest
from django.utils import timezone

from apps.rollouts.models import Rollout, RolloutState
from apps.supplychain.models import Attestation
from tests.cli.conftest import ROOT, cli_env
from tests.rollouts.builders import rollout_row
from tests.supplychain.signing import DIGEST, Signer, envelope, statement

pytestmark = pytest.mark.django_db(transaction=True)


def test_following_a_rollout_prints_a_line_per_change_and_exits_with_its_outcome(
    runway, developer, web, prod
):
    running = rollout_row(service=web, environment=prod, requester=developer)
    rolled_back = rollout_row(
        service=web, environment=web.environments.get(name="staging"),
        requester=developer, state=RolloutState.ROLLED_BACK,
        failure_reason="Analysis http-ok failed",
    )  # fmt: skip

    follower = runway.start(developer, "rollout", "follow", str(running.pk), "--plain")
    first = follower.stdout.readline()
    Rollout.objects.filter(pk=running.pk).update(
        state=RolloutState.SUCCEEDED, current_step=6, finished_at=timezone.now()
    )
    rest, err = follower.communicate(timeout=60)
    failed = runway(developer, "rollout", "follow", str(rolled_back.pk), "--output", "json")

    assert first.startswith(f"rollout #{running.pk}: running")
    assert "step 3/6 pause" in first
    assert follower.returncode == 0, err
    assert rest.splitlines()[-1].startswith(f"rollout #{running.pk}: succeeded")
    assert failed.returncode == 4
    assert json.loads(failed.stdout)["failure_reason"] == "Analysis http-ok failed"


def test_on_a_terminal_the_rollout_is_one_redrawn_progress_bar(
    runway, developer, token_of, web, prod, tmp_path
):
    done = rollout_row(
        service=web, environment=prod, requester=developer, state=RolloutState.SUCCEEDED
    )
    env = cli_env(runway.url, token_of(developer), tmp_path / "config.json")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "rollout", "follow", str(done.pk)],
        cwd=ROOT, env=env, stdout=follower, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    assert process.wait(timeout=60) == 0
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)

    text = output.decode()
    assert text.startswith("\r\x1b[2K[" + "#" * 30 + "]"), text
    assert f"rollout #{done.pk}: succeeded 100%" in text


def test_evidence_files_are_uploaded_as_written_and_a_second_upload_keeps_one(runway, ci, tmp_path):
    signer = Signer("ecdsa")
    signature = tmp_path / "provenance.json"
    provenance = statement("https://slsa.dev/provenance/v1", {"buildDefinition": {}})
    signature.write_text(json.dumps(envelope(provenance, "application/vnd.in-toto+json", signer)))
    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello")

    first = runway(ci, "attest", "upload", "--digest", DIGEST, str(signature))
    again = runway(ci, "attest", "upload", "--digest", DIGEST, str(signature))
    refused = runway(ci, "attest", "upload", "--digest", DIGEST, str(not_json))
    other = runway(ci, "attest", "upload", "--digest", "sha256:" + "cd" * 32, str(signature))

    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert Attestation.objects.filter(digest=DIGEST).count() == 1
    assert refused.returncode == 1 and "notes.txt: not a JSON document" in refused.stderr
    assert other.returncode == 1 and "provenance.json" in other.stderr


def test_services_are_listed_and_shown_in_text_and_json(runway, developer, web):
    listed = runway(developer, "services", "list", "--team", "payments", "--output", "json")
    shown = runway(developer, "services", "show", "web")
    missing = runway(developer, "services", "show", "nope")

    assert listed.returncode == 0, listed.stderr
    assert [service["name"] for service in json.loads(listed.stdout)] == ["web"]
    assert shown.returncode == 0 and shown.stdout.startswith("web (payments)")
    assert "  prod (production)" in shown.stdout
    assert missing.returncode == 1


def test_a_train_is_requested_with_its_members_and_followed_to_its_end(
    runway, developer, release_manager, prod_services
):
    from apps.trains import services as train_services
    from apps.trains.models import Train, TrainState

    prod_services("ab", {"a": "b"})
    created = runway(
        developer,
        "train", "create", "--name", "Checkout v2", "--env", "prod",
        "--member", "a=registry/a:2.0.0", "--member", "b=registry/b:2.0.0",
        "--submit", "--output", "json",
    )  # fmt: skip
    bad_member = runway(
        developer, "train", "create", "--name", "x", "--env", "prod", "--member", "a"
    )

    assert created.returncode == 0, created.stderr
    train = Train.objects.get(pk=json.loads(created.stdout)["id"])
    assert sorted(train.members.values_list("release__version", flat=True)) == [
        "registry/a:2.0.0",
        "registry/b:2.0.0",
    ]
    assert bad_member.returncode == 1 and "service=image" in bad_member.stderr

    follower = runway.start(developer, "train", "follow", str(train.pk))
    assert follower.stdout.readline().startswith(f"train #{train.pk}: ")
    train_services.train_cancel(actor=developer, train=train, reason="Moved to January")
    out, err = follower.communicate(timeout=60)

    assert follower.returncode == 4, err
    assert f"train #{train.pk}: cancelled" in out
    assert Train.objects.get(pk=train.pk).state == TrainState.CANCELLED
