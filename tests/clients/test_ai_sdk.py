"""The AI SDK's OpenAI provider (node, from npm), which speaks the Responses API by default."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import Text, ToolCalls, UpstreamSimulator
from tests.clients.conftest import node_with

# A real client's own start and run, beyond the suite's 60 s per test.
pytestmark = pytest.mark.timeout(300)


SCRIPT = Path(__file__).with_name("ai_sdk_run.mjs")


@pytest.mark.compat("AI SDK, OpenAI provider (node)", "plain", "streamed", "tools")
def test_ai_sdk_tool_loop_and_stream(proxy: ProxyServer, sim: UpstreamSimulator) -> None:
    sim.enqueue(
        ToolCalls(calls=(("get_weather", {"city": "Paris"}),)),
        Text("Paris is sunny."),
        Text("Hi there, friend.", chunks=4),
    )
    done = subprocess.run(
        [node_with("@ai-sdk/openai"), str(SCRIPT), proxy.base_url + "/v1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=SCRIPT.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["executed"] == ["Paris"]
    assert result["text"] == "Paris is sunny." and result["steps"] == 2
    assert result["usage"]["outputTokens"] > 0
    assert result["streamedText"] == "Hi there, friend." and result["streamedPieces"] >= 2
    assert result["finishReason"] == "stop"
    tool_results = [
        json.dumps(block["content"])
        for message in sim.message_calls()[1].non_system_messages()
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert any("sunny in Paris" in result for result in tool_results)
