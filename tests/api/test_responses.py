"""The Responses API through the real SDK and CLI, seen from the official openai client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import (
    DEFAULT_TEXT,
    BreakMidStream,
    Failure,
    Text,
    ToolCalls,
    UpstreamSimulator,
)
from tests.api.test_conversations import single_cli_pid
from tests.api.test_errors import raw_request
from tests.api.test_tools import PNG, without_reminders
from tests.conftest import ProxyFactory

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def oai(proxy: ProxyServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="unused", max_retries=0)
    yield client
    client.close()


def upstream_text(sim: UpstreamSimulator, call: int = 0) -> list[str]:
    last = sim.message_calls()[call].non_system_messages()[-1]["content"]
    return [block["text"] for block in without_reminders(last) if block["type"] == "text"]


@pytest.mark.compat("OpenAI SDK (Python), Responses API", "plain")
def test_plain_response_with_instructions_and_exact_usage(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    response = oai.responses.create(
        model="gpt-4o", instructions="Be brief.", input="hi", metadata={"run": "7"}
    )

    assert response.output_text == DEFAULT_TEXT
    assert response.status == "completed" and response.object == "response"
    assert response.id.startswith("resp_") and response.model == "gpt-4o"
    assert response.instructions == "Be brief." and response.metadata == {"run": "7"}
    (message,) = response.output
    assert message.type == "message" and message.role == "assistant"
    (call,) = sim.message_calls()
    assert call.body["model"] == "claude-sonnet-5-5"
    assert "Be brief." in " ".join(block["text"] for block in call.body["system"])
    sent = call.reply_usage
    assert sent is not None and response.usage is not None
    prompt = (
        sent["input_tokens"] + sent["cache_read_input_tokens"] + sent["cache_creation_input_tokens"]
    )
    assert response.usage.input_tokens == prompt
    assert response.usage.input_tokens_details.cached_tokens == sent["cache_read_input_tokens"]
    assert response.usage.output_tokens == sent["output_tokens"]
    assert response.usage.total_tokens == prompt + sent["output_tokens"]


@pytest.mark.compat("OpenAI SDK (Python), Responses API", "streamed")
def test_streamed_events_come_in_order_with_rising_sequence_numbers(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    sim.enqueue(Text("one two three", chunks=3))
    with oai.responses.stream(model="gpt-4o", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()

    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert "".join(deltas) == "one two three" and len(deltas) >= 2
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    numbers = [event.sequence_number for event in events]
    assert numbers == list(range(len(events)))
    assert final.output_text == "one two three" and final.usage is not None
    assert final.usage.output_tokens == sim.message_calls()[0].reply_usage["output_tokens"]  # type: ignore[index]


def test_raw_stream_events_carry_their_own_type_and_no_done_marker(
    proxy: ProxyServer, sim: UpstreamSimulator
) -> None:
    import urllib.request

    body = json.dumps({"model": "sonnet", "input": "hi", "stream": True}).encode()
    request = urllib.request.Request(
        proxy.base_url + "/v1/responses", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read().decode()
    frames = [frame for frame in text.split("\n\n") if frame.strip()]
    for frame in frames:
        event_line, data_line = frame.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}"
    assert "[DONE]" not in text
    assert json.loads(frames[-1].split("data: ")[1])["type"] == "response.completed"


@pytest.mark.compat("OpenAI SDK (Python), Responses API", "tools")
def test_function_call_round_trip(oai: openai.OpenAI, sim: UpstreamSimulator) -> None:
    sim.enqueue(
        ToolCalls(
            calls=(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})),
            text="Checking.",
        ),
        Text("Paris is sunny, Rome is wet."),
    )
    first = oai.responses.create(model="gpt-4o", input="Weather?", tools=[WEATHER])  # type: ignore[list-item]

    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    assert all(c.call_id and c.id and c.id != c.call_id for c in calls)
    assert first.output[0].type == "message" and first.output_text == "Checking."
    upstream_tools = sim.message_calls()[0].body["tools"]
    assert [t["name"] for t in upstream_tools] == ["get_weather"]
    assert upstream_tools[0]["input_schema"] == WEATHER["parameters"]

    pid = single_cli_pid()
    outputs = [
        {"type": "function_call_output", "call_id": c.call_id, "output": out}
        for c, out in zip(calls, ["sunny", "rain"], strict=True)
    ]
    second = oai.responses.create(
        model="gpt-4o",
        input=[{"role": "user", "content": "Weather?"}, *first.output, *outputs],  # type: ignore[list-item]
        tools=[WEATHER],  # type: ignore[list-item]
    )

    assert second.output_text == "Paris is sunny, Rome is wet."
    assert single_cli_pid() == pid, "the whole input sent again must continue the kept CLI"
    upstream = sim.message_calls()[1].non_system_messages()
    assert [m["role"] for m in upstream] == ["user", "assistant", "user"]
    results = [b for b in upstream[2]["content"] if b["type"] == "tool_result"]
    assert [r["tool_use_id"] for r in results] == [c.call_id for c in calls]
    assert "rain" in json.dumps(results[1]["content"])


@pytest.mark.compat("OpenAI SDK (Python), Responses API", "tools", "streamed")
def test_streamed_function_call_arguments(oai: openai.OpenAI, sim: UpstreamSimulator) -> None:
    sim.enqueue(ToolCalls(calls=(("get_weather", {"city": "Paris"}),)))
    with oai.responses.stream(model="gpt-4o", input="Weather?", tools=[WEATHER]) as stream:  # type: ignore[list-item]
        events = list(stream)
        final = stream.get_final_response()

    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" in kinds
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(done.arguments) == {"city": "Paris"}
    (call,) = final.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}


def test_previous_response_id_continues_the_kept_conversation(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    sim.enqueue(Text("Hi Ada."), Text("Your name is Ada."))
    first = oai.responses.create(model="gpt-4o", instructions="Be kind.", input="My name is Ada.")
    pid = single_cli_pid()

    second = oai.responses.create(
        model="gpt-4o",
        instructions="Be kind.",
        input="What is my name?",
        previous_response_id=first.id,
    )

    assert second.output_text == "Your name is Ada."
    assert second.previous_response_id == first.id
    assert single_cli_pid() == pid
    upstream = sim.message_calls()[1].non_system_messages()
    assert [m["role"] for m in upstream] == ["user", "assistant", "user"]
    assert upstream[1]["content"] == [{"type": "text", "text": "Hi Ada."}]
    assert upstream_text(sim, 1) == ["What is my name?"]
    assert oai.responses.retrieve(second.id).output_text == "Your name is Ada."


def test_unknown_previous_response_is_a_clear_400(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.responses.create(model="gpt-4o", input="hi", previous_response_id="resp_gone")
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == "previous_response_not_found" and body["param"] == "previous_response_id"
    assert sim.message_calls() == []


def test_store_false_keeps_nothing_and_delete_forgets(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    unstored = oai.responses.create(model="gpt-4o", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        oai.responses.retrieve(unstored.id)
    with pytest.raises(openai.BadRequestError):
        oai.responses.create(model="gpt-4o", input="more", previous_response_id=unstored.id)

    stored = oai.responses.create(model="gpt-4o", input="hi")
    assert oai.responses.retrieve(stored.id).id == stored.id
    oai.responses.delete(stored.id)
    with pytest.raises(openai.NotFoundError) as caught:
        oai.responses.retrieve(stored.id)
    assert isinstance(caught.value.body, dict) and caught.value.body["type"]


def test_max_output_tokens_makes_an_incomplete_response(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    sim.enqueue(Text("cut", stop_reason="max_tokens"))
    response = oai.responses.create(model="gpt-4o", input="hi", max_output_tokens=50)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert sim.message_calls()[0].body["max_tokens"] == 50


def test_hosted_tools_are_left_out_and_the_request_runs(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    response = oai.responses.create(
        model="gpt-4o",
        input="hi",
        tools=[
            {"type": "web_search"},
            {"type": "file_search", "vector_store_ids": ["vs_1"]},
            WEATHER,
        ],  # type: ignore[list-item]
    )
    assert response.output_text == DEFAULT_TEXT
    assert [t["name"] for t in sim.message_calls()[0].body["tools"]] == ["get_weather"]


@pytest.mark.compat("OpenAI SDK (Python), Responses API", "images")
def test_input_items_images_files_and_developer_messages_reach_upstream(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    pdf = "JVBERi0xLjQK"
    oai.responses.create(
        model="gpt-4o",
        input=[
            {"role": "developer", "content": "Answer in French."},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Compare."},
                    {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                    {"type": "input_image", "image_url": "https://example.com/cat.jpg"},
                    {"type": "input_file", "filename": "a.pdf", "file_data": pdf},
                ],
            },
        ],  # type: ignore[list-item]
    )
    call = sim.message_calls()[0]
    assert "Answer in French." in " ".join(block["text"] for block in call.body["system"])
    sent = without_reminders(call.non_system_messages()[-1]["content"])
    assert sent[0] == {"type": "text", "text": "Compare."}
    assert sent[1]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert sent[2]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}
    assert sent[3]["type"] == "document"
    assert sent[3]["source"] == {"type": "base64", "media_type": "application/pdf", "data": pdf}


@pytest.mark.parametrize(
    ("model", "thinking", "output_config"),
    [
        # A model that takes an effort gets it; one that takes a budget gets the matching one.
        ("gpt-4o", {"type": "adaptive"}, {"effort": "high"}),
        ("claude-haiku-4-5", {"type": "enabled", "budget_tokens": 16384}, None),
    ],
)
def test_reasoning_effort_turns_on_thinking_and_shows_it_as_a_reasoning_item(
    oai: openai.OpenAI,
    sim: UpstreamSimulator,
    model: str,
    thinking: dict[str, Any],
    output_config: dict[str, Any] | None,
) -> None:
    sim.enqueue(Text("42", thinking="Six times seven."))
    response = oai.responses.create(
        model=model, input="6*7?", reasoning={"effort": "high", "summary": "auto"}
    )
    body = sim.message_calls()[0].body
    assert body["thinking"] == thinking
    assert body.get("output_config") == output_config
    reasoning, message = response.output
    assert reasoning.type == "reasoning"
    assert [part.text for part in reasoning.summary] == ["Six times seven."]
    assert message.type == "message" and response.output_text == "42"


def test_reasoning_without_thinking_still_gets_an_empty_reasoning_item(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    # Codex waits for a reasoning item whenever it set `reasoning`.
    reasoning = {"summary": "auto"}
    with oai.responses.stream(model="claude-haiku-4-5", input="hi", reasoning=reasoning) as stream:
        events = list(stream)
        final = stream.get_final_response()
    added = [e.item.type for e in events if e.type == "response.output_item.added"]
    assert added == ["reasoning", "message"]
    assert final.output[0].type == "reasoning" and final.output[0].summary == []
    assert sim.message_calls()[0].body["thinking"] == {"type": "disabled"}


@pytest.mark.parametrize(
    ("kwargs", "status", "param"),
    [
        ({"model": "not-a-model"}, 404, "model"),
        ({"input": [{"role": "assistant", "content": "prefill"}]}, 400, "input"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            400,
            "input.0.content.0.type",
        ),
        ({"input": [{"type": "item_reference", "id": "msg_1"}, "x"]}, 400, "input.0.type"),
        ({"max_output_tokens": 0}, 400, "max_output_tokens"),
        ({"reasoning": {"effort": "extreme"}}, 400, "reasoning.effort"),
        ({"tool_choice": {"type": "function", "name": "nope"}}, 400, "tool_choice.name"),
    ],
)
def test_bad_requests_get_openai_errors(
    oai: openai.OpenAI, sim: UpstreamSimulator, kwargs: dict[str, Any], status: int, param: str
) -> None:
    arguments: dict[str, Any] = {"model": "gpt-4o", "input": "hi", **kwargs}
    with pytest.raises(openai.APIStatusError) as caught:
        oai.responses.create(**arguments)
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and body["message"]
    assert body["param"] == param
    assert sim.message_calls() == []


def test_unknown_responses_paths_answer_in_openai_shape(proxy: ProxyServer) -> None:
    for method, path in [("GET", "/v1/responses/resp_x/input_items"), ("PUT", "/v1/responses")]:
        status, _, body = raw_request(proxy.base_url, method, path, b"{}")
        assert status in (404, 405)
        assert set(body) == {"error"} and {"message", "type", "code"} <= set(body["error"])


def test_upstream_limits_arrive_as_openai_rate_limit_errors(
    oai: openai.OpenAI, sim: UpstreamSimulator
) -> None:
    sim.set_default(Failure(429, "rate_limit_error", "slow down"))
    with pytest.raises(openai.RateLimitError) as caught:
        oai.responses.create(model="gpt-4o", input="hi")
    assert caught.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert int(caught.value.response.headers["retry-after"]) > 0


def test_a_failure_after_the_stream_began_is_an_error_then_response_failed(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(stream_commit_wait_s=0)
    sim.enqueue(BreakMidStream(text="partial"))
    with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="x", max_retries=0) as client:
        events = list(client.responses.create(model="gpt-4o", input="hi", stream=True))
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created"
    assert kinds[-2:] == ["error", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed" and failed.response.error is not None


def test_custom_and_namespaced_tools_round_trip(oai: openai.OpenAI, sim: UpstreamSimulator) -> None:
    patch = {
        "type": "custom",
        "name": "apply_patch",
        "description": "Edit files with a patch.",
        "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch"'},
    }
    group = {"type": "namespace", "name": "crm", "description": "Customers.", "tools": [WEATHER]}
    sim.enqueue(
        ToolCalls(
            calls=(
                ("apply_patch", {"input": "*** Begin Patch\n*** End Patch"}),
                ("crm__get_weather", {"city": "Oslo"}),
            )
        ),
        Text("Both done."),
    )
    tools: Any = [patch, group]
    first = oai.responses.create(model="gpt-4o", input="Patch and look up.", tools=tools)

    pid = single_cli_pid()
    custom, namespaced = first.output
    assert custom.type == "custom_tool_call" and custom.name == "apply_patch"
    assert custom.input == "*** Begin Patch\n*** End Patch"
    assert namespaced.type == "function_call" and namespaced.name == "get_weather"
    assert namespaced.namespace == "crm"  # type: ignore[union-attr]
    offered = {tool["name"]: tool for tool in sim.message_calls()[0].body["tools"]}
    assert set(offered) == {"apply_patch", "crm__get_weather"}
    assert "lark grammar" in offered["apply_patch"]["description"]

    second = oai.responses.create(
        model="gpt-4o",
        input=[
            {"role": "user", "content": "Patch and look up."},
            *first.output,
            {"type": "custom_tool_call_output", "call_id": custom.call_id, "output": "patched"},
            {"type": "function_call_output", "call_id": namespaced.call_id, "output": "cold"},
        ],  # type: ignore[list-item]
        tools=tools,
    )
    assert second.output_text == "Both done."
    results = [
        block
        for message in sim.message_calls()[1].non_system_messages()
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in results] == [custom.call_id, namespaced.call_id]
    assert single_cli_pid() == pid
