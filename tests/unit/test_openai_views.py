"""OpenAI views of the backend's event stream, and ProxyError in OpenAI's error shape."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from proxy_core.errors import (
    AuthenticationError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    BillingError,
    BillingRefusedError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProxyError,
    QueueFullError,
    RateLimitError,
    RequestTooLargeError,
    SessionEndedError,
)
from proxy_core.openai_api.errors import openai_error_body
from proxy_core.openai_api.views import (
    DONE_FRAME,
    ChunkView,
    completion_json,
    error_frame,
    finish_reason,
    new_completion_id,
    usage_json,
)
from tests.unit.stream_events import START_USAGE, block_start, delta, message_start


def text_delta(index: int, text: str) -> dict[str, Any]:
    return delta(index, {"type": "text_delta", "text": text})


def json_delta(index: int, partial: str) -> dict[str, Any]:
    return delta(index, {"type": "input_json_delta", "partial_json": partial})


def tool_block(tool_id: str, name: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": {}}


def message_delta(stop_reason: str | None = "end_turn", **usage: Any) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": usage or {"output_tokens": 20},
    }


FRAME = re.compile(rb"data: ([^\n]+)\n\n")


def frames(data: bytes) -> list[Any]:
    """Every frame is `data: <json>\\n\\n`; the payloads, decoded ([DONE] stays a string)."""
    found = FRAME.findall(data)
    assert b"".join(b"data: " + payload + b"\n\n" for payload in found) == data
    return [payload.decode() if payload == b"[DONE]" else json.loads(payload) for payload in found]


def one_chunk(data: bytes) -> dict[str, Any]:
    (chunk,) = frames(data)
    assert chunk["object"] == "chat.completion.chunk"
    return chunk


def delta_of(data: bytes) -> dict[str, Any]:
    (choice,) = one_chunk(data)["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] is None
    return choice["delta"]


# --- finish reasons and usage ----------------------------------------------------


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
        ("something_new", "stop"),
    ],
)
def test_finish_reason(stop_reason: str | None, expected: str) -> None:
    assert finish_reason(stop_reason) == expected


def test_usage_counts_cached_prompt_tokens_in_prompt_tokens() -> None:
    usage = {**START_USAGE, "output_tokens": 20}
    assert usage_json(usage) == {
        "prompt_tokens": 17,
        "completion_tokens": 20,
        "total_tokens": 37,
        "prompt_tokens_details": {"cached_tokens": 5},
    }


def test_usage_of_nothing_is_zero() -> None:
    assert usage_json({}) == {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def test_usage_treats_null_counts_as_zero() -> None:
    usage = {
        "input_tokens": 3,
        "cache_read_input_tokens": None,
        "cache_creation_input_tokens": None,
        "output_tokens": 4,
    }
    result = usage_json(usage)
    assert result["prompt_tokens"] == 3
    assert result["total_tokens"] == 7
    assert result["prompt_tokens_details"] == {"cached_tokens": 0}


def test_completion_ids_look_like_openai_ids_and_differ() -> None:
    first, second = new_completion_id(), new_completion_id()
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{24}", first)
    assert first != second


# --- the non-streaming completion -------------------------------------------------


def test_completion_joins_text_and_skips_thinking() -> None:
    message = {
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Hello, "},
            {"type": "text", "text": "world."},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 4, "output_tokens": 3},
    }
    before = int(time.time())
    body = completion_json(message, model="gpt-4o", completion_id="chatcmpl-abc")
    assert before <= body["created"] <= int(time.time())
    assert body == {
        "id": "chatcmpl-abc",
        "object": "chat.completion",
        "created": body["created"],
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello, world.", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 4,
            "completion_tokens": 3,
            "total_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def test_completion_tool_calls_carry_json_string_arguments() -> None:
    message = {
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
        ],
        "stop_reason": "tool_use",
        "usage": {},
    }
    body = completion_json(message, model="gpt-4o", completion_id="chatcmpl-x")
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    reply = choice["message"]
    assert reply["content"] == "Checking."
    calls = reply["tool_calls"]
    assert [c["id"] for c in calls] == ["toolu_1", "toolu_2"]
    assert all(c["type"] == "function" for c in calls)
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    for c in calls:
        assert isinstance(c["function"]["arguments"], str)
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Oslo"}
    assert json.loads(calls[1]["function"]["arguments"]) == {}


def test_completion_content_is_none_with_only_tool_calls() -> None:
    message = {
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": None}],
        "stop_reason": "tool_use",
    }
    reply = completion_json(message, model="m", completion_id="c")["choices"][0]["message"]
    assert reply["content"] is None
    assert reply["tool_calls"][0]["function"]["arguments"] == "{}"


def test_completion_without_tool_calls_has_no_tool_calls_key() -> None:
    message = {"content": [{"type": "text", "text": "hi"}], "stop_reason": "max_tokens"}
    body = completion_json(message, model="m", completion_id="c")
    assert "tool_calls" not in body["choices"][0]["message"]
    assert body["choices"][0]["finish_reason"] == "length"


def test_completion_of_an_empty_message() -> None:
    body = completion_json({}, model="m", completion_id="c")
    assert body["choices"][0]["message"]["content"] is None
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == 0


# --- streaming chunks ---------------------------------------------------------------


def test_start_is_a_role_chunk() -> None:
    view = ChunkView(model="gpt-4o", include_usage=False)
    chunk = one_chunk(view.start(early=True))
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{24}", chunk["id"])
    assert chunk["model"] == "gpt-4o"
    assert isinstance(chunk["created"], int)
    assert chunk["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "finish_reason": None,
            "logprobs": None,
        }
    ]
    late = ChunkView(model="x", include_usage=False).start(early=False)
    assert delta_of(late) == {"role": "assistant", "content": ""}


def test_text_deltas_become_content_chunks() -> None:
    view = ChunkView(model="gpt-4o", include_usage=False)
    assert view.frames(message_start()) == b""
    assert view.frames(block_start(0, {"type": "text", "text": ""})) == b""
    assert delta_of(view.frames(text_delta(0, "Hel"))) == {"content": "Hel"}
    assert delta_of(view.frames(text_delta(0, "lo"))) == {"content": "lo"}
    assert view.frames({"type": "content_block_stop", "index": 0}) == b""


def test_tool_use_becomes_indexed_tool_call_deltas() -> None:
    view = ChunkView(model="gpt-4o", include_usage=False)
    view.frames(message_start())
    view.frames(block_start(0, {"type": "text", "text": ""}))
    view.frames(text_delta(0, "Let me check."))

    first = delta_of(view.frames(block_start(1, tool_block("toolu_a", "get_weather"))))
    assert first == {
        "tool_calls": [
            {
                "index": 0,
                "id": "toolu_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ]
    }
    pieces = ['{"city": ', '"Oslo"}']
    arguments = ""
    for piece in pieces:
        (fragment,) = delta_of(view.frames(json_delta(1, piece)))["tool_calls"]
        assert fragment == {"index": 0, "function": {"arguments": piece}}
        arguments += fragment["function"]["arguments"]
    assert json.loads(arguments) == {"city": "Oslo"}
    assert view.frames({"type": "content_block_stop", "index": 1}) == b""

    second = delta_of(view.frames(block_start(2, tool_block("toolu_b", "get_time"))))
    (call,) = second["tool_calls"]
    assert call["index"] == 1
    assert call["id"] == "toolu_b"
    assert call["function"] == {"name": "get_time", "arguments": ""}
    (fragment,) = delta_of(view.frames(json_delta(2, "{}")))["tool_calls"]
    assert fragment == {"index": 1, "function": {"arguments": "{}"}}


def test_json_delta_for_an_unknown_block_gives_nothing() -> None:
    view = ChunkView(model="gpt-4o", include_usage=False)
    view.frames(message_start())
    assert view.frames(json_delta(3, '{"a": 1}')) == b""


def test_thinking_blocks_produce_no_bytes() -> None:
    view = ChunkView(model="gpt-4o", include_usage=True)
    events = [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Let me think"}),
        delta(0, {"type": "signature_delta", "signature": "sig"}),
        {"type": "content_block_stop", "index": 0},
        block_start(1, {"type": "redacted_thinking", "data": "opaque"}),
        {"type": "content_block_stop", "index": 1},
        {"type": "message_stop"},
    ]
    assert [view.frames(event) for event in events] == [b""] * len(events)


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_message_delta_gives_one_finish_chunk_without_usage(
    stop_reason: str | None, expected: str
) -> None:
    view = ChunkView(model="gpt-4o", include_usage=False)
    view.frames(message_start())
    chunk = one_chunk(view.frames(message_delta(stop_reason)))
    assert chunk["choices"] == [
        {"index": 0, "delta": {}, "finish_reason": expected, "logprobs": None}
    ]
    assert "usage" not in chunk


def test_include_usage_adds_a_final_usage_chunk() -> None:
    view = ChunkView(model="gpt-4o", include_usage=True)
    role = one_chunk(view.start(early=False))
    view.frames(message_start())
    finish, usage = frames(view.frames(message_delta("tool_use", output_tokens=20)))
    assert finish["choices"][0]["finish_reason"] == "tool_calls"
    assert finish["choices"][0]["delta"] == {}
    assert usage["object"] == "chat.completion.chunk"
    assert usage["id"] == role["id"] == finish["id"]
    assert usage["model"] == "gpt-4o"
    assert usage["choices"] == []
    assert usage["usage"] == {
        "prompt_tokens": 17,
        "completion_tokens": 20,
        "total_tokens": 37,
        "prompt_tokens_details": {"cached_tokens": 5},
    }


def test_usage_delta_counts_win_over_message_start() -> None:
    view = ChunkView(model="gpt-4o", include_usage=True)
    view.frames(message_start({"input_tokens": 9, "output_tokens": 1}))
    event = message_delta(
        "end_turn", input_tokens=12, output_tokens=30, cache_read_input_tokens=None
    )
    _, usage = frames(view.frames(event))
    assert usage["usage"]["prompt_tokens"] == 12
    assert usage["usage"]["completion_tokens"] == 30
    assert usage["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}


def test_include_usage_without_message_start_uses_the_delta() -> None:
    view = ChunkView(model="gpt-4o", include_usage=True)
    _, usage = frames(view.frames(message_delta("end_turn", output_tokens=5)))
    assert usage["usage"]["completion_tokens"] == 5
    assert usage["usage"]["prompt_tokens"] == 0


def test_end_is_exactly_done() -> None:
    view = ChunkView(model="gpt-4o", include_usage=True)
    assert view.end() == b"data: [DONE]\n\n"
    assert DONE_FRAME == b"data: [DONE]\n\n"


def test_ping_is_an_sse_comment() -> None:
    assert ChunkView(model="m", include_usage=False).ping() == b": ping\n\n"


def test_error_is_an_openai_error_then_done() -> None:
    view = ChunkView(model="gpt-4o", include_usage=True)
    data = view.error(OverloadedError("Upstream is overloaded."))
    assert data.endswith(b"\n\ndata: [DONE]\n\n")
    error, done = frames(data)
    assert error == {
        "error": {
            "message": "Upstream is overloaded.",
            "type": "server_error",
            "param": None,
            "code": "overloaded",
        }
    }
    assert done == "[DONE]"


def test_error_frame_alone_has_no_done() -> None:
    (error,) = frames(error_frame(RateLimitError("Slow down.")))
    assert error["error"]["type"] == "rate_limit_error"
    assert error["error"]["code"] == "rate_limit_exceeded"


def test_a_whole_stream_is_data_frames_with_one_id() -> None:
    view = ChunkView(model="gpt-4o-mini", include_usage=True)
    events = [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "..."}),
        {"type": "content_block_stop", "index": 0},
        block_start(1, {"type": "text", "text": ""}),
        text_delta(1, "Line one\nline two"),
        {"type": "content_block_stop", "index": 1},
        block_start(2, tool_block("toolu_1", "f")),
        json_delta(2, '{"q": "a\\nb"}'),
        {"type": "content_block_stop", "index": 2},
        message_delta("tool_use", output_tokens=9),
        {"type": "message_stop"},
    ]
    data = view.start(early=False) + b"".join(view.frames(e) for e in events) + view.end()
    payloads = frames(data)
    assert payloads[-1] == "[DONE]"
    chunks = payloads[:-1]
    assert len(chunks) == 6  # role, text, tool start, tool args, finish, usage
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[1]["choices"][0]["delta"] == {"content": "Line one\nline two"}
    assert chunks[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] == (
        '{"q": "a\\nb"}'
    )
    assert chunks[4]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[5]["choices"] == []


# --- errors in OpenAI's shape ---------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (InvalidRequestError("bad"), "invalid_request_error", None),
        (BillingRefusedError("extra usage"), "invalid_request_error", None),
        (AuthenticationError("who"), "authentication_error", "invalid_api_key"),
        (BillingError("pay"), "insufficient_quota", "insufficient_quota"),
        (PermissionDeniedError("no"), "permission_error", None),
        (NotFoundError("gone"), "invalid_request_error", "not_found"),
        (RequestTooLargeError("big"), "invalid_request_error", "request_too_large"),
        (RateLimitError("slow"), "rate_limit_error", "rate_limit_exceeded"),
        (QueueFullError("full"), "rate_limit_error", "rate_limit_exceeded"),
        (BackendTimeoutError("late"), "timeout", "timeout"),
        (OverloadedError("busy"), "server_error", "overloaded"),
        (BackendError("broke"), "server_error", None),
        (SessionEndedError("ended"), "server_error", None),
        (BackendUnavailableError("no cli"), "server_error", None),
        (ProxyError("boom"), "server_error", None),
    ],
)
def test_openai_error_body(error: ProxyError, kind: str, code: str | None) -> None:
    assert openai_error_body(error) == {
        "error": {"message": error.message, "type": kind, "param": None, "code": code}
    }


def test_error_body_keeps_param() -> None:
    body = openai_error_body(InvalidRequestError("messages.0.role: bad", param="messages.0.role"))
    assert body["error"]["param"] == "messages.0.role"
    assert body["error"]["message"] == "messages.0.role: bad"
    assert body["error"]["code"] is None


def test_model_not_found_code() -> None:
    body = openai_error_body(NotFoundError("model: 'x' is not a Claude model", param="model"))
    assert body["error"] == {
        "message": "model: 'x' is not a Claude model",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


def test_param_model_only_matters_for_not_found() -> None:
    body = openai_error_body(InvalidRequestError("model: bad", param="model"))
    assert body["error"]["code"] is None
    assert body["error"]["type"] == "invalid_request_error"


def test_unknown_error_kind_is_a_server_error() -> None:
    class OddError(ProxyError):
        kind = "teapot_error"

    assert openai_error_body(OddError("?"))["error"]["type"] == "server_error"
    assert openai_error_body(OddError("?"))["error"]["code"] is None
