"""No CLI process outlives its request: disconnects, timeouts and shutdown."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from urllib.parse import urlsplit

import anthropic

from proxy_core.testing.upstream_simulator import Hang, StallAfterStart, Text, UpstreamSimulator
from tests.api.test_errors import HI, MODEL
from tests.conftest import anthropic_client, cli_processes, loaded_backend, wait_for_no_cli


def _open_stream(base_url: str) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = json.dumps({"model": MODEL, "max_tokens": 8, "stream": True, "messages": HI})
    connection.request("POST", "/v1/messages", body, {"content-type": "application/json"})
    return connection


def _wait_for_cli(timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cli_processes():
        assert time.monotonic() < deadline, "no CLI process started"
        time.sleep(0.02)


def test_client_that_disconnects_mid_stream_ends_its_cli_within_a_second(
    proxy, sim: UpstreamSimulator
) -> None:
    sim.enqueue(StallAfterStart(60))
    connection = _open_stream(proxy.base_url)
    response = connection.getresponse()
    assert response.status == 200
    assert b"message_start" in response.read1(65536)
    assert cli_processes()
    connection.sock.close()  # type: ignore[union-attr]
    connection.close()
    assert wait_for_no_cli(1.0) == []


def test_client_that_gives_up_before_any_answer_ends_its_cli(proxy, sim: UpstreamSimulator) -> None:
    sim.enqueue(Hang(60))
    client = anthropic_client(proxy.base_url, api_key="x", max_retries=0, timeout=1.5)
    try:
        client.messages.create(model=MODEL, max_tokens=8, messages=HI)
    except anthropic.APITimeoutError:
        pass
    else:
        raise AssertionError("the request should have timed out on the client side")
    assert wait_for_no_cli(1.0) == []


def test_stop_lets_a_running_request_finish_then_leaves_no_cli(
    proxy, sim: UpstreamSimulator
) -> None:
    sim.enqueue(Text("slow but complete", chunks=4, delay_between_chunks=0.3))
    results: list[object] = []

    def run() -> None:
        client = anthropic_client(proxy.base_url, api_key="x", max_retries=0)
        results.append(client.messages.create(model=MODEL, max_tokens=8, messages=HI))

    worker = threading.Thread(target=run)
    worker.start()
    _wait_for_cli()
    proxy.stop()
    worker.join(10)
    assert results and results[0].content[0].text == "slow but complete"  # type: ignore[attr-defined]
    assert wait_for_no_cli(1.0) == []


def test_stop_ends_requests_that_outlast_the_grace_period(
    make_proxy, sim: UpstreamSimulator
) -> None:
    proxy = make_proxy(shutdown_grace_s=0.5)
    sim.enqueue(Hang(60))
    worker = threading.Thread(
        target=lambda: _swallow(
            lambda: anthropic_client(
                proxy.base_url, api_key="x", max_retries=0, timeout=20
            ).messages.create(model=MODEL, max_tokens=8, messages=HI)
        )
    )
    worker.start()
    _wait_for_cli()
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 5
    assert wait_for_no_cli(1.0) == []
    worker.join(10)


def _swallow(call) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(anthropic.APIError):
        call()


def test_many_requests_with_cancellations_leave_nothing_behind(
    proxy, sim: UpstreamSimulator
) -> None:
    client = anthropic_client(proxy.base_url, api_key="x", max_retries=0)
    for round_number in range(6):
        if round_number % 2:
            sim.enqueue(StallAfterStart(60))
            connection = _open_stream(proxy.base_url)
            connection.getresponse().read1(65536)
            connection.close()
        else:
            history = [{"role": "user", "content": f"question {round_number}"}]
            assert client.messages.create(model=MODEL, max_tokens=8, messages=history).content
    # Cancelled requests leave nothing; finished conversations stay parked for their next turn.
    parked = loaded_backend(proxy).clis.conversations
    deadline = time.monotonic() + 1.5
    while len(cli_processes()) != len(parked) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(parked) == 3
    assert len(cli_processes()) == len(parked)
    proxy.stop()
    assert wait_for_no_cli(1.0) == []
