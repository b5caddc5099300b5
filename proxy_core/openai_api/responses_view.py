"""The backend's Anthropic event stream as a Responses API answer: one object, or its events.

A stream is ``response.created`` and ``response.in_progress``, the output items as they
grow (see responses_output), then ``response.completed`` (or ``response.incomplete``) with
the whole response and its usage. Every event's ``data`` carries its own ``type`` and a
rising ``sequence_number``; there is no ``[DONE]``. A failure once the stream is under way
is an ``error`` event followed by ``response.failed``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxy_core.errors import BackendError, ProxyError
from proxy_core.events import MessageBuilder, StreamEventData
from proxy_core.openai_api.errors import openai_error_body
from proxy_core.openai_api.responses_output import Event, OutputAssembler
from proxy_core.openai_api.responses_tools import ToolNames
from proxy_core.openai_api.views import usage_json

# Stops that leave the answer unfinished, and the reason OpenAI gives for each.
INCOMPLETE_REASONS = {
    "max_tokens": "max_output_tokens",
    "model_context_window_exceeded": "max_output_tokens",
    "refusal": "content_filter",
}
# Called with the finished response and the reply's Anthropic blocks (to keep for a next turn).
OnFinished = Callable[[dict[str, Any], list[dict[str, Any]]], None]


def new_response_id() -> str:
    return f"resp_{secrets.token_hex(24)}"


def responses_usage(usage: dict[str, Any]) -> dict[str, Any]:
    counted = usage_json(usage)  # OpenAI counts cached prompt tokens as input too
    details = {
        "cached_tokens": counted["prompt_tokens_details"]["cached_tokens"],
        "cache_write_tokens": int(usage.get("cache_creation_input_tokens") or 0),
    }
    return {
        "input_tokens": counted["prompt_tokens"],
        "input_tokens_details": details,
        "output_tokens": counted["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": counted["total_tokens"],
    }


@dataclass(frozen=True)
class ResponseShell:
    """What every state of one response shares: its id, creation time, model and settings."""

    model: str
    echo: dict[str, Any]
    id: str = field(default_factory=new_response_id)
    created_at: int = field(default_factory=lambda: int(time.time()))

    def state(
        self,
        status: str,
        output: list[dict[str, Any]],
        *,
        usage: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        incomplete_reason: str | None = None,
    ) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
            "model": self.model,
            "output": output,
            "service_tier": "default",
            **self.echo,
            "usage": responses_usage(usage) if usage is not None else None,
        }

    def finished(self, output: list[dict[str, Any]], message: dict[str, Any]) -> dict[str, Any]:
        reason = INCOMPLETE_REASONS.get(str(message.get("stop_reason")))
        usage = message.get("usage") or {}
        return self.state(finished_status(message), output, usage=usage, incomplete_reason=reason)


# A failure's code as OpenAI's response.failed names it. Clients decide on it whether to try
# again: Codex retries server_error and rate_limit_exceeded, and gives up on the others.
FAILURE_CODES = {
    "invalid_request_error": "invalid_prompt",
    "authentication_error": "invalid_prompt",
    "permission_error": "invalid_prompt",
    "not_found_error": "invalid_prompt",
    "request_too_large": "invalid_prompt",
    "billing_error": "insufficient_quota",
    "rate_limit_error": "rate_limit_exceeded",
}


def failure_code(error: ProxyError) -> str:
    return FAILURE_CODES.get(error.kind, "server_error")


def finished_status(message: dict[str, Any]) -> str:
    return "incomplete" if message.get("stop_reason") in INCOMPLETE_REASONS else "completed"


def response_json(
    message: dict[str, Any],
    shell: ResponseShell,
    names: ToolNames,
    *,
    reasoning_item: bool,
    on_finished: OnFinished,
) -> dict[str, Any]:
    """The non-streaming answer: the finished message's blocks as output items."""
    assembler = OutputAssembler(names, reasoning_item=reasoning_item)
    assembler.replay(message.get("content") or [], finished_status(message))
    response = shell.finished(assembler.items, message)
    on_finished(response, message.get("content") or [])
    return response


def _sse(event: Event) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


class ResponseEventView:
    """Turns backend events into Responses stream events (a StreamView)."""

    def __init__(
        self,
        shell: ResponseShell,
        names: ToolNames,
        *,
        reasoning_item: bool,
        on_finished: OnFinished,
    ) -> None:
        self._shell = shell
        self._assembler = OutputAssembler(names, reasoning_item=reasoning_item)
        self._reply = MessageBuilder()
        self._on_finished = on_finished
        self._sequence = 0
        self._finished = False  # a final event (completed, incomplete or failed) went out

    def _frames(self, events: list[Event]) -> bytes:
        out = b""
        for event in events:
            out += _sse({**event, "sequence_number": self._sequence})
            self._sequence += 1
        return out

    def start(self, *, early: bool) -> bytes:
        created = self._shell.state("in_progress", [])
        return self._frames(
            [
                {"type": "response.created", "response": created},
                {"type": "response.in_progress", "response": created},
            ]
        )

    def ping(self) -> bytes:
        return b": ping\n\n"  # an SSE comment: keeps the connection alive, clients skip it

    def end(self) -> bytes:
        if self._finished:
            return b""
        # The backend ended without a final event: say so, or clients wait for one and retry.
        return self.error(BackendError("The Claude Code CLI finished without a response."))

    def error(self, error: ProxyError) -> bytes:
        self._finished = True
        body = openai_error_body(error)["error"]
        code = failure_code(error)
        message = error.message
        if code == "rate_limit_exceeded" and error.retry_after is not None:
            # Codex reads how long to wait from these words.
            message = f"{message} Please try again in {error.retry_after}s."
        failed = self._shell.state(
            "failed",
            self._assembler.items,
            error={"code": code, "message": message, "param": body["param"], "type": body["type"]},
        )
        return self._frames(
            [
                {"type": "error", "code": code, "message": message, "param": body["param"]},
                {"type": "response.failed", "response": failed},
            ]
        )

    def frames(self, event: StreamEventData) -> bytes:
        self._reply.add(event)
        kind = event.get("type")
        assembler = self._assembler
        if kind == "content_block_start":
            return self._frames(assembler.start_block(event["index"], event["content_block"]))
        if kind == "content_block_delta":
            return self._frames(assembler.delta(event["index"], event["delta"]))
        if kind == "content_block_stop":
            return self._frames(assembler.stop_block(event["index"]))
        if kind == "message_stop":
            message = self._reply.message
            events = assembler.finish(finished_status(message))
            response = self._shell.finished(assembler.items, message)
            self._on_finished(response, self._reply.content)
            self._finished = True
            done = (
                "response.incomplete"
                if response["status"] == "incomplete"
                else "response.completed"
            )
            return self._frames([*events, {"type": done, "response": response}])
        return b""
