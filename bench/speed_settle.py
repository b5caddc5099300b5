"""Settling between timed requests: wait until the CLIs under the bench's processes have
finished starting or ending, so no path is timed while another's CLI still uses the CPU, and
until the warm proxy's pool holds its spares, as the proxy's GET /health reports them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
import psutil
from speed_processes import descendants

SETTLE_STEP_S, QUIET_CPU_S, SETTLE_TIMEOUT_S = 0.25, 0.02, 20.0
# A spare starts once no request has run for 0.3 s and its CLI takes about 0.5 s to start:
# polling this often sees it ready within a few percent of that.
READY_STEP_S, READY_TIMEOUT_S = 0.05, 20.0


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
    timeouts: int = 0  # the CPU-quiet waits' and the pool readiness waits' together
    # Readiness checks of the warm pool through GET /health, and how many found it short.
    ready_checks: int = 0
    ready_waited: int = 0
    ready_seconds: float = 0.0
    ready_timeouts: int = 0


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


async def ready_spares(session: aiohttp.ClientSession, base_url: str) -> int:
    """The spares ready to take in the proxy's warm pool, from its GET /health: the bench's
    proxies have no API key, so /health shows its details."""
    async with session.get(f"{base_url}/health") as response:
        response.raise_for_status()
        details = await response.json()
    if "clis_waiting" not in details:
        raise RuntimeError(f"{base_url}/health does not report clis_waiting: {details}")
    return int(details["clis_waiting"]["spares"])


async def pool_ready(session: aiohttp.ClientSession, base_url: str, wanted: int) -> bool:
    """Wait until the proxy's warm pool has ``wanted`` spares ready; True if it had to wait.

    Counting the spares beats a fixed wait, which is a guess at when the pool starts a spare
    and how long its CLI takes, both of which vary with the machine's load."""
    if wanted <= 0:
        return False
    start = time.monotonic()
    SETTLING.ready_checks += 1
    waited = False
    while await ready_spares(session, base_url) < wanted:
        if time.monotonic() - start > READY_TIMEOUT_S:
            SETTLING.ready_timeouts += 1
            SETTLING.timeouts += 1
            break
        waited = True
        await asyncio.sleep(READY_STEP_S)
    SETTLING.ready_waited += waited
    SETTLING.ready_seconds += time.monotonic() - start
    return waited
