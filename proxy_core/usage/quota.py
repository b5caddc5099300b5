"""The subscription's usage windows, as the upstream last reported them through any CLI.

In subscription mode the upstream answers with ``anthropic-ratelimit-unified-*``
headers; the CLI turns them into a rate-limit event (the SDK's ``RateLimitEvent``)
at its first answer and whenever they change. Its ``raw`` form holds every window
(``unifiedWindows``: ``five_hour``, ``seven_day`` and any other the plan has) with its
used fraction and reset time; older CLIs send only the window that matters most
(``rateLimitType``, ``utilization``, ``resetsAt``). A long-lived CLI may report
rarely, so the board keeps the newest figure of each window and when it came.

The board is shared by the server's loop and the tray's thread, hence the lock.
Crossing 80 %, 95 % or 100 % of a window is logged once, and told to listeners
(the tray's notifications).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

# The levels a person is told about, as fractions of a window.
THRESHOLDS = (0.8, 0.95, 1.0)
STATUSES = frozenset({"allowed", "allowed_warning", "rejected"})
WINDOW_WORDS = {
    "five_hour": "5-hour",
    "seven_day": "weekly",
    "seven_day_opus": "weekly Opus",
    "seven_day_sonnet": "weekly Sonnet",
    "seven_day_overage_included": "weekly (with extra usage)",
    "overage": "extra usage",
}
SHORT_NAMES = {"five_hour": "5 h", "seven_day": "7 d"}
# Pay-as-you-go beyond the plan: not a window that fills, but on or off.
OVERAGE = "overage"


@dataclass(frozen=True)
class Window:
    name: str
    utilization: float | None
    resets_at: int | None
    status: str
    updated_at: float

    @property
    def words(self) -> str:
        return WINDOW_WORDS.get(self.name, self.name.replace("_", " "))

    def has_reset(self, now: float) -> bool:
        """Its reset time has passed since the report: what was used is forgiven."""
        return self.resets_at is not None and self.resets_at <= now

    def current(self, now: float) -> Window:
        """This window as it stands now: past its reset it is empty and open again."""
        if not self.has_reset(now):
            return self
        return replace(self, utilization=0.0, status="allowed")

    def as_json(self, now: float) -> dict[str, Any]:
        seen = self.current(now)
        return {
            "utilization": seen.utilization,
            "resets_at": seen.resets_at,
            "status": seen.status,
            "updated_at": int(self.updated_at),
            "reset_since_report": self.has_reset(now),
        }


@dataclass(frozen=True)
class Crossing:
    """A window reached a threshold (0.8, 0.95, or 1.0 when used up)."""

    window: Window
    threshold: float

    def message(self) -> str:
        reset = f"; it resets {reset_words(self.window.resets_at)}" if self.window.resets_at else ""
        if self.threshold >= 1.0:
            return f"The {self.window.words} limit is used up{reset}."
        used = round((self.window.utilization or 0.0) * 100)
        return f"{used}% of the {self.window.words} limit is used{reset}."


def reset_words(resets_at: int | None, now: float | None = None) -> str:
    """ "at 14:10", or "on Fri 14:10" when it is not today, in this machine's time."""
    if resets_at is None:
        return "at an unknown time"
    when = datetime.fromtimestamp(resets_at)
    today = datetime.fromtimestamp(time.time() if now is None else now).date()
    if when.date() == today:
        return f"at {when:%H:%M}"
    return f"on {when:%a %H:%M}"


def windows_from_report(raw: Mapping[str, Any], at: float) -> list[Window]:
    """The windows one rate-limit event tells of (its ``raw`` dict, as the CLI sent it)."""
    found: dict[str, Window] = {}
    unified = raw.get("unifiedWindows")
    if isinstance(unified, Mapping):
        for name, figures in unified.items():
            if isinstance(name, str) and isinstance(figures, Mapping):
                found[name] = _window(name, figures, at)
    headline = raw.get("rateLimitType")
    if isinstance(headline, str) and headline not in found:
        # An older report names only the window that binds: keep what it says of that one.
        found[headline] = _window(headline, raw, at)
    elif isinstance(headline, str) and raw.get("status") == "rejected":
        found[headline] = replace(found[headline], status="rejected")
    overage = raw.get("overageStatus")
    if isinstance(overage, str) and overage in STATUSES and OVERAGE not in found:
        found[OVERAGE] = Window(
            name=OVERAGE,
            utilization=None,
            resets_at=_whole(raw.get("overageResetsAt")),
            status=overage,
            updated_at=at,
        )
    return list(found.values())


def _window(name: str, figures: Mapping[str, Any], at: float) -> Window:
    """A window from its figures: ``utilization``, ``resetsAt`` and ``status``, as sent."""
    return Window(
        name=name,
        utilization=_fraction(figures.get("utilization")),
        resets_at=_whole(figures.get("resetsAt")),
        status=_status(figures.get("status"), figures.get("utilization")),
        updated_at=at,
    )


def _fraction(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return min(max(float(value), 0.0), 1.0)


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _status(value: Any, utilization: Any) -> str:
    if isinstance(value, str) and value in STATUSES:
        return value
    used = _fraction(utilization)
    return "rejected" if used is not None and used >= 1.0 else "allowed"


def _used(window: Window) -> float:
    """How full a window is; one the upstream refuses counts as full."""
    return 1.0 if window.status == "rejected" else (window.utilization or 0.0)


def _level(window: Window) -> float:
    """The highest threshold a window has reached (0.0 below all of them)."""
    if window.name == OVERAGE:
        return 0.0  # "rejected" there means extra usage is off, as it is for most plans
    return max((t for t in THRESHOLDS if _used(window) >= t), default=0.0)


Listener = Callable[[Crossing], None]


class QuotaBoard:
    def __init__(self, windows: list[Window] | None = None) -> None:
        self._lock = threading.Lock()
        self._windows = {w.name: w for w in windows or []}
        self._listeners: list[Listener] = []
        self.on_change: Callable[[list[Window]], None] = lambda windows: None

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def report(self, raw: Mapping[str, Any], at: float | None = None) -> list[Crossing]:
        """Take one rate-limit event; returns (and tells) the thresholds it crossed."""
        at = time.time() if at is None else at
        fresh = windows_from_report(raw, at)
        crossings = []
        with self._lock:
            for window in fresh:
                before = self._windows.get(window.name)
                was = 0.0 if before is None or before.has_reset(at) else _level(before)
                if before is not None and before.updated_at > at:
                    continue  # an older report arriving late changes nothing
                self._windows[window.name] = window
                if _level(window) > was:
                    crossings.append(Crossing(window, _level(window)))
            listeners = list(self._listeners)
        if fresh:
            self.on_change(fresh)
        for crossing in crossings:
            log.warning("Usage: %s", crossing.message())
            for listener in listeners:
                try:
                    listener(crossing)
                except Exception:
                    log.exception("A usage listener failed")
        return crossings

    def windows(self) -> dict[str, Window]:
        with self._lock:
            return dict(self._windows)

    def limits(self, now: float) -> list[Window]:
        """The plan's windows as they stand at ``now`` (extra usage is not one)."""
        return [w.current(now) for w in self.windows().values() if w.name != OVERAGE]

    def rejected(self, now: float | None = None) -> Window | None:
        """A window that refuses requests now, if the upstream said so."""
        now = time.time() if now is None else now
        return next((w for w in self.limits(now) if w.status == "rejected"), None)

    def as_json(self, now: float | None = None) -> dict[str, dict[str, Any]]:
        now = time.time() if now is None else now
        return {name: w.as_json(now) for name, w in sorted(self.windows().items())}

    def summary(self, now: float | None = None) -> dict[str, Any] | None:
        """For /health: the fullest window, and each window's used fraction."""
        now = time.time() if now is None else now
        current = self.limits(now)
        if not current:
            return None
        fullest = max(current, key=lambda w: (w.status == "rejected", w.utilization or 0.0))
        return {
            "status": fullest.status,
            "fullest": fullest.name,
            "utilization": {w.name: w.utilization for w in current},
            "resets_at": fullest.resets_at,
            "updated_at": int(max(w.updated_at for w in current)),
        }

    def status_words(self, now: float | None = None) -> str | None:
        """ "5 h 42% · resets 14:10 · 7 d 13%", for the tray's status line."""
        now = time.time() if now is None else now
        windows = {name: w.current(now) for name, w in self.windows().items()}
        parts = []
        for name, short in SHORT_NAMES.items():
            window = windows.get(name)
            if window is None or window.utilization is None:
                continue
            part = f"{short} {round(window.utilization * 100)}%"
            if name == "five_hour" and window.resets_at is not None:
                part += f" · resets {reset_words(window.resets_at, now).removeprefix('at ')}"
            parts.append(part)
        return " · ".join(parts) or None

    def fullest_fraction(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        return max(map(_used, self.limits(now)), default=0.0)
