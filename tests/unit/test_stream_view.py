"""SSE frames and the non-streaming aggregate of a backend event stream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy_core.anthropic_api.stream_view import (
    PING_FRAME,
    SSEView,
    error_body,
    sse_error_frame,
    sse_frame,
)
from proxy_core.errors import OverloadedError, ProxyError, RateLimitError
from proxy_core.events import aggregate, merged_usage
from tests.unit.stream_events import START_USAGE, block_start, delta, message_start


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: str = "end_turn", output_tokens: int = 42) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }


MESSAGE_STOP = {"type": "message_stop"}


def parse_frame(frame: bytes) -> tuple[str, dict[str, Any]]:
    text = frame.decode()
    assert text.endswith("\n\n")
    event_line, data_line = text[:-2].split("\n")
    assert event_line.startswith("event: ")
    assert data_line.startswith("data: ")
    return event_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))


# --- frames ----------------------------------------------------------------------------


def test_sse_frame_format_is_exact() -> None:
    frame = sse_frame({"type": "content_block_stop", "index": 0})
    assert frame == b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'


def test_sse_frame_keeps_non_ascii_text_intact() -> None:
    event = delta(0, {"type": "text_delta", "text": "héllo ✓\nline"})
    name, data = parse_frame(sse_frame(event))
    assert name == "content_block_delta"
    assert data == event
    # Newlines inside the JSON are escaped, so the frame stays two lines.
    assert sse_frame(event).count(b"\n") == 3


def test_ping_frame() -> None:
    assert PING_FRAME == b'event: ping\ndata: {"type":"ping"}\n\n'


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (RateLimitError("slow down", retry_after=5), "rate_limit_error"),
        (OverloadedError("busy"), "overloaded_error"),
        (ProxyError("boom"), "api_error"),
    ],
)
def test_error_frame_shape(error: ProxyError, kind: str) -> None:
    name, data = parse_frame(sse_error_frame(error))
    assert name == "error"
    assert data == {"type": "error", "error": {"type": kind, "message": error.message}}
    assert error_body(error) == data


# --- usage -----------------------------------------------------------------------------


def test_merged_usage_delta_wins_and_start_fills_in() -> None:
    start = {"input_tokens": 10, "cache_read_input_tokens": 4, "output_tokens": 1}
    merged = merged_usage(start, {"output_tokens": 99, "input_tokens": None})
    assert merged == {"input_tokens": 10, "cache_read_input_tokens": 4, "output_tokens": 99}


def test_merged_usage_does_not_mutate_its_inputs() -> None:
    start = {"input_tokens": 10}
    change = {"output_tokens": 5}
    merged_usage(start, change)
    assert start == {"input_tokens": 10}
    assert change == {"output_tokens": 5}


def test_merged_usage_zero_in_delta_is_a_value_not_a_gap() -> None:
    assert merged_usage({"input_tokens": 10}, {"input_tokens": 0}) == {"input_tokens": 0}


def test_sse_view_puts_the_start_usage_into_the_message_delta_frame() -> None:
    view = SSEView(early_model="claude-sonnet-5-5")
    start = message_start()
    start_name, start_data = parse_frame(view.frames(start))
    assert start_name == "message_start"
    assert start_data == start
    _, text_data = parse_frame(view.frames(delta(0, {"type": "text_delta", "text": "x"})))
    assert text_data["delta"]["text"] == "x"
    name, data = parse_frame(view.frames(message_delta(output_tokens=42)))
    assert name == "message_delta"
    assert data["usage"] == {**START_USAGE, "output_tokens": 42}
    assert data["delta"]["stop_reason"] == "end_turn"


def test_sse_view_does_not_mutate_the_event() -> None:
    view = SSEView(early_model="claude-sonnet-5-5")
    view.frames(message_start())
    event = message_delta()
    view.frames(event)
    assert event["usage"] == {"output_tokens": 42}


def test_sse_view_without_message_start_sends_the_delta_usage_alone() -> None:
    _, data = parse_frame(
        SSEView(early_model="claude-sonnet-5-5").frames(message_delta(output_tokens=3))
    )
    assert data["usage"] == {"output_tokens": 3}


def test_sse_view_with_missing_usage_on_both_sides() -> None:
    view = SSEView(early_model="claude-sonnet-5-5")
    start = message_start()
    start["message"]["usage"] = None
    view.frames(start)
    _, data = parse_frame(view.frames({"type": "message_delta", "delta": {}}))
    assert data["usage"] == {}


def test_sse_view_passes_other_events_through_unchanged() -> None:
    view = SSEView(early_model="claude-sonnet-5-5")
    for event in (block_start(0, {"type": "text", "text": ""}), block_stop(0), MESSAGE_STOP):
        assert view.frames(event) == sse_frame(event)


# --- aggregate -------------------------------------------------------------------------


def test_aggregate_text() -> None:
    events = [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "Hello"}),
        delta(0, {"type": "text_delta", "text": ", world"}),
        block_stop(0),
        message_delta("end_turn", 7),
        MESSAGE_STOP,
    ]
    message = aggregate(events)
    assert message["id"] == "msg_1"
    assert message["role"] == "assistant"
    assert message["model"] == "claude-sonnet-5-5"
    assert message["content"] == [{"type": "text", "text": "Hello, world"}]
    assert message["stop_reason"] == "end_turn"
    assert message["stop_sequence"] is None
    assert message["usage"] == {**START_USAGE, "output_tokens": 7}


def test_aggregate_does_not_mutate_the_events() -> None:
    start = block_start(0, {"type": "text", "text": ""})
    aggregate([message_start(), start, delta(0, {"type": "text_delta", "text": "a"})])
    assert start["content_block"] == {"type": "text", "text": ""}


def test_aggregate_tool_use_with_json_split_into_pieces() -> None:
    pieces = ['{"ci', 'ty": "Par', 'is", "days"', ": [1, ", "2]}"]
    events = [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "Checking."}),
        block_stop(0),
        block_start(1, {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}),
        *(delta(1, {"type": "input_json_delta", "partial_json": piece}) for piece in pieces),
        block_stop(1),
        message_delta("tool_use"),
        MESSAGE_STOP,
    ]
    message = aggregate(events)
    assert message["content"] == [
        {"type": "text", "text": "Checking."},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "weather",
            "input": {"city": "Paris", "days": [1, 2]},
        },
    ]
    assert message["stop_reason"] == "tool_use"


def test_aggregate_tool_use_with_empty_json_has_empty_input() -> None:
    events = [
        message_start(),
        block_start(0, {"type": "tool_use", "id": "t", "name": "now", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": ""}),
        block_stop(0),
    ]
    assert aggregate(events)["content"][0]["input"] == {}


def test_aggregate_tool_use_without_deltas_keeps_its_input() -> None:
    events = [
        message_start(),
        block_start(0, {"type": "tool_use", "id": "t", "name": "now", "input": {}}),
        block_stop(0),
    ]
    assert aggregate(events)["content"][0]["input"] == {}


def test_aggregate_parallel_tool_calls_keep_their_own_json() -> None:
    events = [
        message_start(),
        block_start(0, {"type": "tool_use", "id": "a", "name": "f", "input": {}}),
        block_start(1, {"type": "tool_use", "id": "b", "name": "g", "input": {}}),
        delta(0, {"type": "input_json_delta", "partial_json": '{"x":'}),
        delta(1, {"type": "input_json_delta", "partial_json": '{"y":'}),
        delta(1, {"type": "input_json_delta", "partial_json": "2}"}),
        delta(0, {"type": "input_json_delta", "partial_json": "1}"}),
        block_stop(1),
        block_stop(0),
    ]
    content = aggregate(events)["content"]
    assert [block["input"] for block in content] == [{"x": 1}, {"y": 2}]


def test_aggregate_thinking_with_signature() -> None:
    events = [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Let me "}),
        delta(0, {"type": "thinking_delta", "thinking": "think."}),
        delta(0, {"type": "signature_delta", "signature": "EqQBCkYIARgC"}),
        block_stop(0),
        block_start(1, {"type": "text", "text": ""}),
        delta(1, {"type": "text_delta", "text": "42"}),
        block_stop(1),
        message_delta(),
        MESSAGE_STOP,
    ]
    assert aggregate(events)["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCkYIARgC"},
        {"type": "text", "text": "42"},
    ]


def test_aggregate_citations_are_collected() -> None:
    citation = {"type": "char_location", "cited_text": "x", "document_index": 0}
    events = [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "citations_delta", "citation": citation}),
        delta(0, {"type": "text_delta", "text": "cited"}),
        block_stop(0),
    ]
    assert aggregate(events)["content"] == [
        {"type": "text", "text": "cited", "citations": [citation]}
    ]


def test_aggregate_orders_blocks_by_index_not_arrival() -> None:
    events = [
        message_start(),
        block_start(1, {"type": "text", "text": "second"}),
        block_start(0, {"type": "text", "text": "first"}),
    ]
    assert [block["text"] for block in aggregate(events)["content"]] == ["first", "second"]


def test_aggregate_ignores_pings_and_unknown_events() -> None:
    events = [
        message_start(),
        {"type": "ping"},
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "ok"}),
        delta(0, {"type": "future_delta", "stuff": 1}),
        block_stop(0),
    ]
    assert aggregate(events)["content"] == [{"type": "text", "text": "ok"}]


def test_aggregate_without_message_delta_keeps_the_start_usage() -> None:
    message = aggregate([message_start(), MESSAGE_STOP])
    assert message["usage"] == START_USAGE
    assert message["content"] == []
    assert message["stop_reason"] is None


def test_a_tool_call_cut_off_by_max_tokens_folds_to_an_empty_input() -> None:
    message = aggregate(
        [
            message_start(),
            block_start(0, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
            delta(0, {"type": "input_json_delta", "partial_json": '{"city": "Par'}),
            {"type": "content_block_stop", "index": 0},
        ]
    )
    assert message["content"][0]["input"] == {}
