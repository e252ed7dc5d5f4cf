"""Encryption of webhook secrets at rest.

Runway has to read a webhook secret back (to compute an HMAC of each delivery), so it cannot keep
only a hash as it does for API tokens. Secrets are encrypted with Fernet (AES-128-CBC with an
HMAC-SHA256, from `cryptography`) under a key derived from the RUNWAY_ENCRYPTION_KEY setting.

RUNWAY_ENCRYPTION_KEY may list several keys, comma-separated, to re-key without downtime: the
first encrypts, every one of them decrypts. Put the new key in front, run
`manage.py reencrypt_webhook_secrets`, then remove the old key. Any string serves as a key (a
Fernet key from `Fernet.generate_key()` or 32+ random characters); HKDF turns it into Fernet's
32 bytes.
"""

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Binds derived keys to this one purpose: the same setting may serve other purposes one day.
_PURPOSE = b"runway insights webhook secrets v1"


class SecretUnreadable(Exception):
    """A stored secret that no configured key decrypts (the key changed without re-keying)."""


def _derive(key_material: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(
        key_material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


@functools.lru_cache(maxsize=4)
def _fernet_for(setting: str) -> MultiFernet:
    keys = [key.strip() for key in setting.split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured("RUNWAY_ENCRYPTION_KEY is empty")
    return MultiFernet([_derive(key) for key in keys])


def _fernet() -> MultiFernet:
    # Keyed by the setting's value, so a changed setting (tests, re-keying) takes effect at once.
    return _fernet_for(getattr(settings, "RUNWAY_ENCRYPTION_KEY", "") or "")


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored webhook secret cannot be decrypted with RUNWAY_ENCRYPTION_KEY."
        ) from None


def reencrypt(token: str) -> str:
    """The same secret under the first (newest) key, after a key was added in front
    (`manage.py reencrypt_webhook_secrets`)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored webhook secret cannot be decrypted with RUNWAY_ENCRYPTION_KEY."
        ) from None
