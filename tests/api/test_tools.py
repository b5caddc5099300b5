"""Caller tools as native tools, and structured history, through the real SDK and CLI."""

from __future__ import annotations

import base64
import json
from typing import Any

import anthropic
import pytest

from proxy_core.testing.upstream_simulator import Text, ToolCalls, UpstreamSimulator

MODEL = "claude-sonnet-4-6"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather.\nUse <city> names & nothing else.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "enum": ["Paris", "Rome"]},
            "unit": {"type": "string", "default": "C"},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
}
CLOCK = {
    "name": "Bash",
    "description": "The caller's own tool named Bash.",
    "input_schema": {"type": "object"},
}
ASK = [{"role": "user", "content": "Weather in Paris and Rome?"}]


def without_reminders(content: Any) -> Any:
    """The CLI adds <system-reminder> context blocks to the last user message; drop them."""
    if not isinstance(content, list):
        return content
    kept = []
    for block in content:
        if block.get("type") == "text" and block["text"].startswith("<system-reminder>"):
            continue
        kept.append({key: value for key, value in block.items() if key != "cache_control"})
    return kept


@pytest.mark.compat("Anthropic SDK (Python)", "tools")
def test_caller_tools_reach_the_model_exactly_and_come_back_as_tool_use(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    sim.enqueue(ToolCalls(calls=(("get_weather", {"city": "Paris"}),)))
    message = client.messages.create(
        model=MODEL, max_tokens=256, tools=[WEATHER, CLOCK], messages=ASK
    )  # type: ignore[list-item]

    assert message.stop_reason == "tool_use"
    (block,) = message.content
    assert block.type == "tool_use"
    assert block.name == "get_weather" and block.input == {"city": "Paris"}
    (call,) = sim.message_calls()
    upstream_tools = {tool["name"]: tool for tool in call.body["tools"]}
    assert set(upstream_tools) == {"get_weather", "Bash"}
    assert upstream_tools["get_weather"]["input_schema"] == WEATHER["input_schema"]
    assert upstream_tools["get_weather"]["description"] == WEATHER["description"]
    assert upstream_tools["Bash"]["description"] == CLOCK["description"]
    assert block.id.startswith("toolu_sim_")


def test_parallel_tool_calls_all_come_back(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    sim.enqueue(
        ToolCalls(
            calls=(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})),
            text="Checking both.",
        )
    )
    message = client.messages.create(model=MODEL, max_tokens=256, tools=[WEATHER], messages=ASK)  # type: ignore[list-item]

    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use", "tool_use"]
    calls = [block for block in message.content if block.type == "tool_use"]
    assert [call.input for call in calls] == [{"city": "Paris"}, {"city": "Rome"}]
    assert calls[0].id != calls[1].id


@pytest.mark.compat("Anthropic SDK (Python)", "tools", "streamed")
def test_streamed_tool_calls_assemble_in_the_sdk_helper(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    sim.enqueue(
        ToolCalls(
            calls=(("get_weather", {"city": "Rome", "unit": "F"}), ("Bash", {"command": "date"}))
        )
    )
    with client.messages.stream(
        model=MODEL, max_tokens=256, tools=[WEATHER, CLOCK], messages=ASK
    ) as stream:  # type: ignore[list-item]
        kinds = [event.type for event in stream]
        final = stream.get_final_message()

    assert "input_json" in kinds
    assert final.stop_reason == "tool_use"
    assert [(b.name, b.input) for b in final.content if b.type == "tool_use"] == [
        ("get_weather", {"city": "Rome", "unit": "F"}),
        ("Bash", {"command": "date"}),
    ]


def test_disable_parallel_tool_use_returns_only_the_first_call(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    sim.enqueue(
        ToolCalls(calls=(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})))
    )
    message = client.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=[WEATHER],
        messages=ASK,  # type: ignore[list-item]
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert [b.input for b in message.content if b.type == "tool_use"] == [{"city": "Paris"}]
    system = " ".join(block["text"] for block in sim.message_calls()[0].body["system"])
    assert "at most one tool" in system


def test_tool_choice_none_offers_no_tools(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    client.messages.create(
        model=MODEL,
        max_tokens=64,
        tools=[WEATHER],
        messages=ASK,
        tool_choice={"type": "none"},  # type: ignore[list-item]
    )
    assert not sim.message_calls()[0].body.get("tools")


@pytest.mark.compat("Anthropic SDK (Python)", "tools")
def test_tool_result_round_trip_reaches_the_model_as_structured_history(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    sim.enqueue(
        ToolCalls(calls=(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})))
    )
    first = client.messages.create(model=MODEL, max_tokens=256, tools=[WEATHER], messages=ASK)  # type: ignore[list-item]
    calls = [block for block in first.content if block.type == "tool_use"]
    results = [
        {"type": "tool_result", "tool_use_id": calls[0].id, "content": "18 C, sunny"},
        {
            "type": "tool_result",
            "tool_use_id": calls[1].id,
            "is_error": True,
            "content": [{"type": "text", "text": "station offline"}],
        },
    ]
    history = [
        *ASK,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": results},
    ]
    sim.reset()
    sim.enqueue(Text("Paris is sunny; Rome is unknown."))
    second = client.messages.create(model=MODEL, max_tokens=256, tools=[WEATHER], messages=history)  # type: ignore[arg-type]

    assert second.content[0].type == "text" and "Paris" in second.content[0].text
    upstream = sim.message_calls()[0].non_system_messages()
    assert [m["role"] for m in upstream] == ["user", "assistant", "user"]
    assert without_reminders(upstream[1]["content"]) == [
        {"type": "tool_use", "id": calls[0].id, "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": calls[1].id, "name": "get_weather", "input": {"city": "Rome"}},
    ]
    sent_results = [b for b in upstream[2]["content"] if b["type"] == "tool_result"]
    assert [b["tool_use_id"] for b in sent_results] == [calls[0].id, calls[1].id]
    assert sent_results[1].get("is_error") is True
    assert "18 C, sunny" in json.dumps(sent_results[0]["content"])
    assert "station offline" in json.dumps(sent_results[1]["content"])


def test_a_fifty_message_tool_history_arrives_intact_and_in_order(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    history: list[dict[str, Any]] = [{"role": "user", "content": "Run the checks."}]
    for step in range(24):
        tool_id = f"toolu_hist_{step:03d}"
        history.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": f"Step {step}."},
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": "get_weather",
                        "input": {"city": "Paris" if step % 2 else "Rome"},
                    },
                ],
            }
        )
        history.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_id,
                        "content": f"result {step} " + "x" * 200,
                    }
                ],
            }
        )
    history.append({"role": "assistant", "content": "All checks ran."})
    history.append({"role": "user", "content": "Summarize."})
    assert len(history) == 51

    client.messages.create(model=MODEL, max_tokens=64, tools=[WEATHER], messages=history)  # type: ignore[arg-type]

    upstream = sim.message_calls()[0].non_system_messages()
    assert len(upstream) == len(history)
    for sent, original in zip(upstream[:-1], history[:-1], strict=True):
        assert sent["role"] == original["role"]
        expected = original["content"]
        if isinstance(expected, str):
            expected = [{"type": "text", "text": expected}]
        assert without_reminders(sent["content"]) in (expected, original["content"])
    last_texts = [b["text"] for b in without_reminders(upstream[-1]["content"])]
    assert last_texts == ["Summarize."]


PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d4944415478da63f8cfc0f01f0005000201a5f0b0f80000000049454e44ae426082"
    )
).decode()


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {
            "type": "document",
            "source": {
                "type": "base64",
                "media_type": "application/pdf",
                "data": base64.b64encode(b"%PDF-1.4\n%%EOF").decode(),
            },
        },
    ],
    ids=["base64-image", "url-image", "pdf"],
)
@pytest.mark.compat("Anthropic SDK (Python)", "images")
def test_images_and_documents_reach_upstream_unchanged(
    client: anthropic.Anthropic, sim: UpstreamSimulator, block: dict[str, Any]
) -> None:
    content = [block, {"type": "text", "text": "What is this?"}]
    client.messages.create(
        model=MODEL, max_tokens=16, messages=[{"role": "user", "content": content}]
    )  # type: ignore[list-item]
    sent = without_reminders(sim.message_calls()[0].non_system_messages()[-1]["content"])
    assert sent == content


def test_server_tools_are_refused_by_name(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model=MODEL,
            max_tokens=16,
            messages=ASK,
            tools=[{"type": "web_search_20250305", "name": "web_search"}],  # type: ignore[list-item]
        )
    assert "tools.0.type" in caught.value.message
    assert sim.message_calls() == []
