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
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import keyring
from keyring.errors import KeyringError

log = logging.getLogger(__name__)

SERVICE = "claude-sdk-proxy"
ACCOUNT = "api-key"
KEY_PREFIX = "csp-"
# A locked keyring asks for its password in a prompt, which a person answers in seconds; a
# prompt nobody can see (no prompter on the display, a session without one) is never
# answered, and the tray would wait for it with no icon and no server.
KEYRING_ANSWER_S = 20.0

T = TypeVar("T")


class KeyringSilent(KeyringError):
    """The keyring did not answer in time."""


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

    def load(self, *, answer_within_s: float = KEYRING_ANSWER_S) -> Stored:
        try:
            key = _within(answer_within_s, lambda: keyring.get_password(SERVICE, ACCOUNT))
        except KeyringSilent:
            log.warning(
                "The keyring did not answer within %g s (locked, with an unlock prompt "
                "nobody can see?): starting without the key it may hold; reading the key file",
                answer_within_s,
            )
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


def _within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``'s result, or KeyringSilent when it takes longer; it is then left running
    on a thread of its own, as a keyring call cannot be interrupted."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:  # handed to the caller's thread as it is
            failure.append(error)

    worker = threading.Thread(target=run, name="keyring", daemon=True)
    worker.start()
    worker.join(seconds)
    if failure:
        raise failure[0]
    if not outcome and worker.is_alive():
        raise KeyringSilent(f"no answer within {seconds:g} s")
    return outcome[0]
