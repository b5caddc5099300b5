"""The OpenAI-compatible API through the real SDK and CLI, seen from the official openai client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import (
    DEFAULT_TEXT,
    Failure,
    Text,
    ToolCalls,
    UpstreamSimulator,
)
from tests.api.test_errors import raw_request
from tests.api.test_tools import PNG, without_reminders

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def oai(proxy: ProxyServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="unused", max_retries=0)
    yield client
    client.close()


@pytest.mark.compat("OpenAI SDK (Python), chat completions", "plain")
def test_plain_completion_with_system_and_exact_usage(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "No lists."},
            *HI,
        ],
    )
    choice = completion.choices[0]
    assert choice.message.content == DEFAULT_TEXT
    assert choice.finish_reason == "stop"
    assert completion.object == "chat.completion" and completion.model == "gpt-4o"
    (call,) = sim.message_calls()
    assert call.body["model"] == "claude-sonnet-5-5"  # gpt-4o maps to the sonnet family
    system = " ".join(block["text"] for block in call.body["system"])
    assert "Be brief.\n\nNo lists." in system
    sent = call.reply_usage
    assert sent is not None
    usage = completion.usage
    assert usage is not None
    prompt = (
        sent["input_tokens"] + sent["cache_read_input_tokens"] + sent["cache_creation_input_tokens"]
    )
    assert usage.prompt_tokens == prompt
    assert usage.completion_tokens == sent["output_tokens"]
    assert usage.total_tokens == prompt + sent["output_tokens"]
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == sent["cache_read_input_tokens"]


@pytest.mark.compat("OpenAI SDK (Python), chat completions", "streamed")
def test_streaming_sends_role_first_then_content_then_finish_and_usage(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    sim.enqueue(Text("one two three", chunks=3))
    chunks = list(
        oai.chat.completions.create(
            model="claude-sonnet-4-6",
            messages=HI,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finishing] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == sim.message_calls()[0].reply_usage["output_tokens"]  # type: ignore[index]
    assert len({c.id for c in chunks}) == 1


@pytest.mark.compat("OpenAI SDK (Python), chat completions", "tools")
def test_function_calling_returns_tool_calls(oai: openai.OpenAI, sim: UpstreamSimulator) -> None:
    sim.enqueue(
        ToolCalls(calls=(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})))
    )
    completion = oai.chat.completions.create(model="gpt-4o", messages=HI, tools=[WEATHER])  # type: ignore[list-item]
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [  # type: ignore[union-attr]
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    upstream_tools = sim.message_calls()[0].body["tools"]
    assert upstream_tools[0]["name"] == "get_weather"
    assert upstream_tools[0]["input_schema"] == WEATHER["function"]["parameters"]  # type: ignore[index]


@pytest.mark.compat("OpenAI SDK (Python), chat completions", "tools", "streamed")
def test_streamed_tool_calls_come_as_indexed_deltas(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    sim.enqueue(
        ToolCalls(calls=(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})))
    )
    stream = oai.chat.completions.create(model="gpt-4o", messages=HI, tools=[WEATHER], stream=True)  # type: ignore[list-item]
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        delta = chunk.choices[0].delta
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            if call.id:
                assert not entry["id"], "id and name come once, in the first delta"
                entry["id"], entry["name"] = call.id, call.function.name  # type: ignore[union-attr,assignment]
            entry["arguments"] += (call.function.arguments or "") if call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert [json.loads(calls[i]["arguments"]) for i in sorted(calls)] == [
        {"city": "Paris"},
        {"city": "Rome"},
    ]
    assert all(entry["name"] == "get_weather" and entry["id"] for entry in calls.values())


@pytest.mark.compat("OpenAI SDK (Python), chat completions", "tools")
def test_tool_messages_round_trip_as_structured_history(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    history: list[Any] = [
        *HI,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
    ]
    oai.chat.completions.create(model="gpt-4o", messages=history, tools=[WEATHER])  # type: ignore[list-item]
    upstream = sim.message_calls()[0].non_system_messages()
    assert [m["role"] for m in upstream] == ["user", "assistant", "user"]
    assert [b["id"] for b in upstream[1]["content"]] == ["call_1", "call_2"]
    assert upstream[1]["content"][0]["input"] == {"city": "Paris"}
    results = [b for b in upstream[2]["content"] if b["type"] == "tool_result"]
    assert [(r["tool_use_id"], json.dumps(r["content"])) for r in results][0][0] == "call_1"
    assert "rain" in json.dumps(results[1]["content"])


@pytest.mark.compat("OpenAI SDK (Python), chat completions", "images")
def test_images_as_data_urls_and_links_reach_upstream(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    png = PNG
    content = [
        {"type": "text", "text": "Compare."},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])  # type: ignore[misc,list-item]
    sent = without_reminders(sim.message_calls()[0].non_system_messages()[-1]["content"])
    assert sent == [
        {"type": "text", "text": "Compare."},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_the_seeds_base_url_works_too(proxy: ProxyServer, sim: UpstreamSimulator) -> None:
    with openai.OpenAI(
        base_url=proxy.base_url + "/v1/chat", api_key="unused", max_retries=0
    ) as client:
        assert (
            client.chat.completions.create(model="sonnet", messages=HI).choices[0].message.content
            == DEFAULT_TEXT
        )  # type: ignore[arg-type]
        ids = [model.id for model in client.models.list().data]
    assert "claude-sonnet-5-5" in ids and "sonnet" in ids


def test_models_answer_in_the_callers_format(oai: openai.OpenAI, proxy: ProxyServer) -> None:
    page = oai.models.list()
    assert page.data[0].object == "model" and page.data[0].owned_by == "anthropic"
    _, _, anthropic_style = raw_request(
        proxy.base_url, "GET", "/v1/models", headers={"anthropic-version": "2023-06-01"}
    )
    assert anthropic_style["data"][0]["type"] == "model" and "has_more" in anthropic_style


def test_json_response_format_is_asked_for_in_the_system_prompt(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    oai.chat.completions.create(
        model="gpt-4o",
        messages=HI,
        response_format={"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}},
    )
    system = " ".join(block["text"] for block in sim.message_calls()[0].body["system"])
    assert json.dumps(schema) in system


@pytest.mark.parametrize(
    ("kwargs", "status", "param"),
    [
        ({"n": 2}, 400, "n"),
        ({"model": "not-a-model"}, 404, "model"),
        ({"messages": [{"role": "assistant", "content": "prefill"}]}, 400, "messages"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            400,
            "messages.0.content.0.type",
        ),
    ],
)
def test_bad_requests_get_openai_errors(
    oai: openai.OpenAI, sim: UpstreamSimulator, kwargs: dict[str, Any], status: int, param: str
) -> None:
    arguments: dict[str, Any] = {"model": "gpt-4o", "messages": HI, **kwargs}
    with pytest.raises(openai.APIStatusError) as caught:
        oai.chat.completions.create(**arguments)
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and body["param"] == param and body["message"]
    assert sim.message_calls() == []


def test_upstream_limits_arrive_as_openai_rate_limit_errors(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    sim.set_default(Failure(429, "rate_limit_error", "slow down"))
    with pytest.raises(openai.RateLimitError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=HI)
    assert caught.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert int(caught.value.response.headers["retry-after"]) > 0


def test_unsupported_sampling_parameters_are_accepted_and_ignored(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o",
        messages=HI,
        temperature=0.2,
        top_p=0.9,
        stop=["END"],
        seed=7,
        max_completion_tokens=99,
    )
    assert completion.choices[0].message.content == DEFAULT_TEXT
    assert sim.message_calls()[0].body["max_tokens"] == 99


def test_an_openai_conversation_continues_in_the_same_cli(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    from tests.api.test_conversations import single_cli_pid

    sim.enqueue(ToolCalls(calls=(("get_weather", {"city": "Paris"}),)), Text("Sunny."))
    history: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = oai.chat.completions.create(model="gpt-4o", messages=history, tools=[WEATHER])  # type: ignore[list-item]
    pid = single_cli_pid()
    message = first.choices[0].message
    history += [
        message.model_dump(exclude_none=True),
        {
            "role": "tool",
            "tool_call_id": message.tool_calls[0].id,
            "content": "sunny",  # type: ignore[index]
        },
    ]
    second = oai.chat.completions.create(model="gpt-4o", messages=history, tools=[WEATHER])  # type: ignore[list-item]
    assert second.choices[0].message.content == "Sunny."
    assert single_cli_pid() == pid
