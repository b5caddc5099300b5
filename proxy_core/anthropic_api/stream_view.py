"""The backend's event stream as Anthropic SSE frames (the message fold is in proxy_core.events)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from proxy_core.errors import ProxyError
from proxy_core.events import StreamEventData, merged_usage


def error_body(error: ProxyError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error.kind, "message": error.message}}


def sse_frame(event: StreamEventData) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


PING_FRAME = sse_frame({"type": "ping"})


def sse_error_frame(error: ProxyError) -> bytes:
    return sse_frame(error_body(error))


class SSEView:
    """Turns backend events into SSE frames, making the final delta's usage complete.

    When the upstream is slow to start, :meth:`early_start` sends a ``message_start`` of the
    proxy's own; the upstream's arrives later and only lends its usage to the final delta.
    """

    def __init__(self, *, early_model: str) -> None:
        self._early_model = early_model
        self._start_usage: dict[str, Any] = {}
        self._started_early = False

    def start(self, *, early: bool) -> bytes:
        return self.early_start() if early else b""

    def ping(self) -> bytes:
        return PING_FRAME

    def error(self, error: ProxyError) -> bytes:
        return sse_error_frame(error)

    def end(self) -> bytes:
        return b""

    def early_start(self) -> bytes:
        self._started_early = True
        model = self._early_model
        message: dict[str, Any] = {
            "id": f"msg_{secrets.token_hex(12)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return sse_frame({"type": "message_start", "message": message})

    def frames(self, event: StreamEventData) -> bytes:
        kind = event.get("type")
        if kind == "message_start":
            self._start_usage = dict(event.get("message", {}).get("usage") or {})
            if self._started_early:
                return b""
        elif kind == "message_delta":
            usage = merged_usage(self._start_usage, event.get("usage") or {})
            event = {**event, "usage": usage}
        return sse_frame(event)
