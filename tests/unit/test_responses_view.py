"""The Responses views of the backend's event stream: the events, and the object they build."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy_core.errors import (
    AuthenticationError,
    BackendError,
    BillingError,
    BillingRefusedError,
    InvalidRequestError,
    OverloadedError,
    ProxyError,
    RateLimitError,
)
from proxy_core.events import aggregate
from proxy_core.openai_api.responses_tools import CallerTool, ToolNames
from proxy_core.openai_api.responses_view import (
    ResponseEventView,
    ResponseShell,
    response_json,
    responses_usage,
)
from tests.unit.stream_events import START_USAGE, block_start, delta, message_start

NAMES = ToolNames(
    {
        "apply_patch": CallerTool("apply_patch", "custom"),
        "crm__lookup": CallerTool("lookup", "function", "crm"),
    }
)
ECHO = {"instructions": None, "tools": [], "store": True, "metadata": {}}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def finish(reason: str = "end_turn", output_tokens: int = 9) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


def text_then_tools() -> list[dict[str, Any]]:
    return [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "Let me "}),
        delta(0, {"type": "text_delta", "text": "look."}),
        stop(0),
        block_start(1, {"type": "tool_use", "id": "toolu_1", "name": "crm__lookup", "input": {}}),
        delta(1, {"type": "input_json_delta", "partial_json": '{"who": '}),
        delta(1, {"type": "input_json_delta", "partial_json": '"Ada"}'}),
        stop(1),
        block_start(2, {"type": "tool_use", "id": "toolu_2", "name": "apply_patch", "input": {}}),
        delta(2, {"type": "input_json_delta", "partial_json": '{"input": "*** Begin'}),
        delta(2, {"type": "input_json_delta", "partial_json": ' Patch\\n"}'}),
        stop(2),
        *finish("tool_use"),
    ]


def run_stream(
    events: list[dict[str, Any]], *, reasoning_item: bool = False
) -> tuple[list[dict[str, Any]], list[Any]]:
    finished: list[Any] = []
    view = ResponseEventView(
        ResponseShell(model="gpt-4o", echo=ECHO),
        NAMES,
        reasoning_item=reasoning_item,
        on_finished=lambda response, reply: finished.append((response, reply)),
    )
    raw = view.start(early=False) + b"".join(view.frames(event) for event in events) + view.end()
    return parse_frames(raw), finished


def parse_frames(raw: bytes) -> list[dict[str, Any]]:
    parsed = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        event_line, data_line = frame.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}"
        parsed.append(data)
    return parsed


def without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != "id"} for item in items]


def test_a_stream_builds_items_event_by_event() -> None:
    events, finished = run_stream(text_then_tools())

    kinds = [event["type"] for event in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",  # the message closes when a call starts
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    added_message = events[2]["item"]
    assert added_message["content"] == [] and added_message["status"] == "in_progress"
    done = events[-1]["response"]
    assert done["status"] == "completed" and done["model"] == "gpt-4o"
    message, lookup, patch = done["output"]
    assert message["content"][0]["text"] == "Let me look." and message["status"] == "completed"
    assert lookup == {
        "id": lookup["id"],
        "type": "function_call",
        "status": "completed",
        "call_id": "toolu_1",
        "name": "lookup",
        "namespace": "crm",
        "arguments": '{"who": "Ada"}',
    }
    assert patch["type"] == "custom_tool_call" and patch["input"] == "*** Begin Patch\n"
    assert patch["call_id"] == "toolu_2" and patch["name"] == "apply_patch"
    assert events[16]["input"] == "*** Begin Patch\n"
    # Item ids agree between the events and the final response.
    assert [e["item"]["id"] for e in events if e["type"] == "response.output_item.done"] == [
        item["id"] for item in done["output"]
    ]
    ((stored, reply),) = finished
    assert stored == done
    assert [block["type"] for block in reply] == ["text", "tool_use", "tool_use"]
    assert reply[1]["input"] == {"who": "Ada"}


def test_the_json_answer_has_the_same_items_as_the_stream() -> None:
    events = text_then_tools()
    streamed = run_stream(events)[0][-1]["response"]
    finished: list[Any] = []
    whole = response_json(
        aggregate(events),
        ResponseShell(model="gpt-4o", echo=ECHO),
        NAMES,
        reasoning_item=False,
        on_finished=lambda response, reply: finished.append(reply),
    )
    # Arguments are the same JSON; the stream passes the upstream's own text through.
    for item in (*whole["output"], *streamed["output"]):
        if "arguments" in item:
            item["arguments"] = json.loads(item["arguments"])
    assert without_ids(whole["output"]) == without_ids(streamed["output"])
    assert (
        whole["usage"] == streamed["usage"] == responses_usage({**START_USAGE, "output_tokens": 9})
    )
    assert finished and finished[0][1]["name"] == "crm__lookup"


def test_thinking_is_a_reasoning_item_with_its_text_as_summary() -> None:
    events, _ = run_stream(
        [
            message_start(),
            block_start(0, {"type": "thinking", "thinking": ""}),
            delta(0, {"type": "thinking_delta", "thinking": "Six times "}),
            delta(0, {"type": "thinking_delta", "thinking": "seven."}),
            delta(0, {"type": "signature_delta", "signature": "sig"}),
            stop(0),
            block_start(1, {"type": "text", "text": ""}),
            delta(1, {"type": "text_delta", "text": "42"}),
            stop(1),
            *finish(),
        ],
        reasoning_item=True,
    )
    kinds = [event["type"] for event in events]
    assert kinds[2:9] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    assert events[2]["item"]["summary"] == []
    reasoning, message = events[-1]["response"]["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Six times seven."}]
    assert message["content"][0]["text"] == "42"


def test_a_reasoning_item_is_owed_when_reasoning_was_set_but_none_is_shown() -> None:
    plain = [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "hi"}),
        stop(0),
        *finish(),
    ]
    events, _ = run_stream(plain, reasoning_item=True)
    added = [e["item"]["type"] for e in events if e["type"] == "response.output_item.added"]
    assert added == ["reasoning", "message"]
    assert events[-1]["response"]["output"][0]["summary"] == []
    # Even a reply with no block at all gets it.
    empty, _ = run_stream([message_start(), *finish()], reasoning_item=True)
    assert [item["type"] for item in empty[-1]["response"]["output"]] == ["reasoning"]
    without, _ = run_stream(plain, reasoning_item=False)
    assert [item["type"] for item in without[-1]["response"]["output"]] == ["message"]


def test_a_max_tokens_stop_is_an_incomplete_response() -> None:
    events, _ = run_stream(
        [
            message_start(),
            block_start(0, {"type": "text", "text": ""}),
            delta(0, {"type": "text_delta", "text": "cut"}),
            stop(0),
            *finish("max_tokens"),
        ]
    )
    last = events[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["output"][0]["status"] == "incomplete"


def new_view() -> ResponseEventView:
    return ResponseEventView(
        ResponseShell(model="gpt-4o", echo=ECHO),
        NAMES,
        reasoning_item=False,
        on_finished=lambda *_: None,
    )


def test_a_failure_mid_stream_is_an_error_event_then_response_failed() -> None:
    view = new_view()
    raw = view.start(early=True)
    raw += view.frames(message_start())
    raw += view.frames(block_start(0, {"type": "text", "text": ""}))
    raw += view.error(OverloadedError("Overloaded"))
    raw += view.end()
    events = parse_frames(raw)
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    error, failed = events[-2:]
    assert error["code"] == "server_error" and error["message"] == "Overloaded"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {
        "code": "server_error",
        "message": "Overloaded",
        "param": None,
        "type": "server_error",
    }
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        # Codex tries again on the first two and gives up on the others.
        (BackendError("boom"), "server_error"),
        (RateLimitError("Slow down.", retry_after=7), "rate_limit_exceeded"),
        (InvalidRequestError("prompt is too long"), "invalid_prompt"),
        (BillingRefusedError("extra usage"), "invalid_prompt"),
        (AuthenticationError("log in"), "invalid_prompt"),
        (BillingError("no credit"), "insufficient_quota"),
    ],
)
def test_failure_codes_tell_clients_whether_to_try_again(error: ProxyError, code: str) -> None:
    error_event, failed = parse_frames(new_view().error(error))
    assert error_event["code"] == failed["response"]["error"]["code"] == code
    if code == "rate_limit_exceeded":
        assert error_event["message"] == "Slow down. Please try again in 7s."


def test_a_stream_that_ends_without_a_final_event_fails_rather_than_hangs() -> None:
    view = new_view()
    view.start(early=False)
    events = parse_frames(view.frames(message_start()) + view.end())
    assert [e["type"] for e in events] == ["error", "response.failed"]


def test_a_call_cut_off_by_max_tokens_is_incomplete() -> None:
    events, _ = run_stream(
        [
            message_start(),
            block_start(0, {"type": "tool_use", "id": "t1", "name": "crm__lookup", "input": {}}),
            delta(0, {"type": "input_json_delta", "partial_json": '{"who": "A'}),
            stop(0),
            *finish("max_tokens"),
        ]
    )
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["output"][0]["status"] == "incomplete"


def test_pings_are_sse_comments_and_a_finished_stream_ends_quietly() -> None:
    view = new_view()
    assert view.ping().startswith(b":")
    view.start(early=False)
    for event in [message_start(), *finish()]:
        view.frames(event)
    assert view.end() == b""


def test_usage_counts_cached_prompt_tokens_as_input() -> None:
    usage = responses_usage(
        {
            "input_tokens": 10,
            "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 2,
            "output_tokens": 4,
        }
    )
    assert usage == {
        "input_tokens": 17,
        "input_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 2},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 21,
    }
