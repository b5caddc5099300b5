"""The request ledger: one SQLite row per served request, under the user data dir.

Written by one thread of its own, so the event loop never waits on the disk, and
committed per request: a kill loses at most what was in flight. WAL lets the
readers (/usage, the dashboard, another process on the same file) read while it
writes. Rows older than the retention are dropped at start and hourly. A file that
is corrupt or unreadable is moved aside with a warning and a new one started: the
ledger is a record, never a reason not to serve. Never holds content or keys.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from proxy_core.usage.quota import Window
from proxy_core.usage.served import USAGE_COUNTS, ServedRequest

log = logging.getLogger(__name__)

FILE_NAME = "usage.db"
SCHEMA_VERSION = 1
PRUNE_EVERY_S = 3600.0
BUSY_TIMEOUT_MS = 5000
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    api TEXT NOT NULL,
    model TEXT NOT NULL,
    client TEXT NOT NULL,
    stream INTEGER NOT NULL,
    status INTEGER NOT NULL,
    error_type TEXT,
    error_message TEXT,
    first_token_ms REAL,
    total_ms REAL,
    {", ".join(f"{name} INTEGER NOT NULL DEFAULT 0" for name in USAGE_COUNTS)}
);
CREATE INDEX IF NOT EXISTS requests_at ON requests (at);
CREATE TABLE IF NOT EXISTS windows (
    name TEXT PRIMARY KEY,
    utilization REAL,
    resets_at INTEGER,
    status TEXT NOT NULL,
    updated_at REAL NOT NULL
);
PRAGMA user_version = {SCHEMA_VERSION};
"""
FAILED = "(status >= 400 OR error_type IS NOT NULL)"
_COLUMNS = (
    "at, api, model, client, stream, status, error_type, error_message, first_token_ms, total_ms, "
    + ", ".join(USAGE_COUNTS)
)
T = TypeVar("T")
Job = Callable[[sqlite3.Connection], object]


@dataclass(frozen=True)
class Totals:
    requests: int
    errors: int
    tokens: dict[str, int]

    def as_json(self) -> dict[str, int]:
        return {"requests": self.requests, "errors": self.errors, **self.tokens}


def _connect(path: Path | str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    # NORMAL with WAL: a commit survives the process being killed (not a power cut).
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _open_checked(path: Path) -> sqlite3.Connection:
    connection = _connect(path)
    try:
        (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {verdict}")
        connection.executescript(_SCHEMA)
    except BaseException:
        connection.close()
        raise
    return connection


def _move_aside(path: Path, reason: Exception) -> Path:
    aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.replace(Path(f"{aside}{suffix}"))
    log.warning(
        "The usage ledger %s could not be read (%s); moved it to %s and started a new one",
        path,
        reason,
        aside,
    )
    return aside


class Ledger:
    def __init__(self, path: Path | None, *, retention_days: int) -> None:
        """``path`` None keeps the ledger in memory (nothing survives a restart)."""
        self.path = path
        self.retention_days = retention_days
        self._retention_s = retention_days * 86400.0
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._write = self._open()
        # Readers get their own connection: with WAL they never wait for the writer.
        self._read = self._write if self.path is None else _connect(self.path)
        self._read_lock = threading.Lock()
        self._last_prune = 0.0
        self._writer = threading.Thread(
            target=self._write_forever, name="usage-ledger", daemon=True
        )
        self._writer.start()
        self._jobs.put(lambda db: None)  # the first job prunes: rows past the retention go now

    def _open(self) -> sqlite3.Connection:
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                return _open_checked(self.path)
            except (sqlite3.DatabaseError, OSError) as exc:
                problem: Exception = exc
                if self.path.is_file():
                    try:
                        _move_aside(self.path, exc)
                        return _open_checked(self.path)
                    except (sqlite3.DatabaseError, OSError) as again:
                        problem = again
                log.warning(
                    "The usage ledger cannot be kept at %s (%s); keeping it in memory",
                    self.path,
                    problem,
                )
                self.path = None
        connection = _connect(":memory:")
        connection.executescript(_SCHEMA)
        return connection

    # -- writing (one thread) --------------------------------------------------
    def _write_forever(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job(self._write)
                self._write.commit()
                if time.time() - self._last_prune > PRUNE_EVERY_S:
                    self._prune()
            except sqlite3.Error:
                # A full disk or a file broken under us: the request was served all the same.
                log.exception("Could not write to the usage ledger")
                with contextlib.suppress(sqlite3.Error):
                    self._write.rollback()

    def _prune(self) -> None:
        self._last_prune = time.time()
        self._write.execute("DELETE FROM requests WHERE at < ?", (time.time() - self._retention_s,))
        self._write.commit()

    def record(self, served: ServedRequest) -> None:
        """Queue one finished request; it is on disk a moment later."""
        row = (
            served.started_at,
            served.api,
            served.model,
            served.client,
            int(served.stream),
            served.status,
            served.error_type,
            served.error_message,
            served.first_token_ms,
            served.total_ms,
            *(served.tokens.get(name, 0) for name in USAGE_COUNTS),
        )
        placeholders = ", ".join("?" * len(row))
        self._jobs.put(
            lambda db: db.execute(f"INSERT INTO requests ({_COLUMNS}) VALUES ({placeholders})", row)
        )

    def save_windows(self, windows: list[Window]) -> None:
        rows = [(w.name, w.utilization, w.resets_at, w.status, w.updated_at) for w in windows]
        self._jobs.put(
            lambda db: db.executemany(
                "INSERT INTO windows VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "utilization = excluded.utilization, resets_at = excluded.resets_at, "
                "status = excluded.status, updated_at = excluded.updated_at "
                "WHERE excluded.updated_at >= windows.updated_at",
                rows,
            )
        )

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything queued so far is on disk."""
        done = threading.Event()
        self._jobs.put(lambda db: done.set())
        return done.wait(timeout_s)

    def close(self) -> None:
        self._jobs.put(None)
        self._writer.join(timeout=10)
        with contextlib.suppress(sqlite3.Error):
            if self._read is not self._write:
                self._read.close()
            self._write.close()

    # -- reading (any thread; call through asyncio.to_thread from the loop) ----
    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._read_lock:
            try:
                return self._read.execute(sql, parameters).fetchall()
            except sqlite3.Error:
                log.exception("Could not read the usage ledger")
                return []

    def totals(self, since: float) -> Totals:
        sums = ", ".join(f"COALESCE(SUM({name}), 0)" for name in USAGE_COUNTS)
        rows = self._query(
            f"SELECT COUNT(*), COALESCE(SUM({FAILED}), 0), {sums} FROM requests WHERE at >= ?",
            (since,),
        )
        count, errors, *tokens = rows[0] if rows else (0, 0, *([0] * len(USAGE_COUNTS)))
        return Totals(count, errors, dict(zip(USAGE_COUNTS, tokens, strict=True)))

    def totals_by(self, column: str, since: float) -> dict[str, Totals]:
        if column not in ("model", "client", "api"):
            raise ValueError(column)
        sums = ", ".join(f"SUM({name})" for name in USAGE_COUNTS)
        rows = self._query(
            f"SELECT {column}, COUNT(*), SUM({FAILED}), {sums} FROM requests "
            f"WHERE at >= ? GROUP BY {column} ORDER BY COUNT(*) DESC",
            (since,),
        )
        return {
            key: Totals(count, errors, dict(zip(USAGE_COUNTS, tokens, strict=True)))
            for key, count, errors, *tokens in rows
        }

    def first_token_percentiles(self, since: float) -> dict[str, float | None]:
        rows = self._query(
            "SELECT first_token_ms FROM requests WHERE at >= ? AND first_token_ms IS NOT NULL "
            "ORDER BY first_token_ms",
            (since,),
        )
        values = [value for (value,) in rows]
        return {"p50": _nearest_rank(values, 0.5), "p95": _nearest_rank(values, 0.95)}

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._query(
            f"SELECT id, {_COLUMNS} FROM requests ORDER BY id DESC LIMIT ?", (limit,)
        )
        names = ["id", *(name.strip() for name in _COLUMNS.split(","))]
        found = []
        for row in rows:
            item = dict(zip(names, row, strict=True))
            item["stream"] = bool(item["stream"])
            found.append(item)
        return found

    def hourly(self, since: float, now: float) -> list[dict[str, Any]]:
        """Requests and tokens per hour from ``since`` to ``now``, empty hours included."""
        rows = self._query(
            "SELECT CAST((at - ?) / 3600 AS INTEGER) AS hour, COUNT(*), SUM(" + FAILED + "), "
            "SUM(input_tokens + cache_read_input_tokens + cache_creation_input_tokens), "
            "SUM(output_tokens) FROM requests WHERE at >= ? GROUP BY hour",
            (since, since),
        )
        by_hour = {
            hour: (count, errors, tokens_in, tokens_out)
            for hour, count, errors, tokens_in, tokens_out in rows
        }
        hours = max(1, int((now - since) // 3600) + 1)
        series = []
        for hour in range(hours):
            count, errors, tokens_in, tokens_out = by_hour.get(hour, (0, 0, 0, 0))
            series.append(
                {
                    "start": int(since + hour * 3600),
                    "requests": count,
                    "errors": errors,
                    "input_tokens": tokens_in,
                    "output_tokens": tokens_out,
                }
            )
        return series

    def windows(self) -> list[Window]:
        rows = self._query("SELECT name, utilization, resets_at, status, updated_at FROM windows")
        return [Window(*row) for row in rows]


def _nearest_rank(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    rank = math.ceil(fraction * len(ordered))  # nearest rank: no value is made up between two
    return round(ordered[max(0, min(len(ordered), rank) - 1)], 1)
