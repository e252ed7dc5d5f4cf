import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_developer_signs_in_sees_the_navigation_and_signs_out(page, sign_in, developer):
    sign_in(developer)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Teams")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit")).to_have_count(0)
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    assert page.evaluate("typeof window.htmx") == "object"  # served by Runway itself, no CDN

    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/"))


def test_a_wrong_password_shows_a_generic_error(page, developer):
    page.goto("/accounts/login/")
    page.get_by_label("Username or e-mail").fill(developer.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(
        page.get_by_text("The username and/or password you specified are not correct.")
    ).to_be_visible()


def test_leadership_cannot_reach_an_admin_page(page, sign_in, leadership):
    sign_in(leadership)
    response = page.goto("/audit/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You can’t do that here")).to_be_visible()
    response = page.goto("/people/")
    assert response.status == 403


def test_an_admin_creates_a_personal_token_without_a_reload(page, sign_in, platform_admin):
    sign_in(platform_admin)
    page.goto("/profile/")
    page.evaluate("window.__marker = 'still-here'")
    page.get_by_label("Name").fill("pipeline")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("new-token")).to_contain_text("rw_")
    assert page.evaluate("window.__marker") == "still-here"
    expect(page.get_by_role("cell", name="pipeline")).to_be_visible()
