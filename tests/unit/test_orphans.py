"""OrphanGuard: CLIs of a dead owner are ended at start; nothing else is touched."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from proxy_core.backend.orphans import OrphanGuard


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield process
    process.kill()
    process.wait()


def dead_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def write_entry(
    directory: Path, pid: int, created: float, owner: int, owner_created: float
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "created": created, "owner": owner, "owner_created": owner_created}
    (directory / f"{pid}.json").write_text(json.dumps(record))


def test_track_and_untrack_keep_one_file_per_live_cli(tmp_path: Path, sleeper) -> None:
    guard = OrphanGuard(tmp_path)
    guard.track(sleeper.pid)
    entry = tmp_path / f"{sleeper.pid}.json"
    assert json.loads(entry.read_text())["pid"] == sleeper.pid
    guard.untrack(sleeper.pid)
    assert not entry.exists()


def test_reap_ends_a_cli_whose_owner_is_gone(tmp_path: Path, sleeper) -> None:
    created = psutil.Process(sleeper.pid).create_time()
    write_entry(tmp_path, sleeper.pid, created, owner=dead_pid(), owner_created=1.0)

    assert OrphanGuard(tmp_path).reap() == 1
    assert sleeper.wait(5) != 0
    assert list(tmp_path.glob("*.json")) == []


def test_reap_leaves_the_clis_of_a_living_owner(tmp_path: Path, sleeper) -> None:
    created = psutil.Process(sleeper.pid).create_time()
    me = psutil.Process()
    write_entry(tmp_path, sleeper.pid, created, owner=me.pid, owner_created=me.create_time())

    assert OrphanGuard(tmp_path).reap() == 0
    assert sleeper.poll() is None
    assert (tmp_path / f"{sleeper.pid}.json").exists()


def test_reap_never_kills_a_reused_pid(tmp_path: Path, sleeper) -> None:
    # Same pid, different start time: another program now holds the number.
    write_entry(tmp_path, sleeper.pid, created=1.0, owner=dead_pid(), owner_created=1.0)

    assert OrphanGuard(tmp_path).reap() == 0
    assert sleeper.poll() is None
    assert list(tmp_path.glob("*.json")) == []


def test_reap_discards_unreadable_entries(tmp_path: Path) -> None:
    (tmp_path / "123.json").write_text("{not json")
    assert OrphanGuard(tmp_path).reap() == 0
    assert list(tmp_path.glob("*.json")) == []
