"""Speed: first byte and total through the SDK and the proxy, throughput, and memory, offline.

Run: ``.venv/bin/python bench/speed.py [--runs N] [--clients-requests N] [--quick]``.

It starts the upstream simulator in this process, points the CLI at it, and runs each proxy as
``python -m proxy_core`` in a process of its own, so a proxy's memory is its own and its CLIs are
its descendants. Paths are interleaved request by request, so drift on a shared machine hits
them alike. It prints one table and exits 1 if any CLI process outlives the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil
from speed_paths import KINDS, TIMEOUT, end_sessions, start_bench_simulator
from speed_phases import (
    CLIENT_COUNTS,
    WARM_POOL,
    Load,
    concurrent,
    pool_config,
    progress,
    sequential,
    spares_wanted,
)
from speed_processes import MB, MemorySampler, ProxyProcess, clis, live, own_rss, strays
from speed_report import Results, report
from speed_settle import pool_ready, settle
from speed_tray import tray_idle

from proxy_core.backend.claude_sdk import ClaudeSDKBackend
from proxy_core.config import Settings
from proxy_core.testing.upstream_simulator import SimulatorThread


async def run(args: argparse.Namespace, sim: SimulatorThread, root: Path) -> Results:
    cold = ProxyProcess("cold", root, pool_config(0))
    warm = ProxyProcess("warm", root, pool_config(WARM_POOL))
    left: list[psutil.Process] = []
    memory: list[tuple[str, str]] = []
    loads: list[Load] = []
    try:
        progress("starting the proxies")
        cold.start()
        warm.start()
        assert cold.process is not None and warm.process is not None
        roots = [cold.process, warm.process, psutil.Process()]
        await settle(roots, 1.0)
        memory += [
            ("proxy process (c), idle after start", own_rss(warm.process)),
            ("its CLI processes, idle after start", clis(warm.process)),
        ]
        backend = ClaudeSDKBackend(Settings(port=0, data_dir=root / "sdk"))
        timings, reused = await sequential(args.runs, sim, backend, cold, warm, roots)
        memory += [
            ("proxy process (c), idle after the sequential runs", own_rss(warm.process)),
            ("its CLI processes then (warm pool)", clis(warm.process)),
        ]
        left += cold.stop()  # the load runs against one proxy, with its default settings
        roots.remove(cold.process)
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            for clients in CLIENT_COUNTS:
                progress(f"{clients} concurrent clients")
                sampler = MemorySampler(warm.process)
                sampler.start()
                loads.append(await concurrent(warm.url, clients, args.clients_requests))
                sampler.done.set()
                sampler.join()
                await end_sessions(session, warm.url)
                # The next load, and the idle memory, meet the pool full as in the sequential runs.
                await pool_ready(session, warm.url, spares_wanted(KINDS))
                await settle(roots)
        busiest = f"{CLIENT_COUNTS[-1]} clients"  # the sampler's peaks are from the last load
        memory += [
            (f"proxy process (c), peak with {busiest}", f"{sampler.peak_rss / MB:.1f}"),
            (
                f"its CLI processes, peak with {busiest}",
                f"{sampler.peak_children_rss / MB:.1f} ({sampler.peak_children} procs)",
            ),
            ("proxy process (c), idle after the load", own_rss(warm.process)),
            ("its CLI processes then (warm pool)", clis(warm.process)),
        ]
    finally:
        left += cold.stop() + warm.stop()
    progress("tray app, idle")
    tray = await tray_idle(root, idle_s=2.0, preload_sdk=False)
    tray_preloaded = await tray_idle(root, idle_s=2.0)
    _, alive = psutil.wait_procs(psutil.Process().children(recursive=True), timeout=3)
    for process in live(alive):
        with contextlib.suppress(psutil.Error):
            process.kill()
    left += live(alive) + tray.left + tray_preloaded.left
    counted = {process.pid for process in left}
    left += [process for process in strays(root) if process.pid not in counted]
    calls = len(sim.simulator.message_calls())
    return Results(timings, reused, loads, memory, tray, tray_preloaded, left, calls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, metavar="N", help="sequential runs (5)")
    parser.add_argument(
        "--clients-requests", type=int, default=3, metavar="N",
        help="requests each concurrent client sends (3)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 run, 1 request")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.clients_requests = 1, 1
    if args.runs < 1 or args.clients_requests < 1:
        parser.error("--runs and --clients-requests must be at least 1")
    started = time.monotonic()
    sim = start_bench_simulator()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
            results = asyncio.run(run(args, sim, Path(tmp)))
    finally:
        sim.stop()
    print(report(results, args, time.monotonic() - started))
    return 1 if results.left else 0


if __name__ == "__main__":
    raise SystemExit(main())
