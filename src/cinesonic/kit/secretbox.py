"""Secrets at rest: strings sealed with a key derived from the server's secret key.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key derived by HKDF-SHA256
per `purpose`, so one leaked derived key opens nothing else. A sealed value cannot be opened
once the secret key changes; callers treat that as "unset" and say so. This module knows no
domain.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretUnreadable(Exception):
    """The value was sealed under another secret key, or is not a sealed value."""


class SecretBox:
    def __init__(self, secret_key: str, purpose: str) -> None:
        derived = HKDF(
            algorithm=SHA256(), length=32, salt=None, info=f"cinesonic:{purpose}".encode()
        ).derive(secret_key.encode("utf-8"))
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable() from exc
