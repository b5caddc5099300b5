"""Property-based tests of the three APIs through the real SDK, CLI and simulator.

Bodies near each API's schema (odd unicode, wrong types, huge numbers, odd tool schemas,
orphan tool results, bad images) must never get a 5xx other than 503 or 529, must be
answered in the API's own shape, and must leave the server healthy with no CLI beyond
what /health says it keeps. CI runs a fixed, derandomized set; FUZZ_EXAMPLES=2000 runs a
longer exploratory one with fresh randomness.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy_core.config import Settings
from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import SimulatorThread
from tests.conftest import cli_processes, wait_for_no_cli

EXPLORE = int(os.environ.get("FUZZ_EXAMPLES", "0"))
# Dozens of real-CLI runs per test: beyond the suite's 60 s, and much more when exploring.
pytestmark = pytest.mark.timeout(3600 if EXPLORE else 300)
FUZZ = settings(
    max_examples=EXPLORE or 40,
    derandomize=not EXPLORE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
ALLOWED_5XX = {503, 529}

# Text a careless client sends: control characters, NUL, lone surrogates, odd spaces, RTL.
odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", " ", "\n", "\u00a0", "\u0000", "\udfff", "\u202e", "@/etc/passwd", "/clear"]
    ),
    st.text(alphabet=st.characters(codec="utf-16", categories=["Cc", "Cs", "Zs"]), max_size=5),
)
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), odd_text
)
any_json = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
models = st.one_of(
    st.sampled_from(["sonnet", "haiku", "claude-sonnet-4-5", "gpt-4o", "o3-mini"]), any_json
)
image_sources = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("base64"),
            "media_type": st.sampled_from(["image/png", "image/gif", "text/plain", ""]),
            "data": st.sampled_from(["", "!!!", "iVBORw0KGgo=", "a" * 7]),
        }
    ),
    st.fixed_dictionaries({"type": st.just("url"), "url": st.sampled_from(["ftp://x", "", "x"])}),
    any_json,
)
tool_ids = st.sampled_from(["toolu_1", "call_1", "", "bad id!"])
anthropic_blocks = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": odd_text}),
    st.fixed_dictionaries({"type": st.just("image"), "source": image_sources}),
    st.fixed_dictionaries(
        {"type": st.just("tool_result"), "tool_use_id": tool_ids, "content": any_json}
    ),
    st.fixed_dictionaries(
        {"type": st.just("tool_use"), "id": tool_ids, "name": odd_text, "input": any_json}
    ),
    st.fixed_dictionaries({"type": odd_text}),
    any_json,
)
roles = st.sampled_from(["user", "assistant", "system", "tool", "developer", ""])
anthropic_messages = st.lists(
    st.fixed_dictionaries(
        {"role": roles, "content": st.one_of(odd_text, st.lists(anthropic_blocks, max_size=3))}
    ),
    min_size=0,
    max_size=4,
)
tools = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"name": odd_text, "description": odd_text, "input_schema": any_json}
        ),
        st.fixed_dictionaries(
            {"type": st.just("function"), "name": odd_text, "parameters": any_json}
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("function"),
                "function": st.fixed_dictionaries({"name": odd_text, "parameters": any_json}),
            }
        ),
        any_json,
    ),
    max_size=2,
)
numbers = st.one_of(st.integers(-5, 10**12), st.sampled_from([True, 1.5, "8", None]))


def near(
    valid: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]], text_field: str
) -> st.SearchStrategy[Any]:
    """A valid body with odd text where the caller's words go (these reach the CLI), one with
    up to two of its fields replaced by odd values, or anything at all."""

    @st.composite
    def bodies(draw: st.DrawFn) -> dict[str, Any]:
        body = dict(valid)
        for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)):
            body[name] = draw(fields[name])
        return body

    @st.composite
    def odd_words(draw: st.DrawFn) -> dict[str, Any]:
        body = json.loads(json.dumps(valid))
        words = draw(st.text(min_size=1, max_size=30)) + draw(odd_text)
        if text_field == "input":
            body["input"] = words
        else:
            body["messages"][-1]["content"] = words
        return body

    return st.one_of(odd_words(), bodies(), any_json)


anthropic_bodies = near(
    {"model": "sonnet", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
    {
        "model": models,
        "max_tokens": numbers,
        "messages": anthropic_messages,
        "system": st.one_of(odd_text, any_json),
        "tools": tools,
        "tool_choice": any_json,
        "thinking": any_json,
        "stream": st.one_of(st.booleans(), any_json),
        "metadata": any_json,
        "output_config": any_json,
    },
    "messages",
)
chat_bodies = near(
    {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    {
        "model": models,
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": roles, "content": st.one_of(odd_text, any_json)},
                optional={"tool_calls": any_json, "tool_call_id": tool_ids},
            ),
            max_size=4,
        ),
        "tools": tools,
        "tool_choice": any_json,
        "max_tokens": numbers,
        "n": numbers,
        "stream": st.one_of(st.booleans(), any_json),
        "response_format": any_json,
    },
    "messages",
)
responses_bodies = near(
    {"model": "gpt-4o", "input": "hi"},
    {
        "model": models,
        "input": st.one_of(
            odd_text,
            st.lists(
                st.one_of(
                    st.fixed_dictionaries(
                        {"role": roles, "content": st.one_of(odd_text, any_json)}
                    ),
                    st.fixed_dictionaries(
                        {
                            "type": st.sampled_from(
                                ["function_call", "function_call_output", "reasoning", "x"]
                            ),
                            "call_id": tool_ids,
                            "name": odd_text,
                            "arguments": odd_text,
                            "output": any_json,
                        }
                    ),
                    any_json,
                ),
                max_size=4,
            ),
        ),
        "instructions": st.one_of(odd_text, any_json),
        "tools": tools,
        "tool_choice": any_json,
        "reasoning": any_json,
        "max_output_tokens": numbers,
        "previous_response_id": st.one_of(odd_text, any_json),
        "stream": st.one_of(st.booleans(), any_json),
        "text": any_json,
    },
    "input",
)
STATUSES: dict[str, list[int]] = {}


@pytest.fixture(scope="module")
def fuzz_proxy(
    simulator_thread: SimulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyServer]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    server = ProxyServer(Settings(port=0, data_dir=data_dir, warm_pool=0, stream_commit_wait_s=15))
    server.start()
    yield server
    server.stop()
    assert wait_for_no_cli(2.0) == [], "a CLI process outlived the fuzz run"


def send(proxy: ProxyServer, path: str, body: Any) -> tuple[int, bytes]:
    data = json.dumps(body).encode()  # lone surrogates travel as \\u escapes, as clients send
    request = urllib.request.Request(
        proxy.base_url + path, data=data, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def in_openai_shape(answer: Any) -> bool:
    error = answer.get("error") if isinstance(answer, dict) else None
    return isinstance(error, dict) and {"message", "type", "param", "code"} <= set(error)


def in_anthropic_shape(answer: Any) -> bool:
    return (
        isinstance(answer, dict)
        and answer.get("type") == "error"
        and isinstance(answer.get("error"), dict)
        and {"type", "message"} <= set(answer["error"])
    )


def check(proxy: ProxyServer, path: str, body: Any, shape: Any) -> None:
    status, raw = send(proxy, path, body)
    STATUSES.setdefault(path, []).append(status)
    assert status < 500 or status in ALLOWED_5XX, (status, raw[:500], body)
    if status >= 400:
        assert shape(json.loads(raw)), (status, raw[:500])


def healthy_with_no_stray_cli(proxy: ProxyServer) -> None:
    # A CLI that gave its place to a newer conversation takes a moment to end.
    deadline = time.monotonic() + 5
    while True:
        status, raw = send_get(proxy, "/health")
        assert status == 200
        waiting = json.loads(raw)["clis_waiting"]
        running = cli_processes()
        if len(running) <= waiting["kept"] + waiting["spares"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(running) <= waiting["kept"] + waiting["spares"], (running, waiting)


def send_get(proxy: ProxyServer, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(proxy.base_url + path, timeout=30) as response:
        return response.status, response.read()


@FUZZ
@given(body=anthropic_bodies)
def test_messages_never_fails_on_its_own(fuzz_proxy: ProxyServer, body: Any) -> None:
    check(fuzz_proxy, "/v1/messages", body, in_anthropic_shape)
    check(fuzz_proxy, "/v1/messages/count_tokens", body, in_anthropic_shape)


@FUZZ
@given(body=chat_bodies)
def test_chat_completions_never_fails_on_its_own(fuzz_proxy: ProxyServer, body: Any) -> None:
    check(fuzz_proxy, "/v1/chat/completions", body, in_openai_shape)


@FUZZ
@given(body=responses_bodies)
def test_responses_never_fails_on_its_own(fuzz_proxy: ProxyServer, body: Any) -> None:
    check(fuzz_proxy, "/v1/responses", body, in_openai_shape)


def test_the_server_is_healthy_after_the_fuzzing(fuzz_proxy: ProxyServer) -> None:
    if not STATUSES:
        pytest.skip("checks the fuzz run before it: run the module whole")
    healthy_with_no_stray_cli(fuzz_proxy)
    # The bodies are near enough to the schemas that some run through a CLI in every API.
    for path in ("/v1/messages", "/v1/chat/completions", "/v1/responses"):
        assert 200 in STATUSES.get(path, []), (path, sorted(set(STATUSES.get(path, []))))
