"""The request paths the speed bench times: the simulator, the SDK called directly, a request
to a proxy, and a continued conversation; each gives a Sample of its first byte and its end."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from claude_agent_sdk import ClaudeSDKClient, ResultMessage, StreamEvent

from proxy_core.anthropic_api.request import parse_messages_request
from proxy_core.backend.claude_sdk import ClaudeSDKBackend
from proxy_core.backend.environment import drop_parent_session_variables
from proxy_core.backend.history import history_frames
from proxy_core.backend.options import spawn_key
from proxy_core.testing.subscription_login import write_login
from proxy_core.testing.upstream_simulator import (
    RecordedRequest,
    SimulatorThread,
    ToolCalls,
    UpstreamSimulator,
)

MODEL, MAX_TOKENS = "claude-sonnet-4-5", 64
WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
KINDS = ("plain", "stream", "tool")
TIMEOUT = aiohttp.ClientTimeout(total=180)
_numbers = itertools.count(1)


def fresh_text(kind: str) -> str:
    """A new conversation's text: never the same twice, so no kept conversation matches it."""
    number = next(_numbers)
    if kind == "tool":
        return f"Bench request {number}: what is the weather in Paris?"
    return f"Bench request {number}: say hello."


def request_body(kind: str, text: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": text}],
        "stream": kind != "plain",
    }
    if kind == "tool":
        body["tools"] = [WEATHER]
    return body


def spawn_key_of(kind: str) -> str:
    """The key the proxy's warm pool keeps a spare of this kind under (plain and stream share
    one: streaming is not fixed when a CLI starts)."""
    body = request_body(kind, "spawn key")
    request = parse_messages_request(body, default_model=MODEL, request_id="bench")
    return spawn_key(request.backend_request)


class BenchSimulator(UpstreamSimulator):
    """Answers a request that offers the bench's tool with a call to it, any other with text,
    and notes when each call arrived (it answers at once, so that is also its first byte)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    async def _answer_messages(
        self, request: web.Request, record: RecordedRequest, body: dict[str, Any]
    ) -> web.StreamResponse:
        self.arrivals.append(time.perf_counter())
        if any(tool.get("name") == WEATHER["name"] for tool in body.get("tools") or []):
            # Taken by the call below before it first awaits, so concurrent requests can't swap it.
            self.enqueue(ToolCalls(calls=((WEATHER["name"], {"city": "Paris"}),)))
        return await super()._answer_messages(request, record, body)


def start_bench_simulator() -> SimulatorThread:
    """The bench's simulator, running, with this process's environment pointed at it: set
    before anything spawns a CLI, since the CLIs and the proxies inherit it."""
    drop_parent_session_variables(os.environ)  # as the proxy's own entry point does
    sim = SimulatorThread()
    sim.simulator = BenchSimulator()
    sim.start()
    os.environ["ANTHROPIC_BASE_URL"] = sim.base_url
    # A subscription login, as most users run (the CLI then sends its OAuth bearer token).
    config_dir = Path(tempfile.mkdtemp(prefix="bench-claude-config-"))
    write_login(config_dir)
    os.environ["CLAUDE_CONFIG_DIR"] = str(config_dir)
    os.environ.pop("ANTHROPIC_API_KEY", None)
    return sim


@dataclass
class Sample:
    ttfb_ms: float = 0.0
    total_ms: float = 0.0
    body: bytes = b""
    error: str | None = None
    # The proxy committed the stream with its own message_start before the upstream's came.
    early_start: bool = False
    started: float = 0.0  # time.perf_counter() when the request was sent
    upstream_ms: float = 0.0  # when the upstream call arrived, from the start

    @property
    def relay_ms(self) -> float:
        """From the upstream's first byte to the client's: what the CLI, SDK and proxy add."""
        return self.ttfb_ms - self.upstream_ms

    def note_upstream(self, arrivals: list[float]) -> Sample:
        """Pair this request with the upstream call it caused: the last to arrive, if it did so
        after the request started (requests run one at a time)."""
        if arrivals and arrivals[-1] > self.started:
            self.upstream_ms = (arrivals[-1] - self.started) * 1000
        else:
            self.error = self.error or "no upstream call arrived for this request"
        return self

    def check(self, what: str) -> Sample:
        if self.error is not None:
            raise RuntimeError(f"{what} failed: {self.error}")
        return self


def since_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Sample:
    """POST and time the first body byte and the end; a failure is noted, never raised."""
    start = time.perf_counter()
    first: float | None = None
    chunks: list[bytes] = []
    try:
        async with session.post(url, json=body) as response:
            async for chunk in response.content.iter_any():
                first = since_ms(start) if first is None else first
                chunks.append(chunk)
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        return Sample(error=f"{type(error).__name__}: {error}")
    data = b"".join(chunks)
    sample = Sample(first or since_ms(start), since_ms(start), data, started=start)
    if status != 200:
        sample.error = f"HTTP {status}: {data[:300]!r}"
    elif body.get("stream"):
        if b"event: error" in data or b"event: message_stop" not in data:
            sample.error = f"the stream failed or was cut short: {data[-300:]!r}"
        first_frame = data.split(b"\n\n", 1)[0]
        sample.early_start = b"message_start" in first_frame and b'"msg_sim_' not in first_frame
    else:
        with contextlib.suppress(ValueError):
            if json.loads(data).get("type") == "message":
                return sample
        sample.error = f"not a message: {data[:300]!r}"
    return sample


async def _one(payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield payload


async def sdk_post(
    backend: ClaudeSDKBackend, body: dict[str, Any], *, first: str = "message_start"
) -> Sample:
    """One turn through ClaudeSDKClient with the proxy's own options: the ``first`` stream
    event (message_start, or content_block_delta for the first text) is the first byte,
    message_stop the end. Closing the client afterwards is not timed."""
    request = parse_messages_request(body, default_model=MODEL, request_id="bench").backend_request
    start = time.perf_counter()
    marks: dict[str, float] = {}
    client = ClaudeSDKClient(backend.options_for(request))
    try:
        await client.connect()
        await client.query(_one(history_frames(request.messages)[-1].payload))
        async for message in client.receive_messages():
            if isinstance(message, ResultMessage):
                break
            if isinstance(message, StreamEvent) and not message.parent_tool_use_id:
                kind = str(message.event.get("type"))
                marks.setdefault(kind, since_ms(start))
                if kind == "message_stop":
                    break
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await client.interrupt()
        await client.disconnect()
    if first not in marks or "message_stop" not in marks:
        return Sample(error=f"the SDK stream ended early: {sorted(marks)}")
    return Sample(marks[first], marks["message_stop"], started=start)


async def continued(
    session: aiohttp.ClientSession, base_url: str, kind: str
) -> tuple[Sample, bool]:
    """Open a conversation (not timed), then time its next turn; True if a kept CLI answered."""
    opening = request_body(kind, fresh_text(kind))
    first = (await post(session, f"{base_url}/v1/messages", {**opening, "stream": False})).check(
        "a continued conversation's first turn"
    )
    reply = json.loads(first.body)["content"]
    if kind == "tool":
        results = [
            {"type": "tool_result", "tool_use_id": block["id"], "content": "18 C, sunny"}
            for block in reply
            if block["type"] == "tool_use"
        ]
        turn: dict[str, Any] = {"role": "user", "content": results}
    else:
        turn = {"role": "user", "content": "And once more, please."}
    messages = [*opening["messages"], {"role": "assistant", "content": reply}, turn]
    sample = await post(session, f"{base_url}/v1/messages", {**opening, "messages": messages})
    async with session.get(f"{base_url}/sessions") as response:
        kept = (await response.json())["data"]
    return sample, any(entry["turns"] >= 2 for entry in kept)


async def end_sessions(session: aiohttp.ClientSession, base_url: str) -> None:
    """End the kept conversations, so new requests meet the same state every time."""
    async with session.delete(f"{base_url}/sessions") as response:
        response.raise_for_status()
