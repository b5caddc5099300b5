"""A real framework client against the proxy: LangChain's OpenAI and Anthropic chat models."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import Text, ToolCalls, UpstreamSimulator


class Weather(BaseModel):
    """Current weather for a city."""

    city: str


@pytest.mark.compat("LangChain ChatOpenAI", "plain", "tools")
def test_langchain_chat_openai_chats_and_binds_tools(
    proxy: ProxyServer, sim: UpstreamSimulator
) -> None:
    from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(
        model="gpt-4o", base_url=proxy.base_url + "/v1", api_key="unused", max_retries=0
    )
    sim.enqueue(Text("Bonjour."))
    reply = model.invoke([SystemMessage("Answer in French."), HumanMessage("Hello")])
    assert reply.content == "Bonjour."

    sim.enqueue(ToolCalls(calls=(("Weather", {"city": "Paris"}),)), Text("Sunny in Paris."))
    with_tools = model.bind_tools([Weather])
    ask = HumanMessage("Weather in Paris?")
    call = with_tools.invoke([ask])
    assert [(c["name"], c["args"]) for c in call.tool_calls] == [("Weather", {"city": "Paris"})]
    answer = with_tools.invoke(
        [ask, call, ToolMessage("sunny", tool_call_id=call.tool_calls[0]["id"])]
    )
    assert answer.content == "Sunny in Paris."
    assert [m["role"] for m in sim.message_calls()[-1].non_system_messages()] == [
        "user",
        "assistant",
        "user",
    ]


@pytest.mark.compat("LangChain ChatAnthropic", "streamed")
def test_langchain_chat_anthropic_streams(proxy: ProxyServer, sim: UpstreamSimulator) -> None:
    from langchain_anthropic import ChatAnthropic

    model = ChatAnthropic(  # type: ignore[call-arg]
        model="claude-sonnet-4-6", base_url=proxy.base_url, api_key="unused", max_retries=0
    )
    sim.enqueue(Text("one two three", chunks=3))
    pieces = [chunk.content for chunk in model.stream("Count to three.")]
    text = "".join(
        p if isinstance(p, str) else "".join(b.get("text", "") for b in p) for p in pieces
    )
    assert text == "one two three"
