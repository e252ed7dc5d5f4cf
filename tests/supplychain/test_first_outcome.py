"""The first start attempt's supply-chain outcome, kept on the release for the security gate
pass rate: once, never overwritten, and kept when the start is refused and rolled back."""

import pytest
from django.core.exceptions import ValidationError

from apps.releases import services as release_services
from apps.releases.models import Release
from apps.releases.versions.services import version_mark_bad
from apps.rollouts import services as rollout_services
from apps.supplychain import services
from tests.rollouts.executing import release_of
from tests.supplychain.signing import DIGEST, Signer
from tests.supplychain.test_trust import IMAGE, cosign_document

pytestmark = pytest.mark.django_db


def first_outcome(release: Release) -> bool | None:
    release.refresh_from_db()
    assert (release.supply_chain_first_passed is None) == (release.supply_chain_first_at is None)
    return release.supply_chain_first_passed


def test_a_first_attempt_refused_then_passed_counts_as_failed(
    web, developer, ci, signer, signed_policy
):
    release = release_of(web, IMAGE, actor=developer)
    with pytest.raises(ValidationError, match="Supply chain: signature"):
        rollout_services.rollout_start(actor=developer, release=release)
    assert first_outcome(release) is False
    first_at = release.supply_chain_first_at

    services.attestation_upload(actor=ci, digest=DIGEST, document=cosign_document(signer))
    rollout_services.rollout_start(actor=developer, release=release)
    assert first_outcome(release) is False and release.state == "in_progress"
    assert release.supply_chain_first_at == first_at


def test_a_first_attempt_that_passes_is_kept_when_a_later_one_would_fail(
    web, developer, ci, signer, key, signed_policy, platform_admin
):
    services.attestation_upload(actor=ci, digest=DIGEST, document=cosign_document(signer))
    release = release_of(web, IMAGE, actor=developer)
    started, release = release_services.release_begin(release=release)
    assert started and first_outcome(release) is True
    services.trusted_key_revoke(actor=platform_admin, key=key, reason="the signing key leaked")
    # Begun already: a later attempt evaluates nothing new and overwrites nothing.
    assert release_services.release_begin(release=release) == (False, release)
    assert first_outcome(release) is True


def test_a_start_refused_through_the_api_still_records_its_outcome(
    api_as, web, developer, ci, signed_policy
):
    services.attestation_upload(actor=ci, digest=DIGEST, document=cosign_document(Signer()))
    release = release_of(web, IMAGE, actor=developer)
    response = api_as(developer).post("/api/v1/rollouts/", {"release": release.pk})
    assert response.status_code == 400, response.content
    assert first_outcome(release) is False
    assert not release.rollouts.exists() and release.state == "scheduled"


def test_a_start_refused_from_the_release_page_still_records_its_outcome(
    client_as, web, developer, signed_policy
):
    release = release_of(web, IMAGE, actor=developer)
    response = client_as(developer).post(f"/rollouts/start/{release.pk}/")
    assert response.status_code == 302 and response.url == f"/releases/{release.pk}/"
    assert first_outcome(release) is False


def test_the_dispatcher_records_the_outcome_of_the_start_it_held(web, developer, signed_policy):
    release = release_of(web, IMAGE, actor=developer)
    assert release_services.releases_due_start() == []
    assert first_outcome(release) is False


def test_a_release_under_no_trust_policy_records_no_outcome(web, developer):
    release = release_of(web, IMAGE, actor=developer)
    rollout_services.rollout_start(actor=developer, release=release)
    assert first_outcome(release) is None


def test_only_the_supply_chain_gates_decide_the_outcome(
    web, developer, ci, signer, signed_policy, platform_admin
):
    services.attestation_upload(actor=ci, digest=DIGEST, document=cosign_document(signer))
    release = release_of(web, "registry.example.com/payments/web:1.4.0", actor=developer)
    other = release_of(web, IMAGE, actor=developer)
    # A tag-only version fails the digest requirement: a security failure.
    with pytest.raises(ValidationError):
        rollout_services.rollout_start(actor=developer, release=release)
    assert first_outcome(release) is False
    # Signed, but refused for a reason that is no security failure: the version is marked bad.
    version_mark_bad(
        actor=platform_admin, service=web, version=IMAGE, reason="crashes on start, see incident"
    )
    with pytest.raises(ValidationError, match="Version"):
        rollout_services.rollout_start(actor=developer, release=other)
    assert first_outcome(other) is True
