"""Agent mode: opt-in, Claude Code's own tools run in the chosen workspace."""

from __future__ import annotations

from pathlib import Path

import anthropic

from proxy_core.testing.upstream_simulator import Text, ToolCalls, UpstreamSimulator
from tests.api.test_tools import WEATHER
from tests.conftest import anthropic_client

MODEL = "claude-sonnet-4-6"
ASK = [{"role": "user", "content": "Write hello into out.txt."}]


def test_agent_mode_is_off_unless_configured(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    client.messages.create(model=MODEL, max_tokens=16, messages=ASK)  # type: ignore[arg-type]
    assert not sim.message_calls()[0].body.get("tools")


def test_the_agent_runs_its_tools_in_the_workspace_and_answers_in_text(
    make_proxy, sim: UpstreamSimulator, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    proxy = make_proxy(agent_workspace=workspace)
    sim.enqueue(
        ToolCalls(
            calls=(("Bash", {"command": "echo hello > out.txt", "description": "write"}),),
            text="Writing.",
        ),
        Text("Done: out.txt says hello."),
    )
    client = anthropic_client(proxy.base_url)
    message = client.messages.create(model=MODEL, max_tokens=256, messages=ASK)  # type: ignore[arg-type]

    assert (workspace / "out.txt").read_text().strip() == "hello"
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text", "text"]
    assert [block.text for block in message.content] == ["Writing.", "Done: out.txt says hello."]  # type: ignore[union-attr]
    calls = sim.message_calls()
    assert len(calls) == 2
    assert {"Bash", "Read", "Write"} <= {tool["name"] for tool in calls[0].body["tools"]}
    assert message.usage.input_tokens == sum(c.reply_usage["input_tokens"] for c in calls)  # type: ignore[index]


def test_a_streamed_agent_run_is_one_valid_message(
    make_proxy, sim: UpstreamSimulator, tmp_path: Path
) -> None:
    proxy = make_proxy(agent_workspace=tmp_path)
    sim.enqueue(
        ToolCalls(calls=(("Bash", {"command": "true", "description": "noop"}),)),
        Text("All done."),
    )
    client = anthropic_client(proxy.base_url)
    with client.messages.stream(model=MODEL, max_tokens=256, messages=ASK) as stream:  # type: ignore[arg-type]
        kinds = [event.type for event in stream if event.type != "text"]
        final = stream.get_final_message()
    assert kinds.count("message_start") == 1 and kinds.count("message_stop") == 1
    assert final.content[0].type == "text" and final.content[0].text == "All done."
    assert final.stop_reason == "end_turn"


def test_caller_tools_take_precedence_over_agent_mode(
    make_proxy, sim: UpstreamSimulator, tmp_path: Path
) -> None:
    proxy = make_proxy(agent_workspace=tmp_path)
    sim.enqueue(ToolCalls(calls=(("get_weather", {"city": "Paris"}),)))
    client = anthropic_client(proxy.base_url)
    message = client.messages.create(model=MODEL, max_tokens=64, tools=[WEATHER], messages=ASK)  # type: ignore[list-item,arg-type]
    assert message.stop_reason == "tool_use"
    assert [tool["name"] for tool in sim.message_calls()[0].body["tools"]] == ["get_weather"]
