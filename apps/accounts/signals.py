"""Sign-in, sign-out and failed sign-in go into the audit log."""

from django.contrib.auth import signals
from django.dispatch import receiver

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
