"""Claude Code itself (the CLI this project pins) as a client of the proxy: `claude -p`.

It sends what current Claude Code sends: a system-role message in ``messages``, its own tools
(one with ``defer_loading``), eight ``anthropic-beta`` values, adaptive thinking, an effort and
``context_management``. Its own tools run on this machine, in the test's folder.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from proxy_core.backend.cli_status import find_cli
from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import DEFAULT_TEXT, Text, ToolCalls, UpstreamSimulator
from tests.api.test_errors import raw_request

# A real client's own start and run, beyond the suite's 60 s per test.
pytestmark = pytest.mark.timeout(300)


CLAUDE_TIMEOUT_S = 120


def run_claude(
    proxy: ProxyServer, tmp_path: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    cli = find_cli(None)
    assert cli is not None, "claude-agent-sdk ships the CLI"
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CLAUDE_CODE_", "CLAUDECODE", "CLAUDE_PROXY_"))
    }
    env.update(
        HOME=str(tmp_path),  # no user settings, no login: the client is configured as a user would
        ANTHROPIC_BASE_URL=proxy.base_url,
        ANTHROPIC_API_KEY="unused",
    )
    done = subprocess.run(
        [cli, "-p", *arguments],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=CLAUDE_TIMEOUT_S,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    return done


def upstream_system(sim: UpstreamSimulator, call: int = 0) -> str:
    return " ".join(block["text"] for block in sim.message_calls()[call].body["system"])


@pytest.mark.parametrize("output", ["text", "json", "stream-json"])
@pytest.mark.compat("Claude Code CLI", "plain", "streamed")
def test_claude_code_answers_through_the_proxy(
    proxy: ProxyServer, sim: UpstreamSimulator, tmp_path: Path, output: str
) -> None:
    extra = ["--verbose"] if output == "stream-json" else []
    done = run_claude(proxy, tmp_path, "say hi", "--output-format", output, *extra)

    if output == "text":
        assert done.stdout.strip() == DEFAULT_TEXT
    else:
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        result = lines[-1]
        assert result["type"] == "result" and result["is_error"] is False
        assert result["result"] == DEFAULT_TEXT
    (call,) = sim.message_calls()
    # Claude Code's environment block came as a system-role message: it is system text upstream.
    assert "# Environment" in upstream_system(sim)
    user_text = json.dumps(call.non_system_messages())
    assert "say hi" in user_text and "# Environment" not in user_text
    offered = {tool["name"] for tool in call.body["tools"]}
    assert {"Read", "Bash", "Edit"} <= offered


@pytest.mark.compat("Claude Code CLI", "tools", "streamed")
def test_claude_code_runs_its_own_read_tool_and_sends_the_result_back(
    proxy: ProxyServer, sim: UpstreamSimulator, tmp_path: Path
) -> None:
    secret = tmp_path / "work" / "note.txt"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("the note says 42\n")
    sim.enqueue(
        ToolCalls(calls=(("Read", {"file_path": str(secret)}),), text="Reading it."),
        Text("The note says 42."),
    )

    done = run_claude(proxy, tmp_path, "What does note.txt say?", "--output-format", "json")

    assert json.loads(done.stdout)["result"] == "The note says 42."
    first, second = sim.message_calls()
    results: list[dict[str, Any]] = [
        block
        for message in second.non_system_messages()
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(results) == 1 and "the note says 42" in json.dumps(results[0]["content"])
    # The tool ran in the client (Claude Code), not in the proxy's CLI: that one offers
    # Claude Code's tools as the caller's, and the second turn continued its kept process.
    assert first.body["tools"] == second.body["tools"]
    _, _, sessions = raw_request(proxy.base_url, "GET", "/sessions")
    assert [session["turns"] for session in sessions["data"]] == [2]
