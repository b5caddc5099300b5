"""parse_chat_request: a chat.completions body translated to a BackendRequest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy_core.anthropic_api.request import MAX_TOKENS_LIMIT
from proxy_core.backend.base import ToolChoice, ToolSpec
from proxy_core.errors import InvalidRequestError, NotFoundError
from proxy_core.openai_api.request import ChatCall, parse_chat_request, resolve_chat_model

EMPTY_OBJECT = {"type": "object", "properties": {}}
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": WEATHER_SCHEMA,
    },
}
TIME_TOOL = {"type": "function", "function": {"name": "get_time"}}


def parse(body: Any, *, agent_mode: bool = False) -> ChatCall:
    return parse_chat_request(
        body, default_model="sonnet", request_id="req_1", agent_mode=agent_mode
    )


def user(content: Any = "Hi") -> dict[str, Any]:
    return {"role": "user", "content": content}


def chat(messages: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [user()] if messages is None else messages, **extra}


def invalid(body: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        parse(body)
    return info.value


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


# --- the request as a whole ---------------------------------------------------


def test_minimal_request_becomes_a_backend_request() -> None:
    call_ = parse(chat())
    request = call_.backend_request
    assert request.model == "sonnet"
    assert request.messages == [{"role": "user", "content": [text("Hi")]}]
    assert request.system is None
    assert request.max_tokens is None
    assert request.request_id == "req_1"
    assert request.tools == ()
    assert request.tool_choice == ToolChoice()
    assert request.parallel_tool_calls is True
    assert request.agent is False
    assert call_.stream is False
    assert call_.include_usage is False
    assert call_.requested_model == "gpt-4o"


def test_missing_model_uses_the_default() -> None:
    call_ = parse({"messages": [user()]})
    assert call_.requested_model == "sonnet"
    assert call_.backend_request.model == "sonnet"


@pytest.mark.parametrize("model", ["", None, 4])
def test_model_must_be_a_non_empty_string(model: Any) -> None:
    assert invalid(chat(model=model)).param == "model"


@pytest.mark.parametrize("body", [[], "hello", None])
def test_body_must_be_an_object(body: Any) -> None:
    error = invalid(body)
    assert error.param is None
    assert "JSON object" in error.message


def test_unknown_model_is_not_found() -> None:
    with pytest.raises(NotFoundError) as info:
        parse(chat(model="llama-3-70b"))
    assert info.value.param == "model"


def test_agent_mode_only_without_caller_tools() -> None:
    assert parse(chat(), agent_mode=True).backend_request.agent is True
    with_tools = parse(chat(tools=[WEATHER_TOOL]), agent_mode=True).backend_request
    assert with_tools.agent is False


# --- models ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "resolved"),
    [
        ("gpt-4o", "sonnet"),
        ("GPT-4o", "sonnet"),
        ("gpt-4o-mini", "haiku"),
        ("gpt-4.1-nano", "haiku"),
        ("gpt-3.5-turbo", "haiku"),
        ("gpt-4-turbo", "sonnet"),
        ("chatgpt-4o-latest", "sonnet"),
        ("o1", "sonnet"),
        ("o3", "sonnet"),
        ("o3-mini", "haiku"),
        ("o4-mini", "haiku"),
        # Claude names resolve as they do on /v1/messages.
        ("sonnet", "sonnet"),
        ("Opus", "opus"),
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("claude-opus-9-9", "claude-opus-9-9"),
        ("claude-3-5-sonnet-20241022", "claude-sonnet-5-5"),
        ("claude-3-haiku-20240307", "claude-haiku-5-5"),
        ("anthropic/claude-haiku", "haiku"),
    ],
)
def test_resolve_chat_model(requested: str, resolved: str) -> None:
    assert resolve_chat_model(requested) == resolved


@pytest.mark.parametrize("name", ["llama-3-70b", "text-davinci-003", "gemini-pro", "mistral"])
def test_resolve_chat_model_refuses_unknown_names(name: str) -> None:
    with pytest.raises(NotFoundError) as info:
        resolve_chat_model(name)
    assert info.value.param == "model"


def test_requested_model_is_kept_verbatim() -> None:
    call_ = parse(chat(model="gpt-4o-mini"))
    assert call_.requested_model == "gpt-4o-mini"
    assert call_.backend_request.model == "haiku"


# --- system and developer messages -------------------------------------------


def test_system_and_developer_messages_are_joined_into_system() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [text("Rule A"), text("Rule B")]},
        user(),
    ]
    request = parse(chat(messages)).backend_request
    assert request.system == "Be brief.\n\nRule A\nRule B"
    assert request.messages == [{"role": "user", "content": [text("Hi")]}]


def test_a_system_message_between_turns_is_still_lifted() -> None:
    messages = [
        user("one"),
        {"role": "assistant", "content": "two"},
        {"role": "system", "content": "Late rule"},
        user("three"),
    ]
    request = parse(chat(messages)).backend_request
    assert request.system == "Late rule"
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]


@pytest.mark.parametrize("content", [None, 5, [{"type": "image_url", "image_url": "x"}]])
def test_system_content_must_be_text(content: Any) -> None:
    error = invalid(chat([user(), {"role": "system", "content": content}, user()]))
    assert error.param == "messages.1.content"


# --- user messages -----------------------------------------------------------


def test_user_string_content_becomes_a_text_block() -> None:
    request = parse(chat([user("Hello there")])).backend_request
    assert request.messages == [{"role": "user", "content": [text("Hello there")]}]


def test_user_parts_become_text_and_image_blocks() -> None:
    parts = [
        text("What is in these images?"),
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
    ]
    request = parse(chat([user(parts)])).backend_request
    assert request.messages == [
        {
            "role": "user",
            "content": [
                text("What is in these images?"),
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/png",
                        "data": "iVBORw0KGgo=",
                    },
                },
                {
                    "type": "image",
                    "source": {"type": "url", "url": "https://example.com/cat.jpg"},
                },
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
                },
            ],
        }
    ]


def test_http_image_url_is_a_url_source() -> None:
    parts = [{"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}]
    blocks = parse(chat([user(parts)])).backend_request.messages[0]["content"]
    assert blocks == [
        {"type": "image", "source": {"type": "url", "url": "http://example.com/a.png"}}
    ]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.png", "example.com/a.png", "data:image/png,notbase64", ""]
)
def test_bad_image_url_is_refused_naming_the_url(url: str) -> None:
    parts = [text("look"), {"type": "image_url", "image_url": {"url": url}}]
    error = invalid(chat([user(parts)]))
    assert error.param == "messages.0.content.1.image_url.url"


@pytest.mark.parametrize("image_url", [None, {}, {"url": 5}, 7])
def test_image_part_without_a_url_is_refused(image_url: Any) -> None:
    parts = [{"type": "image_url", "image_url": image_url}]
    error = invalid(chat([user("first"), {"role": "assistant", "content": "ok"}, user(parts)]))
    assert error.param == "messages.2.content.0.image_url"


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "file", "file": {"file_id": "file-1"}},
        {"type": "refusal", "refusal": "no"},
        {"text": "no type"},
    ],
)
def test_unsupported_user_part_is_refused_naming_its_type(part: dict[str, Any]) -> None:
    error = invalid(chat([user([text("ok"), part])]))
    assert error.param == "messages.0.content.1.type"
    assert "unsupported content part type" in error.message


def test_non_object_user_part_is_refused() -> None:
    assert invalid(chat([user(["plain string"])])).param == "messages.0.content.0.type"


@pytest.mark.parametrize("content", [None, 5, {"type": "text", "text": "x"}])
def test_user_content_must_be_a_string_or_parts(content: Any) -> None:
    assert invalid(chat([user(content)])).param == "messages.0.content"


def test_empty_user_message_is_dropped() -> None:
    request = parse(chat([user(""), user("real")])).backend_request
    assert request.messages == [{"role": "user", "content": [text("real")]}]


# --- assistant messages and tool calls -----------------------------------------


def test_assistant_content_then_tool_calls_become_text_then_tool_use() -> None:
    messages = [
        user("Weather and time in Paris?"),
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                call("call_1", "get_weather", '{"city": "Paris"}'),
                call("call_2", "get_time", ""),
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [text("12:00"), text("CET")]},
        user("Thanks!"),
    ]
    request = parse(chat(messages, tools=[WEATHER_TOOL, TIME_TOOL])).backend_request
    assert request.messages == [
        {"role": "user", "content": [text("Weather and time in Paris?")]},
        {
            "role": "assistant",
            "content": [
                text("Let me check."),
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "Sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "12:00\nCET"},
                text("Thanks!"),
            ],
        },
    ]


def test_tool_results_alone_make_one_user_message_that_ends_the_conversation() -> None:
    messages = [
        user("go"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("a", "f", "{}"), call("b", "f", "{}")],
        },
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "tool", "tool_call_id": "b", "content": None},
    ]
    request = parse(chat(messages)).backend_request
    assert len(request.messages) == 3
    assert request.messages[1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "a", "name": "f", "input": {}},
            {"type": "tool_use", "id": "b", "name": "f", "input": {}},
        ],
    }
    assert request.messages[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "a", "content": "1"},
            {"type": "tool_result", "tool_use_id": "b", "content": ""},
        ],
    }


def test_assistant_text_parts_are_joined() -> None:
    messages = [user("q"), {"role": "assistant", "content": [text("a"), text("b")]}, user("r")]
    request = parse(chat(messages)).backend_request
    assert request.messages[1] == {"role": "assistant", "content": [text("a\nb")]}


def test_tool_call_arguments_may_already_be_an_object() -> None:
    messages = [
        user("go"),
        {"role": "assistant", "tool_calls": [call("c", "f", {"x": 1})]},
        {"role": "tool", "tool_call_id": "c", "content": "done"},
    ]
    blocks = parse(chat(messages)).backend_request.messages[1]["content"]
    assert blocks == [{"type": "tool_use", "id": "c", "name": "f", "input": {"x": 1}}]


def test_tool_call_without_id_gets_one() -> None:
    messages = [
        user("go"),
        {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
        user("next"),
    ]
    block = parse(chat(messages)).backend_request.messages[1]["content"][0]
    assert block["type"] == "tool_use"
    assert isinstance(block["id"], str)
    assert block["id"].startswith("call_")


@pytest.mark.parametrize("arguments", ['{"city": "Par', "not json", "{'a': 1}"])
def test_invalid_json_arguments_name_the_arguments(arguments: str) -> None:
    messages = [
        user("go"),
        {"role": "assistant", "tool_calls": [call("a", "f", "{}"), call("b", "g", arguments)]},
        {"role": "tool", "tool_call_id": "a", "content": "x"},
    ]
    error = invalid(chat(messages))
    assert error.param == "messages.1.tool_calls.1.function.arguments"
    assert "valid JSON" in error.message


@pytest.mark.parametrize("arguments", ["[1, 2]", '"text"', "3"])
def test_non_object_arguments_are_refused(arguments: str) -> None:
    messages = [
        user("go"),
        {"role": "assistant", "tool_calls": [call("a", "f", arguments)]},
        user("x"),
    ]
    error = invalid(chat(messages))
    assert error.param == "messages.1.tool_calls.0.function.arguments"
    assert "JSON object" in error.message


@pytest.mark.parametrize(
    ("tool_call", "param"),
    [
        ({"id": "a"}, "messages.1.tool_calls.0.function"),
        ({"id": "a", "function": {"arguments": "{}"}}, "messages.1.tool_calls.0.function"),
        ({"id": "a", "function": "f"}, "messages.1.tool_calls.0.function"),
        ("x", "messages.1.tool_calls.0"),
    ],
)
def test_tool_call_needs_a_named_function(tool_call: Any, param: str) -> None:
    messages = [user("go"), {"role": "assistant", "tool_calls": [tool_call]}, user("x")]
    assert invalid(chat(messages)).param == param


@pytest.mark.parametrize("tool_call_id", [None, "", 5])
def test_tool_message_needs_a_tool_call_id(tool_call_id: Any) -> None:
    messages = [
        user("go"),
        {"role": "assistant", "tool_calls": [call("a", "f", "{}")]},
        {"role": "tool", "tool_call_id": tool_call_id, "content": "x"},
    ]
    assert invalid(chat(messages)).param == "messages.2.tool_call_id"


def test_tool_message_content_must_be_text() -> None:
    messages = [
        user("go"),
        {"role": "assistant", "tool_calls": [call("a", "f", "{}")]},
        {"role": "tool", "tool_call_id": "a", "content": 42},
    ]
    assert invalid(chat(messages)).param == "messages.2.content"


# --- legacy functions ----------------------------------------------------------


def test_legacy_functions_and_function_call_messages() -> None:
    messages = [
        user("Weather?"),
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        },
        {"role": "function", "name": "get_weather", "content": "Snow"},
    ]
    body = chat(
        messages,
        functions=[WEATHER_TOOL["function"]],
        function_call={"name": "get_weather"},
    )
    request = parse(body).backend_request
    assert request.tools == (ToolSpec("get_weather", "Weather for a city", WEATHER_SCHEMA),)
    assert request.tool_choice == ToolChoice("tool", "get_weather")
    assert len(request.messages) == 3
    (tool_use,) = request.messages[1]["content"]
    assert tool_use["type"] == "tool_use"
    assert tool_use["name"] == "get_weather"
    assert tool_use["input"] == {"city": "Oslo"}
    assert request.messages[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "Snow"}],
    }


def test_function_results_answer_the_latest_legacy_call() -> None:
    messages = [
        user("a"),
        {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": "r1"},
        {"role": "assistant", "function_call": {"name": "f", "arguments": '{"n": 2}'}},
        {"role": "function", "name": "f", "content": "r2"},
    ]
    request = parse(chat(messages)).backend_request
    first_id = request.messages[1]["content"][0]["id"]
    second_id = request.messages[3]["content"][0]["id"]
    assert first_id != second_id
    assert request.messages[2]["content"][0]["tool_use_id"] == first_id
    assert request.messages[4]["content"][0]["tool_use_id"] == second_id


def test_function_message_without_an_earlier_call_is_refused() -> None:
    messages = [user("a"), {"role": "function", "name": "f", "content": "r"}]
    assert invalid(chat(messages)).param == "messages.1.tool_call_id"


@pytest.mark.parametrize(
    ("function_call", "expected"),
    [("auto", ToolChoice()), ("none", ToolChoice("none")), ({"name": "get_time"}, None)],
)
def test_legacy_function_call_choice(function_call: Any, expected: ToolChoice | None) -> None:
    body = chat(functions=[TIME_TOOL["function"]], function_call=function_call)
    choice = parse(body).backend_request.tool_choice
    assert choice == (expected or ToolChoice("tool", "get_time"))


def test_legacy_functions_are_ignored_when_tools_are_given() -> None:
    body = chat(tools=[WEATHER_TOOL], functions=[TIME_TOOL["function"]])
    assert [tool.name for tool in parse(body).backend_request.tools] == ["get_weather"]


def test_legacy_function_with_bad_schema_names_functions() -> None:
    body = chat(functions=[{"name": "f", "parameters": {"type": "string"}}])
    assert invalid(body).param == "functions.0.parameters"


def test_legacy_function_call_with_invalid_arguments_is_refused() -> None:
    messages = [
        user("a"),
        {"role": "assistant", "function_call": {"name": "f", "arguments": "{oops"}},
        {"role": "function", "name": "f", "content": "r"},
    ]
    error = invalid(chat(messages))
    assert error.param is not None
    assert error.param.endswith(".arguments")


def test_legacy_function_call_invalid_arguments_param_names_function_call() -> None:
    messages = [
        user("a"),
        {"role": "assistant", "function_call": {"name": "f", "arguments": "{oops"}},
        {"role": "function", "name": "f", "content": "r"},
    ]
    assert invalid(chat(messages)).param == "messages.1.function_call.arguments"


# --- roles, merging and the conversation's end -----------------------------------


def test_consecutive_messages_of_one_role_are_merged() -> None:
    messages = [
        user("a"),
        user([text("b")]),
        {"role": "assistant", "content": "c"},
        {"role": "assistant", "content": "d"},
        user("e"),
    ]
    request = parse(chat(messages)).backend_request
    assert request.messages == [
        {"role": "user", "content": [text("a"), text("b")]},
        {"role": "assistant", "content": [text("c"), text("d")]},
        {"role": "user", "content": [text("e")]},
    ]


def test_empty_assistant_message_is_dropped_and_its_neighbours_merge() -> None:
    messages = [user("a"), {"role": "assistant", "content": ""}, user("b")]
    request = parse(chat(messages)).backend_request
    assert request.messages == [{"role": "user", "content": [text("a"), text("b")]}]


def test_caller_messages_are_not_mutated() -> None:
    messages = [user("a"), user("b")]
    snapshot = json.loads(json.dumps(messages))
    parse(chat(messages))
    assert messages == snapshot


@pytest.mark.parametrize(
    "messages",
    [
        [user("q"), {"role": "assistant", "content": "The answer is"}],
        [{"role": "assistant", "content": "hello"}],
        [{"role": "system", "content": "only a system prompt"}],
    ],
)
def test_conversation_must_end_with_user_or_tool(messages: list[Any]) -> None:
    error = invalid(chat(messages))
    assert error.param == "messages"
    assert "prefill" in error.message


@pytest.mark.parametrize("messages", [[], None, "Hi", {"role": "user", "content": "Hi"}])
def test_messages_must_be_a_non_empty_list(messages: Any) -> None:
    assert invalid({"model": "gpt-4o", "messages": messages}).param == "messages"


@pytest.mark.parametrize("message", [{"role": "critic", "content": "x"}, {"content": "x"}, "x"])
def test_unsupported_role_is_refused(message: Any) -> None:
    assert invalid(chat([user(), message])).param == "messages.1.role"


# --- n, max tokens, streaming ---------------------------------------------------


@pytest.mark.parametrize("n", [2, 5, 0])
def test_more_than_one_choice_is_refused(n: int) -> None:
    assert invalid(chat(n=n)).param == "n"


@pytest.mark.parametrize("n", [1, None])
def test_one_choice_is_fine(n: Any) -> None:
    assert parse(chat(n=n)).backend_request.model == "sonnet"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"max_tokens": 100}, 100),
        ({"max_completion_tokens": 200}, 200),
        ({"max_tokens": 100, "max_completion_tokens": 200}, 200),
        ({"max_tokens": 100, "max_completion_tokens": None}, 100),
        ({"max_tokens": MAX_TOKENS_LIMIT}, MAX_TOKENS_LIMIT),
        ({}, None),
    ],
)
def test_max_tokens(extra: dict[str, Any], expected: int | None) -> None:
    assert parse(chat(**extra)).backend_request.max_tokens == expected


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_tokens": MAX_TOKENS_LIMIT + 1}, "max_tokens"),
        ({"max_completion_tokens": -1}, "max_completion_tokens"),
        ({"max_tokens": 100, "max_completion_tokens": 0}, "max_completion_tokens"),
        ({"max_tokens": 0, "max_completion_tokens": 100}, None),
    ],
)
def test_max_tokens_validation(extra: dict[str, Any], param: str | None) -> None:
    if param is None:
        # max_completion_tokens wins: the ignored max_tokens is not validated.
        assert parse(chat(**extra)).backend_request.max_tokens == 100
    else:
        assert invalid(chat(**extra)).param == param


@pytest.mark.parametrize(
    ("extra", "stream", "include_usage"),
    [
        ({}, False, False),
        ({"stream": False}, False, False),
        ({"stream": None}, False, False),
        ({"stream": True}, True, False),
        ({"stream": True, "stream_options": {"include_usage": True}}, True, True),
        ({"stream": True, "stream_options": {"include_usage": False}}, True, False),
        ({"stream": True, "stream_options": None}, True, False),
        ({"stream": True, "stream_options": "yes"}, True, False),
    ],
)
def test_stream_and_include_usage(extra: dict[str, Any], stream: bool, include_usage: bool) -> None:
    call_ = parse(chat(**extra))
    assert call_.stream is stream
    assert call_.include_usage is include_usage


@pytest.mark.parametrize("stream", ["true", 1, [True]])
def test_stream_must_be_a_boolean(stream: Any) -> None:
    assert invalid(chat(stream=stream)).param == "stream"


# --- tools, tool_choice, parallel_tool_calls ---------------------------------------


def test_tools_become_tool_specs() -> None:
    request = parse(chat(tools=[WEATHER_TOOL, TIME_TOOL])).backend_request
    assert request.tools == (
        ToolSpec("get_weather", "Weather for a city", WEATHER_SCHEMA),
        ToolSpec("get_time", "", EMPTY_OBJECT),
    )


@pytest.mark.parametrize("parameters", [None, {}])
def test_tool_without_parameters_gets_an_empty_object_schema(parameters: Any) -> None:
    tool = {"type": "function", "function": {"name": "ping", "parameters": parameters}}
    (spec,) = parse(chat(tools=[tool])).backend_request.tools
    assert spec.input_schema == {"type": "object", "properties": {}}


def test_tool_schema_without_type_is_an_object() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"properties": {}}}}
    (spec,) = parse(chat(tools=[tool])).backend_request.tools
    assert spec.input_schema == {"type": "object", "properties": {}}


@pytest.mark.parametrize("parameters", [{"type": "array"}, {"type": "string"}, "object", [1]])
def test_non_object_parameters_are_refused(parameters: Any) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": parameters}}
    error = invalid(chat(tools=[TIME_TOOL, tool]))
    assert error.param == "tools.1.function.parameters"


@pytest.mark.parametrize(
    "tool",
    [{"type": "function"}, {"type": "function", "function": {"description": "x"}}, "f", None],
)
def test_tool_needs_a_named_function(tool: Any) -> None:
    assert invalid(chat(tools=[tool])).param == "tools.0.function"


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        (None, ToolChoice()),
        ("auto", ToolChoice()),
        ("none", ToolChoice("none")),
        ("required", ToolChoice("any")),
        ({"type": "function", "function": {"name": "get_time"}}, ToolChoice("tool", "get_time")),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            ToolChoice("tool", "get_weather"),
        ),
    ],
)
def test_tool_choice(tool_choice: Any, expected: ToolChoice) -> None:
    body = chat(tools=[WEATHER_TOOL, TIME_TOOL], tool_choice=tool_choice)
    assert parse(body).backend_request.tool_choice == expected


@pytest.mark.parametrize(
    "tool_choice",
    [
        {"type": "function", "function": {"name": "delete_everything"}},
        {"type": "function", "function": {}},
        {"type": "function", "function": None},
        {"type": "function"},
        "sometimes",
        "any",
        5,
    ],
)
def test_unknown_tool_choice_is_refused(tool_choice: Any) -> None:
    body = chat(tools=[WEATHER_TOOL], tool_choice=tool_choice)
    assert invalid(body).param == "tool_choice"


def test_named_tool_choice_without_tools_is_refused() -> None:
    body = chat(tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert invalid(body).param == "tool_choice"


def test_tool_choice_with_a_string_function_is_refused() -> None:
    body = chat(tools=[WEATHER_TOOL], tool_choice={"type": "function", "function": "get_weather"})
    assert invalid(body).param == "tool_choice"


def test_tools_must_be_a_list() -> None:
    assert invalid(chat(tools=5)).param == "tools"


def test_functions_must_be_a_list() -> None:
    assert invalid(chat(functions=5)).param == "functions"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [({}, True), ({"parallel_tool_calls": True}, True), ({"parallel_tool_calls": False}, False)],
)
def test_parallel_tool_calls(extra: dict[str, Any], expected: bool) -> None:
    request = parse(chat(tools=[WEATHER_TOOL], **extra)).backend_request
    assert request.parallel_tool_calls is expected


# --- response_format --------------------------------------------------------------


def test_text_response_format_adds_nothing() -> None:
    assert parse(chat(response_format={"type": "text"})).backend_request.system is None


def test_json_object_guidance_is_appended_to_system() -> None:
    messages = [{"role": "system", "content": "Be terse."}, user()]
    system = parse(chat(messages, response_format={"type": "json_object"})).backend_request.system
    assert system is not None
    head, guidance = system.split("\n\n", 1)
    assert head == "Be terse."
    assert "JSON object" in guidance


def test_json_object_guidance_alone_is_the_system() -> None:
    system = parse(chat(response_format={"type": "json_object"})).backend_request.system
    assert system is not None
    assert system.startswith("Answer with one valid JSON object")


def test_json_schema_guidance_carries_the_schema() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    messages = [{"role": "developer", "content": "Dev rule"}, user()]
    system = parse(chat(messages, response_format=response_format)).backend_request.system
    assert system is not None
    assert system.startswith("Dev rule\n\n")
    assert "JSON Schema" in system
    assert system.endswith(json.dumps(schema))


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        ("json_object", "response_format"),
        ({"type": "xml"}, "response_format"),
        ({}, "response_format"),
        ({"type": "json_schema"}, "response_format.json_schema.schema"),
        (
            {"type": "json_schema", "json_schema": {"name": "x"}},
            "response_format.json_schema.schema",
        ),
        (
            {"type": "json_schema", "json_schema": {"schema": "object"}},
            "response_format.json_schema.schema",
        ),
    ],
)
def test_bad_response_format_is_refused(response_format: Any, param: str) -> None:
    assert invalid(chat(response_format=response_format)).param == param


def test_non_object_json_schema_is_refused() -> None:
    error = invalid(chat(response_format={"type": "json_schema", "json_schema": "x"}))
    assert error.param is not None
    assert error.param.startswith("response_format.json_schema")


def test_tool_results_come_first_in_a_merged_user_turn() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            ],
        },
        {"role": "user", "content": "and also"},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]
    request = parse_chat_request(
        {"model": "gpt-4o", "messages": messages}, default_model="sonnet", request_id="r"
    ).backend_request
    assert [b["type"] for b in request.messages[-1]["content"]] == ["tool_result", "text"]


def test_an_assistant_refusal_part_is_read_as_text() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]},
        {"role": "user", "content": "ok"},
    ]
    request = parse_chat_request(
        {"model": "gpt-4o", "messages": messages}, default_model="sonnet", request_id="r"
    ).backend_request
    assert request.messages[1]["content"] == [{"type": "text", "text": "I can't."}]
