from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.releases import services
from apps.releases.models import NotificationDelivery, Release, ReleaseState
from apps.releases.tasks import release_notify_task, releases_due_start_task


@pytest.mark.django_db
def test_due_releases_start_and_blocked_ones_wait_with_a_reason(make_release, developer, web):
    staging = make_release(web.environments.get(name="staging"), hours_from_now=-5)
    Release.objects.filter(pk=staging.pk).update(state=ReleaseState.SUCCEEDED)
    ready = services.release_submit(actor=developer, release=make_release(hours_from_now=-1))
    blocked = services.release_submit(
        actor=developer, release=make_release(hours_from_now=-1, version="registry/web:9.9.9")
    )
    later = services.release_submit(actor=developer, release=make_release(hours_from_now=5))
    assert releases_due_start_task() == [ready.pk]
    states = dict(Release.objects.values_list("pk", "state"))
    assert states[ready.pk] == ReleaseState.IN_PROGRESS
    assert states[blocked.pk] == ReleaseState.SCHEDULED
    assert states[later.pk] == ReleaseState.SCHEDULED
    assert "has not succeeded in staging" in Release.objects.get(pk=blocked.pk).hold_reason
    assert releases_due_start_task() == []  # idempotent: nothing starts twice


@pytest.mark.django_db
def test_a_notification_goes_out_once_per_transition(make_release, developer, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    release = services.release_submit(actor=developer, release=make_release())
    transition = release.transitions.last()
    release_notify_task(release.pk, "approved", transition.pk)
    release_notify_task(release.pk, "approved", transition.pk)  # a redelivered task
    assert len(mail.outbox) == 1
    assert "is approved and scheduled" in mail.outbox[0].subject
    assert mail.outbox[0].to == [developer.email]
    assert NotificationDelivery.objects.filter(release=release).count() == 2  # email + webhook


@pytest.mark.django_db
def test_the_webhook_receives_the_event(make_release, developer, settings):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    settings.RELEASE_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    release = make_release(planned_start=timezone.now() + timedelta(hours=1))
    release_notify_task(release.pk, "submitted", None)
    thread.join(timeout=10)
    server.server_close()
    assert received and received[0]["event"] == "submitted"
    assert received[0]["release"] == release.pk
