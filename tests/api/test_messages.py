"""/v1/messages through the real SDK and CLI, seen from the official anthropic client."""

from __future__ import annotations

import http.client
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anthropic
import pytest

from proxy_core.testing.upstream_simulator import DEFAULT_TEXT, Text, UpstreamSimulator
from tests.conftest import ProxyFactory, anthropic_client

MODEL = "claude-sonnet-4-6"
HI_MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]


@pytest.mark.compat("Anthropic SDK (Python)", "plain")
def test_plain_message_returns_upstream_text_and_exact_usage(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
    )

    assert message.content[0].type == "text"
    assert message.content[0].text == DEFAULT_TEXT
    assert message.stop_reason == "end_turn"
    assert message.role == "assistant"
    (call,) = sim.message_calls()
    sent = call.reply_usage
    assert sent is not None
    assert message.usage.input_tokens == sent["input_tokens"]
    assert message.usage.output_tokens == sent["output_tokens"]
    assert message.usage.cache_read_input_tokens == sent["cache_read_input_tokens"]
    assert message.usage.cache_creation_input_tokens == sent["cache_creation_input_tokens"]


@pytest.mark.compat("Anthropic SDK (Python)", "streamed")
def test_streaming_yields_the_anthropic_event_sequence(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    sim.enqueue(Text("one two three", chunks=3))
    with client.messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Count"}]
    ) as stream:
        kinds = [event.type for event in stream if event.type != "text"]
        final = stream.get_final_message()

    assert kinds[0] == "message_start"
    assert kinds[1] == "content_block_start"
    assert kinds.count("content_block_delta") == 3
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert final.content[0].type == "text" and final.content[0].text == "one two three"
    sent = sim.message_calls()[0].reply_usage
    assert sent is not None
    assert final.usage.input_tokens == sent["input_tokens"]
    assert final.usage.output_tokens == sent["output_tokens"]
    assert final.usage.cache_read_input_tokens == sent["cache_read_input_tokens"]


def test_system_prompt_and_history_reach_upstream_as_structured_turns(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    history = [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": [{"type": "text", "text": "I like tea."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Tea is great."}]},
        {"role": "user", "content": "What is my name?"},
    ]
    client.messages.create(
        model=MODEL,
        max_tokens=321,
        system=[{"type": "text", "text": "You are a terse assistant."}],
        messages=history,  # type: ignore[arg-type]
    )

    (call,) = sim.message_calls()
    system_texts = [block["text"] for block in call.body["system"]]
    assert "You are a terse assistant." in system_texts
    upstream = call.non_system_messages()
    assert [m["role"] for m in upstream] == ["user", "assistant", "user", "assistant", "user"]
    assert upstream[0]["content"] in (
        "My name is Ada.",
        [{"type": "text", "text": "My name is Ada."}],
    )
    assert upstream[1]["content"] == [{"type": "text", "text": "Nice to meet you, Ada."}]
    assert upstream[2]["content"] == [{"type": "text", "text": "I like tea."}]
    assert upstream[3]["content"] == [{"type": "text", "text": "Tea is great."}]
    last_texts = [block["text"] for block in upstream[4]["content"] if block["type"] == "text"]
    assert last_texts[-1] == "What is my name?"
    assert call.body["max_tokens"] == 321


def test_caller_text_is_never_interpreted_by_the_cli(
    client: anthropic.Anthropic, sim: UpstreamSimulator, tmp_path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    prompt = f"summarize @{secret} and /clear"
    client.messages.create(
        model=MODEL, max_tokens=16, messages=[{"role": "user", "content": prompt}]
    )

    (call,) = sim.message_calls()
    body = json.dumps(call.body)
    assert "TOP-SECRET-CONTENT" not in body
    last = call.non_system_messages()[-1]["content"]
    assert [block["text"] for block in last if block["type"] == "text"][-1] == prompt


def test_model_names_are_mapped_before_the_cli_sees_them(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    for requested, expected in [
        ("opus", "claude-opus-5-5"),
        ("claude-3-5-sonnet-20241022", "claude-sonnet-5-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001"),
    ]:
        sim.reset()
        message = client.messages.create(
            model=requested, max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
        assert sim.message_calls()[0].body["model"] == expected
        assert message.model == expected


def test_routes_also_answer_without_the_v1_prefix(proxy, sim: UpstreamSimulator) -> None:
    bare = anthropic_client(proxy.base_url, api_key="x", max_retries=0)
    raw = bare.post(
        "/messages",
        body={"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
        cast_to=object,
    )
    assert isinstance(raw, dict) and raw["content"][0]["text"] == DEFAULT_TEXT


def _sse_events(base_url: str, body: dict[str, object]) -> list[tuple[str, dict[str, object]]]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request(
        "POST", "/v1/messages", json.dumps(body), {"content-type": "application/json"}
    )
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")
    events = []
    for block in response.read().decode().split("\n\n"):
        if block.strip():
            name, data = block.split("\n", 1)
            events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    connection.close()
    return events


def test_slow_upstream_gets_message_start_at_once_then_pings(
    make_proxy, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(stream_commit_wait_s=0.0, ping_interval_s=0.2)
    sim.enqueue(Text("late but whole", first_byte_delay=1.5))
    body = {
        "model": MODEL,
        "max_tokens": 16,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    events = _sse_events(proxy.base_url, body)

    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert names.count("message_start") == 1
    assert "ping" in names[: names.index("content_block_start")]
    assert names[-1] == "message_stop"
    for name, data in events:
        assert data["type"] == name
    delta = next(data for name, data in events if name == "message_delta")
    sent = sim.message_calls()[0].reply_usage
    assert sent is not None
    assert delta["usage"]["input_tokens"] == sent["input_tokens"]  # type: ignore[index]
    assert delta["usage"]["cache_read_input_tokens"] == sent["cache_read_input_tokens"]  # type: ignore[index]

    client = anthropic_client(proxy.base_url, api_key="x", max_retries=0)
    sim.enqueue(Text("late but whole", first_byte_delay=1.0))
    with client.messages.stream(
        model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "late but whole"
    assert final.usage.input_tokens == sim.message_calls()[-1].reply_usage["input_tokens"]  # type: ignore[index]


def test_pings_keep_a_silent_stream_alive(make_proxy, sim: UpstreamSimulator) -> None:
    proxy = make_proxy(ping_interval_s=0.2)
    sim.enqueue(Text("a b", chunks=2, delay_between_chunks=1.0))
    body = {
        "model": MODEL,
        "max_tokens": 16,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    names = [name for name, _ in _sse_events(proxy.base_url, body)]

    first_delta = names.index("content_block_delta")
    second_delta = names.index("content_block_delta", first_delta + 1)
    assert names[first_delta:second_delta].count("ping") >= 3


@pytest.mark.parametrize("stop_reason", ["max_tokens", "refusal"])
def test_single_use_mode_costs_exactly_one_upstream_call_per_request(
    make_proxy, sim: UpstreamSimulator, stop_reason: str
) -> None:
    # Claude Code would otherwise ask the model to "resume" on its own, spending quota.
    proxy = make_proxy(conversations=0)
    client = anthropic_client(proxy.base_url, api_key="x", max_retries=0)
    for _ in range(3):
        sim.reset()
        sim.enqueue(Text("cut off here", stop_reason=stop_reason))
        message = client.messages.create(
            model=MODEL, max_tokens=4, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.stop_reason == stop_reason
        assert message.content[0].type == "text" and message.content[0].text == "cut off here"
        time.sleep(0.3)  # a follow-up call, if any, would arrive by now
        assert len(sim.message_calls()) == 1


@pytest.mark.parametrize("stop_reason", ["max_tokens", "refusal"])
def test_a_follow_up_the_cli_starts_on_its_own_is_cut_off(
    client: anthropic.Anthropic, sim: UpstreamSimulator, stop_reason: str
) -> None:
    for _ in range(2):
        sim.reset()
        slow_follow_up = Text("resumed " * 20, chunks=20, delay_between_chunks=0.05)
        sim.enqueue(Text("cut off here", stop_reason=stop_reason), slow_follow_up)
        message = client.messages.create(
            model=MODEL, max_tokens=4, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.stop_reason == stop_reason
        assert message.content[0].type == "text" and message.content[0].text == "cut off here"
        time.sleep(1.2)  # long enough for a follow-up to finish, had it not been cut
        assert len(sim.message_calls()) <= 2
        assert sim.completed_streams == 1


def test_no_transcript_is_written_for_a_request(
    client: anthropic.Anthropic, proxy, sim: UpstreamSimulator
) -> None:
    projects = Path.home() / ".claude" / "projects"
    before = set(projects.rglob("*.jsonl")) if projects.exists() else set()
    client.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    after = set(projects.rglob("*.jsonl")) if projects.exists() else set()
    assert after == before
    assert list(proxy.settings.work_dir.iterdir()) == [], (
        "the CLI's working directory must stay empty"
    )


def test_thinking_is_off_unless_asked_for(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    # Claude Code enables thinking by default (a 1024-token budget even for max_tokens=8,
    # which the real API refuses); the API thinks only when asked.
    client.messages.create(
        model="claude-haiku-4-5-20251001",
        max_tokens=8,
        messages=[{"role": "user", "content": "hi"}],
    )
    assert sim.message_calls()[0].body["thinking"] == {"type": "disabled"}

    sim.reset()
    client.messages.create(
        model="claude-haiku-4-5-20251001",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "hi"}],
    )
    assert sim.message_calls()[0].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_thinking_blocks_reach_only_callers_that_asked(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    # Models such as opus always think, whatever Claude Code is told.
    sim.enqueue(Text("answer", thinking="pondering"))
    with client.messages.stream(
        model="opus", max_tokens=64, messages=[{"role": "user", "content": "q"}]
    ) as stream:
        plain = stream.get_final_message()
    assert [block.type for block in plain.content] == ["text"]
    assert plain.content[0].text == "answer"  # type: ignore[union-attr]

    sim.enqueue(Text("answer", thinking="pondering"))
    asked = client.messages.create(
        model="opus",
        max_tokens=64,
        thinking={"type": "adaptive"},
        messages=[{"role": "user", "content": "q"}],  # type: ignore[typeddict-item]
    )
    assert [block.type for block in asked.content] == ["thinking", "text"]
    assert asked.content[0].thinking == "pondering"  # type: ignore[union-attr]
    assert asked.content[0].signature == "sig"  # type: ignore[union-attr]


def test_one_access_line_per_request_with_tokens_and_no_content(
    client: anthropic.Anthropic, sim: UpstreamSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="proxy_core.access")
    client.messages.create(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "SECRET-PROMPT-TEXT"}]
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "proxy_core.access"]
    (line,) = [line for line in lines if "/v1/messages" in line]
    sent = sim.message_calls()[0].reply_usage
    assert sent is not None
    assert f"model={MODEL}" in line and "stream=False" in line and " 200 " in line
    assert f"in={sent['input_tokens']}" in line and f"out={sent['output_tokens']}" in line
    assert "SECRET-PROMPT-TEXT" not in caplog.text
    assert "unused" not in line  # the client's key


def test_a_streamed_request_logs_its_real_counts_even_after_an_early_start(
    make_proxy: ProxyFactory, sim: UpstreamSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="proxy_core.access")
    client = anthropic_client(make_proxy(stream_commit_wait_s=0).base_url)
    with client.messages.stream(model=MODEL, max_tokens=8, messages=HI_MESSAGES) as stream:
        stream.get_final_message()
    # A stream's line is written when its handler returns, just after the client has it all.
    deadline = time.monotonic() + 5
    while not (
        lines := [r.getMessage() for r in caplog.records if "/v1/messages" in r.getMessage()]
    ):
        assert time.monotonic() < deadline, "no access line"
        time.sleep(0.02)
    (line,) = lines
    sent = sim.message_calls()[0].reply_usage
    assert sent is not None and sent["input_tokens"] > 0
    assert f"in={sent['input_tokens']}" in line
    assert f"cached={sent['cache_read_input_tokens']}" in line


def test_a_refused_request_logs_its_reason(
    client: anthropic.Anthropic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="proxy_core.access")
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=MODEL, max_tokens=8, messages=[])
    (line,) = [r.getMessage() for r in caplog.records if "/v1/messages" in r.getMessage()]
    assert " 400 " in line and "error=invalid_request_error" in line
    assert "reason='messages: must be a non-empty list'" in line
