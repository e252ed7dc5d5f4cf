import pytest

from apps.core.models import WorkerHeartbeat
from apps.core.navigation import navigation_for
from apps.core.services import worker_heartbeat_record


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/teams/", "/audit/", "/profile/", "/people/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_an_expired_session_on_an_htmx_request_redirects_the_whole_page(client):
    response = client.get("/teams/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_health_is_public_and_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["workers"] == "no recent heartbeat"


@pytest.mark.django_db
def test_health_sees_a_recent_worker_heartbeat(client):
    worker_heartbeat_record(hostname="celery@a")
    assert client.get("/healthz").json()["workers"] == "ok"


@pytest.mark.django_db
def test_a_repeated_heartbeat_updates_one_row():
    worker_heartbeat_record(hostname="celery@a")
    beat = worker_heartbeat_record(hostname="celery@a")
    assert WorkerHeartbeat.objects.count() == 1
    assert beat.beats == 2


@pytest.mark.django_db
def test_home_shows_the_users_roles_and_teams(client_as, developer):
    response = client_as(developer).get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Developer" in body and "Payments" in body


@pytest.mark.django_db
def test_navigation_hides_what_the_user_may_not_open(client_as, leadership, platform_admin):
    assert 'href="/audit/"' not in client_as(leadership).get("/").content.decode()
    assert 'href="/audit/"' in client_as(platform_admin).get("/").content.decode()


@pytest.mark.django_db
def test_the_menu_keeps_its_order_though_each_app_adds_its_own_entry(platform_admin, developer):
    assert [item["label"] for item in navigation_for(platform_admin, "/")] == [
        "Catalog", "Onboard", "Releases", "Trains", "Calendar", "Windows & freezes", "Rollouts",
        "Reports",
        "Teams", "People", "Audit", "Trust", "Webhooks",
    ]  # fmt: skip
    developers_menu = [item["label"] for item in navigation_for(developer, "/")]
    for admins_only in ("People", "Audit", "Trust", "Webhooks", "Windows & freezes"):
        assert admins_only not in developers_menu


@pytest.mark.django_db
def test_the_most_specific_menu_entry_is_the_current_one(developer):
    menu = navigation_for(developer, "/releases/calendar/")
    assert [item["label"] for item in menu if item["active"]] == ["Calendar"]


@pytest.mark.django_db
def test_a_page_of_panels_works_out_its_menu_once(client_as, developer, payments, monkeypatch):
    from apps.core import context_processors
    from tests.factories import ServiceFactory

    calls = []

    def counted(user, path):
        calls.append(path)
        return navigation_for(user, path)

    monkeypatch.setattr(context_processors, "navigation_for", counted)
    service = ServiceFactory(owner=payments)
    page = client_as(developer).get(f"/catalog/services/{service.name}/")
    assert page.status_code == 200
    assert 'href="/releases/"' in page.content.decode()  # the menu is there
    assert calls == [f"/catalog/services/{service.name}/"]


@pytest.mark.django_db
def test_a_missing_page_gets_the_friendly_404(client_as, developer):
    response = client_as(developer).get("/no/such/page/")
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()


@pytest.mark.django_db
def test_a_forbidden_page_gets_the_friendly_403(client_as, leadership):
    response = client_as(leadership).get("/audit/")
    assert response.status_code == 403
    assert "You can’t do that here" in response.content.decode()


@pytest.mark.django_db
def test_htmx_responses_carry_messages_as_toasts(client_as, platform_admin, payments, developer):
    client = client_as(platform_admin)
    response = client.post(
        f"/teams/{payments.slug}/members/", {"username": "riley-missing"}, HTTP_HX_REQUEST="true"
    )
    assert "No active user called" in response.content.decode()
    response = client.post(
        f"/teams/{payments.slug}/members/{developer.pk}/remove/", HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert 'hx-swap-oob="beforeend"' in body
    assert "dana removed from Payments" in body
