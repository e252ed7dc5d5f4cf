import re

import pytest
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.releases import services
from apps.releases.models import ApprovalPolicy, ApprovalRule, ReleaseState

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staging_policy(db):
    policy = ApprovalPolicy.objects.create(name="Staging", environment_kind="staging")
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=2
    )
    return policy


def test_a_release_manager_approves_from_the_inbox_without_a_reload(
    page, sign_in, developer, release_manager, web, make_release, staging_policy
):
    staging = web.environments.get(name="staging")
    first = services.release_submit(
        actor=developer, release=make_release(staging, title="Faster checkout")
    )
    second = services.release_submit(
        actor=developer, release=make_release(staging, title="Same slot", hours_from_now=2)
    )

    sign_in(release_manager)
    page.goto("/releases/inbox/")
    item = page.locator(f"#inbox-{first.pk}")
    expect(item.locator('[data-section="conflicts"]')).to_contain_text(
        "same service and environment"
    )
    # What ships and the environment's history arrive once the item is in view.
    expect(item.locator('[data-section="diff"]')).to_contain_text("No commits listed.")
    expect(item.locator('[data-section="history"]')).to_contain_text("Recently in staging")
    retrospectives = page.locator("#inbox-retrospectives")
    retrospectives.scroll_into_view_if_needed()
    expect(retrospectives).to_contain_text("None.")
    page.evaluate("window.__marker = 'same-page'")

    # Rejecting without a comment is refused inside the item, which stays to decide on.
    item.get_by_role("button", name="Reject").click()
    expect(item.get_by_role("alert")).to_contain_text("Say why you reject it")
    item.get_by_label("Comment").fill("Checked the diff, ship it")
    item.get_by_role("button", name="Approve").click()

    expect(item.get_by_test_id("inbox-outcome")).to_have_text(
        re.compile(r"Approved — 1 more approval needed")
    )
    expect(
        page.locator(f"#inbox-{second.pk}").get_by_role("button", name="Approve")
    ).to_be_visible()
    assert page.evaluate("window.__marker") == "same-page"  # decided in place, no reload
    approval = first.approvals.get()
    assert (approval.approver, approval.comment) == (release_manager, "Checked the diff, ship it")
    first.refresh_from_db()
    assert first.state == ReleaseState.PENDING_APPROVAL


def test_a_production_approval_from_the_inbox_is_made_after_reauthentication(
    page,
    sign_in,
    developer,
    release_manager,
    second_release_manager,
    make_release,
    prod_policy,
    password,
):
    release = services.release_submit(actor=developer, release=make_release())
    services.release_approve(actor=second_release_manager, release=release)

    sign_in(release_manager)
    page.goto("/releases/inbox/")
    item = page.locator(f"#inbox-{release.pk}")
    item.get_by_label("Comment").fill("Second pair of eyes")
    item.get_by_role("button", name="Approve").click()
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    expect(page.get_by_test_id("reauthentication-purpose")).to_have_text(
        f"Confirm your password to approve release #{release.pk} of web to prod."
    )
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()

    expect(page).to_have_url(re.compile(r"/releases/inbox/$"))
    expect(page.get_by_text(f"You approved release #{release.pk}.")).to_be_visible()
    expect(page.locator(f"#inbox-{release.pk}")).to_have_count(0)
    approval = release.approvals.get(approver=release_manager)
    assert approval.comment == "Second pair of eyes"
    release.refresh_from_db()
    assert release.state == ReleaseState.SCHEDULED
