"""New conversations at a client's pace, and the next turn of a kept one, as ratios to a cold
SDK call: the warm pool's targets as a script, a tool or an agent framework meets them.

Run: ``.venv/bin/python bench/pacing.py [--runs N] [--quiet S,S...]``.

Each request is a streamed ``POST /v1/messages`` through a proxy with its default settings
(two warm spares, four kept conversations), on a subscription login against the simulator;
the time is to the first text delta. Paths:

- cold SDK call: ``ClaudeSDKClient`` with the proxy's own options, connected per request
  (what a client pays without the proxy's pool), the baseline of every ratio;
- new, N s apart: a new conversation of the same shape N s after the previous one ended
  (3 s: a person; 1 s: a quick script; 0.3 s: a tool or an agent framework);
- next turn, N s later: a kept conversation's next turn, sent at once (an agent's tool round)
  or 0.3 s after its first turn ended; this is what a spare starting beside it slows.

``--quiet`` runs the proxy once per value of the pool's quiet period (how long no turn must
have run before a spare starts), to show the trade-off it makes. Targets (issue 17): new
0.3 s apart <= 0.35, 1 s apart <= 0.3, next turn <= 0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from speed_paths import TIMEOUT, sdk_post, start_bench_simulator

from proxy_core.backend import warm_pool
from proxy_core.backend.claude_sdk import ClaudeSDKBackend
from proxy_core.config import Settings
from proxy_core.server import ProxyServer

MODEL = "sonnet"
# The pool's own default, read before any variant changes it.
DEFAULT_QUIET_S = warm_pool.QUIET_S
TARGETS = {"new, 0.3 s apart": 0.35, "new, 1 s apart": 0.3, "next turn, at once": 0.1}
_numbers = iter(range(1, 1_000_000))


def body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 64, "messages": messages, "stream": True}


def fresh() -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"Pacing request {next(_numbers)}: say hello."}]


async def first_text_ms(
    session: aiohttp.ClientSession, url: str, messages: list[dict[str, Any]]
) -> tuple[float, str]:
    """Time to the first text delta, and the whole text (for the next turn)."""
    started = time.perf_counter()
    first: float | None = None
    text = []
    async with session.post(f"{url}/v1/messages", json=body(messages)) as response:
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {await response.text()}")
        async for line in response.content:
            if not line.startswith(b"data: "):
                continue
            event = json.loads(line[6:])
            if event.get("type") == "content_block_delta":
                first = first or (time.perf_counter() - started) * 1000
                text.append(event["delta"].get("text", ""))
    if first is None:
        raise RuntimeError("no text delta in the stream")
    return first, "".join(text)


async def cold_sdk_ms(backend: ClaudeSDKBackend) -> float:
    sample = await sdk_post(backend, body(fresh()), first="content_block_delta")
    return sample.check("a cold SDK call").ttfb_ms


async def new_conversations(url: str, gap_s: float, runs: int) -> list[float]:
    times = []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        await first_text_ms(session, url, fresh())  # the first of a shape is cold: not counted
        for _ in range(runs):
            await asyncio.sleep(gap_s)
            times.append((await first_text_ms(session, url, fresh()))[0])
    return times


async def next_turns(url: str, gap_s: float, runs: int) -> list[float]:
    times = []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for _ in range(runs):
            opening = fresh()
            _, reply = await first_text_ms(session, url, opening)
            await asyncio.sleep(gap_s)
            follow = [
                *opening,
                {"role": "assistant", "content": reply},
                {"role": "user", "content": "And once more?"},
            ]
            times.append((await first_text_ms(session, url, follow))[0])
            await asyncio.sleep(1.0)  # the next opening meets a settled pool, not this turn's
    return times


def p50(values: list[float]) -> float:
    return statistics.median(values)


async def run_variant(quiet_s: float, runs: int, root: Path) -> dict[str, list[float]]:
    warm_pool.QUIET_S = quiet_s  # read when the backend builds its pool
    server = ProxyServer(Settings(port=0, data_dir=root / f"quiet-{quiet_s}"))
    server.start()
    try:
        url = server.base_url
        found = {}
        for gap in (3.0, 1.0, 0.3):
            found[f"new, {gap:g} s apart"] = await new_conversations(url, gap, runs)
        found["next turn, at once"] = await next_turns(url, 0.0, runs)
        found["next turn, 0.3 s later"] = await next_turns(url, 0.3, runs)
        return found
    finally:
        await asyncio.to_thread(server.stop)


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-pacing-") as folder:
        root = Path(folder)
        sdk = ClaudeSDKBackend(Settings(port=0, data_dir=root / "sdk"))
        await cold_sdk_ms(sdk)  # page cache and connections, not counted
        baseline = [await cold_sdk_ms(sdk) for _ in range(args.runs)]
        variants = {}
        for quiet_s in args.quiet:
            print(f"quiet period {quiet_s:g} s ...", file=sys.stderr, flush=True)
            variants[quiet_s] = await run_variant(quiet_s, args.runs, root)
        baseline += [await cold_sdk_ms(sdk) for _ in range(args.runs)]  # drift, both ends
        await sdk.aclose()
    cold = p50(baseline)
    print(f"cold SDK call, first text delta: p50 {cold:.0f} ms ({len(baseline)} runs)\n")
    header = "".join(f" | quiet {q:g} s" for q in variants)
    print(f"{'path (p50 ms, ratio to cold)':<32}{header} | target")
    missed = []
    for path in next(iter(variants.values())):
        cells = []
        for quiet_s, found in variants.items():
            ratio = p50(found[path]) / cold
            cells.append(f" | {p50(found[path]):5.0f} {ratio:4.2f}")
            if quiet_s == DEFAULT_QUIET_S and path in TARGETS and ratio > TARGETS[path]:
                missed.append(f"{path} ({ratio:.3f} > {TARGETS[path]})")
        target = f"<= {TARGETS[path]}" if path in TARGETS else ""
        print(f"{path:<32}{''.join(cells)} | {target}")
    verdict = "every target met" if not missed else "missed: " + "; ".join(missed)
    print(f"\nwith the default quiet period ({DEFAULT_QUIET_S:g} s): {verdict}")
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--quiet",
        type=lambda text: [float(v) for v in text.split(",")],
        default=None,
        help="quiet periods to compare, in seconds (default: the pool's default, and 0.3)",
    )
    args = parser.parse_args()
    if args.quiet is None:
        args.quiet = sorted({DEFAULT_QUIET_S, 0.3})
    start_bench_simulator()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
