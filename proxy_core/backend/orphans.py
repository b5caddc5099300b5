"""CLI processes a crashed proxy left behind, found and ended at the next start.

A proxy killed outright (SIGKILL, a crash, a power-off of the tray) cannot end
its CLI children, and they keep streaming from the upstream for as long as the
answer takes. Each live CLI is recorded as a small file naming it and its
owner; at start, entries whose owner is gone are ended. Process identity is
checked by creation time, so a reused pid is never touched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import psutil

log = logging.getLogger(__name__)


def _created(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _same_process(pid: int, created: float) -> bool:
    now = _created(pid)
    return now is not None and abs(now - created) < 0.01


class OrphanGuard:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._owner = os.getpid()
        self._owner_created = _created(self._owner) or 0.0

    def _entry(self, pid: int) -> Path:
        return self._directory / f"{pid}.json"

    def track(self, pid: int) -> None:
        created = _created(pid)
        if created is None:
            return
        record = {
            "pid": pid,
            "created": created,
            "owner": self._owner,
            "owner_created": self._owner_created,
        }
        with contextlib.suppress(OSError):
            self._directory.mkdir(parents=True, exist_ok=True)
            self._entry(pid).write_text(json.dumps(record), encoding="utf-8")

    def untrack(self, pid: int) -> None:
        with contextlib.suppress(OSError):
            self._entry(pid).unlink(missing_ok=True)

    def reap(self) -> int:
        """End the CLIs of owners that no longer run; returns how many were ended."""
        ended = 0
        for entry in sorted(self._directory.glob("*.json")):
            try:
                record = json.loads(entry.read_text(encoding="utf-8"))
                pid, created = int(record["pid"]), float(record["created"])
                owner, owner_created = int(record["owner"]), float(record["owner_created"])
            except (OSError, ValueError, KeyError, TypeError):
                entry.unlink(missing_ok=True)
                continue
            if _same_process(owner, owner_created):
                continue  # another proxy on this data dir is alive and owns it
            if _same_process(pid, created):
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).kill()
                    ended += 1
                    log.warning("Ended CLI process %d left behind by a proxy that crashed", pid)
            entry.unlink(missing_ok=True)
        return ended
