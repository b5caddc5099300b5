"""Latency and memory: claude-agent-sdk directly vs. through the proxy, offline (simulator).

Run: ``.venv/bin/python bench/latency.py [--runs N]``. The CLI reaches the simulator via env."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any, ClassVar, cast

import aiohttp
import psutil
from claude_agent_sdk import ClaudeSDKClient, StreamEvent

from proxy_core.anthropic_api.models import resolve_model
from proxy_core.backend.base import BackendRequest, StreamEventData
from proxy_core.backend.claude_sdk import ClaudeSDKBackend
from proxy_core.backend.environment import drop_parent_session_variables
from proxy_core.backend.history import history_frames
from proxy_core.config import Settings
from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import SimulatorThread

MODEL, MESSAGES = "claude-sonnet-4-5", [{"role": "user", "content": "Say hello."}]
BODY: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": MESSAGES}
BURST, SAMPLE_EVERY_S, MIB = 4, 0.05, 1024 * 1024
STREAM, OWN = "proxy stream: ", "proxy's own share (paired): "
Timings = defaultdict[str, list[float]]
FIRST_WAS_PING: Counter[str] = Counter()  # streams whose first SSE event was a keep-alive ping
OVERHEAD = (  # (label, proxy metric, SDK metric): proxy overhead = difference at p50
    ("first SSE byte - message_start", f"{STREAM}first SSE byte", "sdk: message_start"),
    ("first content_block_delta", f"{STREAM}first content_block_delta", "sdk: first delta"),
    ("total - message_stop", f"{STREAM}total", "sdk: message_stop"),
)


def now_ms() -> float:
    return time.perf_counter() * 1000


async def _one(payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield payload


async def sdk_once(backend: ClaudeSDKBackend, out: Timings) -> None:
    """One turn through ClaudeSDKClient, fed and closed the way the proxy's backend does it."""
    request = BackendRequest(model=resolve_model(MODEL), messages=MESSAGES, max_tokens=64)
    start = now_ms()
    client = ClaudeSDKClient(backend.options_for(request))
    marks: dict[str, float] = {}
    try:
        await client.connect()
        await client.query(_one(history_frames(request.messages)[-1].payload))
        async for message in client.receive_messages():
            if not isinstance(message, StreamEvent) or message.parent_tool_use_id:
                continue
            kind = str(message.event.get("type"))
            marks.setdefault(kind, now_ms() - start)
            if kind == "message_stop":
                break
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await client.interrupt()
        await client.disconnect()
    out["sdk: message_start"].append(marks["message_start"])
    out["sdk: first delta"].append(marks["content_block_delta"])
    out["sdk: message_stop"].append(marks["message_stop"])
    out["sdk: interrupted + disconnected"].append(now_ms() - start)


async def http_stream_once(
    session: aiohttp.ClientSession, url: str, label: str, out: Timings
) -> None:
    """POST a streaming request; time the first SSE bytes, the first delta and the end."""
    start = now_ms()
    first_event = first_delta = None
    async with session.post(url, json={**BODY, "stream": True}) as response:
        response.raise_for_status()
        async for chunk in response.content.iter_any():
            if first_event is None and b"event:" in chunk:
                first_event = now_ms() - start
                FIRST_WAS_PING[label] += chunk.startswith(b"event: ping")
            if first_delta is None and b"content_block_delta" in chunk:
                first_delta = now_ms() - start
    assert first_event is not None and first_delta is not None, f"{label}: incomplete stream"
    out[f"{label}: first SSE byte"].append(first_event)
    out[f"{label}: first content_block_delta"].append(first_delta)
    out[f"{label}: total"].append(now_ms() - start)


async def http_continue_once(
    session: aiohttp.ClientSession, url: str, round_: int, out: Timings
) -> None:
    """A new conversation's first turn, then its second: the kept CLI answers the second."""
    opening = [{"role": "user", "content": f"Conversation {round_}: say hello."}]
    async with session.post(url, json={**BODY, "messages": opening}) as response:
        reply = (await response.json())["content"]
    follow_up = [*opening, {"role": "assistant", "content": reply}, *MESSAGES]
    start = now_ms()
    first_delta = None
    payload = {**BODY, "messages": follow_up, "stream": True}
    async with session.post(url, json=payload) as response:
        response.raise_for_status()
        async for chunk in response.content.iter_any():
            if first_delta is None and b"content_block_delta" in chunk:
                first_delta = now_ms() - start
    assert first_delta is not None, "continued conversation: incomplete stream"
    out["proxy continued conversation: first content_block_delta"].append(first_delta)
    out["proxy continued conversation: total"].append(now_ms() - start)


async def http_plain_once(session: aiohttp.ClientSession, url: str, out: Timings) -> None:
    start = now_ms()
    async with session.post(url, json=BODY) as response:
        response.raise_for_status()
        assert (await response.json())["type"] == "message"
    out["proxy non-stream: total"].append(now_ms() - start)


class TimedBackend(ClaudeSDKBackend):
    """The proxy's real backend, noting (first event, message_stop) in ms from its start."""

    marks: ClassVar[list[tuple[float, float]]] = []

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        KEPT.append(self)

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEventData]:
        start, first = now_ms(), 0.0
        inner = cast(AsyncGenerator[StreamEventData, None], super().stream(request))
        async with contextlib.aclosing(inner) as events:
            async for event in events:
                first = first or now_ms() - start
                if event["type"] == "message_stop":
                    self.marks.append((first, now_ms() - start))
                yield event


class MemorySampler(threading.Thread):
    """Peak RSS of this process and summed RSS of its descendants, every 50 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.done = threading.Event()
        self.peak_self = self.peak_children = self.peak_count = 0

    def run(self) -> None:
        me = psutil.Process()
        while not self.done.is_set():
            self.peak_self = max(self.peak_self, me.memory_info().rss)
            sizes = []
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    sizes.append(child.memory_info().rss)
            self.peak_children = max(self.peak_children, sum(sizes))
            self.peak_count = max(self.peak_count, len(sizes))
            self.done.wait(SAMPLE_EVERY_S)


def live_children() -> int:
    alive = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            alive += child.status() != psutil.STATUS_ZOMBIE
    return alive


KEPT: list[ClaudeSDKBackend] = []  # the proxy's backend, whose kept conversations stay alive


async def settle(timeout_s: float = 3.0) -> None:
    """Wait until only kept conversations' CLIs remain (the others close after replying)."""
    for _ in range(int(timeout_s / 0.01)):
        if live_children() <= sum(len(backend.conversations) for backend in KEPT):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)


async def run_benchmark(
    runs: int, sim_url: str, proxy_url: str, backend: ClaudeSDKBackend
) -> tuple[Timings, MemorySampler]:
    out: Timings = defaultdict(list)
    sim_url, proxy_url = f"{sim_url}/v1/messages", f"{proxy_url}/v1/messages"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        # Round 0 warms up (page cache, connection pools) and is not counted. The paths are
        # interleaved, each on a quiet system, so that drift hits them all alike.
        for round_ in range(runs + 1):
            sink: Timings = out if round_ else defaultdict(list)
            await http_stream_once(session, sim_url, "simulator direct", sink)
            await sdk_once(backend, sink)
            await settle()
            await http_stream_once(session, proxy_url, STREAM[:-2], sink)
            # Paired, per request: what the client saw minus what the backend took inside it.
            first, stop = TimedBackend.marks[-1]
            sink[f"{OWN}first SSE byte"].append(sink[f"{STREAM}first SSE byte"][-1] - first)
            sink[f"{OWN}total"].append(sink[f"{STREAM}total"][-1] - stop)
            await settle()
            await http_plain_once(session, proxy_url, sink)
            await settle()
            await http_continue_once(session, proxy_url, round_, sink)
            await settle()
            if not round_:
                FIRST_WAS_PING.clear()
        sampler = MemorySampler()
        sampler.start()
        burst = (http_stream_once(session, proxy_url, "proxy burst", out) for _ in range(BURST))
        await asyncio.gather(*burst)
        await asyncio.sleep(0.5)  # the CLIs close after the responses end
        sampler.done.set()
        sampler.join()
    return out, sampler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, metavar="N", help="at least 2")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2 (p95 needs two samples)")
    drop_parent_session_variables(os.environ)  # as the proxy's own entry point does
    sim = SimulatorThread().start()
    # Set before anything spawns the CLI: the CLI inherits this environment.
    os.environ["ANTHROPIC_BASE_URL"] = sim.base_url
    os.environ["ANTHROPIC_API_KEY"] = "sk-ant-bench-dummy"
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        settings = Settings(port=0, data_dir=Path(tmp))
        proxy = ProxyServer(settings, backend_factory=TimedBackend)
        try:
            proxy.start()
            time.sleep(0.5)
            idle_rss = psutil.Process().memory_info().rss
            backend = ClaudeSDKBackend(settings)
            out, sampler = asyncio.run(
                run_benchmark(args.runs, sim.base_url, proxy.base_url, backend)
            )
        finally:
            proxy.stop()
            sim.stop()
        asyncio.run(settle(3.0))
        left = live_children()

    p50 = {name: statistics.median(values) for name, values in out.items()}
    title = f"latency ({args.runs} sequential runs; burst: {BURST} concurrent)"
    rows = [[title, "p50 ms", "p95 ms", "min ms"], ["-"]]
    for name, values in out.items():
        cuts = statistics.quantiles(values, n=20, method="inclusive")  # p50, p95: [9], [18]
        cells = (cuts[9], cuts[18], min(values))
        rows.append([name, *(f"{v:.1f}" for v in cells)])
    rows += [["-"], ["proxy overhead = proxy - sdk at p50 (unpaired: includes CLI noise)"]]
    rows += [[f"  {label}", f"{p50[b] - p50[a]:+.1f}"] for label, b, a in OVERHEAD]
    mib = {
        "bench process RSS, idle after startup": idle_rss,
        f"bench process RSS, peak in {BURST}-request burst": sampler.peak_self,
        f"CLI children, summed RSS peak ({sampler.peak_count} procs)": sampler.peak_children,
    }
    rows += [["-"], ["memory", "MiB"], ["-"]]
    rows += [[name, f"{value / MIB:.1f}"] for name, value in mib.items()]
    calls, expected = len(sim.simulator.message_calls()), 6 * (args.runs + 1) + BURST
    rows += [["-"], [f"upstream /v1/messages calls (expected {expected})", str(calls)]]
    rows += [[f"{k}: first SSE event was a ping", str(n)] for k, n in FIRST_WAS_PING.items() if n]
    rows += [["CLI child processes left after cleanup (psutil)", str(left)]]
    width = max(len(row[0]) for row in rows)
    for row in rows:  # plain text: a name column, right-aligned values; ["-"] is a rule
        tail = "".join(f"{cell:>10}" for cell in row[1:])
        print("-" * (width + 30) if row == ["-"] else f"{row[0]:<{width}}{tail}")
    return 0 if left == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
