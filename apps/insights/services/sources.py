"""Webhook sources: creating one, rotating its secret, and re-encrypting every secret after a
change of encryption key. The secret is returned once, to be
pasted into the vendor's webhook settings; only its encryption is stored, and the audit log
records that it changed, never the secret."""

import secrets as secrets_module
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts import permissions
from apps.accounts.models import User
from apps.audit.services import audit_record
from apps.insights import crypto
from apps.insights.models import SourceKind, WebhookSource

DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=30)
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 200


def _require_admin(actor: User) -> None:
    permissions.require(
        permissions.can_manage_webhooks(actor), "Only platform admins manage webhook sources."
    )


def _secret_for(kind: str, given: str | None) -> str:
    """A generated secret, or the one the vendor generated (PagerDuty makes its own signing
    secret and shows it once; Runway must be told it)."""
    given = (given or "").strip()
    if not given:
        if kind == SourceKind.PAGERDUTY:
            raise ValidationError(
                {"secret": "PagerDuty generates the signing secret: paste it from PagerDuty."}
            )
        return secrets_module.token_urlsafe(32)
    if not MIN_SECRET_LENGTH <= len(given) <= MAX_SECRET_LENGTH:
        raise ValidationError(
            {
                "secret": f"Use between {MIN_SECRET_LENGTH} and {MAX_SECRET_LENGTH} characters "
                "(leave it empty and Runway generates one)."
            }
        )
    return given


def _slug_for(name: str) -> str:
    slug = slugify(name)[:63].strip("-")
    if slug and not any(ch.isalpha() for ch in slug):
        slug = f"source-{slug}"[:63].strip("-")
    return slug


def source_secrets(source: WebhookSource, *, now=None) -> list[str]:
    """The secrets a delivery may prove: the current one, and the previous one during its grace."""
    now = now or timezone.now()
    valid = [crypto.decrypt(source.secret_encrypted)]
    expires = source.previous_secret_expires_at
    if source.previous_secret_encrypted and expires and expires > now:
        valid.append(crypto.decrypt(source.previous_secret_encrypted))
    return valid


@transaction.atomic
def webhook_source_create(
    *, actor: User, name: str, kind: str, secret: str | None = None
) -> tuple[WebhookSource, str]:
    """Returns the source and its secret in plain text: the only time it is shown."""
    _require_admin(actor)
    name = (name or "").strip()
    if kind not in SourceKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(SourceKind.values)}."})
    plaintext = _secret_for(kind, secret)
    source = WebhookSource(
        name=name,
        slug=_slug_for(name),
        kind=kind,
        secret_encrypted=crypto.encrypt(plaintext),
        created_by=actor,
    )
    try:
        source.full_clean(exclude=["created_by"])
    except ValidationError as exc:
        errors = exc.message_dict
        if "slug" in errors and "name" not in errors:
            # The slug is made from the name: say so on the field the admin typed.
            raise ValidationError(
                {"name": f"Choose another name: its URL name “{source.slug}” is taken or empty."}
            ) from None
        raise
    source.save()
    audit_record(
        actor=actor,
        action="webhook_source.create",
        target=source,
        after={"name": source.name, "slug": source.slug, "kind": source.kind},
    )
    return source, plaintext


@transaction.atomic
def webhook_source_rotate(
    *,
    actor: User,
    source: WebhookSource,
    grace: timedelta = DEFAULT_GRACE,
    secret: str | None = None,
) -> tuple[WebhookSource, str]:
    """A new secret; the current one stays valid for `grace` (default 24 hours; zero ends it at
    once) so the vendor's settings can be changed without losing deliveries. A rotation during
    another's grace period ends that one: only one previous secret is kept."""
    _require_admin(actor)
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise ValidationError({"grace": "Keep the previous secret for 0 hours to 30 days."})
    source = WebhookSource.objects.select_for_update().get(pk=source.pk)
    if not source.is_active:
        raise ValidationError("This source is deactivated: create a new one instead.")
    plaintext = _secret_for(source.kind, secret)
    now = timezone.now()
    if grace > timedelta(0):
        source.previous_secret_encrypted = source.secret_encrypted
        source.previous_secret_expires_at = now + grace
    else:
        source.previous_secret_encrypted = ""
        source.previous_secret_expires_at = None
    source.secret_encrypted = crypto.encrypt(plaintext)
    source.rotated_at = now
    source.save(
        update_fields=[
            "secret_encrypted",
            "previous_secret_encrypted",
            "previous_secret_expires_at",
            "rotated_at",
        ]
    )
    audit_record(
        actor=actor,
        action="webhook_source.rotate",
        target=source,
        after={
            "grace_hours": round(grace.total_seconds() / 3600, 2),
            "previous_secret_valid_until": source.previous_secret_expires_at,
        },
    )
    return source, plaintext


@transaction.atomic
def webhook_source_deactivate(*, actor: User, source: WebhookSource) -> WebhookSource:
    """Deliveries from a deactivated source are refused (401); what it delivered stays."""
    _require_admin(actor)
    source = WebhookSource.objects.select_for_update().get(pk=source.pk)
    if not source.is_active:
        return source
    source.is_active = False
    source.previous_secret_encrypted = ""
    source.previous_secret_expires_at = None
    source.save(
        update_fields=["is_active", "previous_secret_encrypted", "previous_secret_expires_at"]
    )
    audit_record(
        actor=actor, action="webhook_source.deactivate", target=source, after={"active": False}
    )
    return source


@transaction.atomic
def webhook_secrets_reencrypt(*, actor: User | None = None) -> int:
    """Every stored secret (current and previous, of active and deactivated sources) again under
    the first key of RUNWAY_ENCRYPTION_KEY, so that a key behind it can be removed. The secrets
    themselves do not change. A secret no configured key reads refuses the whole run, naming its
    source, and nothing is written. `actor` None is an operator running manage.py. Returns how
    many sources were re-encrypted."""
    if actor is not None:
        _require_admin(actor)
    sources = list(WebhookSource.objects.select_for_update().order_by("pk"))
    for source in sources:
        try:
            source.secret_encrypted = crypto.reencrypt(source.secret_encrypted)
            if source.previous_secret_encrypted:
                source.previous_secret_encrypted = crypto.reencrypt(
                    source.previous_secret_encrypted
                )
        except crypto.SecretUnreadable:
            raise ValidationError(
                f"The secret of webhook source “{source.slug}” cannot be decrypted with any key "
                "of RUNWAY_ENCRYPTION_KEY: put the key it was encrypted with back in the list."
            ) from None
        source.save(update_fields=["secret_encrypted", "previous_secret_encrypted"])
        audit_record(
            actor=actor,
            action="webhook_source.reencrypt",
            target=source,
            after={"previous_secret": bool(source.previous_secret_encrypted)},
        )
    return len(sources)
