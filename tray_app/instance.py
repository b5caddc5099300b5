"""One tray app per user: the lock that says one runs, and the door a second launch knocks on.

A second launch (a double-click on an app whose icon the panel hides, a login item
started twice) must not exit without a word. The running app listens on a loopback
door whose address and key are in a file only this user can read; the second launch
asks it to show itself, prints what it answered and exits. The standard library's
``multiprocessing.connection`` does the talking: it checks the key with a challenge
on both sides, so another user's program on this machine cannot knock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

KNOCK = "show"
ANSWER_WITHIN_S = 10.0  # the running app opens a browser tab first; that can take seconds


class SingleInstance:
    """Holds an OS lock on a file for the life of the process; a second holder is refused."""

    def __init__(self, lock_file: Path) -> None:
        self._path = lock_file
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+")
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle  # kept open: closing it (or exiting) releases the lock
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class InstanceDoor:
    """The running app's side: answers each knock with what ``show`` returns."""

    def __init__(self, door_file: Path, show: Callable[[], str]) -> None:
        self._door_file = door_file
        self._show = show
        key = secrets.token_bytes(32)
        self._listener = Listener(("127.0.0.1", 0), authkey=key)
        port = self._listener.address[1]
        _write_private(door_file, json.dumps({"port": port, "key": key.hex(), "pid": os.getpid()}))
        threading.Thread(target=self._serve, name="instance-door", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection = self._listener.accept()
            except OSError:  # closed: the app is ending
                return
            except Exception:  # a wrong key (AuthenticationError), a caller that hung up
                log.debug("A knock at the instance door was refused", exc_info=True)
                continue
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: Connection) -> None:
        with connection:
            try:
                if connection.poll(ANSWER_WITHIN_S) and connection.recv() == KNOCK:
                    connection.send(self._show())
            except Exception:  # a second launch must never take the running app down
                log.exception("Answering a second launch failed")

    def close(self) -> None:
        self._listener.close()
        with contextlib.suppress(OSError):
            self._door_file.unlink()


def knock(door_file: Path, within_s: float = ANSWER_WITHIN_S) -> str | None:
    """Ask the running app to show itself; its answer, or None when it did not give one."""
    try:
        door = json.loads(door_file.read_text(encoding="utf-8"))
        address, key = ("127.0.0.1", int(door["port"])), bytes.fromhex(door["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    answers: list[str] = []

    def ask() -> None:
        with contextlib.suppress(Exception), Client(address, authkey=key) as connection:
            connection.send(KNOCK)
            if connection.poll(within_s):
                answers.append(str(connection.recv()))

    # The key check blocks without a timeout of its own, so a running app that hangs
    # must not hang this launch with it: the asking thread is left behind instead.
    asking = threading.Thread(target=ask, name="knock", daemon=True)
    asking.start()
    asking.join(within_s + 2)
    return answers[0] if answers else None


def _write_private(path: Path, text: str) -> None:
    """Readable by this user only, from its first byte: it holds the door's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
