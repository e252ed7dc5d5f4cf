import re

import pytest

from apps.audit.models import AuditEvent
from apps.catalog.models import Cluster, Strategy
from apps.releases import services as release_services
from apps.releases.models import ReleaseCommit, ReleaseState
from apps.rollouts import selectors
from apps.rollouts.models import Rollout, RolloutEvent, RolloutState, StepState
from tests.rollouts.builders import many_rollouts, rollout_row

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def rollout(web, prod, developer):
    """web's canary to prod, paused at an inconclusive analysis (step 4 of 6) at weight 20%."""
    rollout = rollout_row(
        service=web,
        environment=prod,
        requester=developer,
        state=RolloutState.PAUSED,
        current_step=3,
    )
    rollout.steps.filter(index=3).update(
        message="http-ok: 2/3 measured, last no answer; inconclusive: promote or abort",
        results=[
            {"phase": "successful", "value": "HTTP 200", "at": "2030-01-01T10:00:00+00:00"},
            {
                "phase": "inconclusive",
                "value": "no answer: timed out",
                "at": "2030-01-01T10:00:10+00:00",
            },
        ],
    )
    return rollout


@pytest.fixture
def succeeded(web, prod, developer):
    return rollout_row(
        service=web, environment=prod, requester=developer, state=RolloutState.SUCCEEDED
    )


def status_of(rollout) -> str:
    rollout.refresh_from_db()
    return rollout.state


def buttons(body: str) -> set[str]:
    """The steering buttons on a rollout page."""
    if "rollout-actions" not in body:
        return set()
    actions = body.split("rollout-actions", 1)[1].split("</div>", 1)[0]
    return set(re.findall(r'<button type="submit"[^>]*>([^<]+)</button>', actions))


# --- The rollout page ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_shows_strategy_steps_progress_weight_analysis_and_events(
    client_as, leadership, rollout
):
    body = client_as(leadership).get(f"/rollouts/{rollout.pk}/").content.decode()
    assert f"Rollout #{rollout.pk}: web → prod" in body
    assert "Canary" in body and 'data-testid="canary-weight">20%' in body
    assert 'value="50"' in body  # 3 of 6 steps done
    assert body.count('data-testid="step-state"') == 6
    assert "Send 20% of traffic to the canary" in body and "Pause until promoted" in body
    assert "inconclusive: promote or abort" in body  # the step's message
    assert "HTTP 200" in body and "no answer: timed out" in body  # its measurements
    assert "Cluster unreachable (timeout); retry 1 in 2 s" in body  # the event log
    assert f'sse-connect="/rollouts/{rollout.pk}/stream/?since=' in body
    assert f'hx-get="/rollouts/{rollout.pk}/pods/"' in body


@pytest.mark.django_db
def test_the_page_keeps_a_fixed_query_count_however_long_the_log(
    client_as, developer, rollout, django_assert_num_queries
):
    RolloutEvent.objects.bulk_create(
        RolloutEvent(rollout=rollout, step_index=3, message=f"measured {n}") for n in range(300)
    )
    client = client_as(developer)
    # session, user, rollout, steps, events, roles, teams
    with django_assert_num_queries(7):
        body = client.get(f"/rollouts/{rollout.pk}/").content.decode()
    assert body.count("measured ") == selectors.EVENT_LIMIT  # the latest ones
    assert "measured 299" in body and "measured 99<" not in body


@pytest.mark.django_db
def test_the_page_shows_why_a_rollout_failed(client_as, developer, web, prod):
    failed = rollout_row(
        service=web,
        environment=prod,
        requester=developer,
        state=RolloutState.ROLLED_BACK,
        failure_reason="http-ok: 3/3 measured, last HTTP 500; more than 0 failed",
    )
    body = client_as(developer).get(f"/rollouts/{failed.pk}/").content.decode()
    assert "Failure:</strong> http-ok: 3/3 measured, last HTTP 500" in body


@pytest.mark.django_db
def test_htmx_gets_just_the_status_part(client_as, developer, rollout):
    body = client_as(developer).get(f"/rollouts/{rollout.pk}/", **HTMX).content.decode()
    assert "<html" not in body and 'data-testid="rollout-state">Paused' in body


@pytest.mark.django_db
def test_the_owning_team_gets_the_buttons_the_state_allows(client_as, developer, rollout):
    body = client_as(developer).get(f"/rollouts/{rollout.pk}/").content.decode()
    assert buttons(body) == {"Promote", "Promote fully", "Resume", "Abort"}


@pytest.mark.django_db
def test_release_managers_steer_any_rollout(client_as, release_manager, rollout):
    body = client_as(release_manager).get(f"/rollouts/{rollout.pk}/").content.decode()
    assert buttons(body) == {"Promote", "Promote fully", "Resume", "Abort"}


@pytest.mark.django_db
def test_a_pause_until_promoted_offers_promotion_not_resuming(client_as, developer, web, prod):
    waiting = rollout_row(
        service=web,
        environment=prod,
        requester=developer,
        state=RolloutState.PAUSED,
        current_step=2,
    )
    body = client_as(developer).get(f"/rollouts/{waiting.pk}/").content.decode()
    assert buttons(body) == {"Promote", "Promote fully", "Abort"}


@pytest.mark.django_db
def test_a_succeeded_rollout_offers_only_a_rollback(client_as, developer, succeeded):
    body = client_as(developer).get(f"/rollouts/{succeeded.pk}/").content.decode()
    assert buttons(body) == {"Roll back"}


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["leadership", "other_developer", "outsider"])
def test_readers_who_may_not_steer_see_no_buttons(client_as, rollout, persona, request):
    body = client_as(request.getfixturevalue(persona)).get(f"/rollouts/{rollout.pk}/")
    assert body.status_code == 200
    assert buttons(body.content.decode()) == set()


@pytest.mark.django_db
def test_an_anonymous_visitor_is_sent_to_sign_in(client, rollout):
    response = client.get(f"/rollouts/{rollout.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Steering -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_owning_team_resumes_in_place_with_a_toast(client_as, developer, rollout):
    response = client_as(developer).post(f"/rollouts/{rollout.pk}/resume/", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="rollout-state">Running' in body
    assert f"Rollout #{rollout.pk} resumed." in body and 'hx-swap-oob="beforeend"' in body
    assert status_of(rollout) == RolloutState.RUNNING
    assert AuditEvent.objects.filter(
        action="rollout.transition", after__state="running", target_id=str(rollout.pk)
    ).exists()


@pytest.mark.django_db
def test_promoting_fully_skips_every_remaining_weight_pause_and_analysis(
    client_as, release_manager, rollout
):
    client_as(release_manager).post(f"/rollouts/{rollout.pk}/promote/", {"full": "1"}, **HTMX)
    states = dict(rollout.steps.values_list("index", "state"))
    assert [states[i] for i in (3, 4, 5)] == [StepState.SKIPPED, StepState.SKIPPED, "pending"]
    assert status_of(rollout) == RolloutState.RUNNING


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["leadership", "other_developer"])
@pytest.mark.parametrize("action", ["promote", "pause", "resume", "abort"])
def test_leadership_and_other_teams_developers_are_refused(
    client_as, rollout, persona, action, request
):
    client = client_as(request.getfixturevalue(persona))
    response = client.post(f"/rollouts/{rollout.pk}/{action}/", **HTMX)
    assert response.status_code == 403
    assert status_of(rollout) == RolloutState.PAUSED
    # Only the refusal is recorded: nothing happened to the rollout.
    audited = AuditEvent.objects.filter(action__startswith="rollout.")
    assert list(audited.values_list("action", flat=True)) == [f"rollout.{action}.refused"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("pause", "A rollout that is succeeded cannot be paused."),
        ("resume", "A rollout that is succeeded cannot be resumed."),
        ("promote", "A rollout that is succeeded cannot be promoted."),
        ("abort", "A rollout that is succeeded cannot be aborted."),
    ],
)
def test_a_finished_rollout_cannot_be_steered_and_says_why(
    client_as, developer, succeeded, action, message
):
    response = client_as(developer).post(f"/rollouts/{succeeded.pk}/{action}/", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="toast toast-error"' in body and message in body
    assert status_of(succeeded) == RolloutState.SUCCEEDED


@pytest.mark.django_db
def test_abort_records_the_reason_and_refuses_an_overlong_one(client_as, developer, rollout):
    client = client_as(developer)
    too_long = client.post(f"/rollouts/{rollout.pk}/abort/", {"reason": "x" * 501}, **HTMX)
    assert "Reason: at most 500 characters." in too_long.content.decode()
    assert status_of(rollout) == RolloutState.PAUSED

    client.post(f"/rollouts/{rollout.pk}/abort/", {"reason": "error rate"}, **HTMX)
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.ROLLING_BACK
    assert rollout.failure_reason == "Aborted by dana: error rate"
    event = AuditEvent.objects.get(action="rollout.transition", after__state="rolling_back")
    assert event.after == {"state": "rolling_back", "reason": "Aborted by dana: error rate"}
    assert event.before == {"state": "paused"} and event.actor_label == "dana"


@pytest.mark.django_db
def test_a_rollback_sends_the_browser_to_the_new_rollout(client_as, developer, succeeded):
    response = client_as(developer).post(
        f"/rollouts/{succeeded.pk}/rollback/", {"reason": "latency"}, **HTMX
    )
    rollback = Rollout.objects.get(is_rollback=True)
    assert response["HX-Redirect"] == f"/rollouts/{rollback.pk}/"
    assert rollback.rolls_back == succeeded and rollback.image == "registry/web:1.9.0"


@pytest.mark.django_db
def test_without_htmx_steering_returns_to_the_page(client_as, developer, rollout):
    response = client_as(developer).post(f"/rollouts/{rollout.pk}/resume/")
    assert response.status_code == 302 and response["Location"] == f"/rollouts/{rollout.pk}/"


# --- Starting a release's rollout ------------------------------------------------------------


@pytest.fixture
def scheduled_dev_release(make_release, web, developer):
    """Approved without a policy and first in promotion order: every gate passes."""
    web.strategy = Strategy.CANARY
    web.strategy_params = {"steps": [{"set_weight": 25}, {"pause": {}}]}
    web.save()
    release = make_release(web.environments.get(name="dev"))
    release = release_services.release_submit(actor=developer, release=release)
    assert release.state == ReleaseState.SCHEDULED
    return release


@pytest.mark.django_db
def test_starting_a_scheduled_release_opens_its_rollout(
    client_as, developer, scheduled_dev_release
):
    response = client_as(developer).post(f"/rollouts/start/{scheduled_dev_release.pk}/")
    rollout = Rollout.objects.get(release=scheduled_dev_release)
    assert response.status_code == 302 and response["Location"] == f"/rollouts/{rollout.pk}/"
    assert list(rollout.steps.values_list("kind", flat=True)) == [
        "canary_start",
        "set_weight",
        "pause",
        "canary_promote",
    ]


@pytest.mark.django_db
def test_leadership_cannot_start_a_rollout(client_as, leadership, scheduled_dev_release):
    response = client_as(leadership).post(f"/rollouts/start/{scheduled_dev_release.pk}/")
    assert response.status_code == 403
    assert not Rollout.objects.exists()


@pytest.mark.django_db
def test_a_draft_cannot_start_and_the_release_page_says_why(
    client_as, developer, make_release, web
):
    draft = make_release(web.environments.get(name="dev"))
    client = client_as(developer)
    response = client.post(f"/rollouts/start/{draft.pk}/", follow=True)
    assert response.redirect_chain[-1][0] == f"/releases/{draft.pk}/"
    assert "only approved releases roll out" in response.content.decode()
    assert not Rollout.objects.exists()


# --- Pods ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unreachable_cluster_is_shown_not_raised(client_as, developer, rollout, tmp_path):
    kubeconfig = tmp_path / "kubeconfig.yaml"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        "clusters: [{name: gone, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: nobody}}]\n"
        "users: [{name: nobody, user: {}}]\n"
    )
    rollout.cluster = Cluster.objects.create(name="gone", kubeconfig_path=str(kubeconfig))
    rollout.save()
    response = client_as(developer).get(f"/rollouts/{rollout.pk}/pods/", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and 'data-testid="cluster-unreachable"' in body
    assert "web-canary" in body and "registry/web:2.0.0" in body


@pytest.mark.django_db
def test_a_missing_kubeconfig_is_shown_not_raised(client_as, developer, rollout, tmp_path):
    rollout.cluster = Cluster.objects.create(
        name="nowhere", kubeconfig_path=str(tmp_path / "missing.yaml")
    )
    rollout.save()
    response = client_as(developer).get(f"/rollouts/{rollout.pk}/pods/", **HTMX)
    assert response.status_code == 200
    assert 'data-testid="cluster-unreachable"' in response.content.decode()


@pytest.mark.django_db
def test_the_planned_pods_follow_the_canary_weight(rollout):
    rollout.weight = 20
    planned = {
        p.role: (p.deployment, p.version, p.desired) for p in selectors.planned_pods(rollout)
    }
    assert planned == {
        "stable": ("web", "registry/web:1.9.0", 5),  # the stable keeps every pod
        "canary": ("web-canary", "registry/web:2.0.0", 1),
    }
    rollout.state = RolloutState.SUCCEEDED
    planned = {p.role: (p.version, p.desired) for p in selectors.planned_pods(rollout)}
    assert planned == {"stable": ("registry/web:2.0.0", 5), "canary": ("registry/web:2.0.0", 0)}


# --- The rollouts list and the service panel -------------------------------------------------


@pytest.mark.django_db
def test_the_list_keeps_a_fixed_query_count_with_50_rollouts(
    client_as, leadership, django_assert_num_queries
):
    many_rollouts(50, requester=leadership)
    client = client_as(leadership)
    client.get("/rollouts/")  # the session and roles, once
    # session, user, roles, version, count, page, steps, what each replaces, commit counts
    with django_assert_num_queries(9):
        response = client.get("/rollouts/")
    page = list(response.context["page"])
    assert len(page) == 50
    assert [r.state for r in page[:5]] == [RolloutState.RUNNING] * 5  # active first
    with django_assert_num_queries(8):  # htmx: no version
        client.get("/rollouts/", {"state": "succeeded"}, **HTMX)


@pytest.mark.django_db
def test_the_list_shows_the_version_that_ships_what_it_replaces_and_its_commits(
    client_as, leadership, developer, web, prod
):
    rollout_row(
        service=web,
        environment=prod,
        requester=developer,
        state=RolloutState.SUCCEEDED,
        version="ghcr.io/acme/web:1.3.0",
    )
    running = rollout_row(
        service=web, environment=prod, requester=developer, version="ghcr.io/acme/web:1.4.0"
    )
    for sha in ("a1b2c3d4", "e5f6a7b8"):
        ReleaseCommit.objects.create(
            release=running.release, sha=sha, author="sam", committed_at=running.created_at
        )
    html = client_as(leadership).get("/rollouts/").content.decode()
    row = html[html.index(f'href="/rollouts/{running.pk}/"') :]
    row = row[: row.index("</tr>")]
    assert '<code title="ghcr.io/acme/web:1.4.0">…/web:1.4.0</code>' in row
    assert '<code title="ghcr.io/acme/web:1.3.0">…/web:1.3.0</code>' in row
    assert "<td>2</td>" in row


@pytest.mark.django_db
def test_the_list_filters_by_state_service_and_environment(client_as, developer):
    many_rollouts(20, requester=developer)
    client = client_as(developer)

    def shown(**query):
        return {(r.service.name, r.state) for r in client.get("/rollouts/", query).context["page"]}

    assert shown(state="running") == {(f"svc-{n}", "running") for n in range(5)}
    assert shown(service="svc-2", state="running") == {("svc-2", "running")}
    assert shown(environment="staging") == set()
    assert len(client.get("/rollouts/", {"service": "svc-2"}).context["page"]) == 4


@pytest.mark.django_db
def test_the_list_is_live_and_htmx_gets_just_the_rows(client_as, developer):
    many_rollouts(3, requester=developer, services=1)
    client = client_as(developer)
    page = client.get("/rollouts/").content.decode()
    assert 'sse-connect="/rollouts/stream/?since=' in page
    rows = client.get("/rollouts/", {"service": "svc-0"}, **HTMX).content.decode()
    assert rows.lstrip().startswith(
        '<div id="rollout-list" class="live-part" hx-get="/rollouts/?service=svc-0"'
    )


@pytest.mark.django_db
def test_the_service_page_lists_its_recent_rollouts_in_fixed_queries(
    client_as, developer, web, prod, django_assert_max_num_queries
):
    for number in range(12):
        rollout_row(
            service=web,
            environment=prod,
            requester=developer,
            state=RolloutState.SUCCEEDED,
            version=f"registry/web:{number}",
        )
    client = client_as(developer)
    # The scorecard panel takes 5 of these while web has never been scored (evaluated live);
    # the rings panel none (web has no rings: read with its row).
    with django_assert_max_num_queries(18):
        body = client.get("/catalog/services/web/").content.decode()
    panel = body.split('data-panel="rollouts"')[1]
    with django_assert_max_num_queries(2):  # the panel's own share: rollouts, their steps
        selectors.service_rollouts(service=web)
    assert panel.count("data-rollout=") == 8
    assert "registry/web:11" in panel and 'href="/rollouts/?service=web"' in panel


# --- What the rollouts app adds to the release page -------------------------------------------


@pytest.mark.django_db
def test_the_release_page_offers_its_team_to_start_the_rollout(
    client_as, developer, leadership, scheduled_dev_release
):
    path = f"/releases/{scheduled_dev_release.pk}/"
    start = f'action="/rollouts/start/{scheduled_dev_release.pk}/"'
    assert start in client_as(developer).get(path).content.decode()
    assert start not in client_as(leadership).get(path).content.decode()


@pytest.mark.django_db
def test_the_release_page_links_its_rollouts_in_a_fixed_number_of_queries(
    client_as, developer, rollout, django_assert_max_num_queries
):
    client = client_as(developer)
    path = f"/releases/{rollout.release_id}/"
    client.get(path)  # the session and content types settle first
    # The release, its gates (versions held and marked bad, trust policies among them), its
    # rollouts and the train it may belong to (read once for the link and the refusals), its
    # environment's rings.
    with django_assert_max_num_queries(24) as one:
        body = client.get(path).content.decode()
    assert f'href="/rollouts/{rollout.pk}/">Rollout #{rollout.pk}</a>' in body
    assert "/rollouts/start/" not in body  # it has one already
    rollback = rollout_row(
        service=rollout.service,
        environment=rollout.environment,
        requester=developer,
        state=RolloutState.SUCCEEDED,
        is_rollback=True,
    )
    Rollout.objects.filter(pk=rollback.pk).update(release=rollout.release)
    with django_assert_max_num_queries(len(one)):
        body = client.get(path).content.decode()
    assert f"Rollout #{rollback.pk} (rollback)" in body
