"""The official node SDKs (@anthropic-ai/sdk and openai, from npm) as the README sets them up."""

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


SCRIPT = Path(__file__).with_name("node_sdks_run.mjs")


@pytest.mark.compat("Anthropic and OpenAI SDKs (node)", "plain", "streamed", "tools")
def test_node_sdks_plain_streamed_and_tools(proxy: ProxyServer, sim: UpstreamSimulator) -> None:
    paris = ToolCalls(calls=(("get_weather", {"city": "Paris"}),))
    sim.enqueue(
        Text("plain one"),
        Text("streamed one", chunks=3),
        paris,
        Text("chat one"),
        Text("chat streamed", chunks=3),
        paris,
        Text("responses one"),
    )
    node = node_with("@anthropic-ai/sdk")
    node_with("openai")
    done = subprocess.run(
        [node, str(SCRIPT), proxy.base_url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "anthropicPlain": "plain one",
        "anthropicStreamed": "streamed one",
        "anthropicTool": {"city": "Paris"},
        "chatPlain": "chat one",
        "chatStreamed": "chat streamed",
        "chatTool": {"city": "Paris"},
        "responsesText": "responses one",
    }
