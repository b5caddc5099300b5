"""OpenAI's Codex CLI (from npm) pointed at the proxy's Responses API, as its README tells a user.

Codex runs with the recipe's config.toml in a private CODEX_HOME, headless (`codex exec
--json`), against the proxy on the upstream simulator. It runs its own tools for real.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from proxy_core.client_setup import recipe
from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import DEFAULT_TEXT, Text, ToolCalls, UpstreamSimulator
from tests.api.test_errors import raw_request
from tests.api.test_tools import without_reminders
from tests.clients.conftest import node_client

# A real client's own start and run, beyond the suite's 60 s per test.
pytestmark = pytest.mark.timeout(300)


CODEX_TIMEOUT_S = 120


def run_codex(proxy: ProxyServer, tmp_path: Path, prompt: str) -> list[dict[str, Any]]:
    home = tmp_path / "codex-home"
    home.mkdir(exist_ok=True)
    # Exactly the README's recipe (the tray copies the same), with this proxy's address.
    (home / "config.toml").write_text(recipe("codex").render(proxy.base_url, None))
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {**os.environ, "CODEX_HOME": str(home), "HOME": str(tmp_path)}
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run(
        [
            str(node_client("codex")),
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--strict-config",  # a key of the recipe that this Codex does not know fails here
            "--dangerously-bypass-approvals-and-sandbox",
            "-C",
            str(work),
            prompt,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=CODEX_TIMEOUT_S,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, (done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    return events


def items(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [
        e["item"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == kind
    ]


@pytest.mark.compat("Codex CLI (node)", "plain", "streamed")
def test_codex_gets_a_plain_answer(
    proxy: ProxyServer, sim: UpstreamSimulator, tmp_path: Path
) -> None:
    events = run_codex(proxy, tmp_path, "say hi")

    assert [item["text"] for item in items(events, "agent_message")] == [DEFAULT_TEXT]
    assert events[-1]["type"] == "turn.completed"
    assert (
        events[-1]["usage"]["output_tokens"] == sim.message_calls()[0].reply_usage["output_tokens"]
    )  # type: ignore[index]
    (call,) = sim.message_calls()
    # Codex's own tools reach the model as native tools; its hosted web_search is left out.
    names = {tool["name"] for tool in call.body["tools"]}
    assert "exec_command" in names and "web_search" not in names
    assert [b["text"] for b in without_reminders(call.non_system_messages()[-1]["content"])][
        -1
    ] == "say hi"


@pytest.mark.compat("Codex CLI (node)", "tools", "streamed")
def test_codex_runs_its_shell_tool_and_sends_the_output_back(
    proxy: ProxyServer, sim: UpstreamSimulator, tmp_path: Path
) -> None:
    command = "echo codex-was-here > proof.txt && cat proof.txt"
    sim.enqueue(
        ToolCalls(calls=(("exec_command", {"cmd": command}),), text="Writing the file."),
        Text("Done: proof.txt holds the line."),
    )

    events = run_codex(proxy, tmp_path, "Write proof.txt")

    assert (tmp_path / "work" / "proof.txt").read_text() == "codex-was-here\n"
    assert [item["text"] for item in items(events, "agent_message")][-1] == (
        "Done: proof.txt holds the line."
    )
    first, second = sim.message_calls()
    results = [
        block
        for message in second.non_system_messages()
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(results) == 1 and "codex-was-here" in json.dumps(results[0]["content"])
    # Codex resends its whole input each turn: the turn must continue the kept CLI.
    _, _, sessions = raw_request(proxy.base_url, "GET", "/sessions")
    assert [session["turns"] for session in sessions["data"]] == [2]
    assert first.body["tools"] == second.body["tools"]
