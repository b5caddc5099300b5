"""The bench's two phases: sequential rounds, each kind through each path in turn, and
concurrent clients against the warm proxy."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
import psutil
from speed_paths import (
    KINDS,
    TIMEOUT,
    BenchSimulator,
    Sample,
    continued,
    end_sessions,
    fresh_text,
    post,
    request_body,
    sdk_post,
    spawn_key_of,
)
from speed_processes import ProxyProcess
from speed_settle import pool_ready, settle

from proxy_core.backend.claude_sdk import ClaudeSDKBackend
from proxy_core.config import Settings
from proxy_core.testing.upstream_simulator import SimulatorThread

HAS_WARM_POOL = "warm_pool" in Settings.__dataclass_fields__
PATHS = {
    "simulator": "simulator itself (direct HTTP)",
    "sdk": "(a) SDK called directly",
    "cold": "(b) proxy, cold (warm_pool=0)",
    "warm": "(c) proxy, warm pool (warm_pool=2)" if HAS_WARM_POOL else "(c) proxy, NO warm pool",
    "continued": "(d) continued conversation",
}
WARM_POOL = 2
CLIENT_COUNTS = (1, 4, 16)
_began = time.monotonic()


def progress(message: str) -> None:
    """Where the run is, on stderr: the table alone goes to stdout."""
    print(f"[{time.monotonic() - _began:5.0f} s] {message}", file=sys.stderr, flush=True)


def pool_config(size: int) -> dict[str, Any]:
    """The proxy's config file: the pool size only where Settings has the field, since the
    proxy refuses a config file with an unknown setting."""
    return {"warm_pool": size} if HAS_WARM_POOL else {}


def spares_wanted(kinds: Iterable[str]) -> int:
    """The spares the warm proxy's pool holds once full after requests of these kinds: it keeps
    one per spawn key, up to its size. Counting any spare would not do: after a request takes
    its key's spare, the other key's spare still counts while the taken one is restarting."""
    if not HAS_WARM_POOL:
        return 0
    return min(WARM_POOL, len({spawn_key_of(kind) for kind in kinds}))


Timings = defaultdict[str, defaultdict[str, list[Sample]]]


async def sequential(
    runs: int,
    sim: SimulatorThread,
    backend: ClaudeSDKBackend,
    cold: ProxyProcess,
    warm: ProxyProcess,
    roots: list[psutil.Process],
) -> tuple[Timings, int]:
    """Each kind through each path in turn. Round 0 is not counted: it warms the page cache and
    the connections, and gives the warm pool its first sight of each request shape."""
    assert isinstance(sim.simulator, BenchSimulator)
    arrivals = sim.simulator.arrivals
    timings: Timings = defaultdict(lambda: defaultdict(list))
    reused = 0
    warm_kinds: set[str] = set()  # the kinds the warm proxy has served, so its pool has seen
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:

        async def through(path: str, kind: str, base_url: str, counted: bool) -> None:
            body = request_body(kind, fresh_text(kind))
            if path == "sdk":
                sample = await sdk_post(backend, body)
            elif path == "continued":
                sample, kept = await continued(session, base_url, kind)
                nonlocal reused
                reused += counted and kept
            else:
                sample = await post(session, f"{base_url}/v1/messages", body)
            sample.note_upstream(arrivals).check(f"{PATHS[path]}, {kind}")
            if counted:
                timings[path][kind].append(sample)

        for round_ in range(runs + 1):
            counted = round_ > 0
            progress(f"sequential round {round_} of {runs}" + ("" if counted else " (warm-up)"))
            for kind in KINDS:
                await through("simulator", kind, sim.base_url, counted)
                await through("sdk", kind, "", counted)
                await settle(roots)
                for path, proxy in (("cold", cold), ("warm", warm), ("continued", warm)):
                    # Time the warm proxy only with its pool full, as its /health shows; if a
                    # spare only now became ready, let its start wind down first.
                    wanted = spares_wanted(warm_kinds) if proxy is warm else 0
                    if await pool_ready(session, proxy.url, wanted):
                        await settle(roots)
                    await through(path, kind, proxy.url, counted)
                    await end_sessions(session, proxy.url)
                    if proxy is warm:
                        # The pool refills after a request of the same shape: wait for that
                        # spare too, so its start does not slow the next path's request.
                        warm_kinds.add(kind)
                        await pool_ready(session, warm.url, spares_wanted(warm_kinds))
                    await settle(roots)
    return timings, reused


@dataclass
class Load:
    clients: int
    samples: list[Sample]
    wall_s: float


async def concurrent(base_url: str, clients: int, per_client: int) -> Load:
    """``clients`` clients at once, each with its own connection, each sending ``per_client``
    streaming requests that start new conversations, one after another."""
    samples: list[Sample] = []

    async def client() -> None:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            for _ in range(per_client):
                body = request_body("stream", fresh_text("stream"))
                samples.append(await post(session, f"{base_url}/v1/messages", body))

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Load(clients, samples, time.perf_counter() - start)
