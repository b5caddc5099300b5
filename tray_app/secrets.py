"""Where the tray keeps the proxy's API key: the OS keyring, else a private file.

The key never goes into config.json. When no keyring works (a headless Linux
session, a locked collection), it goes to a file only its owner can read,
and the tray says so: a silent plaintext fallback would be a surprise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import keyring
from keyring.errors import KeyringError

log = logging.getLogger(__name__)

SERVICE = "claude-sdk-proxy"
ACCOUNT = "api-key"
KEY_PREFIX = "csp-"


def generate_key() -> str:
    """A fresh key with 256 bits of randomness, recognisable by its prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Stored:
    key: str | None
    where: str  # "keyring (<backend>)" or the fallback file's path


class KeyStore:
    def __init__(self, fallback_file: Path) -> None:
        self._fallback = fallback_file

    def _backend_name(self) -> str:
        backend = keyring.get_keyring()
        # keyring's chainer (several usable backends, as with libsecret's typelib beside the
        # Secret Service): the first of them, by priority, is the one that holds the key.
        chained = getattr(backend, "backends", None)
        if chained:
            backend = chained[0]
        return str(backend.name)  # e.g. "SecretService Keyring"

    def load(self) -> Stored:
        try:
            key = keyring.get_password(SERVICE, ACCOUNT)
        except KeyringError as error:
            log.info("No usable keyring (%s); reading the key file", type(error).__name__)
        else:
            if key is not None:
                return Stored(key, f"keyring ({self._backend_name()})")
        if self._fallback.exists():
            return Stored(
                self._fallback.read_text(encoding="utf-8").strip() or None, str(self._fallback)
            )
        return Stored(None, "nowhere")

    def save(self, key: str) -> Stored:
        try:
            keyring.set_password(SERVICE, ACCOUNT, key)
        except KeyringError as error:
            log.warning(
                "No usable keyring (%s): the API key is kept in %s, readable only by you",
                type(error).__name__,
                self._fallback,
            )
            self._write_private(key)
            return Stored(key, str(self._fallback))
        self._fallback.unlink(missing_ok=True)  # one place only
        return Stored(key, f"keyring ({self._backend_name()})")

    def clear(self) -> None:
        with contextlib.suppress(KeyringError):
            keyring.delete_password(SERVICE, ACCOUNT)
        self._fallback.unlink(missing_ok=True)

    def _write_private(self, key: str) -> None:
        self._fallback.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 from the start: the key is never readable by others, not even briefly.
        descriptor = os.open(self._fallback, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(key)
