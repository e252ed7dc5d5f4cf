"""`runway release …` against a live server: what it creates, and the exit code for each way a
change can fail to reach its goal (cli/exits.py)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.releases import services as release_services
from apps.releases.calendar import services as calendar_services
from apps.releases.models import Release, ReleaseState
from tests.brokers import free_port
from tests.cli.conftest import cli_env
from tests.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DIGEST = "sha256:" + "ab" * 32
CREATE = ("release", "create", "--service", "web", "--image", "registry/web:1.5.0")


def test_a_release_created_by_the_command_is_pinned_by_digest_and_printed_as_json(
    runway, developer, web
):
    done = runway(developer, *CREATE, "--env", "dev", "--digest", DIGEST, "--output", "json")

    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    release = Release.objects.get()
    assert printed["id"] == release.pk
    assert (release.version, release.state) == (f"registry/web:1.5.0@{DIGEST}", "draft")
    assert release.requester == developer
    assert f"Release #{release.pk} draft" in done.stderr  # progress goes to stderr with json


def test_a_freeze_refuses_the_submission_with_exit_2_naming_it_and_nothing_is_created(
    runway, developer, release_manager, web
):
    calendar_services.freeze_create(
        actor=release_manager,
        name="Year end",
        starts_at=timezone.now() - timedelta(hours=1),
        ends_at=timezone.now() + timedelta(days=1),
        scope="organisation",
    )

    done = runway(developer, *CREATE, "--env", "dev", "--submit")

    assert done.returncode == 2, done.stderr
    assert "refused" in done.stderr and "Year end" in done.stderr
    assert not Release.objects.exists()


def test_a_wrong_environment_is_a_usage_error_naming_the_field(runway, developer, web):
    done = runway(developer, *CREATE, "--env", "qa")

    assert done.returncode == 1, done.stderr
    assert "environment:" in done.stderr
    assert not Release.objects.exists()


def test_bad_options_exit_1_not_click_s_2(runway, developer, web):
    missing = runway(developer, "release", "create", "--service", "web")
    bad_digest = runway(developer, *CREATE, "--env", "dev", "--digest", "md5:00")

    assert (missing.returncode, bad_digest.returncode) == (1, 1)
    assert "--env" in missing.stderr and "--digest" in bad_digest.stderr


def test_a_bad_token_and_a_forbidden_decision_exit_6(runway, developer, make_release, prod_policy):
    release = release_services.release_submit(actor=developer, release=make_release())
    bad_token = runway(None, "release", "show", str(release.pk), env={"RUNWAY_TOKEN": "rw_nope"})
    # A developer is no approver.
    forbidden = runway(developer, "release", "approve", str(release.pk))

    assert (bad_token.returncode, forbidden.returncode) == (6, 6), forbidden.stderr
    assert "authentication or permission" in bad_token.stderr


def test_nobody_listening_exits_7_after_the_retries(developer, token_of, tmp_path):
    import subprocess
    import sys

    url = f"http://127.0.0.1:{free_port()}"
    env = cli_env(url, token_of(developer), tmp_path / "config.json", RUNWAY_RETRIES="2")
    done = subprocess.run(
        [sys.executable, "-m", "cli", "release", "show", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 7, done.stderr
    assert "after 3 tries" in done.stderr


def test_a_create_sent_again_with_its_key_makes_one_release_and_a_changed_body_is_refused(
    runway, developer, web
):
    # A pipeline that runs the command again gives the same key and the same start.
    key = ("--idempotency-key", "pipeline-41-dev", "--start", "2026-12-24T09:00:00+00:00")
    first = runway(developer, *CREATE, "--env", "dev", *key, "--output", "json")
    again = runway(developer, *CREATE, "--env", "dev", *key, "--output", "json")
    other = runway(developer, *CREATE, "--env", "staging", *key)

    assert (first.returncode, again.returncode) == (0, 0), again.stderr
    assert json.loads(first.stdout)["id"] == json.loads(again.stdout)["id"]
    assert Release.objects.count() == 1
    assert other.returncode == 1 and "Idempotency-Key" in other.stderr
    assert Release.objects.count() == 1


def test_two_creates_with_one_key_at_once_make_one_release(runway, developer, web):
    key = ("--idempotency-key", "retry-race", "--start", "2026-12-24T09:00:00+00:00", "-o", "json")
    # Those that find the key claimed are told to try again, and do.
    retrying = {"RUNWAY_RETRIES": "6"}
    racers = [
        runway.start(developer, *CREATE, "--env", "dev", *key, env=retrying) for _ in range(3)
    ]
    outputs = [racer.communicate(timeout=60) for racer in racers]

    assert [racer.returncode for racer in racers] == [0, 0, 0], outputs
    assert len({json.loads(out)["id"] for out, _ in outputs}) == 1
    assert Release.objects.count() == 1


def test_waiting_past_the_timeout_exits_5_and_cancels_when_asked(
    runway, developer, web, prod_policy
):
    waited = runway(developer, *CREATE, "--env", "prod", "--submit", "--wait", "--timeout", "1s")
    cancelled = runway(
        developer,
        *CREATE, "--env", "prod", "--submit", "--wait", "--timeout", "1s", "--cancel-on-timeout",
    )  # fmt: skip

    assert (waited.returncode, cancelled.returncode) == (5, 5), cancelled.stderr
    assert "Timed out after 1s: still pending_approval" in waited.stderr
    first, second = Release.objects.order_by("pk")
    assert (first.state, second.state) == (ReleaseState.PENDING_APPROVAL, ReleaseState.CANCELLED)


def test_a_rejection_while_waiting_exits_3_with_the_approver_s_reason(
    runway, developer, release_manager, web, prod_policy
):
    waiting = runway.start(developer, *CREATE, "--env", "prod", "--submit", "--wait")
    assert wait_for(lambda: Release.objects.filter(state="pending_approval").exists(), 30)
    release_services.release_reject(
        actor=release_manager, release=Release.objects.get(), comment="Not during the sale."
    )
    out, err = waiting.communicate(timeout=60)

    assert waiting.returncode == 3, err
    assert f"rejected by {release_manager.username}: Not during the sale." in out


def test_show_approve_and_reject_act_as_the_page_would(
    runway, developer, release_manager, second_release_manager, make_release, prod_policy
):
    release = release_services.release_submit(actor=developer, release=make_release())

    shown = runway(developer, "release", "show", str(release.pk))
    approved = runway(release_manager, "release", "approve", str(release.pk), "--comment", "ok")
    rejected = runway(second_release_manager, "release", "reject", str(release.pk))
    said_why = runway(
        second_release_manager, "release", "reject", str(release.pk), "--comment", "No."
    )

    assert shown.returncode == 0 and "pending approval" in shown.stdout
    assert approved.returncode == 0, approved.stderr
    assert release.approvals.get(decision="approve").approver == release_manager
    assert rejected.returncode == 1 and "--comment" in rejected.stderr
    assert said_why.returncode == 0, said_why.stderr
    release.refresh_from_db()
    assert release.state == ReleaseState.REJECTED


def test_login_keeps_the_token_in_a_file_only_its_owner_reads(
    live_server, developer, token_of, tmp_path
):
    import subprocess
    import sys

    config = tmp_path / "runway" / "config.json"
    env = cli_env(live_server.url, "", config, RUNWAY_URL="")
    login = subprocess.run(
        [sys.executable, "-m", "cli", "login", "--url", live_server.url, "--token-stdin"],
        input=token_of(developer) + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert login.returncode == 0, login.stderr
    assert f"as {developer.username}" in login.stdout
    assert config.stat().st_mode & 0o777 == 0o600

    listed = subprocess.run(
        [sys.executable, "-m", "cli", "services", "list"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr

    config.chmod(0o644)
    refused = subprocess.run(
        [sys.executable, "-m", "cli", "services", "list"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 1 and "readable by others" in refused.stderr


def test_check_report_records_the_check_as_ci(runway, ci, make_release):
    release = make_release()
    done = runway(
        ci, "check", "report", "--release", str(release.pk), "--name", "tests",
        "--status", "success", "--url", "https://ci.example.com/run/7",
    )  # fmt: skip
    refused = runway(ci, "check", "report", "--release", "999999", "--name", "t", "--status", "x")

    assert done.returncode == 0, done.stderr
    check = release.checks.get()
    assert (check.name, check.status, check.details_url) == (
        "tests",
        "passed",
        "https://ci.example.com/run/7",
    )
    assert refused.returncode == 1


def test_a_deployment_made_elsewhere_is_recorded_once_and_a_wrong_secret_exits_6(
    runway, platform_admin, web
):
    from apps.insights import services as insight_services
    from apps.insights.models import DeploymentFact, SourceKind

    source, secret = insight_services.webhook_source_create(
        actor=platform_admin, name="Argo", kind=SourceKind.GENERIC
    )
    started = (timezone.now() - timedelta(minutes=5)).isoformat()
    event = (
        "deploy-event", "--source", source.slug, "--service", "web", "--env", "prod",
        "--version", "registry/web:1.4.2", "--started-at", started,
        "--finished-at", timezone.now().isoformat(),
    )  # fmt: skip

    sent = runway(None, *event, env={"RUNWAY_WEBHOOK_SECRET": secret})
    again = runway(None, *event, env={"RUNWAY_WEBHOOK_SECRET": secret})
    wrong = runway(None, *event, env={"RUNWAY_WEBHOOK_SECRET": "not-the-secret"})

    assert (sent.returncode, again.returncode) == (0, 0), sent.stderr + again.stderr
    assert DeploymentFact.objects.filter(version="registry/web:1.4.2").count() == 1
    assert wrong.returncode == 6, wrong.stderr


def test_a_duration_that_is_not_one_is_a_usage_error_and_nothing_is_sent(runway, developer, web):
    done = runway(developer, *CREATE, "--env", "dev", "--duration", "soon")

    assert done.returncode == 1 and "--start/--duration" in done.stderr
    assert not Release.objects.exists()


def test_the_standard_pipeline_s_template_is_sent_from_its_variable_and_kept_on_the_service(
    runway, developer, web
):
    reported = runway(
        developer, *CREATE, "--env", "dev", env={"RUNWAY_PIPELINE_TEMPLATE": "python-web@3"}
    )
    plain = runway(developer, *CREATE, "--env", "staging", env={"RUNWAY_PIPELINE_TEMPLATE": ""})

    assert reported.returncode == 0, reported.stderr
    assert plain.returncode == 0, plain.stderr
    web.refresh_from_db()
    # A release without the variable (a hand-made one) leaves the last report as it was.
    assert (web.pipeline_template, web.pipeline_template_version) == ("python-web", 3)


def test_a_malformed_pipeline_template_is_a_usage_error_naming_the_field(runway, developer, web):
    done = runway(developer, *CREATE, "--env", "dev", "--pipeline-template", "python-web v3")

    assert done.returncode == 1, done.stderr
    assert "pipeline_template" in done.stderr
    assert not Release.objects.exists()
    web.refresh_from_db()
    assert web.pipeline_template == "" and web.pipeline_template_version is None
