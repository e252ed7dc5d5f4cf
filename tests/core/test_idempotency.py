"""Creates sent with an Idempotency-Key (apps/core/idempotency.py), through the releases API,
and the header that tells a refusal by policy from a request that is wrong."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.catalog.models import Environment
from apps.core.idempotency import idempotent_requests_forget
from apps.core.models import IdempotentRequest
from apps.releases.calendar import services as calendar_services
from apps.releases.models import Release
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

START = timezone.now() + timedelta(days=2)


def body(**changes) -> dict:
    return {
        "service": "web",
        "environment": "dev",
        "version": "registry/web:1.5.0",
        "title": "Faster search",
        "planned_start": START.isoformat(),
        "planned_end": (START + timedelta(hours=1)).isoformat(),
        **changes,
    }


@pytest.fixture
def post(api_as, developer, web):
    client = api_as(developer)

    def send(key: str | None, **changes):
        headers = {"Idempotency-Key": key} if key is not None else {}
        return client.post("/api/v1/releases/", body(**changes), format="json", headers=headers)

    return send


def test_the_same_create_with_its_key_again_answers_the_first_release(post):
    first = post("k-1")
    again = post("k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Release.objects.count() == 1


def test_without_a_key_each_create_is_a_new_release(post):
    post(None)
    post(None)

    assert Release.objects.count() == 2
    assert not IdempotentRequest.objects.exists()


def test_a_key_sent_with_another_body_is_refused_naming_the_header(post):
    post("k-2")
    other = post("k-2", title="Something else")

    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()
    assert Release.objects.count() == 1


def test_each_user_has_keys_of_their_own(post, api_as, other_developer, search):
    service = ServiceFactory(name="search-api", owner=search)
    Environment.objects.create(service=service, name="dev", kind="development", order=1)
    post("shared")
    theirs = api_as(other_developer).post(
        "/api/v1/releases/",
        body(service="search-api"),
        format="json",
        headers={"Idempotency-Key": "shared"},
    )

    assert theirs.status_code == 201, theirs.json()
    assert Release.objects.count() == 2


@pytest.mark.parametrize("key", ["", "é-accent", "x" * 256, "tab\there"])
def test_a_key_that_is_not_printable_ascii_up_to_255_is_a_400_naming_the_header(post, key):
    response = post(key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not Release.objects.exists()


def test_a_refusal_keeps_no_key_so_the_same_request_may_go_again_once_allowed(
    post, release_manager
):
    freeze = calendar_services.freeze_create(
        actor=release_manager,
        name="Year end",
        starts_at=START - timedelta(days=1),
        ends_at=START + timedelta(days=1),
        scope="organisation",
    )
    refused = post("k-3", submit=True)
    freeze.delete()
    allowed = post("k-3", submit=True)

    assert refused.status_code == 400
    assert refused.headers["Runway-Refusal"] == "policy"
    assert allowed.status_code == 201
    assert Release.objects.count() == 1


def test_input_that_is_wrong_is_not_marked_as_a_refusal(post):
    response = post("k-4", environment="qa")

    assert response.status_code == 400
    assert "environment" in response.json()
    assert "Runway-Refusal" not in response.headers


def test_a_key_still_being_answered_is_a_409_to_try_again_and_never_a_second_release(
    post, developer
):
    from apps.core.idempotency import _fingerprint

    IdempotentRequest.objects.create(
        user=developer,
        key="k-5",
        operation="POST /api/v1/releases/",
        fingerprint=_fingerprint(body()),
        status_code=0,
        body={},
    )
    response = post("k-5")

    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert not Release.objects.exists()


def test_keys_older_than_a_day_are_forgotten(post):
    post("k-6")
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
    post("k-7")

    assert idempotent_requests_forget() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["k-7"]
    # A day on, the key is new again.
    assert post("k-6").status_code == 201
    assert Release.objects.count() == 3
