"""The OpenAI Agents SDK against the proxy: its default Responses model, a function tool, a loop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from agents import Agent, OpenAIProvider, RunConfig, Runner, function_tool
from openai import AsyncOpenAI

from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import Text, ToolCalls, UpstreamSimulator
from tests.api.test_errors import raw_request

# A real client's own start and run, beyond the suite's 60 s per test.
pytestmark = pytest.mark.timeout(300)


calls_seen: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    calls_seen.append(city)
    return f"sunny in {city}"


@pytest.fixture
async def run_config(proxy: ProxyServer) -> AsyncIterator[RunConfig]:
    client = AsyncOpenAI(base_url=proxy.base_url + "/v1", api_key="unused", max_retries=0)
    # The provider's default model is the Responses one; tracing would upload to OpenAI.
    yield RunConfig(model_provider=OpenAIProvider(openai_client=client), tracing_disabled=True)
    await client.close()


def weather_agent() -> Agent:
    return Agent(
        name="forecaster",
        instructions="Answer weather questions with the tool.",
        tools=[get_weather],
        model="gpt-4.1",
    )


def tool_results(sim: UpstreamSimulator, call: int) -> list[str]:
    return [
        json.dumps(block["content"])
        for message in sim.message_calls()[call].non_system_messages()
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]


@pytest.mark.compat("OpenAI Agents SDK (Python)", "plain", "tools")
async def test_an_agent_calls_its_function_tool_and_answers(
    run_config: RunConfig, proxy: ProxyServer, sim: UpstreamSimulator
) -> None:
    calls_seen.clear()
    sim.enqueue(ToolCalls(calls=(("get_weather", {"city": "Paris"}),)), Text("Paris: sunny."))

    result = await Runner.run(weather_agent(), "Weather in Paris?", run_config=run_config)

    assert result.final_output == "Paris: sunny."
    assert calls_seen == ["Paris"]
    first, _second = sim.message_calls()
    assert [tool["name"] for tool in first.body["tools"]] == ["get_weather"]
    assert "Answer weather questions" in json.dumps(first.body["system"])
    assert any("sunny in Paris" in result for result in tool_results(sim, 1))
    _, _, sessions = raw_request(proxy.base_url, "GET", "/sessions")
    assert [session["turns"] for session in sessions["data"]] == [2]


@pytest.mark.compat("OpenAI Agents SDK (Python)", "streamed", "tools")
async def test_a_streamed_agent_run(run_config: RunConfig, sim: UpstreamSimulator) -> None:
    calls_seen.clear()
    sim.enqueue(
        ToolCalls(calls=(("get_weather", {"city": "Rome"}),)), Text("Rome: sunny.", chunks=4)
    )

    run = Runner.run_streamed(weather_agent(), "Weather in Rome?", run_config=run_config)
    kinds = [event.type async for event in run.stream_events()]

    assert run.final_output == "Rome: sunny."
    assert calls_seen == ["Rome"]
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    assert any("sunny in Rome" in result for result in tool_results(sim, 1))


@pytest.mark.compat("OpenAI Agents SDK (Python)", "tools")
async def test_an_agent_chaining_by_previous_response_id(
    run_config: RunConfig, proxy: ProxyServer, sim: UpstreamSimulator
) -> None:
    calls_seen.clear()
    sim.enqueue(ToolCalls(calls=(("get_weather", {"city": "Oslo"}),)), Text("Oslo: sunny."))

    result = await Runner.run(
        weather_agent(), "Weather in Oslo?", run_config=run_config, auto_previous_response_id=True
    )

    assert result.final_output == "Oslo: sunny."
    assert calls_seen == ["Oslo"]
    _, _, last = raw_request(proxy.base_url, "GET", f"/v1/responses/{result.last_response_id}")
    first_id = last["previous_response_id"]
    assert first_id and first_id != result.last_response_id
    # Only the tool output was sent the second time; the proxy rebuilt the rest from its store.
    upstream = sim.message_calls()[1].non_system_messages()
    assert [m["role"] for m in upstream] == ["user", "assistant", "user"]
    assert any("sunny in Oslo" in result for result in tool_results(sim, 1))
    _, _, sessions = raw_request(proxy.base_url, "GET", "/sessions")
    assert [session["turns"] for session in sessions["data"]] == [2]
