"""A scriptable stand-in for the Anthropic Messages API.

The Claude Code CLI bundled with claude-agent-sdk talks to whatever
``ANTHROPIC_BASE_URL`` names. Pointing it here lets the whole chain
(client SDK -> proxy -> claude-agent-sdk -> real CLI) run offline, with
only the far end simulated. Every request is recorded so a test can assert
what the model would really have seen.

Script replies with :meth:`UpstreamSimulator.enqueue`; when nothing is
queued, each request gets :data:`DEFAULT_TEXT`. Run it standalone with
``python -m proxy_core.testing.upstream_simulator --port 8765``.

Callers that log in with a subscription (``Authorization: Bearer``, as the CLI
does with an OAuth login) get the subscription's rate-limit headers on every
answer, from :attr:`UpstreamSimulator.quota`; set the figures with
:meth:`UpstreamSimulator.set_quota` or ``POST /_simulator/quota`` (the same
fields as JSON). A window used up answers 429, as the real upstream does.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from aiohttp import web

DEFAULT_TEXT = "Hello from the upstream simulator."
SIMULATED_MODEL_FALLBACK = "claude-sonnet-4-5"


@dataclass(frozen=True)
class Text:
    """A text answer, streamed in ``chunks`` deltas."""

    text: str = DEFAULT_TEXT
    chunks: int = 3
    stop_reason: str = "end_turn"
    usage: dict[str, Any] | None = None
    first_byte_delay: float = 0.0
    delay_between_chunks: float = 0.0
    # Sent as a thinking block (with a signature) before the text.
    thinking: str | None = None


@dataclass(frozen=True)
class ToolCalls:
    """One or more ``tool_use`` blocks, optionally after some text."""

    calls: tuple[tuple[str, dict[str, Any]], ...]
    text: str | None = None
    usage: dict[str, Any] | None = None


@dataclass(frozen=True)
class Failure:
    """An HTTP error answer in the Anthropic error shape."""

    status: int
    error_type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Send nothing at all for ``seconds`` (no headers)."""

    seconds: float = 3600.0


@dataclass(frozen=True)
class StallAfterStart:
    """Start the stream, send some text, then go silent for ``seconds``."""

    seconds: float = 3600.0
    text: str = "partial"


@dataclass(frozen=True)
class BreakMidStream:
    """Start the stream, send some text, then an SSE ``error`` event."""

    text: str = "partial"
    error_type: str = "overloaded_error"
    message: str = "Overloaded"


Reply = Text | ToolCalls | Failure | Hang | StallAfterStart | BreakMidStream

# The windows the upstream reports, by the short names its headers use.
WINDOW_HEADER_NAMES = {"five_hour": "5h", "seven_day": "7d"}
WARNING_AT = 0.8
USED_UP_MESSAGE = "This request would exceed your account's rate limit. Please try again later."


@dataclass(frozen=True)
class SubscriptionQuota:
    """A subscription's windows as the upstream reports them: used fraction, reset time.

    ``*_resets_in_s`` count from when the figures were set. ``growth_per_request`` is
    added to both windows after each answered call, so a long run shows them filling.
    """

    five_hour: float = 0.12
    seven_day: float = 0.03
    five_hour_resets_in_s: float = 3 * 3600.0
    seven_day_resets_in_s: float = 4 * 86400.0
    growth_per_request: float = 0.0
    set_at: float = field(default_factory=time.time)

    def utilization(self, window: str) -> float:
        return float(getattr(self, window))

    def resets_at(self, window: str) -> int:
        return int(self.set_at + float(getattr(self, f"{window}_resets_in_s")))

    def used_up(self) -> str | None:
        """The window that refuses calls now, if any (the shorter one first)."""
        return next((w for w in WINDOW_HEADER_NAMES if self.utilization(w) >= 1.0), None)

    def headers(self) -> dict[str, str]:
        def status(utilization: float) -> str:
            if utilization >= 1.0:
                return "rejected"
            return "allowed_warning" if utilization >= WARNING_AT else "allowed"

        claim = self.used_up() or max(WINDOW_HEADER_NAMES, key=self.utilization)
        prefix = "anthropic-ratelimit-unified"
        headers = {
            f"{prefix}-status": status(max(map(self.utilization, WINDOW_HEADER_NAMES))),
            f"{prefix}-reset": str(self.resets_at(claim)),
            f"{prefix}-representative-claim": claim,
            f"{prefix}-overage-status": "rejected",
            f"{prefix}-overage-disabled-reason": "org_level_disabled",
        }
        for window, short in WINDOW_HEADER_NAMES.items():
            used = self.utilization(window)
            headers[f"{prefix}-{short}-utilization"] = f"{min(used, 1.0):.4f}"
            headers[f"{prefix}-{short}-reset"] = str(self.resets_at(window))
            headers[f"{prefix}-{short}-status"] = status(used)
        return headers

    def after_a_request(self) -> SubscriptionQuota:
        if not self.growth_per_request:
            return self
        return replace(
            self,
            five_hour=self.five_hour + self.growth_per_request,
            seven_day=self.seven_day + self.growth_per_request,
        )


@dataclass
class RecordedRequest:
    """What the simulator received, and the usage it answered with."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    reply_usage: dict[str, Any] | None = None

    @property
    def is_message_call(self) -> bool:
        return self.method == "POST" and self.path.rstrip("/").endswith("/v1/messages")

    @property
    def by_subscription(self) -> bool:
        """Sent with an OAuth login (a bearer token), as a subscription's CLI sends it."""
        return self.headers.get("Authorization", "").lower().startswith("bearer ")

    def non_system_messages(self) -> list[dict[str, Any]]:
        """The conversation as sent, without context messages the CLI adds."""
        if not isinstance(self.body, dict):
            return []
        return [m for m in self.body.get("messages", []) if m.get("role") != "system"]


def estimate_usage(body: dict[str, Any]) -> dict[str, Any]:
    """Deterministic, size-based usage so tests can check it is passed on exactly."""
    size = len(json.dumps(body.get("messages", []))) + len(json.dumps(body.get("system", "")))
    return {
        "input_tokens": max(1, size // 4),
        "cache_creation_input_tokens": 7,
        "cache_read_input_tokens": 11,
        "output_tokens": 0,
    }


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _split(text: str, parts: int) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // max(1, parts)))
    return [text[i : i + size] for i in range(0, len(text), size)]


class UpstreamSimulator:
    """The aiohttp application and its script. Use :class:`SimulatorThread` from sync code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._default: Reply = Text()
        self.quota = SubscriptionQuota()
        self.requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._open_streams = 0
        self.completed_streams = 0
        self.matcher: Callable[[RecordedRequest], bool] = lambda r: r.is_message_call

    # -- scripting (thread-safe) -------------------------------------------
    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def set_default(self, reply: Reply) -> None:
        with self._lock:
            self._default = reply

    def set_quota(self, **figures: float) -> SubscriptionQuota:
        """Set the subscription's windows (:class:`SubscriptionQuota`); resets count from now."""
        known = {f.name for f in fields(SubscriptionQuota)} - {"set_at"}
        unknown = set(figures) - known
        if unknown:
            raise ValueError(f"unknown quota figures: {sorted(unknown)}")
        with self._lock:
            self.quota = replace(self.quota, **figures, set_at=time.time())
            return self.quota

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._default = Text()
            self.quota = SubscriptionQuota()
            self.requests.clear()
            self.completed_streams = 0

    def message_calls(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.is_message_call]

    @property
    def open_streams(self) -> int:
        return self._open_streams

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else self._default

    # -- HTTP ----------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = RecordedRequest(request.method, request.path, dict(request.headers), body)
        with self._lock:
            self.requests.append(record)
        if request.path == "/_simulator/quota" and request.method == "POST":
            return await self._quota_directive(body)
        if record.is_message_call and isinstance(body, dict):
            return await self._answer_messages(request, record, body)
        if request.path.rstrip("/") == "/v1/messages/count_tokens" and isinstance(body, dict):
            return web.json_response({"input_tokens": estimate_usage(body)["input_tokens"]})
        if request.method == "HEAD":
            return web.Response(status=200)
        return web.json_response(
            {"type": "error", "error": {"type": "not_found_error", "message": "no such route"}},
            status=404,
        )

    async def _quota_directive(self, body: Any) -> web.Response:
        try:
            quota = self.set_quota(**(body if isinstance(body, dict) else {}))
        except (TypeError, ValueError) as exc:
            error = {"type": "invalid_request_error", "message": str(exc)}
            return web.json_response({"type": "error", "error": error}, status=400)
        return web.json_response(quota.headers())

    def _quota_headers(self, record: RecordedRequest) -> tuple[dict[str, str], str | None]:
        """The rate-limit headers for this caller, and the window that refuses it, if any."""
        if not record.by_subscription:
            return {}, None
        with self._lock:
            quota = self.quota
            if quota.used_up() is None:
                self.quota = quota.after_a_request()
        return quota.headers(), quota.used_up()

    async def _answer_messages(
        self, request: web.Request, record: RecordedRequest, body: dict[str, Any]
    ) -> web.StreamResponse:
        quota_headers, used_up = self._quota_headers(record)
        if used_up is not None:
            retry_after = max(0, self.quota.resets_at(used_up) - int(time.time()))
            payload = {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": USED_UP_MESSAGE,
                },
            }
            headers = {**quota_headers, "retry-after": str(retry_after)}
            return web.json_response(payload, status=429, headers=headers)
        reply = self._next_reply()
        if isinstance(reply, Hang):
            await asyncio.sleep(reply.seconds)
            reply = Text()
        if isinstance(reply, Failure):
            payload = {
                "type": "error",
                "error": {"type": reply.error_type, "message": reply.message},
            }
            headers = {**quota_headers, **reply.headers}
            return web.json_response(payload, status=reply.status, headers=headers)
        usage = estimate_usage(body)
        override = reply.usage if isinstance(reply, Text | ToolCalls) else None
        usage.update(override or {})
        record.reply_usage = usage
        blocks = self._blocks_for(reply)
        model = str(body.get("model") or SIMULATED_MODEL_FALLBACK)
        message_id = f"msg_sim_{next(self._ids):06d}"
        stop_reason = self._stop_reason_for(reply)
        if not body.get("stream"):
            return web.json_response(
                headers=quota_headers,
                data={
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": blocks,
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": usage,
                },
            )
        return await self._stream(
            request, reply, blocks, model, message_id, stop_reason, usage, quota_headers
        )

    def _blocks_for(self, reply: Reply) -> list[dict[str, Any]]:
        if isinstance(reply, ToolCalls):
            blocks: list[dict[str, Any]] = []
            if reply.text:
                blocks.append({"type": "text", "text": reply.text})
            for name, arguments in reply.calls:
                tool_id = f"toolu_sim_{next(self._ids):06d}"
                blocks.append({"type": "tool_use", "id": tool_id, "name": name, "input": arguments})
            return blocks
        text = reply.text if isinstance(reply, Text | StallAfterStart | BreakMidStream) else ""
        thinking = reply.thinking if isinstance(reply, Text) else None
        prefix = (
            [{"type": "thinking", "thinking": thinking, "signature": "sig"}] if thinking else []
        )
        return [*prefix, {"type": "text", "text": text}]

    @staticmethod
    def _stop_reason_for(reply: Reply) -> str:
        if isinstance(reply, ToolCalls):
            return "tool_use"
        if isinstance(reply, Text):
            return reply.stop_reason
        return "end_turn"

    async def _stream(
        self,
        request: web.Request,
        reply: Reply,
        blocks: list[dict[str, Any]],
        model: str,
        message_id: str,
        stop_reason: str,
        usage: dict[str, Any],
        quota_headers: dict[str, str],
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", **quota_headers}
        )
        if isinstance(reply, Text) and reply.first_byte_delay:
            await asyncio.sleep(reply.first_byte_delay)
        await response.prepare(request)
        self._open_streams += 1
        try:
            start_usage = {**usage, "output_tokens": 1}
            await response.write(
                _sse(
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            "id": message_id,
                            "type": "message",
                            "role": "assistant",
                            "model": model,
                            "content": [],
                            "stop_reason": None,
                            "stop_sequence": None,
                            "usage": start_usage,
                        },
                    },
                )
            )
            for index, block in enumerate(blocks):
                await self._stream_block(response, reply, index, block)
                if isinstance(reply, StallAfterStart):
                    await asyncio.sleep(reply.seconds)
                    return response
                if isinstance(reply, BreakMidStream):
                    error = {"type": reply.error_type, "message": reply.message}
                    await response.write(_sse("error", {"type": "error", "error": error}))
                    return response
                await response.write(
                    _sse("content_block_stop", {"type": "content_block_stop", "index": index})
                )
            output_tokens = max(1, sum(len(json.dumps(b)) for b in blocks) // 4)
            usage["output_tokens"] = output_tokens
            await response.write(
                _sse(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                        "usage": usage,
                    },
                )
            )
            await response.write(_sse("message_stop", {"type": "message_stop"}))
            await response.write_eof()
            self.completed_streams += 1
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._open_streams -= 1
        return response

    @staticmethod
    async def _stream_block(
        response: web.StreamResponse, reply: Reply, index: int, block: dict[str, Any]
    ) -> None:
        empty: dict[str, dict[str, Any]] = {
            "tool_use": {"input": {}},
            "thinking": {"thinking": "", "signature": ""},
        }
        start_block = {**block, **empty.get(block["type"], {"text": ""})}
        await response.write(
            _sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start_block},
            )
        )
        if block["type"] == "tool_use":
            arguments = json.dumps(block["input"])
            for piece in _split(arguments, 2):
                delta = {"type": "input_json_delta", "partial_json": piece}
                await response.write(
                    _sse(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
                )
            return
        if block["type"] == "thinking":
            for delta in (
                {"type": "thinking_delta", "thinking": block["thinking"]},
                {"type": "signature_delta", "signature": block["signature"]},
            ):
                await response.write(
                    _sse(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
                )
            return
        parts = reply.chunks if isinstance(reply, Text) else 1
        delay = reply.delay_between_chunks if isinstance(reply, Text) else 0.0
        for number, piece in enumerate(_split(block["text"], parts)):
            if number and delay:
                await asyncio.sleep(delay)
            delta = {"type": "text_delta", "text": piece}
            await response.write(
                _sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )


class SimulatorThread:
    """Runs an :class:`UpstreamSimulator` on its own event loop in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = UpstreamSimulator()
        self._host = host
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> SimulatorThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.simulator.make_app(), shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # Hanging replies would otherwise outlive the loop.
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Run the offline Anthropic Messages API simulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    web.run_app(UpstreamSimulator().make_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
