import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.trains.models import Train

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # WhiteNoise serves static files with a synchronous iterator, which ASGI warns about.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


@pytest.fixture
def page(streaming_page):
    """A train page follows its train live: served as in production."""
    return streaming_page


def test_a_developer_sees_the_plan_and_a_cycle_in_place_before_requesting_a_train(
    page, sign_in, developer, prod_services
):
    prod_services("abcde", {"a": "bc", "b": "d", "c": "d"})
    prod_services("x")
    prod_services("y", {"y": "x", "x": "y"})
    sign_in(developer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Trains").click()
    page.get_by_role("link", name="Request a train").click()
    start = (timezone.now() + timedelta(days=3)).replace(hour=10, minute=0)
    page.get_by_label("Name").fill("December train")
    page.get_by_label("Planned start").fill(start.strftime("%Y-%m-%d %H:%M"))
    page.get_by_label("Planned end").fill((start + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"))

    page.get_by_label("Members").fill("x registry/x:1\ny registry/y:1")
    page.get_by_role("button", name="Show the plan").click()
    expect(page.get_by_role("alert")).to_contain_text("x → y → x")

    page.get_by_label("Members").fill("\n".join(f"{s} registry/{s}:2.0.0" for s in "abcde"))
    page.get_by_role("button", name="Show the plan").click()
    expect(page.locator("#train-plan li")).to_have_text(
        ["Wave 1: d, e", "Wave 2: b, c", "Wave 3: a"]
    )
    page.get_by_role("button", name="Submit for approval").click()
    expect(page).to_have_url(re.compile(r"/trains/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("December train")
    assert Train.objects.get().state == "approved"  # no policy covers these services

    # A member is acted on through its train: its page offers nothing and says so.
    member = Train.objects.get().members.get(service_name="a").release
    page.get_by_role("link", name=f"#{member.pk}", exact=True).click()
    expect(page.get_by_test_id("steered-by")).to_have_text(
        "Not acted on by itself: Part of train “December train”: act on the train."
    )
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(page.get_by_role("button", name="Start rollout now")).to_have_count(0)
    page.get_by_role("link", name=re.compile(r"Train #\d+ December train")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("December train")


def test_a_developer_promotes_a_train_that_succeeded_in_staging_and_is_told_why_not_twice(
    page, sign_in, developer, staged, succeeded_train
):
    staged("ab", soak_seconds=3600)
    source = succeeded_train("ab", finished_ago=timedelta(minutes=30))
    sign_in(developer)
    page.goto(f"/trains/{source.pk}/")
    page.get_by_role("button", name="Promote to prod").click()
    expect(page.locator("#toasts")).to_contain_text("a: registry/a@sha256:aaaaaaaa needs 1 h")
    expect(page.locator("#toasts")).to_contain_text("30 min left")

    page.get_by_label("Emergency: skip the members' soak").check()
    page.get_by_label("Justification (an emergency only)").fill("Card payments are down")
    page.get_by_role("button", name="Promote to prod").click()
    promoted = Train.objects.get(environment_name="prod")
    expect(page).to_have_url(re.compile(rf"/trains/{promoted.pk}/$"))
    expect(page.get_by_text(f"Promoted from train #{source.pk} in staging.")).to_be_visible()
    page.get_by_role("link", name=f"train #{source.pk}").click()
    expect(page.get_by_test_id("promoted-to")).to_contain_text(f"train #{promoted.pk}")
    expect(page.get_by_role("button", name="Promote to prod")).to_have_count(0)


def test_a_release_manager_approves_a_train_from_the_inbox_after_reauthentication(
    page, sign_in, release_manager, make_train, union_policies, password
):
    train = make_train(submit=True)
    later = make_train("ab", submit=True, name="January train")
    sign_in(release_manager)
    page.goto("/releases/inbox/")
    item = page.locator(f"#inbox-train-{train.pk}")
    expect(item.get_by_role("heading", level=2)).to_have_text(f"Train #{train.pk} December train")
    expect(item.locator('[data-section="members"]')).to_contain_text("a@2.0.0")
    expect(page.locator("article.inbox-item")).to_have_count(2)  # the members are in them
    item.get_by_label("Comment").fill("All five, together")
    item.get_by_role("button", name="Approve train").click()
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()

    expect(page).to_have_url(re.compile(r"/releases/inbox/$"))
    expect(page.get_by_text(f"You approved train #{train.pk} December train.")).to_be_visible()
    expect(page.locator(f"#inbox-train-{train.pk}")).to_have_count(0)
    assert train.approvals.get().comment == "All five, together"

    # With the password fresh, a refusal and a decision happen in place, without a reload.
    page.evaluate("window.__marker = 'same-page'")
    other = page.locator(f"#inbox-train-{later.pk}")
    other.get_by_role("button", name="Reject train").click()
    expect(other.get_by_role("alert")).to_contain_text("Say why you reject it")
    other.get_by_label("Comment").fill("Not before the freeze")
    other.get_by_role("button", name="Reject train").click()
    expect(other.get_by_test_id("inbox-outcome")).to_have_text(
        re.compile(r"Rejected — its members are cancelled")
    )
    assert page.evaluate("window.__marker") == "same-page"
    later.refresh_from_db()
    assert later.state == "rejected"
