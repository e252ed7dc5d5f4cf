"""Webhook sources: created and rotated by platform admins, secrets shown once and stored
encrypted, rotations with a grace period, every change audited without the secret."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.insights import crypto, services
from apps.insights.models import SourceKind, WebhookSource
from apps.insights.webhooks.errors import Unauthorised
from apps.insights.webhooks.signatures import verify
from tests.insights.conftest import sign


def audit_text(action: str) -> str:
    event = AuditEvent.objects.get(action=action)
    return json.dumps([event.before, event.after, event.target_label])


@pytest.mark.django_db
def test_an_admin_creates_a_source_and_sees_its_secret_once(platform_admin):
    source, secret = services.webhook_source_create(
        actor=platform_admin, name="GitHub acme", kind=SourceKind.GITHUB
    )
    assert source.slug == "github-acme"
    assert len(secret) >= 40
    stored = WebhookSource.objects.get(pk=source.pk)
    assert secret not in stored.secret_encrypted
    assert crypto.decrypt(stored.secret_encrypted) == secret
    event = AuditEvent.objects.get(action="webhook_source.create")
    assert event.actor == platform_admin
    assert event.after == {"name": "GitHub acme", "slug": "github-acme", "kind": "github"}
    assert secret not in audit_text("webhook_source.create")


@pytest.mark.django_db
def test_a_developer_may_not_create_a_source(developer):
    with pytest.raises(PermissionDenied):
        services.webhook_source_create(actor=developer, name="Mine", kind=SourceKind.GENERIC)
    assert not WebhookSource.objects.exists()


@pytest.mark.django_db
def test_pagerduty_sources_need_pagerdutys_own_secret(platform_admin):
    with pytest.raises(ValidationError) as refused:
        services.webhook_source_create(actor=platform_admin, name="PD", kind=SourceKind.PAGERDUTY)
    assert "secret" in refused.value.message_dict
    source, secret = services.webhook_source_create(
        actor=platform_admin, name="PD", kind=SourceKind.PAGERDUTY, secret="from-pagerduty-0123"
    )
    assert secret == "from-pagerduty-0123"
    assert services.source_secrets(source) == ["from-pagerduty-0123"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "kind", "field"),
    [("", "github", "name"), ("GitHub", "bitbucket", "kind"), ("!!!", "github", "name")],
)
def test_bad_input_names_the_field_and_saves_nothing(platform_admin, name, kind, field):
    with pytest.raises(ValidationError) as refused:
        services.webhook_source_create(actor=platform_admin, name=name, kind=kind)
    assert field in refused.value.message_dict
    assert not WebhookSource.objects.exists()
    assert not AuditEvent.objects.filter(action="webhook_source.create").exists()


@pytest.mark.django_db
def test_a_name_whose_url_name_is_taken_is_refused(platform_admin):
    services.webhook_source_create(actor=platform_admin, name="Deploy bot", kind="generic")
    with pytest.raises(ValidationError) as refused:
        services.webhook_source_create(actor=platform_admin, name="deploy-bot", kind="generic")
    assert "deploy-bot" in refused.value.message_dict["name"][0]


@pytest.mark.django_db
def test_a_numeric_name_gets_a_slug_that_cannot_be_mistaken_for_an_id(platform_admin):
    source, _ = services.webhook_source_create(actor=platform_admin, name="2024", kind="generic")
    assert source.slug == "source-2024"


@pytest.mark.django_db
def test_rotation_keeps_the_old_secret_valid_for_the_grace_period(github_source, platform_admin):
    source, old = github_source
    source, new = services.webhook_source_rotate(
        actor=platform_admin, source=source, grace=timedelta(hours=2)
    )
    assert new != old
    body = b"{}"

    def accepts(secret, at):
        header = {"x-hub-signature-256": f"sha256={sign(secret, body)}"}
        try:
            verify(source.kind, services.source_secrets(source, now=at), header, body)
        except Unauthorised:
            return False
        return True

    now = timezone.now()
    assert accepts(new, now) and accepts(old, now)
    # Two hours later the old secret has expired; the new one stays.
    later = now + timedelta(hours=2, minutes=1)
    assert accepts(new, later) and not accepts(old, later)

    event = AuditEvent.objects.get(action="webhook_source.rotate")
    assert event.actor == platform_admin
    assert event.after["grace_hours"] == 2
    assert old not in audit_text("webhook_source.rotate")
    assert new not in audit_text("webhook_source.rotate")


@pytest.mark.django_db
def test_the_default_grace_is_a_day_and_zero_ends_the_old_secret_at_once(
    github_source, platform_admin
):
    source, _ = github_source
    before = timezone.now()
    source, _ = services.webhook_source_rotate(actor=platform_admin, source=source)
    assert timedelta(hours=23, minutes=59) < source.previous_secret_expires_at - before
    assert source.previous_secret_expires_at - before <= timedelta(hours=24, seconds=5)
    source, newest = services.webhook_source_rotate(
        actor=platform_admin, source=source, grace=timedelta(0)
    )
    assert source.previous_secret_encrypted == ""
    assert services.source_secrets(source) == [newest]


@pytest.mark.django_db
def test_a_grace_beyond_thirty_days_is_refused(github_source, platform_admin):
    source, secret = github_source
    with pytest.raises(ValidationError) as refused:
        services.webhook_source_rotate(
            actor=platform_admin, source=source, grace=timedelta(days=31)
        )
    assert "grace" in refused.value.message_dict
    assert services.source_secrets(WebhookSource.objects.get(pk=source.pk)) == [secret]


@pytest.mark.django_db
def test_deactivating_a_source_is_audited(github_source, platform_admin, developer):
    source, _ = github_source
    with pytest.raises(PermissionDenied):
        services.webhook_source_deactivate(actor=developer, source=source)
    source = services.webhook_source_deactivate(actor=platform_admin, source=source)
    assert source.is_active is False
    assert AuditEvent.objects.get(action="webhook_source.deactivate").actor == platform_admin


OLD_KEY = "old-key-of-at-least-thirty-two-characters"
NEW_KEY = "new-key-of-at-least-thirty-two-characters"


def audit_text_all() -> str:
    return json.dumps(
        [[e.before, e.after, e.target_label] for e in AuditEvent.objects.all()], default=str
    )


@pytest.mark.django_db
def test_after_a_new_key_goes_in_front_the_command_moves_every_secret_to_it(
    platform_admin, settings
):
    settings.RUNWAY_ENCRYPTION_KEY = OLD_KEY
    github, first = services.webhook_source_create(
        actor=platform_admin, name="GitHub acme", kind=SourceKind.GITHUB
    )
    github, second = services.webhook_source_rotate(actor=platform_admin, source=github)
    gitlab, gitlab_secret = services.webhook_source_create(
        actor=platform_admin, name="GitLab on premises", kind=SourceKind.GITLAB
    )

    settings.RUNWAY_ENCRYPTION_KEY = f"{NEW_KEY},{OLD_KEY}"
    out = StringIO()
    call_command("reencrypt_webhook_secrets", stdout=out)
    assert out.getvalue().strip() == "Webhook sources re-encrypted: 2"

    settings.RUNWAY_ENCRYPTION_KEY = NEW_KEY  # the old key is gone: every secret still reads
    assert services.source_secrets(WebhookSource.objects.get(pk=github.pk)) == [second, first]
    assert services.source_secrets(WebhookSource.objects.get(pk=gitlab.pk)) == [gitlab_secret]
    events = AuditEvent.objects.filter(action="webhook_source.reencrypt").order_by("id")
    assert [(event.actor, event.target_label) for event in events] == [
        (None, str(github)),
        (None, str(gitlab)),
    ]
    assert all(secret not in audit_text_all() for secret in (first, second, gitlab_secret))


@pytest.mark.django_db
def test_a_secret_no_key_reads_stops_the_command_and_changes_nothing(platform_admin, settings):
    settings.RUNWAY_ENCRYPTION_KEY = OLD_KEY
    services.webhook_source_create(actor=platform_admin, name="GitHub acme", kind="github")
    stored = WebhookSource.objects.get().secret_encrypted
    settings.RUNWAY_ENCRYPTION_KEY = NEW_KEY  # the old key was removed too early
    with pytest.raises(CommandError, match="“github-acme” cannot be decrypted"):
        call_command("reencrypt_webhook_secrets", stdout=StringIO())
    assert WebhookSource.objects.get().secret_encrypted == stored
    assert not AuditEvent.objects.filter(action="webhook_source.reencrypt").exists()


@pytest.mark.django_db
def test_only_platform_admins_re_encrypt_secrets_through_the_service(github_source, developer):
    with pytest.raises(PermissionDenied):
        services.webhook_secrets_reencrypt(actor=developer)
    assert services.webhook_secrets_reencrypt(actor=None) == 1
