"""Promoting a release that succeeded: the same version and commits asked of the next
environment, once, by those who may request its releases."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.exceptions import Conflict
from apps.releases import services
from apps.releases.models import Release, ReleaseState

COMMITS = [
    {
        "sha": "9f2c1e7aa",
        "author": "dana@example.com",
        "message": "Cache the basket",
        "committed_at": "2026-11-28T10:15:00Z",
    }
]


def succeeded(make_release, environment, **fields) -> Release:
    release = make_release(environment, hours_from_now=-2, commits=COMMITS, **fields)
    Release.objects.filter(pk=release.pk).update(
        state=ReleaseState.SUCCEEDED, finished_at=timezone.now()
    )
    release.refresh_from_db()
    return release


@pytest.mark.django_db
def test_a_developer_promotes_what_succeeded_in_dev_to_staging_once(make_release, developer, web):
    done = succeeded(make_release, web.environments.get(name="dev"), version="web@sha256:ab12")
    promoted = services.release_promote(actor=developer, release=done, submit=True)

    assert promoted.environment.name == "staging"
    assert (promoted.version, promoted.title) == ("web@sha256:ab12", done.title)
    assert list(promoted.commits.values_list("sha", "author")) == [
        ("9f2c1e7aa", "dana@example.com")
    ]
    assert promoted.state != ReleaseState.DRAFT  # submitted: staging has no policy here
    event = AuditEvent.objects.get(action="release.promote")
    assert event.before == {"release": done.pk, "environment": "dev"}
    assert event.after == {
        "release": promoted.pk,
        "environment": "staging",
        "version": done.version,
    }

    with pytest.raises(Conflict) as twice:
        services.release_promote(actor=developer, release=done)
    assert twice.value.message_dict["environment"] == [
        f"web@sha256:ab12 is already asked of staging: #{promoted.pk}."
    ]


@pytest.mark.django_db
def test_only_a_success_is_promoted_never_past_the_last_environment_and_by_its_team(
    make_release, developer, other_developer, leadership, web
):
    planned = make_release(web.environments.get(name="dev"))
    with pytest.raises(ValidationError) as not_done:
        services.release_promote(actor=developer, release=planned)
    assert "state" in not_done.value.message_dict
    last = succeeded(make_release, web.environments.get(name="prod"))
    with pytest.raises(ValidationError) as end:
        services.release_promote(actor=developer, release=last)
    assert end.value.message_dict["environment"] == ["prod is web's last environment."]
    done = succeeded(make_release, web.environments.get(name="dev"))
    for stranger in (other_developer, leadership):
        with pytest.raises(PermissionDenied):
            services.release_promote(actor=stranger, release=done)
    assert not AuditEvent.objects.filter(action="release.promote").exists()


@pytest.mark.django_db
def test_the_api_promotes_and_answers_409_the_second_time(api_as, make_release, developer, web):
    done = succeeded(make_release, web.environments.get(name="dev"))
    client = api_as(developer)
    first = client.post(f"/api/v1/releases/{done.pk}/promote/", {"submit": False}, format="json")
    assert first.status_code == 201, first.json()
    assert (first.json()["environment"], first.json()["state"]) == ("staging", "draft")
    again = client.post(f"/api/v1/releases/{done.pk}/promote/", {}, format="json")
    assert again.status_code == 409
    bad = client.post(f"/api/v1/releases/{done.pk}/promote/", {"submit": "perhaps"}, format="json")
    assert bad.status_code == 400 and "submit" in bad.json()


@pytest.mark.django_db
def test_the_release_page_offers_promotion_to_its_team_only(
    client_as, make_release, developer, leadership, web
):
    done = succeeded(make_release, web.environments.get(name="dev"))
    page = client_as(developer).get(f"/releases/{done.pk}/").content.decode()
    assert "Promote to staging" in page
    assert (
        "Promote to staging"
        not in client_as(leadership).get(f"/releases/{done.pk}/").content.decode()
    )
    assert client_as(leadership).post(f"/releases/{done.pk}/promote/").status_code == 403

    response = client_as(developer).post(f"/releases/{done.pk}/promote/", {"submit": "1"})
    promoted = Release.objects.get(environment__name="staging")
    assert response["Location"] == f"/releases/{promoted.pk}/"
    assert (
        "Promote to staging"
        not in client_as(developer).get(f"/releases/{done.pk}/").content.decode()
    )


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_promote_once(make_release, developer, web):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks and concurrent connections")
    done = succeeded(make_release, web.environments.get(name="dev"))
    start, outcomes = threading.Barrier(2), []

    def click():
        try:
            start.wait()
            services.release_promote(actor=developer, release=done)
            outcomes.append("promoted")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["conflict", "promoted"]
    assert Release.objects.filter(environment__name="staging").count() == 1
