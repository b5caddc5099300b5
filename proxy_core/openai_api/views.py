"""The backend's Anthropic event stream as OpenAI chat.completions: one object, or chunks."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from proxy_core.errors import ProxyError
from proxy_core.events import StreamEventData, merged_usage
from proxy_core.openai_api.errors import openai_error_body

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
DONE_FRAME = b"data: [DONE]\n\n"


def new_completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "end_turn", "stop")


def usage_json(usage: dict[str, Any]) -> dict[str, Any]:
    """OpenAI counts every prompt token, cached or not, in prompt_tokens."""
    cached = int(usage.get("cache_read_input_tokens") or 0)
    prompt = (
        int(usage.get("input_tokens") or 0)
        + cached
        + int(usage.get("cache_creation_input_tokens") or 0)
    )
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    arguments = json.dumps(block.get("input") or {})
    return {
        "id": block["id"],
        "type": "function",
        "function": {"name": block["name"], "arguments": arguments},
    }


def completion_json(message: dict[str, Any], *, model: str, completion_id: str) -> dict[str, Any]:
    blocks = message.get("content") or []
    text = "".join(block["text"] for block in blocks if block.get("type") == "text")
    calls = [_tool_call(block) for block in blocks if block.get("type") == "tool_use"]
    reply: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if calls:
        reply["tool_calls"] = calls
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": reply,
                "finish_reason": finish_reason(message.get("stop_reason")),
                "logprobs": None,
            }
        ],
        "usage": usage_json(message.get("usage") or {}),
    }


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def error_frame(error: ProxyError) -> bytes:
    return _data(openai_error_body(error))


class ChunkView:
    """Turns backend events into chat.completion.chunk frames."""

    def __init__(self, *, model: str, include_usage: bool) -> None:
        self._id = new_completion_id()
        self._created = int(time.time())
        self._model = model
        self._include_usage = include_usage
        self._start_usage: dict[str, Any] = {}
        # Anthropic block index -> OpenAI tool_calls index.
        self._tool_index: dict[int, int] = {}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        # With include_usage, OpenAI's chunks say "usage": null until the final one.
        extra = {"usage": None} if self._include_usage else {}
        return _data(self._envelope(choices=[choice], **extra))

    def _envelope(self, **fields: Any) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            **fields,
        }

    def start(self, *, early: bool) -> bytes:
        return self._chunk({"role": "assistant", "content": ""})

    def ping(self) -> bytes:
        return b": ping\n\n"  # an SSE comment: keeps the connection alive, clients skip it

    def error(self, error: ProxyError) -> bytes:
        return error_frame(error) + DONE_FRAME

    def end(self) -> bytes:
        return DONE_FRAME

    def frames(self, event: StreamEventData) -> bytes:
        kind = event.get("type")
        if kind == "message_start":
            self._start_usage = dict(event["message"].get("usage") or {})
        elif kind == "content_block_start" and event["content_block"].get("type") == "tool_use":
            block = event["content_block"]
            index = self._tool_index[event["index"]] = len(self._tool_index)
            call = {
                "index": index,
                "id": block["id"],
                "type": "function",
                "function": {"name": block["name"], "arguments": ""},
            }
            return self._chunk({"tool_calls": [call]})
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta.get("type") == "text_delta":
                return self._chunk({"content": delta["text"]})
            if delta.get("type") == "input_json_delta" and event["index"] in self._tool_index:
                call = {
                    "index": self._tool_index[event["index"]],
                    "function": {"arguments": delta["partial_json"]},
                }
                return self._chunk({"tool_calls": [call]})
        elif kind == "message_delta":
            stop = finish_reason((event.get("delta") or {}).get("stop_reason"))
            frames = self._chunk({}, finish=stop)
            if self._include_usage:
                usage = merged_usage(self._start_usage, event.get("usage") or {})
                frames += _data(self._envelope(choices=[], usage=usage_json(usage)))
            return frames
        return b""
