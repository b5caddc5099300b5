"""Conversations that continue: the next turn reuses the CLI that holds the conversation."""

from __future__ import annotations

import threading
import time
from typing import Any

import anthropic
import psutil

from proxy_core.testing.upstream_simulator import Text, ToolCalls, UpstreamSimulator
from tests.api.test_errors import raw_request
from tests.api.test_tools import WEATHER, without_reminders
from tests.conftest import anthropic_client, cli_processes, wait_for_no_cli

MODEL = "claude-sonnet-4-6"


def ask(
    client: anthropic.Anthropic, messages: list[dict[str, Any]], **extra: Any
) -> anthropic.types.Message:
    return client.messages.create(model=MODEL, max_tokens=64, messages=messages, **extra)  # type: ignore[arg-type]


def replay(message: anthropic.types.Message) -> dict[str, Any]:
    """The assistant turn as an SDK user sends it back."""
    return {"role": "assistant", "content": [block.model_dump() for block in message.content]}


def single_cli_pid() -> int:
    deadline = time.monotonic() + 2
    while len(cli_processes()) != 1:
        assert time.monotonic() < deadline, f"expected one CLI, found {len(cli_processes())}"
        time.sleep(0.02)
    return cli_processes()[0].pid


def test_the_next_turn_reuses_the_cli_and_the_model_sees_the_whole_conversation(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    sim.enqueue(Text("Hi Ada."), Text("Your name is Ada."))
    first_turn = [{"role": "user", "content": "My name is Ada."}]
    first = ask(client, first_turn)
    pid = single_cli_pid()

    second = ask(
        client, [*first_turn, replay(first), {"role": "user", "content": "What is my name?"}]
    )

    assert second.content[0].type == "text" and second.content[0].text == "Your name is Ada."
    assert single_cli_pid() == pid, "the conversation's CLI should have been reused"
    upstream = sim.message_calls()[1].non_system_messages()
    assert [m["role"] for m in upstream] == ["user", "assistant", "user"]
    assert upstream[1]["content"] == [{"type": "text", "text": "Hi Ada."}]
    assert [b["text"] for b in without_reminders(upstream[2]["content"])] == ["What is my name?"]


def test_another_conversation_never_sees_the_first_ones_context(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    first = ask(client, [{"role": "user", "content": "Secret word: PINEAPPLE."}])
    other = [
        {"role": "user", "content": "Hello."},
        replay(first),
        {"role": "user", "content": "Go on."},
    ]
    ask(client, other)

    upstream = str(sim.message_calls()[1].non_system_messages())
    assert "PINEAPPLE" not in upstream
    assert len(cli_processes()) == 2


def test_an_edited_history_is_rebuilt_exactly(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    first = ask(client, [{"role": "user", "content": "Draft one."}])
    edited = [
        {"role": "user", "content": "Draft two."},
        replay(first),
        {"role": "user", "content": "Next."},
    ]
    ask(client, edited)

    upstream = sim.message_calls()[1].non_system_messages()
    assert upstream[0]["content"] in ("Draft two.", [{"type": "text", "text": "Draft two."}])
    assert "Draft one." not in str(upstream)


def test_a_tool_loop_continues_in_the_same_cli(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    sim.enqueue(
        ToolCalls(calls=(("get_weather", {"city": "Paris"}),)), Text("It is sunny in Paris.")
    )
    history: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris?"}]
    first = ask(client, history, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    pid = single_cli_pid()
    call = first.content[0]
    history += [
        replay(first),
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}  # type: ignore[union-attr]
            ],
        },
    ]

    second = ask(client, history, tools=[WEATHER])

    assert second.content[0].type == "text" and second.content[0].text == "It is sunny in Paris."
    assert single_cli_pid() == pid
    upstream = sim.message_calls()[1].non_system_messages()
    assert [m["role"] for m in upstream] == ["user", "assistant", "user"]
    assert upstream[1]["content"][0]["id"] == call.id  # type: ignore[union-attr]
    results = [b for b in upstream[2]["content"] if b["type"] == "tool_result"]
    assert results[0]["tool_use_id"] == call.id  # type: ignore[union-attr]
    assert "tool use was rejected" not in str(upstream).lower()


def test_a_kept_cli_that_died_is_replaced_transparently(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    first_turn = [{"role": "user", "content": "Remember 42."}]
    first = ask(client, first_turn)
    psutil.Process(single_cli_pid()).kill()

    second = ask(client, [*first_turn, replay(first), {"role": "user", "content": "Which number?"}])

    assert second.content
    upstream = sim.message_calls()[-1].non_system_messages()
    assert [m["role"] for m in upstream] == ["user", "assistant", "user"]


def test_kept_conversations_are_bounded_and_expire(make_proxy, sim: UpstreamSimulator) -> None:
    # The TTL outlasts three requests even on a loaded machine, so only the bound can end one.
    proxy = make_proxy(conversations=2, conversation_ttl_s=4.0)
    client = anthropic_client(proxy.base_url)
    for number in range(3):
        ask(client, [{"role": "user", "content": f"conversation {number}"}])
    deadline = time.monotonic() + 2
    while len(cli_processes()) > 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(cli_processes()) == 2
    assert wait_for_no_cli(6.0) == [], "kept CLIs must end after the TTL"


def test_sessions_can_be_listed_and_ended(
    proxy, client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    ask(client, [{"role": "user", "content": "keep me"}])
    single_cli_pid()
    _, _, listing = raw_request(proxy.base_url, "GET", "/sessions")
    (session,) = listing["data"]
    assert session["id"] and session["turns"] == 1

    code, _, _ = raw_request_no_body(proxy.base_url, "DELETE", f"/sessions/{session['id']}")
    assert code == 204
    assert wait_for_no_cli(2.0) == []
    code, _, body = raw_request(proxy.base_url, "DELETE", f"/sessions/{session['id']}")
    assert code == 404 and body["error"]["type"] == "not_found_error"


def raw_request_no_body(base_url: str, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    import urllib.request

    request = urllib.request.Request(base_url + path, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_two_requests_for_one_next_turn_are_both_answered(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    first_turn = [{"role": "user", "content": "Start."}]
    first = ask(client, first_turn)
    next_turn = [*first_turn, replay(first), {"role": "user", "content": "Continue."}]
    sim.set_default(Text("continued", first_byte_delay=0.3))
    answers: list[anthropic.types.Message] = []
    workers = [
        threading.Thread(target=lambda: answers.append(ask(client, next_turn))) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    assert len(answers) == 2
    for call in sim.message_calls()[1:]:
        assert [m["role"] for m in call.non_system_messages()] == ["user", "assistant", "user"]


def test_a_call_to_an_unknown_tool_is_not_kept(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    # Claude Code answers a call to a tool it was not given with its own error result, in its
    # own history; that CLI must not serve the next turn, where the caller sends its results.
    sim.enqueue(ToolCalls(calls=(("get_weather", {"city": "Paris"}), ("nope", {}))), Text("ok"))
    history: list[dict[str, Any]] = [{"role": "user", "content": "Weather?"}]
    first = ask(client, history, tools=[WEATHER])
    results = [
        {"type": "tool_result", "tool_use_id": block.id, "content": f"result for {block.name}"}  # type: ignore[union-attr]
        for block in first.content
    ]
    history += [replay(first), {"role": "user", "content": results}]
    ask(client, history, tools=[WEATHER])

    sent = [
        b
        for b in sim.message_calls()[1].non_system_messages()[-1]["content"]
        if b["type"] == "tool_result"
    ]
    assert len(sent) == 2
    assert "result for get_weather" in str(sent[0]["content"])
    assert "result for nope" in str(sent[1]["content"])
    assert "No such tool" not in str(sim.message_calls()[1].body)
