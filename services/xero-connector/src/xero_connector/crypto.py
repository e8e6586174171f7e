"""Tokens at rest: Fernet (AES-128-CBC + HMAC-SHA256) under rotating keys.

cipher = TokenCipher.from_keys([new_key, old_key])   # encrypts with new, decrypts with both
blob = cipher.encrypt_json({"refresh_token": ...})
cipher.decrypt_json(blob)
"""

import json
from collections.abc import Sequence
from typing import Any

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from xero_connector.config import Settings

log = structlog.get_logger(__name__)


class UndecryptableTokens(Exception):
    """Stored tokens no configured key can decrypt (a key was removed too early)."""


class TokenCipher:
    def __init__(self, fernet: MultiFernet) -> None:
        self._fernet = fernet

    @classmethod
    def from_keys(cls, keys: Sequence[str | bytes]) -> "TokenCipher":
        if not keys:
            raise ValueError("at least one key is needed")
        return cls(MultiFernet([Fernet(k) for k in keys]))

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenCipher":
        keys = [k.get_secret_value() for k in settings.token_keys]
        if not keys:
            # Settings only allow this in dev mode.
            log.warning(
                "DEV MODE: no XERO_CONNECTOR_TOKEN_KEYS; tokens are encrypted with an "
                "EPHEMERAL key and cannot be read after a restart. Never run so in production."
            )
            keys = [Fernet.generate_key().decode()]
        return cls.from_keys(keys)

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, blob: bytes) -> str:
        try:
            return self._fernet.decrypt(blob).decode()
        except InvalidToken:
            raise UndecryptableTokens("no configured token key decrypts this value") from None

    def encrypt_json(self, value: dict[str, Any]) -> bytes:
        return self.encrypt(json.dumps(value, separators=(",", ":")))

    def decrypt_json(self, blob: bytes) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.decrypt(blob))
        return data

    def rotate(self, blob: bytes) -> bytes:
        """Re-encrypt under the first key (after adding a new key in front)."""
        return self._fernet.rotate(blob)
