"""Secrets stored in the database, encrypted (Fernet: AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The key comes from ``WECOM_SECRET_KEY`` (a Fernet key, or several comma-separated: the first
encrypts, every one decrypts) or, when that is empty, is derived from ``SECRET_KEY`` (HKDF-SHA256
with a fixed purpose label: the raw SECRET_KEY is never the key itself). Rotation: put the new key
first and the old one after it, run ``manage.py rotate_stored_secrets`` (re-encrypts every stored
secret under the new key), then drop the old key. Changing SECRET_KEY without a WECOM_SECRET_KEY
makes stored secrets unreadable: ``decrypt`` raises ``SecretUnreadable`` and HR enters them again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret does not decrypt with any configured key (key changed or rotated away)."""


def _derived_key() -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"qungui stored secrets v1")
    return base64.urlsafe_b64encode(hkdf.derive(settings.SECRET_KEY.encode()))


def fernet() -> MultiFernet:
    configured = [k.strip() for k in (settings.WECOM_SECRET_KEY or "").split(",") if k.strip()]
    try:
        keys = [Fernet(k) for k in configured] or [Fernet(_derived_key())]
    except ValueError as exc:
        raise ImproperlyConfigured("WECOM_SECRET_KEY: not a Fernet key (Fernet.generate_key())") from exc
    return MultiFernet(keys)


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("stored secret does not decrypt with the configured keys") from None


def rotate(token: str) -> str:
    """``token`` re-encrypted under the first key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("stored secret does not decrypt with the configured keys") from None
