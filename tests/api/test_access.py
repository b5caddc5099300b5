"""The local API key, the concurrency limit, models and health, through the real stack."""

from __future__ import annotations

import threading
import time

import anthropic
import pytest

from proxy_core.testing.upstream_simulator import Text, UpstreamSimulator
from tests.api.test_errors import HI, MODEL, raw_request
from tests.conftest import anthropic_client

KEY = "local-secret-key"


def test_api_key_is_required_everywhere_but_health(make_proxy, sim: UpstreamSimulator) -> None:
    proxy = make_proxy(api_key=KEY)
    for path in ("/v1/models", "/", "/v1/models/opus"):
        code, _, body = raw_request(proxy.base_url, "GET", path)
        assert code == 401 and body["error"]["type"] == "authentication_error"
    code, _, _ = raw_request(proxy.base_url, "GET", "/v1/models", headers={"x-api-key": "wrong"})
    assert code == 401
    code, _, _ = raw_request(proxy.base_url, "GET", "/health")
    assert code == 200

    with pytest.raises(anthropic.AuthenticationError):
        anthropic_client(proxy.base_url, api_key="wrong", max_retries=0).messages.create(
            model=MODEL, max_tokens=8, messages=HI
        )
    assert sim.message_calls() == []

    by_header = anthropic_client(proxy.base_url, api_key=KEY, max_retries=0)
    assert by_header.messages.create(model=MODEL, max_tokens=8, messages=HI).content
    by_bearer = anthropic_client(proxy.base_url, auth_token=KEY, api_key=None, max_retries=0)
    assert by_bearer.messages.create(model=MODEL, max_tokens=8, messages=HI).content


def _slow_request(proxy, results: list[object]) -> None:
    client = anthropic_client(proxy.base_url, api_key="x", max_retries=0)
    try:
        results.append(client.messages.create(model=MODEL, max_tokens=8, messages=HI))
    except anthropic.APIStatusError as error:
        results.append(error)


def test_requests_past_the_limit_and_queue_are_refused_at_once(
    make_proxy, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(max_concurrent=1, max_queue=0)
    sim.enqueue(Text(first_byte_delay=2.0))
    results: list[object] = []
    worker = threading.Thread(target=_slow_request, args=(proxy, results))
    worker.start()
    time.sleep(0.5)
    started = time.monotonic()
    code, headers, body = raw_request(
        proxy.base_url,
        "POST",
        "/v1/messages",
        b'{"model": "sonnet", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}',
    )
    assert time.monotonic() - started < 0.5, "a full proxy must answer at once, not hang"
    assert code == 429
    assert body["error"]["type"] == "rate_limit_error"
    assert "CLAUDE_PROXY_MAX_CONCURRENT" in body["error"]["message"]
    assert int(headers["retry-after"]) > 0
    worker.join(10)
    assert isinstance(results[0], anthropic.types.Message)


def test_queued_request_that_waits_too_long_gets_529(make_proxy, sim: UpstreamSimulator) -> None:
    proxy = make_proxy(max_concurrent=1, max_queue=1, queue_timeout_s=0.5)
    sim.enqueue(Text(first_byte_delay=2.5))
    results: list[object] = []
    worker = threading.Thread(target=_slow_request, args=(proxy, results))
    worker.start()
    time.sleep(0.5)
    code, _, body = raw_request(
        proxy.base_url,
        "POST",
        "/v1/messages",
        b'{"model": "sonnet", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}',
    )
    assert code == 529 and body["error"]["type"] == "overloaded_error"
    worker.join(10)
    assert isinstance(results[0], anthropic.types.Message)


def test_queued_request_runs_when_a_slot_frees(make_proxy, sim: UpstreamSimulator) -> None:
    proxy = make_proxy(max_concurrent=1, max_queue=4)
    results: list[object] = []
    workers = [threading.Thread(target=_slow_request, args=(proxy, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert len(results) == 3
    assert all(isinstance(result, anthropic.types.Message) for result in results)


def test_models_list_and_lookup(client: anthropic.Anthropic) -> None:
    page = client.models.list()
    ids = [model.id for model in page.data]
    assert "claude-opus-5-5" in ids and "claude-sonnet-5-5" in ids and "claude-haiku-5-5" in ids
    assert client.models.retrieve("claude-sonnet-5-5").display_name == "Claude Sonnet 5.5"
    assert client.models.retrieve("opus").id == "claude-opus-5-5"
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_models_list_has_the_anthropic_page_fields(proxy) -> None:
    _, _, body = raw_request(proxy.base_url, "GET", "/v1/models")
    assert body["has_more"] is False
    assert body["first_id"] == body["data"][0]["id"]
    assert body["last_id"] == body["data"][-1]["id"]
    assert all(model["type"] == "model" for model in body["data"])


def test_count_tokens_is_an_estimate_that_grows_with_input(client: anthropic.Anthropic) -> None:
    short = client.messages.count_tokens(model=MODEL, messages=HI)
    long = client.messages.count_tokens(
        model=MODEL, messages=[{"role": "user", "content": "word " * 400}]
    )
    assert 0 < short.input_tokens < long.input_tokens
    assert 400 <= long.input_tokens <= 700


def test_health_reports_cli_login_and_auth_mode(proxy) -> None:
    code, _, body = raw_request(proxy.base_url, "GET", "/health")
    assert code == 200
    assert body["status"] == "ok"
    assert body["auth_mode"] == "subscription"  # the test bed logs in as a subscriber
    assert body["cli"]["found"] is True
    assert body["cli"]["logged_in"] is True
    assert body["cli"]["auth_method"] == "claude.ai"
    assert body["cli"]["subscription_type"] == "max"
    assert body["cli"]["version"]
    assert body["billing_warning"] is None


def test_health_says_when_an_api_key_is_billed(api_key_billing: str, make_proxy) -> None:
    proxy = make_proxy()
    _, _, body = raw_request(proxy.base_url, "GET", "/health")
    assert body["auth_mode"] == "API key"
