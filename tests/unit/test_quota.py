"""The subscription's windows from the CLI's reports: the newest wins, thresholds told once."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import pytest

from proxy_core.usage.quota import Crossing, QuotaBoard, Window, reset_words, windows_from_report

NOW = 1_800_000_000.0


def report(five_hour: float, seven_day: float = 0.1, status: str = "allowed") -> dict[str, object]:
    """The raw dict the pinned CLI sends (seen with the simulator's headers)."""
    return {
        "status": status,
        "resetsAt": int(NOW + 3600),
        "rateLimitType": "five_hour",
        "overageStatus": "rejected",
        "overageDisabledReason": "org_level_disabled",
        "isUsingOverage": False,
        "unifiedWindows": {
            "five_hour": {"utilization": five_hour, "resetsAt": int(NOW + 3600), "status": status},
            "seven_day": {"utilization": seven_day, "resetsAt": int(NOW + 4 * 86400)},
        },
    }


def test_every_window_of_a_report_is_read() -> None:
    windows = {w.name: w for w in windows_from_report(report(0.42, 0.13), NOW)}
    assert windows["five_hour"] == Window("five_hour", 0.42, int(NOW + 3600), "allowed", NOW)
    assert windows["seven_day"].utilization == 0.13
    assert windows["seven_day"].status == "allowed"  # not sent: judged from the figure
    assert windows["overage"].status == "rejected" and windows["overage"].utilization is None


def test_an_older_report_names_only_the_binding_window() -> None:
    raw = {"status": "allowed_warning", "rateLimitType": "seven_day", "utilization": 0.85}
    (window,) = windows_from_report(raw, NOW)
    assert (window.name, window.utilization) == ("seven_day", 0.85)
    assert window.status == "allowed_warning"


def test_a_report_with_no_windows_changes_nothing() -> None:
    board = QuotaBoard()
    assert board.report({"status": "allowed", "isUsingOverage": False}, NOW) == []
    assert board.windows() == {}


def test_thresholds_are_told_once_each_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    board = QuotaBoard()
    told: list[Crossing] = []
    board.subscribe(told.append)
    with caplog.at_level(logging.WARNING, "proxy_core.usage.quota"):
        board.report(report(0.5), NOW)
        board.report(report(0.81), NOW + 1)
        board.report(report(0.82), NOW + 2)
        board.report(report(0.96), NOW + 3)
        board.report(report(1.0, status="rejected"), NOW + 4)
    assert [(c.window.name, c.threshold) for c in told] == [
        ("five_hour", 0.8),
        ("five_hour", 0.95),
        ("five_hour", 1.0),
    ]
    assert told[0].message().startswith("81% of the 5-hour limit is used; it resets ")
    assert told[2].message().startswith("The 5-hour limit is used up; it resets ")
    assert len([r for r in caplog.records if "limit" in r.getMessage()]) == 3


def test_a_window_that_has_reset_is_told_again_when_it_fills() -> None:
    board = QuotaBoard()
    told: list[Crossing] = []
    board.subscribe(told.append)
    board.report(report(0.9), NOW)
    later = NOW + 3601  # past the reset
    assert board.windows()["five_hour"].current(later).utilization == 0.0
    fresh = report(0.85)
    fresh["unifiedWindows"]["five_hour"]["resetsAt"] = int(later + 3600)  # type: ignore[index]
    board.report(fresh, later)
    assert [c.threshold for c in told] == [0.8, 0.8]


def test_a_late_report_does_not_undo_a_newer_one() -> None:
    board = QuotaBoard()
    board.report(report(0.6), NOW + 10)
    board.report(report(0.3), NOW)
    assert board.windows()["five_hour"].utilization == 0.6


def test_the_status_words_and_summary() -> None:
    board = QuotaBoard()
    board.report(report(0.42, 0.13), NOW)
    reset = time.strftime("%H:%M", time.localtime(NOW + 3600))
    assert board.status_words(NOW) == f"5 h 42% · resets {reset} · 7 d 13%"
    summary = board.summary(NOW)
    assert summary is not None
    assert summary["fullest"] == "five_hour" and summary["utilization"]["seven_day"] == 0.13
    assert board.fullest_fraction(NOW) == 0.42
    assert board.rejected(NOW) is None


def test_a_used_up_window_is_the_one_that_rejects() -> None:
    board = QuotaBoard()
    board.report(report(1.0, status="rejected"), NOW)
    rejected = board.rejected(NOW)
    assert rejected is not None and rejected.name == "five_hour"
    assert board.rejected(NOW + 3601) is None  # reset since: open again
    assert board.fullest_fraction(NOW) == 1.0


def test_a_failing_listener_does_not_stop_the_others() -> None:
    board = QuotaBoard()
    told: list[Crossing] = []

    def broken(_crossing: Crossing) -> None:
        raise RuntimeError("boom")

    board.subscribe(broken)
    board.subscribe(told.append)
    board.report(report(0.9), NOW)
    assert len(told) == 1


def test_a_reset_past_midnight_names_its_day() -> None:
    evening = datetime(2027, 1, 15, 22, 30).timestamp()
    assert reset_words(int(evening + 1800), evening) == "at 23:00"
    assert reset_words(int(evening + 3 * 3600), evening) == "on Sat 01:30"
    assert reset_words(None, evening) == "at an unknown time"
