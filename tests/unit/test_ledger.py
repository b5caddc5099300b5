"""The request ledger on disk: totals, splits, percentiles, retention, and a broken file."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

from proxy_core.usage.ledger import Ledger
from proxy_core.usage.quota import Window
from proxy_core.usage.served import ServedRequest


def served(
    model: str = "sonnet",
    client: str = "Anthropic/Python",
    *,
    at: float | None = None,
    status: int = 200,
    first_token_ms: float | None = 100.0,
    tokens: int = 10,
) -> ServedRequest:
    request = ServedRequest("anthropic", model, client, stream=True)
    if at is not None:
        request.started_at = at
    request.first_token_ms = first_token_ms
    request.tokens = {"input_tokens": tokens, "output_tokens": tokens // 2}
    if status >= 400:
        request.fail("overloaded_error", "The upstream is overloaded.")
    request.finish(status)
    return request


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    book = Ledger(tmp_path / "usage.db", retention_days=30)
    yield book  # type: ignore[misc]
    book.close()


def test_totals_and_splits_by_model_and_client(ledger: Ledger) -> None:
    ledger.record(served("sonnet", "Anthropic/Python"))
    ledger.record(served("opus", "OpenAI/Python", status=529))
    ledger.record(served("sonnet", "OpenAI/Python"))
    assert ledger.flush()
    totals = ledger.totals(0)
    assert (totals.requests, totals.errors, totals.tokens["input_tokens"]) == (3, 1, 30)
    by_model = ledger.totals_by("model", 0)
    assert by_model["sonnet"].requests == 2 and by_model["opus"].errors == 1
    assert ledger.totals_by("client", 0)["OpenAI/Python"].requests == 2
    recent = ledger.recent(2)
    assert [r["model"] for r in recent] == ["sonnet", "opus"]
    assert recent[1]["error_type"] == "overloaded_error" and recent[1]["status"] == 529


def test_first_token_percentiles_are_values_that_were_measured(ledger: Ledger) -> None:
    for ms in (10, 20, 30, 40, 1000):
        ledger.record(served(first_token_ms=ms))
    ledger.record(served(first_token_ms=None))  # failed before any token
    assert ledger.flush()
    assert ledger.first_token_percentiles(0) == {"p50": 30.0, "p95": 1000.0}
    assert ledger.first_token_percentiles(time.time() + 60) == {"p50": None, "p95": None}


def test_hourly_series_covers_every_hour(ledger: Ledger) -> None:
    now = time.time()
    ledger.record(served(at=now - 2 * 3600 - 10, tokens=100))
    ledger.record(served(at=now - 5))
    assert ledger.flush()
    series = ledger.hourly(now - 86400 + 1, now)
    assert len(series) == 24
    assert sum(hour["requests"] for hour in series) == 2
    assert series[-1]["requests"] == 1 and series[-3]["input_tokens"] == 100


def test_rows_past_the_retention_are_dropped_at_start(tmp_path: Path) -> None:
    first = Ledger(tmp_path / "usage.db", retention_days=1)
    first.record(served(at=time.time() - 2 * 86400))
    first.record(served())
    first.close()
    again = Ledger(tmp_path / "usage.db", retention_days=1)
    try:
        assert again.flush()
        assert again.totals(0).requests == 1, "dropped at start, before any new request"
    finally:
        again.close()


def test_windows_are_kept_newest_first(ledger: Ledger) -> None:
    ledger.save_windows([Window("five_hour", 0.5, 1, "allowed", 200.0)])
    ledger.save_windows([Window("five_hour", 0.2, 1, "allowed", 100.0)])  # older: ignored
    assert ledger.flush()
    assert ledger.windows() == [Window("five_hour", 0.5, 1, "allowed", 200.0)]


def test_a_corrupt_file_is_moved_aside_and_a_new_one_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "usage.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    with caplog.at_level(logging.WARNING):
        ledger = Ledger(path, retention_days=30)
    try:
        ledger.record(served())
        assert ledger.flush()
        assert ledger.totals(0).requests == 1
        assert ledger.path == path
        assert [p.name for p in tmp_path.glob("usage.db.unreadable-*")], "kept for a look"
        assert "could not be read" in caplog.text
    finally:
        ledger.close()


def test_a_folder_it_cannot_use_keeps_the_ledger_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    with caplog.at_level(logging.WARNING):
        ledger = Ledger(blocker / "usage.db", retention_days=30)
    try:
        ledger.record(served())
        assert ledger.flush()
        assert ledger.totals(0).requests == 1 and ledger.path is None
        assert "keeping it in memory" in caplog.text
    finally:
        ledger.close()


def test_every_row_is_committed_as_it_is_written(ledger: Ledger) -> None:
    ledger.record(served())
    assert ledger.flush()
    assert ledger.path is not None
    # Another connection (another process would do the same) sees it without a close.
    with sqlite3.connect(ledger.path) as other:
        assert other.execute("SELECT COUNT(*) FROM requests").fetchone() == (1,)
    with sqlite3.connect(ledger.path) as other:
        columns = {row[1] for row in other.execute("PRAGMA table_info(requests)")}
    assert not columns & {"content", "messages", "api_key", "prompt"}
