"""Sign-in, sign-out, failed sign-in and password changes go into the audit log; a deactivated
person's API tokens are revoked, so reactivating them does not bring old tokens back."""

from allauth.account import signals as account_signals
from django.contrib.auth import signals
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from apps.accounts.models import User
from apps.audit.services import audit_record


@receiver(signals.user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit_record(actor=user, action="auth.login", target=user)


@receiver(signals.user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, action="auth.logout", target=user)


@receiver(signals.user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in `credentials`.
    attempted = credentials.get("username") or credentials.get("email") or ""
    audit_record(
        actor=None,
        action="auth.login_failed",
        target_type="accounts.user",
        target_id="",
        target_label=str(attempted)[:255],
    )


@receiver(account_signals.password_changed)
def _password_changed(sender, request, user, **kwargs):
    audit_record(actor=user, action="auth.password_change", target=user)


@receiver(account_signals.password_set)
def _password_set(sender, request, user, **kwargs):
    audit_record(actor=user, action="auth.password_set", target=user)


@receiver(account_signals.password_reset)
def _password_reset(sender, request, user, **kwargs):
    audit_record(actor=user, action="auth.password_reset", target=user)


@receiver(pre_save, sender=User)
def _note_deactivation(sender, instance, **kwargs):
    instance._deactivating = (
        instance.pk is not None
        and not instance.is_active
        and User.objects.filter(pk=instance.pk, is_active=True).exists()
    )


@receiver(post_save, sender=User)
def _revoke_tokens_of_the_deactivated(sender, instance, **kwargs):
    if getattr(instance, "_deactivating", False):
        from apps.accounts.services import api_tokens_revoke_all

        api_tokens_revoke_all(user=instance, reason="deactivated")
