"""Warm spares with the real CLI: started ahead, exact, single use, never shared, never left."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import anthropic
import psutil

from proxy_core.backend.claude_sdk import ClaudeSDKBackend
from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import Text, ToolCalls, UpstreamSimulator
from tests.api.test_tools import WEATHER, without_reminders
from tests.conftest import ProxyFactory, anthropic_client, cli_processes, loaded_backend

MODEL = "claude-sonnet-4-6"


def ask(client: anthropic.Anthropic, text: str, **extra: Any) -> anthropic.types.Message:
    return client.messages.create(  # type: ignore[call-overload, no-any-return]
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": text}], **extra
    )


def backend_of(proxy: ProxyServer) -> ClaudeSDKBackend:
    return loaded_backend(proxy)


def wait_for_spares(proxy: ProxyServer, count: int) -> None:
    deadline = time.monotonic() + 15
    while backend_of(proxy).cli_counts()["spares"] != count:
        assert time.monotonic() < deadline, f"expected {count} ready spare(s)"
        time.sleep(0.02)


def parked_pids(proxy: ProxyServer) -> set[int]:
    return {entry["pid"] for entry in backend_of(proxy).list_sessions()}


def without_volatile(body: dict[str, Any]) -> dict[str, Any]:
    """An upstream request without what differs between any two conversations."""
    return {key: value for key, value in body.items() if key not in ("messages", "metadata")}


def test_a_new_conversation_gets_a_spare_that_knows_nothing_of_the_last_one(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(warm_pool=2)
    client = anthropic_client(proxy.base_url)
    sim.enqueue(Text("Hi Ada."), Text("Hello Bob."))
    ask(client, "My name is Ada.")
    wait_for_spares(proxy, 1)
    spare = {p.pid for p in cli_processes()} - parked_pids(proxy)
    assert len(spare) == 1, "Ada's conversation is kept and one spare waits"
    with urllib.request.urlopen(f"{proxy.base_url}/health", timeout=5) as response:
        assert json.loads(response.read())["clis_waiting"] == {"kept": 1, "spares": 1}

    second = ask(client, "My name is Bob.")

    assert second.content[0].type == "text" and second.content[0].text == "Hello Bob."
    assert spare <= parked_pids(proxy), "the spare answered, and now holds Bob's conversation"
    cold, warm = (call.body for call in sim.message_calls())
    assert "Ada" not in json.dumps(warm), "nothing of another conversation reaches the model"
    assert [without_reminders(m["content"]) for m in warm["messages"]] == [
        [{"type": "text", "text": "My name is Bob."}]
    ]
    assert without_volatile(warm) == without_volatile(cold), "a spare asks exactly as a cold CLI"
    wait_for_spares(proxy, 1)  # the taken spare is replaced, never returned


def test_spares_are_kept_per_spawn_key_and_serve_tool_requests(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(warm_pool=2)
    client = anthropic_client(proxy.base_url)
    sim.enqueue(
        ToolCalls([("get_weather", {"city": "Paris"})]),
        Text("Plain."),
        ToolCalls([("get_weather", {"city": "Rome"})]),
    )
    ask(client, "Weather in Paris?", tools=[WEATHER])
    wait_for_spares(proxy, 1)
    tool_spare = {p.pid for p in cli_processes()} - parked_pids(proxy)

    ask(client, "No tools here.", system="Be brief.")  # another key: its own spare, cold
    wait_for_spares(proxy, 2)
    assert tool_spare <= {p.pid for p in cli_processes()} - parked_pids(proxy)
    plain_call = sim.message_calls()[1].body
    assert "tools" not in plain_call or plain_call["tools"] == []

    third = ask(client, "Weather in Rome?", tools=[WEATHER])

    assert third.stop_reason == "tool_use"
    assert [(b.name, b.input) for b in third.content if b.type == "tool_use"] == [
        ("get_weather", {"city": "Rome"})
    ]
    assert tool_spare <= parked_pids(proxy)
    assert [tool["name"] for tool in sim.message_calls()[2].body["tools"]] == ["get_weather"]


def test_a_spare_that_died_unused_is_replaced_without_the_caller_noticing(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(warm_pool=1, conversations=0)
    client = anthropic_client(proxy.base_url)
    ask(client, "First.")
    wait_for_spares(proxy, 1)
    (spare,) = cli_processes()  # one CLI per request: only the spare is left
    spare.kill()
    psutil.wait_procs([spare], timeout=5)

    reply = ask(client, "Second.")

    assert reply.content[0].type == "text"
    assert len(sim.message_calls()) == 2


def test_without_a_pool_no_cli_is_started_ahead(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(warm_pool=0, conversations=0)
    ask(anthropic_client(proxy.base_url), "Hello.")
    time.sleep(0.5)  # long enough for a spare to have begun starting
    assert cli_processes() == [] and backend_of(proxy).cli_counts()["spares"] == 0


def test_stopping_the_proxy_ends_its_spares(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(warm_pool=2, conversations=0)
    ask(anthropic_client(proxy.base_url), "Hello.")
    wait_for_spares(proxy, 1)
    spares = cli_processes()
    proxy.stop()
    _, alive = psutil.wait_procs(spares, timeout=5)
    assert alive == []


def test_a_one_off_request_leaves_no_cli_and_takes_no_spare(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(warm_pool=2)
    client = anthropic_client(proxy.base_url)
    ask(client, "a real conversation")  # its shape now has a spare
    wait_for_spares(proxy, 1)
    spare_pids = {process.pid for process in cli_processes()} - parked_pids(proxy)

    one_off = anthropic_client(proxy.base_url, default_headers={"x-claude-proxy-one-off": "1"})
    assert ask(one_off, "Say OK.").content
    deadline = time.monotonic() + 5
    while {p.pid for p in cli_processes()} - parked_pids(proxy) != spare_pids:
        assert time.monotonic() < deadline, "the one-off's CLI must end with its answer"
        time.sleep(0.02)
    time.sleep(0.5)  # past the quiet period: a refill would have started by now
    assert backend_of(proxy).cli_counts()["spares"] == 1, "the spare is neither taken nor doubled"
    assert len(backend_of(proxy).list_sessions()) == 1, "only the real conversation is kept"
