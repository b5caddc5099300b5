"""Settling between timed requests: wait until the CLIs under the bench's processes have
finished starting or ending, so no path is timed while another's CLI still uses the CPU."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil
from speed_processes import descendants

SETTLE_STEP_S, QUIET_CPU_S, SETTLE_TIMEOUT_S = 0.25, 0.02, 20.0


def activity(roots: Iterable[psutil.Process]) -> tuple[int, float]:
    """How many processes run under the roots, and the CPU seconds the trees have used."""
    count, cpu = 0, 0.0
    for root in roots:
        tree = descendants(root)
        count += len(tree)
        if root.pid != os.getpid():  # this process runs the clients: its own CPU is not idleness
            tree.append(root)
        for process in tree:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                cpu += times.user + times.system
    return count, cpu


@dataclass
class SettleStats:
    waits: int = 0
    seconds: float = 0.0
    timeouts: int = 0


SETTLING = SettleStats()


async def settle(roots: list[psutil.Process], min_s: float = 0.0) -> None:
    """Wait until CLIs have finished starting or ending: same process count, next to no CPU."""
    start = time.monotonic()
    await asyncio.sleep(min_s)
    before = activity(roots)
    SETTLING.waits += 1
    for _ in range(int(SETTLE_TIMEOUT_S / SETTLE_STEP_S)):
        await asyncio.sleep(SETTLE_STEP_S)
        now = activity(roots)
        if now[0] == before[0] and now[1] - before[1] < QUIET_CPU_S:
            break
        before = now
    else:
        SETTLING.timeouts += 1
    SETTLING.seconds += time.monotonic() - start
