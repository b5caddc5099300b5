"""tools and tool_choice validation, guidance, and the single-call filter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from proxy_core.anthropic_api.tools import parse_tool_choice, parse_tools
from proxy_core.backend.base import BackendRequest, ToolChoice, ToolSpec
from proxy_core.backend.caller_tools import (
    guidance,
    offered_tools,
    system_prompt,
)
from proxy_core.backend.event_filters import first_tool_call_only
from proxy_core.errors import InvalidRequestError

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"name": "get_weather", "description": "Weather now", "input_schema": SCHEMA}


def test_tools_keep_the_callers_exact_definition() -> None:
    (tool,) = parse_tools([{**WEATHER, "cache_control": {"type": "ephemeral"}}])
    assert tool == ToolSpec("get_weather", "Weather now", SCHEMA)


@pytest.mark.parametrize(
    ("tools", "param", "fragment"),
    [
        ({"name": "x"}, "tools", "must be a list"),
        (["x"], "tools.0", "object"),
        ([{"type": "web_search_20250305", "name": "web_search"}], "tools.0.type", "server tool"),
        ([{"name": "bad name!", "input_schema": {"type": "object"}}], "tools.0.name", "letters"),
        ([{"name": "x", "input_schema": {"type": "string"}}], "tools.0.input_schema", "object"),
        ([{"name": "x"}], "tools.0.input_schema", "object"),
        (
            [{"name": "x", "description": 3, "input_schema": {"type": "object"}}],
            "tools.0.description",
            "string",
        ),
        ([WEATHER, WEATHER], "tools", "more than once"),
    ],
)
def test_bad_tools_are_refused_with_the_field_named(tools: Any, param: str, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_tools(tools)
    assert caught.value.param == param
    assert fragment in caught.value.message


def test_tool_choice_kinds() -> None:
    tools = parse_tools([WEATHER])
    assert parse_tool_choice(None, tools) == (ToolChoice("auto"), True)
    assert parse_tool_choice({"type": "any"}, tools) == (ToolChoice("any"), True)
    assert parse_tool_choice({"type": "none"}, tools) == (ToolChoice("none"), True)
    assert parse_tool_choice(
        {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}, tools
    ) == (ToolChoice("tool", "get_weather"), False)


@pytest.mark.parametrize(
    ("choice", "param"),
    [
        ({"type": "sometimes"}, "tool_choice"),
        ("auto", "tool_choice"),
        ({"type": "tool", "name": "missing"}, "tool_choice.name"),
        (
            {"type": "auto", "disable_parallel_tool_use": "yes"},
            "tool_choice.disable_parallel_tool_use",
        ),
    ],
)
def test_bad_tool_choice_is_refused(choice: Any, param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_tool_choice(choice, parse_tools([WEATHER]))
    assert caught.value.param == param


def test_any_without_tools_is_refused() -> None:
    with pytest.raises(InvalidRequestError):
        parse_tool_choice({"type": "any"}, ())


def request(**fields: Any) -> BackendRequest:
    base: dict[str, Any] = {
        "model": "sonnet",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": parse_tools([WEATHER]),
    }
    return BackendRequest(**{**base, **fields})


def test_none_offers_no_tools_unless_the_history_holds_tool_blocks() -> None:
    assert offered_tools(request(tool_choice=ToolChoice("none"))) == ()
    history = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}],
        },
    ]
    kept = request(tool_choice=ToolChoice("none"), messages=history)
    assert offered_tools(kept) == kept.tools
    assert "do not call any tool" in system_prompt(kept)


def test_guidance_follows_the_callers_system_prompt() -> None:
    prompt = system_prompt(
        request(system="Be brief.", tool_choice=ToolChoice("tool", "get_weather"))
    )
    assert prompt.startswith("Be brief.\n\n")
    assert "`get_weather`" in prompt
    assert system_prompt(request(system="Be brief.")) == "Be brief."
    assert guidance(ToolChoice("auto"), parallel=False, tools_offered=True) == (
        "Call at most one tool in this reply."
    )
    assert guidance(ToolChoice("auto"), parallel=True, tools_offered=True) is None


async def _events(items: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for item in items:
        yield item


def _tool_block(index: int, name: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": "tool_use", "id": f"t{index}", "name": name, "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
        {"type": "content_block_stop", "index": index},
    ]


async def test_first_tool_call_only_drops_later_calls_but_keeps_the_frame() -> None:
    stream = [
        {"type": "message_start", "message": {}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_stop", "index": 0},
        *_tool_block(1, "a"),
        *_tool_block(2, "b"),
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
        {"type": "message_stop"},
    ]
    kept = [event async for event in first_tool_call_only(_events(stream))]
    starts = [e for e in kept if e["type"] == "content_block_start"]
    assert [e["index"] for e in starts] == [0, 1]
    assert all(e.get("index") != 2 for e in kept)
    assert kept[-2]["type"] == "message_delta" and kept[-1]["type"] == "message_stop"


async def test_without_thinking_drops_thinking_and_renumbers() -> None:
    from proxy_core.backend.event_filters import without_thinking

    stream = [
        {"type": "message_start", "message": {}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hm"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 1},
        *_tool_block(2, "a"),
        {"type": "message_stop"},
    ]
    kept = [event async for event in without_thinking(_events(stream))]
    blocks = [e for e in kept if e["type"] == "content_block_start"]
    assert [(e["index"], e["content_block"]["type"]) for e in blocks] == [
        (0, "text"),
        (1, "tool_use"),
    ]
    assert {e["index"] for e in kept if "index" in e} == {0, 1}
