"""Recording facts: idempotent by (source, external id), rollbacks, incidents and their causes,
and the daily roll-up kept in step. Runway's own releases: test_runway_deployments.py."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from apps.insights import services
from apps.insights.models import DailyDeploymentRollup, DeploymentFact, IncidentFact, LeadTime
from apps.insights.selectors import counted_commits
from tests.insights.conftest import utc

pytestmark = pytest.mark.django_db


def rollup(service, day: date, production=True):
    return DailyDeploymentRollup.objects.get(service=service, day=day, is_production=production)


def test_recording_the_same_deployment_twice_changes_nothing(checkout, deploy):
    commits = [{"sha": "abc", "committed_at": utc(2025, 3, 11, 12)}]
    first = deploy(
        checkout,
        started=(2025, 3, 12, 9),
        finished=(2025, 3, 12, 9, 30),
        external_id="x",
        commits=commits,
    )
    _, changed = services.deployment_fact_record(
        source="generic",
        external_id="x",
        service=checkout,
        environment="production",
        version="1.0.0",
        started_at=utc(2025, 3, 12, 9),
        finished_at=utc(2025, 3, 12, 9, 30),
        result="succeeded",
        commits=commits,
    )
    assert changed is False
    assert DeploymentFact.objects.get() == first
    # 12:00 the day before → 09:30: 21.5 hours.
    assert first.commits.get().lead_time_seconds == 21 * 3600 + 1800
    assert rollup(checkout, date(2025, 3, 12)).deployments == 1


def test_a_commit_after_its_deployment_has_no_lead_time(checkout, deploy):
    fact = deploy(
        checkout,
        started=(2025, 3, 12, 9),
        finished=(2025, 3, 12, 9, 30),
        commits=[
            {"sha": "late", "committed_at": utc(2025, 3, 12, 9, 31)},  # clocks disagree
            {"sha": "same", "committed_at": utc(2025, 3, 12, 9, 30)},  # zero is not a lead time
            {"sha": "unknown"},
        ],
    )
    assert fact.commit_count == 3
    assert set(fact.commits.values_list("lead_time_seconds", flat=True)) == {None}


def test_the_environment_kind_comes_from_the_catalog_then_the_name(checkout, deploy):
    assert deploy(
        checkout, environment="production", started=(2025, 3, 1), finished=(2025, 3, 1)
    ).is_production
    assert not deploy(
        checkout, environment="staging", started=(2025, 3, 1), finished=(2025, 3, 1)
    ).is_production
    # Not in the catalog: names that mean production do.
    assert deploy(
        checkout, environment="prd", started=(2025, 3, 1), finished=(2025, 3, 1)
    ).is_production
    assert not deploy(
        checkout, environment="qa-7", started=(2025, 3, 1), finished=(2025, 3, 1)
    ).is_production


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"result": "exploded"}, "result"),
        ({"version": " "}, "version"),
        ({"finished_at": utc(2025, 3, 12, 8)}, "finished_at"),
        ({"started_at": "2025-03-12"}, "started_at"),
        ({"commits": [{"sha": ""}]}, "commits"),
        ({"commits": [{"sha": "a", "committed_at": "yesterday"}]}, "commits"),
        ({"source": "jenkins"}, "source"),
    ],
)
def test_bad_input_names_the_field_and_records_nothing(checkout, changes, field):
    arguments = {
        "source": "generic",
        "external_id": "x",
        "service": checkout,
        "environment": "production",
        "version": "1.0.0",
        "started_at": utc(2025, 3, 12, 9),
        "finished_at": utc(2025, 3, 12, 9, 30),
        "result": "succeeded",
        **changes,
    }
    with pytest.raises(ValidationError) as refused:
        services.deployment_fact_record(**arguments)
    assert field in refused.value.message_dict
    assert not DeploymentFact.objects.exists()
    assert not DailyDeploymentRollup.objects.exists()


def test_a_failure_then_its_rollback_keeps_the_finish_and_measures_recovery(checkout, deploy):
    deploy(
        checkout,
        external_id="r",
        started=(2025, 3, 12, 10),
        finished=(2025, 3, 12, 10, 20),
        result="failed",
    )
    fact = deploy(
        checkout,
        external_id="r",
        started=(2025, 3, 12, 10),
        finished=(2025, 3, 12, 11),
        result="rolled_back",
    )
    assert fact.finished_at == utc(2025, 3, 12, 10, 20)
    assert fact.rolled_back_at == utc(2025, 3, 12, 11)
    assert fact.recovery_seconds == 3600  # rollback finished 11:00 - deployment started 10:00
    day = rollup(checkout, date(2025, 3, 12))
    assert (day.deployments, day.failures, day.rollbacks) == (1, 1, 1)


def test_a_rolled_back_deployment_is_settled(checkout, deploy):
    deploy(
        checkout,
        external_id="r",
        started=(2025, 3, 12, 10),
        finished=(2025, 3, 12, 11),
        result="rolled_back",
    )
    # A late retry of the earlier "success" report cannot undo the rollback.
    late = deploy(
        checkout, external_id="r", started=(2025, 3, 12, 10), finished=(2025, 3, 12, 10, 5)
    )
    assert late.result == "rolled_back" and late.finished_at == utc(2025, 3, 12, 11)


def test_a_later_rollback_of_a_successful_deployment_is_a_failure(checkout, deploy):
    """As the rollouts app reports it: the deployment succeeded; its rolled_back_at is set
    when a later rollback of it finishes."""
    fact = deploy(
        checkout, external_id="s", started=(2025, 3, 12, 10), finished=(2025, 3, 12, 10, 10)
    )
    assert not fact.is_failure
    fact = deploy(
        checkout,
        external_id="s",
        started=(2025, 3, 12, 10),
        finished=(2025, 3, 12, 10, 10),
        rolled_back_at=utc(2025, 3, 12, 14),
    )
    assert (fact.result, fact.is_failure, fact.recovery_seconds) == ("succeeded", True, 4 * 3600)
    assert rollup(checkout, date(2025, 3, 12)).failures == 1


def test_a_finish_moved_to_another_day_moves_it_in_the_rollup(checkout, deploy):
    deploy(
        checkout,
        external_id="m",
        started=(2025, 3, 12, 23),
        finished=(2025, 3, 12, 23, 50),
        result="failed",
    )
    deploy(checkout, external_id="m", started=(2025, 3, 12, 23), finished=(2025, 3, 13, 0, 10))
    assert not DailyDeploymentRollup.objects.filter(day=date(2025, 3, 12)).exists()
    assert rollup(checkout, date(2025, 3, 13)).deployments == 1


def test_the_rollup_refresh_is_idempotent_and_heals_a_damaged_row(checkout, deploy):
    deploy(checkout, started=(2025, 3, 12, 9), finished=(2025, 3, 12, 9, 5))
    deploy(checkout, started=(2025, 3, 12, 15), finished=(2025, 3, 12, 15, 5), result="failed")
    deploy(checkout, environment="staging", started=(2025, 3, 12, 8), finished=(2025, 3, 12, 8, 5))
    DailyDeploymentRollup.objects.filter(is_production=True).update(deployments=99)
    for _ in range(2):
        assert services.rollup_refresh(start=date(2025, 3, 1), end=date(2025, 3, 31)) == 2
    production, staging = (
        rollup(checkout, date(2025, 3, 12)),
        rollup(checkout, date(2025, 3, 12), False),
    )
    assert (production.deployments, production.failures) == (2, 1)
    assert (staging.deployments, staging.failures) == (1, 0)


# --- Incidents --------------------------------------------------------------------------------


def test_an_incident_without_a_cause_is_pinned_on_the_latest_production_deployment(
    checkout, deploy
):
    deploy(checkout, external_id="a", started=(2025, 3, 10, 9), finished=(2025, 3, 10, 9, 10))
    b = deploy(checkout, external_id="b", started=(2025, 3, 12, 14), finished=(2025, 3, 12, 14, 5))
    deploy(
        checkout,
        external_id="s",
        environment="staging",
        started=(2025, 3, 12, 15),
        finished=(2025, 3, 12, 15, 5),
    )
    deploy(checkout, external_id="c", started=(2025, 3, 13, 9), finished=(2025, 3, 13, 9, 5))
    incident, created = services.incident_record(
        source="generic",
        external_id="INC-1",
        service=checkout,
        opened_at=utc(2025, 3, 12, 15, 30),
        resolved_at=utc(2025, 3, 12, 16, 15),
    )
    assert created
    # b started 14:00, before the incident opened at 15:30; staging does not count; c is after.
    assert (incident.deployment, incident.link) == (b, "inferred")
    assert incident.recovery_seconds == 45 * 60
    b.refresh_from_db()
    assert b.is_failure and b.result == "succeeded"
    assert rollup(checkout, date(2025, 3, 12)).failures == 1


def test_no_deployment_in_the_lookback_means_no_cause(checkout, deploy):
    deploy(checkout, started=(2025, 1, 1), finished=(2025, 1, 1, 0, 5))
    incident, _ = services.incident_record(
        source="generic", external_id="INC-1", service=checkout, opened_at=utc(2025, 3, 12)
    )
    assert incident.deployment is None
    assert not DeploymentFact.objects.get().is_failure


def test_resolving_and_reopening_an_incident_update_it(checkout):
    def record(**kw):
        return services.incident_record(
            source="pagerduty", external_id="P1", service=checkout, **kw
        )

    record(opened_at=utc(2025, 3, 12, 10))
    incident, changed = record(resolved_at=utc(2025, 3, 12, 10, 30))
    assert changed and incident.recovery_seconds == 1800
    assert record(resolved_at=utc(2025, 3, 12, 10, 30))[1] is False  # a retry: no change
    incident, _ = record(reopened=True)
    assert incident.resolved_at is None and incident.recovery_seconds is None
    assert IncidentFact.objects.count() == 1


def test_naming_the_cause_later_moves_the_failure(checkout, deploy):
    a = deploy(checkout, version="1.0", started=(2025, 3, 10, 9), finished=(2025, 3, 10, 9, 10))
    b = deploy(checkout, version="1.1", started=(2025, 3, 12, 9), finished=(2025, 3, 12, 9, 10))
    services.incident_record(
        source="generic", external_id="I", service=checkout, opened_at=utc(2025, 3, 12, 12)
    )
    b.refresh_from_db()
    assert b.is_failure
    services.incident_record(
        source="generic", external_id="I", service=checkout, caused_by_version="1.0"
    )
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.is_failure and not b.is_failure
    assert rollup(checkout, date(2025, 3, 12)).failures == 0
    assert rollup(checkout, date(2025, 3, 10)).failures == 1


def _lead_times() -> dict[str, tuple]:
    return {
        row.commit.sha: (row.commit.deployment.external_id, row.seconds, row.deployed_at)
        for row in LeadTime.objects.select_related("commit__deployment")
    }


def _counted() -> dict[str, tuple]:
    return {
        commit.sha: (
            commit.deployment.external_id,
            commit.lead_time_seconds,
            commit.deployment.finished_at,
        )
        for commit in counted_commits().select_related("deployment")
    }


@pytest.mark.django_db
def test_counted_lead_times_follow_the_deployment_that_counts_each_commit(checkout, deploy):
    commit = [{"sha": "c1", "committed_at": utc(2025, 3, 1, 8)}]
    # d1 ships c1 first: c1 counts there, 2 hours.
    deploy(
        checkout,
        external_id="d1",
        started=(2025, 3, 1, 9),
        finished=(2025, 3, 1, 10),
        commits=commit,
    )
    # d2 redeploys c1 later: still counted at d1 only.
    deploy(
        checkout,
        external_id="d2",
        started=(2025, 3, 3, 9),
        finished=(2025, 3, 3, 10),
        commits=commit,
    )
    assert _lead_times() == _counted() == {"c1": ("d1", 2 * 3600, utc(2025, 3, 1, 10))}

    # d1 is rolled back: c1 now reaches production for good with d2, 2 days 2 hours.
    deploy(
        checkout,
        external_id="d1",
        started=(2025, 3, 1, 9),
        finished=(2025, 3, 1, 11),
        result="rolled_back",
        commits=commit,
    )
    assert _lead_times() == _counted() == {"c1": ("d2", 50 * 3600, utc(2025, 3, 3, 10))}

    # A staging deployment of c1 never counts; a refresh of every day changes nothing.
    deploy(
        checkout,
        external_id="s1",
        environment="staging",
        started=(2025, 2, 28, 9),
        finished=(2025, 2, 28, 10),
        commits=commit,
    )
    services.rollup_refresh(start=date(2025, 2, 1), end=date(2025, 3, 31))
    assert _lead_times() == _counted() == {"c1": ("d2", 50 * 3600, utc(2025, 3, 3, 10))}
