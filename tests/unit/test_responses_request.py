"""A Responses request translated to the Anthropic shape: input items, tools, settings."""

from __future__ import annotations

from typing import Any

import pytest

from proxy_core.backend.base import ToolChoice
from proxy_core.errors import InvalidRequestError
from proxy_core.openai_api.responses_input import TranslatedInput
from proxy_core.openai_api.responses_request import ResponsesCall, parse_responses_request
from proxy_core.openai_api.responses_tools import CallerTool

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch"'},
}


def no_earlier(response_id: str) -> TranslatedInput:
    raise AssertionError(f"asked for {response_id}")


def parse(earlier: Any = no_earlier, **body: Any) -> ResponsesCall:
    return parse_responses_request(
        {"model": "gpt-4o", "input": "hi", **body},
        default_model="sonnet",
        request_id="req_1",
        earlier=earlier,
    )


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def test_a_string_input_is_one_user_message() -> None:
    call = parse()
    request = call.backend_request
    assert request.messages == [{"role": "user", "content": [text("hi")]}]
    assert request.model == "sonnet" and call.requested_model == "gpt-4o"
    assert request.system is None and request.tools == ()
    assert call.stream is False and call.store is True and call.reasoning_item is False


def test_messages_keep_order_and_system_parts_join_the_system_prompt() -> None:
    call = parse(
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "No lists."},
            {"role": "user", "content": [{"type": "input_text", "text": "one"}]},
            {"type": "message", "role": "user", "content": "two"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "A"}]},
            {"role": "system", "content": [{"type": "input_text", "text": "Late rule."}]},
            {"role": "user", "content": "three"},
        ],
    )
    request = call.backend_request
    assert request.system == "Be brief.\n\nNo lists.\n\nLate rule."
    assert request.messages == [
        {"role": "user", "content": [text("one"), text("two")]},
        {"role": "assistant", "content": [text("A")]},
        {"role": "user", "content": [text("three")]},
    ]


def test_each_output_text_part_stays_its_own_block() -> None:
    # The reply is compared block by block to find the kept conversation again.
    parts = [{"type": "output_text", "text": "A"}, {"type": "output_text", "text": "B"}]
    call = parse(
        input=[
            {"role": "user", "content": "q"},
            {"type": "message", "role": "assistant", "content": parts},
            {"role": "user", "content": "r"},
        ]
    )
    assert call.backend_request.messages[1]["content"] == [text("A"), text("B")]


def test_function_calls_and_outputs_become_tool_use_and_tool_result() -> None:
    call = parse(
        tools=[WEATHER],
        input=[
            {"role": "user", "content": "Weather?"},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Let me see."}],
            },
            {
                "type": "function_call",
                "call_id": "toolu_1",
                "name": "get_weather",
                "arguments": '{"city": "Paris"}',
            },
            {"type": "function_call", "call_id": "toolu_2", "name": "get_weather", "arguments": ""},
            {"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"},
            {
                "type": "function_call_output",
                "call_id": "toolu_2",
                "output": [{"type": "input_text", "text": "rain"}],
            },
        ],
    )
    assert call.backend_request.messages == [
        {"role": "user", "content": [text("Weather?")]},
        {
            "role": "assistant",
            "content": [
                text("Let me see."),
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [text("sunny")]},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [text("rain")]},
            ],
        },
    ]


def test_tool_results_come_first_in_a_user_turn() -> None:
    call = parse(
        input=[
            {"role": "user", "content": "q"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"role": "user", "content": "and also"},
            {"type": "function_call_output", "call_id": "c1", "output": "done"},
        ]
    )
    kinds = [block["type"] for block in call.backend_request.messages[-1]["content"]]
    assert kinds == ["tool_result", "text"]


def test_custom_and_namespaced_calls_map_to_their_native_tools() -> None:
    group = {"type": "namespace", "name": "crm", "description": "Customers.", "tools": [WEATHER]}
    call = parse(
        tools=[PATCH, group],
        input=[
            {"role": "user", "content": "q"},
            {
                "type": "custom_tool_call",
                "call_id": "c1",
                "name": "apply_patch",
                "input": "*** Begin Patch",
            },
            {
                "type": "function_call",
                "call_id": "c2",
                "name": "get_weather",
                "namespace": "crm",
                "arguments": "{}",
            },
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "ok"},
            {"type": "function_call_output", "call_id": "c2", "output": "ok"},
        ],
    )
    uses = call.backend_request.messages[1]["content"]
    assert uses[0]["name"] == "apply_patch" and uses[0]["input"] == {"input": "*** Begin Patch"}
    assert uses[1]["name"] == "crm__get_weather"
    names = call.names
    assert names.caller_tool("apply_patch") == CallerTool("apply_patch", "custom")
    assert names.caller_tool("crm__get_weather") == CallerTool("get_weather", "function", "crm")
    assert names.caller_tool("unknown") == CallerTool("unknown")


def test_tools_become_native_specs_and_hosted_ones_are_left_out() -> None:
    group = {"type": "namespace", "name": "crm", "description": "Customers.", "tools": [WEATHER]}
    call = parse(tools=[{"type": "web_search"}, WEATHER, PATCH, group, {"type": "mcp"}])
    specs = {spec.name: spec for spec in call.backend_request.tools}
    assert list(specs) == ["get_weather", "apply_patch", "crm__get_weather"]
    assert specs["get_weather"].input_schema == WEATHER["parameters"]
    patch = specs["apply_patch"]
    assert patch.input_schema["required"] == ["input"]
    assert "lark grammar" in patch.description and "*** Begin Patch" in patch.description
    assert "tool group `crm`: Customers." in specs["crm__get_weather"].description


@pytest.mark.parametrize(
    ("choice", "expected", "offered"),
    [
        ("auto", ToolChoice(), ["get_weather", "apply_patch"]),
        ("none", ToolChoice("none"), ["get_weather", "apply_patch"]),
        ("required", ToolChoice("any"), ["get_weather", "apply_patch"]),
        ({"type": "function", "name": "get_weather"}, ToolChoice("tool", "get_weather"), None),
        ({"type": "custom", "name": "apply_patch"}, ToolChoice("tool", "apply_patch"), None),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_weather"}],
            },
            ToolChoice("any"),
            ["get_weather"],
        ),
        ({"type": "allowed_tools", "mode": "auto", "tools": []}, ToolChoice(), []),
        ({"type": "web_search"}, ToolChoice(), ["get_weather", "apply_patch"]),
    ],
)
def test_tool_choice(choice: Any, expected: ToolChoice, offered: list[str] | None) -> None:
    request = parse(tools=[WEATHER, PATCH], tool_choice=choice).backend_request
    assert request.tool_choice == expected
    if offered is not None:
        assert [spec.name for spec in request.tools] == offered


@pytest.mark.parametrize(
    ("body", "effort", "thinking"),
    [
        ({}, None, None),
        ({"reasoning": {"summary": "auto"}}, None, None),
        ({"reasoning": {"effort": "minimal"}}, None, None),
        ({"reasoning": {"effort": "none"}}, None, None),
        ({"reasoning": {"effort": "low"}}, "low", {"type": "enabled", "budget_tokens": 2048}),
        ({"reasoning": {"effort": "high"}}, "high", {"type": "enabled", "budget_tokens": 16384}),
        (
            {"reasoning": {"effort": "high"}, "max_output_tokens": 4000},
            "high",
            {"type": "enabled", "budget_tokens": 2000},
        ),
        ({"reasoning": {"effort": "high"}, "max_output_tokens": 2000}, None, None),
    ],
)
def test_reasoning_effort(body: dict[str, Any], effort: str | None, thinking: Any) -> None:
    call = parse(**body)
    assert call.backend_request.effort == effort
    assert call.backend_request.thinking == thinking
    assert call.reasoning_item is ("reasoning" in body)


def test_json_formats_are_asked_for_in_the_system_prompt() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    system = parse(text={"format": {"type": "json_schema", "name": "r", "schema": schema}})
    assert '"properties": {"a"' in str(system.backend_request.system)
    plain = parse(text={"format": {"type": "json_object"}, "verbosity": "low"})
    assert "JSON object" in str(plain.backend_request.system)


def test_previous_response_id_prepends_the_earlier_conversation() -> None:
    earlier = TranslatedInput(
        ("Earlier rule.",),
        [
            {"role": "user", "content": [text("My name is Ada.")]},
            {"role": "assistant", "content": [text("Hi Ada.")]},
        ],
    )
    asked: list[str] = []

    def lookup(response_id: str) -> TranslatedInput:
        asked.append(response_id)
        return earlier

    call = parse(lookup, previous_response_id="resp_1", instructions="Now.", input="Name?")
    assert asked == ["resp_1"]
    assert call.backend_request.system == "Now.\n\nEarlier rule."
    assert [m["role"] for m in call.backend_request.messages] == ["user", "assistant", "user"]
    assert call.own_input.messages == [{"role": "user", "content": [text("Name?")]}]
    assert call.echo["previous_response_id"] == "resp_1"


def test_settings_are_echoed_and_sampling_is_accepted() -> None:
    call = parse(temperature=0.2, top_p=0.5, user="u1", truncation="auto", max_output_tokens=99)
    assert call.echo["temperature"] == 0.2 and call.echo["top_p"] == 0.5
    assert call.echo["max_output_tokens"] == 99 and call.backend_request.max_tokens == 99
    assert call.echo["user"] == "u1" and call.echo["truncation"] == "auto"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": 7}, "input"),
        ({"input": []}, "input"),
        ({"input": [{"role": "assistant", "content": "prefill"}]}, "input"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input.0.role"),
        ({"input": ["hi"]}, "input.0"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input.0.content.0.type",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input.0.content.0",
        ),
        (
            {
                "input": [
                    {"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]}
                ]
            },
            "input.0.content.0.image_url",
        ),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input.0.type"),
        ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input.0.call_id"),
        (
            {
                "input": [
                    {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{nope"}
                ]
            },
            "input.0.arguments",
        ),
        (
            {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}]},
            "input.0.arguments",
        ),
        ({"model": ""}, "model"),
        ({"stream": "yes"}, "stream"),
        ({"store": 1}, "store"),
        ({"metadata": "x"}, "metadata"),
        ({"previous_response_id": 5}, "previous_response_id"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"reasoning": "high"}, "reasoning"),
        ({"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"text": {"format": {"type": "json_schema"}}}, "text.format.schema"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"tools": [{"type": "function", "name": "bad name"}]}, "tools.0.name"),
        (
            {"tools": [{"type": "function", "name": "f", "parameters": {"type": "array"}}]},
            "tools.0.parameters",
        ),
        ({"tools": [WEATHER, WEATHER]}, "tools"),
        ({"tools": [{"type": "namespace", "name": "g"}]}, "tools.0"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "name": "nope"}}, "tool_choice.name"),
        ({"tool_choice": 3}, "tool_choice"),
        ({"instructions": 3}, "instructions"),
        ({"previous_response_id": ""}, "previous_response_id"),
        ({"background": True}, "background"),
        ({"text": "json"}, "text"),
        ({"text": {"format": "json"}}, "text.format"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"reasoning": {"effort": "max"}}, "reasoning.effort"),
        (
            {
                "input": [
                    {
                        "role": "developer",
                        "content": [{"type": "input_image", "image_url": "https://x/y.png"}],
                    },
                    {"role": "user", "content": "hi"},
                ]
            },
            "input.0.content",
        ),
    ],
)
def test_bad_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse(**body)
    assert caught.value.param == param, caught.value.message


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidRequestError):
        parse_responses_request([], default_model="sonnet", request_id="r", earlier=no_earlier)


def test_agent_mode_is_for_callers_that_sent_no_tools_at_all() -> None:
    def run(**body: Any) -> bool:
        return parse_responses_request(
            {"model": "gpt-4o", "input": "hi", **body},
            default_model="sonnet",
            request_id="r",
            earlier=no_earlier,
            agent_mode=True,
        ).backend_request.agent

    assert run() is True
    assert run(tools=[{"type": "web_search"}]) is False  # hosted only: still not the agent's
    assert run(tools=[WEATHER], tool_choice={"type": "allowed_tools", "tools": []}) is False
