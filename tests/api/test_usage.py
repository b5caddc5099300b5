"""Usage through the real stack on a subscription login: the windows the upstream reported,
what was served (kept across a restart and a kill), /metrics, and a used-up window."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy_core.testing.upstream_simulator import UpstreamSimulator
from tests.api.test_entrypoint import free_port, start_headless
from tests.api.test_errors import raw_request
from tests.conftest import ProxyFactory, anthropic_client

MODEL = "sonnet"
HI = [{"role": "user", "content": "Hi"}]


def usage_of(base_url: str, key: str | None = None) -> dict[str, Any]:
    code, _, body = raw_request(
        base_url, "GET", "/usage", headers={"x-api-key": key} if key else None
    )
    assert code == 200, body
    assert isinstance(body, dict)
    return body


def wait_for_requests(base_url: str, count: int, timeout_s: float = 10.0) -> dict[str, Any]:
    """The ledger is written a moment after the answer ends, by its own thread."""
    deadline = time.monotonic() + timeout_s
    while True:
        usage = usage_of(base_url)
        if usage["last_24h"]["requests"] >= count or time.monotonic() > deadline:
            return usage
        time.sleep(0.05)


def served_tokens(sim: UpstreamSimulator) -> dict[str, int]:
    totals: dict[str, int] = {}
    for call in sim.message_calls():
        for name, value in (call.reply_usage or {}).items():
            totals[name] = totals.get(name, 0) + value
    return totals


def test_usage_shows_the_windows_reported_and_what_was_served(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    sim.set_quota(five_hour=0.42, seven_day=0.13)
    proxy = make_proxy()
    anthropic_client(proxy.base_url).messages.create(model=MODEL, max_tokens=16, messages=HI)
    with openai.OpenAI(base_url=f"{proxy.base_url}/v1", api_key="unused") as chat:
        list(chat.chat.completions.create(model="gpt-4o", messages=HI, stream=True))

    usage = wait_for_requests(proxy.base_url, 2)

    five_hour = usage["windows"]["five_hour"]
    assert five_hour["utilization"] == 0.42 and five_hour["status"] == "allowed"
    assert five_hour["resets_at"] == sim.quota.resets_at("five_hour")
    assert usage["windows"]["seven_day"]["utilization"] == 0.13
    day = usage["last_24h"]
    expected = served_tokens(sim)
    assert day["requests"] == 2 and day["errors"] == 0
    assert day["input_tokens"] == expected["input_tokens"]
    assert day["output_tokens"] == expected["output_tokens"]
    assert day["cache_read_input_tokens"] == expected["cache_read_input_tokens"]
    assert set(day["by_client"]) == {"Anthropic/Python", "OpenAI/Python"}
    # By the model that answered: an OpenAI name is served by the default model.
    assert day["by_model"][MODEL]["requests"] == 2
    assert set(day["by_api"]) == {"anthropic", "openai_chat"}
    assert day["first_token_ms"]["p50"] > 0
    assert usage["last_7d"]["requests"] == 2
    assert sum(hour["requests"] for hour in usage["hourly"]) == 2

    _, _, health = raw_request(proxy.base_url, "GET", "/health")
    assert health["quota"]["fullest"] == "five_hour"
    assert health["quota"]["utilization"] == {"five_hour": 0.42, "seven_day": 0.13}

    _, _, recent = raw_request(proxy.base_url, "GET", "/usage/requests?limit=1")
    (row,) = recent["requests"]
    assert row["api"] == "openai_chat" and row["stream"] is True and row["status"] == 200
    assert row["client"] == "OpenAI/Python" and row["first_token_ms"] > 0


def test_a_bad_request_is_recorded_as_an_error_in_words(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy()
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client(proxy.base_url).messages.create(model=MODEL, max_tokens=16, messages=[])
    usage = wait_for_requests(proxy.base_url, 1)
    assert usage["last_24h"]["errors"] == 1
    _, _, recent = raw_request(proxy.base_url, "GET", "/usage/requests")
    (row,) = recent["requests"]
    assert row["status"] == 400 and row["error_type"] == "invalid_request_error"
    assert "messages" in row["error_message"]
    assert sim.message_calls() == []


def test_a_used_up_window_is_refused_with_its_reset_and_shown_as_rejected(
    make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    sim.set_quota(five_hour=1.0, five_hour_resets_in_s=2 * 3600)
    proxy = make_proxy()
    with pytest.raises(anthropic.RateLimitError) as caught:
        anthropic_client(proxy.base_url).messages.create(model=MODEL, max_tokens=16, messages=HI)

    retry_after = int(caught.value.response.headers["retry-after"])
    assert abs(retry_after - 2 * 3600) < 60, "the wait is until the window resets"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert "5-hour limit" in caught.value.message
    usage = wait_for_requests(proxy.base_url, 1)
    assert usage["windows"]["five_hour"]["status"] == "rejected"
    assert usage["last_24h"]["errors"] == 1
    _, _, health = raw_request(proxy.base_url, "GET", "/health")
    assert health["status"] == "degraded"
    assert any(p.startswith("The 5-hour limit is used up") for p in health["problems"])


def test_windows_and_totals_survive_a_restart(
    make_proxy: ProxyFactory, sim: UpstreamSimulator, tmp_path: Path
) -> None:
    sim.set_quota(five_hour=0.5, seven_day=0.2)
    first = make_proxy(data_dir=tmp_path / "kept")
    anthropic_client(first.base_url).messages.create(model=MODEL, max_tokens=16, messages=HI)
    before = wait_for_requests(first.base_url, 1)
    # The CLI reports the windows on an event of its own, which may come after the request's row.
    deadline = time.monotonic() + 10
    while "five_hour" not in before["windows"] and time.monotonic() < deadline:
        time.sleep(0.05)
        before = usage_of(first.base_url)
    first.stop()

    again = make_proxy(data_dir=tmp_path / "kept")
    after = usage_of(again.base_url)
    assert after["last_24h"]["requests"] == 1
    assert after["last_24h"]["input_tokens"] == before["last_24h"]["input_tokens"]
    assert after["windows"]["five_hour"] == before["windows"]["five_hour"]
    assert after["ledger"]["path"] == str(tmp_path / "kept" / "usage.db")


def test_a_killed_server_loses_nothing_it_had_answered(
    sim: UpstreamSimulator, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "CLAUDE_PROXY_DATA_DIR": str(tmp_path / "data"),
        "CLAUDE_PROXY_CONFIG_DIR": str(tmp_path / "config"),
        "CLAUDE_PROXY_WARM_POOL": "0",
    }
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = start_headless(env, port)
    try:
        client = anthropic_client(base_url)
        for _ in range(3):
            client.messages.create(model=MODEL, max_tokens=16, messages=HI)
        assert wait_for_requests(base_url, 3)["last_24h"]["requests"] == 3
        process.kill()  # SIGKILL; TerminateProcess on Windows: no cleanup runs
        process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)

    process = start_headless(env, port)
    try:
        assert usage_of(base_url)["last_24h"]["requests"] == 3
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_metrics_parse_as_prometheus_text(make_proxy: ProxyFactory, sim: UpstreamSimulator) -> None:
    sim.set_quota(five_hour=0.42, seven_day=0.13)
    proxy = make_proxy()
    anthropic_client(proxy.base_url).messages.create(model=MODEL, max_tokens=16, messages=HI)
    wait_for_requests(proxy.base_url, 1)

    import urllib.request

    with urllib.request.urlopen(proxy.base_url + "/metrics", timeout=10) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    assert content_type.startswith("text/plain; version=0.0.4")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    requests = (("api", "anthropic"), ("model", MODEL), ("status", "200"))
    assert samples[("claude_proxy_requests_total", requests)] == 1
    assert samples[("claude_proxy_quota_utilization", (("window", "five_hour"),))] == 0.42
    assert samples[("claude_proxy_first_token_seconds_count", (("api", "anthropic"),))] == 1
    assert samples[("claude_proxy_tokens_total", (("kind", "output"), ("model", MODEL)))] > 0
    assert samples[("claude_proxy_requests_active", ())] == 0
    assert ("claude_proxy_clis_waiting", (("kind", "kept"),)) in samples


def test_usage_and_metrics_need_the_key_and_the_dashboard_page_does_not(
    make_proxy: ProxyFactory,
) -> None:
    proxy = make_proxy(api_key="k")
    for path in ("/usage", "/v1/usage", "/usage/requests", "/metrics"):
        assert raw_request(proxy.base_url, "GET", path)[0] == 401, path
    assert usage_of(proxy.base_url, key="k")["last_24h"]["requests"] == 0
    import urllib.request

    with urllib.request.urlopen(proxy.base_url + "/dashboard", timeout=10) as response:
        page = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert "<title>Claude SDK Proxy" in page and "script-src 'self'" in policy
    code, _, body = raw_request(
        proxy.base_url, "POST", "/dashboard/ticket", body=b'{"ticket": "guessed"}'
    )
    assert code == 403 and "expired" in body["error"]["message"]


def test_api_key_billing_reports_no_windows(
    api_key_billing: str, make_proxy: ProxyFactory, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy()
    anthropic_client(proxy.base_url).messages.create(model=MODEL, max_tokens=16, messages=HI)
    usage = wait_for_requests(proxy.base_url, 1)
    assert usage["windows"] == {}
    assert "Authorization" not in sim.message_calls()[0].headers
