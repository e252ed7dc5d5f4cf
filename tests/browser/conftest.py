"""Playwright for Python drives Debian's Chromium against pytest-django's live server."""

import io
import os
import shutil
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


# One Chromium per module, not per session: while Playwright's sync API is open, this thread
# has a running event loop (and DJANGO_ALLOW_ASYNC_UNSAFE is set), which the tests a pytest-xdist
# worker runs after its browser tests must not inherit (async_to_sync refuses to run).
@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        message = f"Chromium not found at {CHROMIUM}: install Debian's chromium (make test does)."
        if os.environ.get("CI"):
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(f"!!! BROWSER TESTS SKIPPED: {message}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls that tests make to
    # set up data are still plain synchronous calls.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def refused_by_the_csp(context) -> list[str]:
    """Collects what the Content-Security-Policy blocked on the context's pages; a test that
    saw any fails (see `page`)."""
    refused = []
    context.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    refused = refused_by_the_csp(context)
    page = context.new_page()
    yield page
    context.close()
    assert refused == [], "the page did something its Content-Security-Policy refuses"


@pytest.fixture
def sign_in(page, password):
    def _sign_in(user):
        page.goto("/accounts/login/")
        page.get_by_label("Username or e-mail").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url("**/")
        return page

    return _sign_in


@contextmanager
def serving_asgi() -> Iterator[str]:
    """Runway under uvicorn in a thread of this process, on a free port, as in production
    (pytest-django's WSGI live server cannot stream)."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            "portal.asgi:application",
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def streaming_page(browser, transactional_db):
    """A page on Runway served by uvicorn (`serving_asgi`), for pages that follow a live
    stream: pytest-django's WSGI live server cannot stream, and would keep the stream's thread
    reading after the test."""
    with serving_asgi() as url:
        context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        refused = refused_by_the_csp(context)
        yield context.new_page()
        context.close()
    assert refused == [], "the page did something its Content-Security-Policy refuses"


@dataclass(frozen=True)
class DemoSite:
    url: str
    sessions: dict[str, str]  # a demo persona's username → the value of its session cookie


@pytest.fixture(scope="module")
def demo_site(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo organisation (`manage.py seed_demo`, plus tests/browser/main_pages.py's extras)
    served by uvicorn, with a session for each persona of the main pages; loaded once for a
    module of tests that only read pages, and emptied from the database when the module is done.
    Mark those tests `django_db`: pytest-django sets a test database up only for marked tests."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings

    from apps.accounts.models import User
    from tests.browser.main_pages import MAIN_PAGES, demo_extras

    checkpoints = tmp_path_factory.mktemp("audit") / "checkpoints.jsonl"
    with django_db_blocker.unblock(), override_settings(AUDIT_CHECKPOINT_FILE=checkpoints):
        # What is loaded here is flushed at the end: never into a database other than a test's.
        assert connection.settings_dict["NAME"].startswith("test_"), "no test database set up"
        try:
            call_command("seed_demo", stdout=io.StringIO())
            demo_extras()
            sessions = {}
            for persona in {page.persona for page in MAIN_PAGES if page.persona}:
                client = Client()
                client.force_login(User.objects.get(username=persona))
                sessions[persona] = client.cookies[settings.SESSION_COOKIE_NAME].value
            with serving_asgi() as url:
                yield DemoSite(url=url, sessions=sessions)
        finally:
            call_command("flush", interactive=False, verbosity=0)


class PersonaPages:
    """One browser context per demo persona, signed in, all with the same options (a phone's
    viewport, say); `open(main_page)` loads a main page as its persona sees it."""

    def __init__(self, browser, site: DemoSite, **options):
        self.browser, self.site, self.options = browser, site, options
        self.contexts: dict = {}
        self.refused: dict = {}

    def context(self, persona: str):
        if persona not in self.contexts:
            context = self.browser.new_context(base_url=self.site.url, **self.options)
            context.set_default_timeout(10_000)
            self.refused[persona] = refused_by_the_csp(context)
            if persona:
                from django.conf import settings

                cookie = {"name": settings.SESSION_COOKIE_NAME, "url": self.site.url}
                context.add_cookies([{**cookie, "value": self.site.sessions[persona]}])
            self.contexts[persona] = context
        return self.contexts[persona]

    @contextmanager
    def open(self, main_page, *, color_scheme: str = "light"):
        """The page loaded and settled; once the `with` is done, it fails if anything on it
        tripped the Content-Security-Policy."""
        context = self.context(main_page.persona)
        page = context.new_page()
        try:
            page.emulate_media(color_scheme=color_scheme)
            response = page.goto(main_page.path)
            assert response is not None and response.ok, (main_page.name, response)
            if main_page.persona:
                assert "/accounts/login/" not in page.url, f"{main_page.name}: not signed in"
            # Parts that htmx loads once the page is there (a preview, the pods) are part of it.
            page.wait_for_function(
                "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"
            )
            yield page
        finally:
            page.close()
            refused = list(self.refused[main_page.persona])
            self.refused[main_page.persona].clear()
        assert refused == [], f"{main_page.name} did something its Content-Security-Policy refuses"

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()


@contextmanager
def persona_pages(browser, site: DemoSite, **options) -> Iterator[PersonaPages]:
    pages = PersonaPages(browser, site, **options)
    try:
        yield pages
    finally:
        pages.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    from tests.browser import axe

    return axe.SOURCE.read_text(encoding="utf-8")
