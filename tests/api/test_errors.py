"""Every failure reaches the client as an Anthropic error with the right status."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import anthropic
import pytest

from proxy_core.testing.upstream_simulator import (
    BreakMidStream,
    Failure,
    Hang,
    StallAfterStart,
    UpstreamSimulator,
)
from tests.conftest import ProxyFactory, anthropic_client

MODEL = "claude-sonnet-4-6"
HI = [{"role": "user", "content": "hi"}]


def raw_request(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        base_url + path,
        data=body,
        method=method,
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.parametrize(
    ("failure", "exception", "status", "kind"),
    [
        (
            Failure(401, "authentication_error", "invalid x-api-key"),
            anthropic.AuthenticationError,
            401,
            "authentication_error",
        ),
        (
            Failure(403, "permission_error", "forbidden"),
            anthropic.PermissionDeniedError,
            403,
            "permission_error",
        ),
        (
            Failure(429, "rate_limit_error", "slow down"),
            anthropic.RateLimitError,
            429,
            "rate_limit_error",
        ),
        (
            Failure(529, "overloaded_error", "Overloaded"),
            anthropic.APIStatusError,
            529,
            "overloaded_error",
        ),
        (Failure(500, "api_error", "boom"), anthropic.InternalServerError, 500, "api_error"),
        (
            Failure(400, "invalid_request_error", "prompt is too long"),
            anthropic.BadRequestError,
            400,
            "invalid_request_error",
        ),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_failures_map_to_anthropic_errors(
    make_proxy: ProxyFactory,
    sim: UpstreamSimulator,
    failure: Failure,
    exception: type[anthropic.APIStatusError],
    status: int,
    kind: str,
    stream: bool,
) -> None:
    # A commit wait no CLI start exceeds, even on a loaded machine: this is about the mapping.
    client = anthropic_client(make_proxy(stream_commit_wait_s=15.0).base_url)
    sim.set_default(failure)
    with pytest.raises(exception) as caught:
        client.messages.create(model=MODEL, max_tokens=8, messages=HI, stream=stream)  # type: ignore[call-overload]

    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == kind
    assert "Traceback" not in body["error"]["message"]
    if status == 401:
        assert "claude /login" in body["error"]["message"]
    if status == 429:
        assert int(caught.value.response.headers["retry-after"]) > 0
    # The CLI must not retry on its own: the caller's SDK decides. On a subscription login a
    # 401 is the one exception: the pinned CLI re-reads its login and tries once more.
    assert len(sim.message_calls()) == (2 if status == 401 else 1)


def test_extra_usage_refusal_is_passed_on_once_and_flagged(
    proxy, client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    refusal = "Third-party apps now draw from your extra usage, not your plan limits."
    sim.set_default(Failure(400, "invalid_request_error", refusal))
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=8, messages=HI)

    assert refusal in caught.value.message
    assert len(sim.message_calls()) == 1, "a billing refusal must never be retried"
    _, _, health = raw_request(proxy.base_url, "GET", "/health")
    assert refusal in health["billing_warning"]["message"]


def test_upstream_that_never_answers_gives_504(make_proxy, sim: UpstreamSimulator) -> None:
    proxy = make_proxy(idle_timeout_s=1.5)
    sim.enqueue(Hang(30))
    client = anthropic_client(proxy.base_url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model=MODEL, max_tokens=8, messages=HI)
    assert caught.value.status_code == 504
    assert caught.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]


def test_stream_that_breaks_midway_ends_with_an_sse_error_event(
    client: anthropic.Anthropic, sim: UpstreamSimulator
) -> None:
    sim.enqueue(BreakMidStream(text="partial answer"))
    seen: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=MODEL, max_tokens=8, messages=HI) as stream,
    ):
        for event in stream:
            seen.append(event.type)
    assert "message_start" in seen and "content_block_delta" in seen
    assert "message_stop" not in seen
    assert "overloaded" in str(caught.value).lower()


def test_stream_that_stalls_is_ended_by_the_watchdog(make_proxy, sim: UpstreamSimulator) -> None:
    proxy = make_proxy(idle_timeout_s=1.0)
    sim.enqueue(StallAfterStart(30))
    client = anthropic_client(proxy.base_url, api_key="x", max_retries=0)
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=MODEL, max_tokens=8, messages=HI) as stream,
    ):
        for _ in stream:
            pass
    assert "timeout_error" in str(caught.value.body)


@pytest.mark.parametrize(
    ("body", "status", "kind", "fragment"),
    [
        (b"{not json", 400, "invalid_request_error", "not valid JSON"),
        (b"[]", 400, "invalid_request_error", "JSON object"),
        (
            json.dumps({"model": MODEL, "messages": []}).encode(),
            400,
            "invalid_request_error",
            "messages",
        ),
        (
            json.dumps(
                {"model": MODEL, "messages": [{"role": "user", "content": [{"type": "video"}]}]}
            ).encode(),
            400,
            "invalid_request_error",
            "messages.0.content.0.type",
        ),
        (
            json.dumps({"model": MODEL, "max_tokens": "ten", "messages": HI}).encode(),
            400,
            "invalid_request_error",
            "max_tokens",
        ),
        (
            json.dumps(
                {"model": MODEL, "messages": [*HI, {"role": "assistant", "content": "Sure"}]}
            ).encode(),
            400,
            "invalid_request_error",
            "prefill",
        ),
        (
            json.dumps({"model": "gpt-4o", "messages": HI}).encode(),
            404,
            "not_found_error",
            "gpt-4o",
        ),
    ],
)
def test_bad_requests_are_refused_with_the_field_named(
    proxy, sim: UpstreamSimulator, body: bytes, status: int, kind: str, fragment: str
) -> None:
    code, headers, payload = raw_request(proxy.base_url, "POST", "/v1/messages", body)
    assert code == status
    assert payload["type"] == "error"
    assert payload["error"]["type"] == kind
    assert fragment in payload["error"]["message"]
    assert headers.get("request-id", "").startswith("req_")
    assert sim.message_calls() == []


def test_unknown_route_is_a_404_in_anthropic_shape(proxy) -> None:
    code, _, payload = raw_request(proxy.base_url, "GET", "/v1/nowhere")
    assert code == 404
    assert payload == {
        "type": "error",
        "error": {"type": "not_found_error", "message": payload["error"]["message"]},
    }


def test_server_survives_bad_input_and_still_serves(proxy, client: anthropic.Anthropic) -> None:
    for junk in (b"\xff\xfe", b"{", b"null", b'{"messages": 5}'):
        code, _, _ = raw_request(proxy.base_url, "POST", "/v1/messages", junk)
        assert code == 400
    message = client.messages.create(model=MODEL, max_tokens=8, messages=HI)
    assert message.content
