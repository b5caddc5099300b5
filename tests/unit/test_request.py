"""parse_messages_request: validation, normalisation and model resolution."""

from __future__ import annotations

from typing import Any

import pytest

from proxy_core.anthropic_api.request import (
    MAX_TOKENS_LIMIT,
    MessagesCall,
    parse_messages_request,
)
from proxy_core.errors import InvalidRequestError, NotFoundError


def parse(body: Any, *, default_model: str = "sonnet", request_id: str = "req_1") -> MessagesCall:
    return parse_messages_request(body, default_model=default_model, request_id=request_id)


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "sonnet", "messages": [{"role": "user", "content": "Hi"}], **extra}


def invalid(payload: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        parse(payload)
    return info.value


# --- the happy path ---------------------------------------------------------


def test_minimal_request_becomes_a_backend_request() -> None:
    call = parse(body(), request_id="req_abc")
    request = call.backend_request
    assert request.model == "sonnet"
    assert request.messages == [{"role": "user", "content": "Hi"}]
    assert request.system is None
    assert request.max_tokens is None
    assert request.request_id == "req_abc"
    assert request.metadata == {}
    assert call.stream is False
    assert call.requested_model == "sonnet"


def test_stream_flag_and_metadata_are_kept() -> None:
    call = parse(body(stream=True, metadata={"user_id": "u-1"}))
    assert call.stream is True
    assert call.backend_request.metadata == {"user_id": "u-1"}


def test_full_conversation_keeps_order_roles_and_blocks() -> None:
    messages = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": [{"type": "text", "text": "two"}]},
        {"role": "user", "content": [{"type": "text", "text": "three"}]},
    ]
    request = parse(body(messages=messages)).backend_request
    assert request.messages == messages


def test_extra_message_keys_are_dropped() -> None:
    messages = [{"role": "user", "content": "Hi", "name": "bob", "id": "x"}]
    request = parse(body(messages=messages)).backend_request
    assert request.messages == [{"role": "user", "content": "Hi"}]


def test_all_supported_block_types_are_accepted() -> None:
    blocks = [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}},
        {"type": "tool_result", "tool_use_id": "t1", "content": "42"},
    ]
    assistant = [
        {"type": "thinking", "thinking": "hm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "xx"},
        {"type": "tool_use", "id": "t1", "name": "calc", "input": {}},
    ]
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": blocks},
    ]
    request = parse(body(messages=messages)).backend_request
    assert request.messages[1]["content"] == assistant
    assert request.messages[2]["content"] == blocks


# --- cache_control ---------------------------------------------------------------


def test_cache_control_is_stripped_from_content_blocks() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "b"},
            ],
        }
    ]
    request = parse(body(messages=messages)).backend_request
    assert request.messages[0]["content"] == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
    ]


def test_stripping_cache_control_does_not_mutate_the_callers_body() -> None:
    block = {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}
    parse(body(messages=[{"role": "user", "content": [block]}]))
    assert "cache_control" in block


def test_cache_control_on_system_blocks_is_ignored() -> None:
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    assert parse(body(system=system)).backend_request.system == "Be brief."


# --- system -------------------------------------------------------------------------


def test_system_as_string() -> None:
    assert parse(body(system="You are terse.")).backend_request.system == "You are terse."


def test_system_as_text_blocks_is_joined_with_blank_lines() -> None:
    system = [{"type": "text", "text": "First."}, {"type": "text", "text": "Second."}]
    assert parse(body(system=system)).backend_request.system == "First.\n\nSecond."


@pytest.mark.parametrize("system", [None, "", []])
def test_empty_system_means_none(system: Any) -> None:
    assert parse(body(system=system)).backend_request.system is None


@pytest.mark.parametrize(
    ("system", "param"),
    [
        (42, "system"),
        ({"type": "text", "text": "x"}, "system"),
        (["plain string"], "system.0"),
        ([{"type": "text", "text": "ok"}, {"type": "image"}], "system.1"),
        ([{"type": "text", "text": 5}], "system.0.text"),
        ([{"type": "text"}], "system.0.text"),
    ],
)
def test_bad_system_names_the_field(system: Any, param: str) -> None:
    error = invalid(body(system=system))
    assert error.param == param
    assert error.message.startswith(f"{param}: ")


# --- messages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "param", "fragment"),
    [
        (None, "messages", "non-empty list"),
        ([], "messages", "non-empty list"),
        ("hello", "messages", "non-empty list"),
        (["hello"], "messages.0", "must be an object"),
        ([{"role": "system", "content": "x"}], "messages", "besides system messages"),
        ([{"role": "tool", "content": "x"}], "messages.0.role", "'tool'"),
        (
            [{"role": "user", "content": "q"}, {"role": "system", "content": 7}],
            "messages.1.content",
            "text blocks",
        ),
        ([{"content": "x"}], "messages.0.role", "None"),
        ([{"role": "user"}], "messages.0.content", "is required"),
        ([{"role": "user", "content": ""}], "messages.0.content", "must not be empty"),
        ([{"role": "user", "content": []}], "messages.0.content", "non-empty"),
        ([{"role": "user", "content": 7}], "messages.0.content", "non-empty"),
        ([{"role": "user", "content": None}], "messages.0.content", "non-empty"),
        ([{"role": "user", "content": ["text"]}], "messages.0.content.0", "must be an object"),
        (
            [{"role": "user", "content": [{"type": "text", "text": None}]}],
            "messages.0.content.0.text",
            "must be a string",
        ),
        (
            [{"role": "user", "content": [{"text": "no type"}]}],
            "messages.0.content.0.type",
            "None",
        ),
    ],
)
def test_bad_messages_name_the_field(messages: Any, param: str, fragment: str) -> None:
    error = invalid(body(messages=messages))
    assert error.param == param
    assert error.message.startswith(f"{param}: ")
    assert fragment in error.message
    assert error.status == 400
    assert error.kind == "invalid_request_error"


def test_unsupported_block_deep_in_the_conversation_names_its_full_path() -> None:
    messages = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "ok"}, {"type": "video", "url": "x"}],
        },
    ]
    error = invalid(body(messages=messages))
    assert error.param == "messages.2.content.1.type"
    assert "'video'" in error.message


def test_first_offending_block_is_reported() -> None:
    content = [{"type": "audio"}, {"type": "video"}]
    messages = [{"role": "user", "content": content}]
    assert invalid(body(messages=messages)).param == "messages.0.content.0.type"


def test_trailing_assistant_message_is_rejected_as_prefill() -> None:
    messages = [
        {"role": "user", "content": "Tell me a story"},
        {"role": "assistant", "content": "Once upon"},
    ]
    error = invalid(body(messages=messages))
    assert error.param == "messages.1.role"
    assert "prefill" in error.message
    assert "last message must come from the user" in error.message


def test_single_assistant_message_is_rejected() -> None:
    error = invalid(body(messages=[{"role": "assistant", "content": "hi"}]))
    assert error.param == "messages.0.role"


# --- max_tokens ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 1024, MAX_TOKENS_LIMIT])
def test_max_tokens_within_bounds_is_kept(value: int) -> None:
    assert parse(body(max_tokens=value)).backend_request.max_tokens == value


def test_max_tokens_limit_is_128k() -> None:
    assert MAX_TOKENS_LIMIT == 128_000


@pytest.mark.parametrize("value", [0, -1, MAX_TOKENS_LIMIT + 1, 10**9])
def test_max_tokens_out_of_bounds_is_rejected(value: int) -> None:
    error = invalid(body(max_tokens=value))
    assert error.param == "max_tokens"
    assert "between 1 and 128000" in error.message


@pytest.mark.parametrize("value", [True, False, 100.0, "100", [100]])
def test_max_tokens_must_be_a_real_integer(value: Any) -> None:
    error = invalid(body(max_tokens=value))
    assert error.param == "max_tokens"
    assert "must be an integer" in error.message


# --- other fields ------------------------------------------------------------------


def test_tools_and_tool_choice_reach_the_backend_request() -> None:
    tools = [{"name": "calc", "input_schema": {"type": "object"}}]
    request = parse(
        body(
            tools=tools,
            tool_choice={"type": "tool", "name": "calc", "disable_parallel_tool_use": True},
        )
    ).backend_request
    assert [tool.name for tool in request.tools] == ["calc"]
    assert request.tool_choice.kind == "tool" and request.tool_choice.name == "calc"
    assert request.parallel_tool_calls is False


def test_empty_tools_list_is_accepted() -> None:
    assert parse(body(tools=[])).backend_request.model == "sonnet"


@pytest.mark.parametrize("value", ["true", 1, None])
def test_stream_must_be_a_boolean(value: Any) -> None:
    error = invalid(body(stream=value))
    assert error.param == "stream"


@pytest.mark.parametrize("value", ["user-1", ["a"], 3])
def test_metadata_must_be_an_object(value: Any) -> None:
    assert invalid(body(metadata=value)).param == "metadata"


@pytest.mark.parametrize("value", ["", None, 3, ["sonnet"]])
def test_model_must_be_a_non_empty_string(value: Any) -> None:
    error = invalid(body(model=value))
    assert error.param == "model"


@pytest.mark.parametrize("payload", [None, [], "text", 3])
def test_body_must_be_an_object(payload: Any) -> None:
    error = invalid(payload)
    assert error.param is None
    assert "JSON object" in error.message


# --- models --------------------------------------------------------------------------


def test_default_model_is_used_when_model_is_missing() -> None:
    payload = {"messages": [{"role": "user", "content": "Hi"}]}
    call = parse(payload, default_model="opus")
    assert call.backend_request.model == "opus"
    assert call.requested_model == "opus"


def test_model_resolution_is_applied_but_the_requested_name_is_kept() -> None:
    call = parse(body(model="claude-3-5-sonnet-20241022"))
    assert call.backend_request.model == "claude-sonnet-5-5"
    assert call.requested_model == "claude-3-5-sonnet-20241022"


def test_default_model_is_resolved_too() -> None:
    payload = {"messages": [{"role": "user", "content": "Hi"}]}
    call = parse(payload, default_model="claude-sonnet-4-20250514")
    assert call.backend_request.model == "claude-sonnet-5-5"


def test_non_claude_model_is_not_found() -> None:
    with pytest.raises(NotFoundError) as info:
        parse(body(model="gpt-4o"))
    assert info.value.param == "model"


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        (None, None),
        ({"type": "disabled"}, None),
        ({"type": "adaptive"}, {"type": "adaptive"}),
        ({"type": "enabled", "budget_tokens": 2048}, {"type": "enabled", "budget_tokens": 2048}),
    ],
)
def test_thinking_is_passed_on_only_when_asked(thinking: Any, expected: Any) -> None:
    assert parse(body(max_tokens=4096, thinking=thinking)).backend_request.thinking == expected


@pytest.mark.parametrize(
    ("thinking", "param"),
    [
        ({"type": "sometimes"}, "thinking"),
        ({"type": "enabled"}, "thinking.budget_tokens"),
        ({"type": "enabled", "budget_tokens": 100}, "thinking.budget_tokens"),
        ({"type": "enabled", "budget_tokens": 5000}, "thinking.budget_tokens"),
    ],
)
def test_bad_thinking_is_refused(thinking: Any, param: str) -> None:
    assert invalid(body(max_tokens=4096, thinking=thinking)).param == param


@pytest.mark.parametrize(
    ("block", "param"),
    [
        (
            {"type": "tool_result", "tool_use_id": "t1", "content": None},
            "messages.0.content.0.content",
        ),
        (
            {"type": "tool_result", "tool_use_id": "t1", "content": ["x"]},
            "messages.0.content.0.content",
        ),
        ({"type": "tool_result", "content": "x"}, "messages.0.content.0.tool_use_id"),
    ],
)
def test_tool_results_are_checked(block: dict[str, Any], param: str) -> None:
    assert invalid(body(messages=[{"role": "user", "content": [block]}])).param == param


def test_system_messages_anywhere_join_the_system_prompt_in_order() -> None:
    request = parse(
        body(
            system=[{"type": "text", "text": "Caller.", "cache_control": {"type": "ephemeral"}}],
            messages=[
                {"role": "system", "content": "First."},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "r"},
                {
                    "role": "system",
                    "content": [
                        {"type": "text", "text": "Env.", "cache_control": {"type": "ephemeral"}}
                    ],
                },
            ],
        )
    ).backend_request
    assert request.system == "Caller.\n\nFirst.\n\nEnv."
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]


def test_a_prefill_behind_a_system_message_names_its_own_index() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "system", "content": "Env."},
    ]
    assert invalid(body(messages=messages)).param == "messages.1.role"


@pytest.mark.parametrize(
    ("output_config", "effort"),
    [(None, None), ({}, None), ({"effort": "medium"}, "medium"), ({"effort": "max"}, "max")],
)
def test_output_config_effort_is_passed_on(output_config: Any, effort: str | None) -> None:
    extra = {} if output_config is None else {"output_config": output_config}
    assert parse(body(**extra)).backend_request.effort == effort


@pytest.mark.parametrize("output_config", ["high", {"effort": "extreme"}])
def test_bad_output_config_names_the_field(output_config: Any) -> None:
    assert str(invalid(body(output_config=output_config)).param).startswith("output_config")


def test_structured_output_formats_are_asked_for_in_the_system_prompt() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    request = parse(
        body(
            system="Be exact.", output_config={"format": {"type": "json_schema", "schema": schema}}
        )
    ).backend_request
    assert request.system is not None and request.system.startswith("Be exact.\n\n")
    assert '"n": {"type": "integer"}' in request.system
    bad = invalid(body(output_config={"format": {"type": "xml"}}))
    assert bad.param == "output_config.format"
