"""What the review found: failures after a stream is committed, foreign callers, odd input."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import anthropic
import pytest

from proxy_core.testing.upstream_simulator import Failure, Hang, Text, UpstreamSimulator
from tests.api.test_errors import HI, MODEL, raw_request
from tests.api.test_messages import _sse_events
from tests.conftest import anthropic_client

STREAM_BODY = {"model": MODEL, "max_tokens": 8, "stream": True, "messages": HI}


def test_a_failure_after_the_stream_is_committed_is_an_sse_error_event(
    make_proxy, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(stream_commit_wait_s=0.0)
    sim.set_default(Failure(429, "rate_limit_error", "slow down"))
    events = _sse_events(proxy.base_url, STREAM_BODY)
    assert [name for name, _ in events if name != "ping"] == ["message_start", "error"]
    assert events[-1][1]["error"]["type"] == "rate_limit_error"  # type: ignore[index]

    client = anthropic_client(proxy.base_url)
    with pytest.raises(anthropic.APIStatusError) as caught:  # noqa: SIM117
        with client.messages.stream(model=MODEL, max_tokens=8, messages=HI) as stream:
            stream.get_final_message()
    assert "rate_limit_error" in str(caught.value.body)


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "attacker.example"},  # DNS rebinding
        {"Origin": "https://evil.example"},  # a web page's cross-site POST
        {"Origin": "null"},  # a sandboxed frame
    ],
    ids=["rebinding", "cross-site", "sandboxed"],
)
def test_web_pages_cannot_use_a_proxy_without_a_key(
    proxy, sim: UpstreamSimulator, headers: dict[str, str]
) -> None:
    code, _, body = raw_request(
        proxy.base_url,
        "POST",
        "/v1/messages",
        b'{"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}',
        headers,
    )
    assert code == 403
    assert body["error"]["type"] == "permission_error"
    assert sim.message_calls() == []


def test_local_pages_and_keyed_proxies_are_served(make_proxy, sim: UpstreamSimulator) -> None:
    proxy = make_proxy()
    code, _, _ = raw_request(
        proxy.base_url, "GET", "/v1/models", headers={"Origin": "http://localhost:5173"}
    )
    assert code == 200
    keyed = make_proxy(api_key="k")
    code, _, _ = raw_request(
        keyed.base_url,
        "GET",
        "/v1/models",
        headers={"Origin": "https://chat.example", "x-api-key": "k"},
    )
    assert code == 200


def test_wrong_proxy_keys_do_not_look_like_a_claude_login_problem(make_proxy) -> None:
    proxy = make_proxy(api_key="right")
    code, _, _ = raw_request(proxy.base_url, "GET", "/v1/models", headers={"x-api-key": "wrong"})
    assert code == 401
    _, _, health = raw_request(proxy.base_url, "GET", "/health", headers={"x-api-key": "right"})
    assert health["status"] == "ok" and health["problems"] == []


def test_health_tells_only_key_holders_the_details(make_proxy) -> None:
    proxy = make_proxy(api_key="right")
    _, _, anonymous = raw_request(proxy.base_url, "GET", "/health")
    assert anonymous == {"status": "ok"}
    _, _, full = raw_request(
        proxy.base_url, "GET", "/health", headers={"authorization": "Bearer right"}
    )
    assert full["cli"]["found"] is True


def test_a_key_that_is_not_utf8_is_just_wrong(make_proxy) -> None:
    proxy = make_proxy(api_key="right")
    request = urllib.request.Request(proxy.base_url + "/v1/models")
    request.add_header("x-api-key", "caf\xe9")  # latin-1 on the wire
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 401
    caught.value.close()


def test_service_info_names_the_real_port(make_proxy) -> None:
    proxy = make_proxy()
    _, _, info = raw_request(proxy.base_url, "GET", "/")
    assert info["base_url"] == proxy.base_url
    assert not info["base_url"].endswith(":0")


def test_a_request_cut_by_shutdown_gets_an_answer(make_proxy, sim: UpstreamSimulator) -> None:
    proxy = make_proxy(shutdown_grace_s=0.5)
    sim.enqueue(Hang(60))
    outcome: list[object] = []

    def call() -> None:
        try:
            anthropic_client(proxy.base_url, timeout=20).messages.create(
                model=MODEL, max_tokens=8, messages=HI
            )
        except anthropic.APIError as error:
            outcome.append(error)

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 10
    while not sim.message_calls():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proxy.stop()
    worker.join(10)
    assert isinstance(outcome[0], anthropic.APIStatusError)
    assert outcome[0].status_code == 529


def test_a_stream_answer_is_counted_once_and_only_on_success(
    make_proxy, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(stream_commit_wait_s=0.0, api_key="k")
    # Twice: on a subscription login the CLI tries a 401 once more.
    bad_token = Failure(401, "authentication_error", "bad token")
    sim.enqueue(bad_token, bad_token, Text("fine"))
    client = anthropic_client(proxy.base_url, api_key="k")
    with pytest.raises(anthropic.APIStatusError):  # noqa: SIM117
        with client.messages.stream(model=MODEL, max_tokens=8, messages=HI) as stream:
            stream.get_final_message()
    _, _, health = raw_request(proxy.base_url, "GET", "/health", headers={"x-api-key": "k"})
    assert health["requests"]["served"] == 0
    assert any("login" in problem for problem in health["problems"])
