"""What clients of the seed relied on: request ids both ways, one model list, 501 for batches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from proxy_core.config import Settings
from proxy_core.http.app import create_app
from tests.unit.test_dialects import NoBackend

Client = TestClient[Any, Any]


SEEN_KEY = web.AppKey("seen", list)


@web.middleware
async def note_path(request: web.Request, handler: Any) -> web.StreamResponse:
    request.app[SEEN_KEY].append(request.path)
    return await handler(request)  # type: ignore[no-any-return]


@pytest.fixture
async def http(tmp_path) -> AsyncIterator[Client]:
    app = create_app(Settings(port=0, data_dir=tmp_path), NoBackend(), environ={})
    app.on_startup.clear()  # no `claude auth status` child in a unit test
    app[SEEN_KEY] = []
    app.middlewares.insert(0, note_path)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_every_answer_carries_a_request_id_under_both_names(http: Client) -> None:
    for method, path in [("GET", "/"), ("GET", "/v1/models"), ("POST", "/v1/messages")]:
        response = await http.request(method, path, data=b"{")
        assert response.headers["request-id"].startswith("req_")
        assert response.headers["x-request-id"] == response.headers["request-id"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("trace-abc.123:7", True), ("has space", False), ("x" * 129, False), ("", False)],
)
async def test_a_callers_plain_request_id_is_echoed(http: Client, sent: str, kept: bool) -> None:
    response = await http.get("/", headers={"x-request-id": sent})
    if kept:
        assert response.headers["x-request-id"] == response.headers["request-id"] == sent
    else:
        assert response.headers["x-request-id"].startswith("req_")


async def test_a_caller_naming_neither_api_gets_a_model_list_both_sdks_read(http: Client) -> None:
    body = await (await http.get("/v1/models")).json()
    assert body["object"] == "list" and body["has_more"] is False
    model = body["data"][0]
    assert model["type"] == "model" and model["display_name"] and model["created_at"]
    assert model["object"] == "model" and model["owned_by"] == "anthropic"
    assert isinstance(model["created"], int)
    one = await (await http.get("/v1/models/claude-haiku-4-5")).json()
    assert one["id"] == "claude-haiku-4-5-20251001" and one["object"] == "model"


async def test_each_sdk_still_gets_its_own_format(http: Client) -> None:
    anthropic_list = await (
        await http.get("/v1/models", headers={"anthropic-version": "2023-06-01"})
    ).json()
    assert "object" not in anthropic_list and "owned_by" not in anthropic_list["data"][0]
    openai_list = await (
        await http.get("/v1/models", headers={"user-agent": "OpenAI/Python 2.0"})
    ).json()
    assert openai_list["object"] == "list" and "display_name" not in openai_list["data"][0]


async def test_the_service_page_lists_endpoints_and_the_queue(http: Client) -> None:
    body = await (await http.get("/")).json()
    assert body["status"] == "ok" and body["version"]
    assert "POST /v1/responses" in body["endpoints"] and "POST /v1/messages" in body["endpoints"]
    assert body["queue"] == {"active": 0, "queued": 0, "max": 5, "max_queued": 20}


async def test_batches_are_a_501_that_the_sdks_do_not_retry(http: Client) -> None:
    base_url = str(http.make_url(""))
    for path in ("/v1/messages/batches", "/v1/messages/batches/msgbatch_1/results"):
        response = await http.post(path, json={})
        assert response.status == 501 and response.headers["x-should-retry"] == "false"
        assert (await response.json())["error"]["type"] == "not_implemented_error"
    seen = http.server.app[SEEN_KEY]
    seen.clear()
    sdk = anthropic.AsyncAnthropic(base_url=base_url, api_key="x", max_retries=2)
    async with sdk:
        with pytest.raises(anthropic.APIStatusError) as caught:
            await sdk.messages.batches.create(requests=[])
    assert caught.value.status_code == 501
    assert seen == ["/v1/messages/batches"], "a 501 must not be retried"


async def test_the_openai_sdk_lists_models_from_the_shared_list(http: Client) -> None:
    sdk = openai.AsyncOpenAI(base_url=str(http.make_url("/v1")), api_key="x", max_retries=0)
    async with sdk:
        page = await sdk.models.list(extra_headers={"user-agent": "curl/8"})
    first = page.data[0]
    assert first.owned_by == "anthropic"
    assert (first.model_extra or {}).get("display_name"), "the shared list, not OpenAI's alone"


def test_refusals_a_client_may_retry_say_when() -> None:
    from proxy_core.backend.failures import failure_to_error
    from proxy_core.errors import QueueFullError
    from proxy_core.http.middleware import error_response
    from proxy_core.limits import QUEUE_FULL_RETRY_AFTER_S

    upstream_overloaded = failure_to_error("server_error", "Overloaded", 529)
    for error in (
        QueueFullError("full", retry_after=QUEUE_FULL_RETRY_AFTER_S),
        upstream_overloaded,
    ):
        response = error_response(error, "req_1", lambda e: {"message": e.message})
        assert int(response.headers["retry-after"]) > 0
        assert response.headers["x-should-retry"] == "true"


def test_a_wait_of_hours_is_not_an_sdks_to_sleep_through() -> None:
    from proxy_core.errors import RateLimitError
    from proxy_core.http.middleware import error_response

    soon = error_response(RateLimitError("slow", retry_after=20), "r", lambda e: {})
    later = error_response(RateLimitError("plan limit", retry_after=4 * 3600), "r", lambda e: {})
    assert soon.headers["x-should-retry"] == "true"
    assert later.headers["x-should-retry"] == "false"
    assert later.headers["retry-after"] == str(4 * 3600)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-x\n1 GET /forged", "'claude-x\\n1 GET /forged'"),
    ],
)
def test_the_access_line_quotes_what_is_not_a_plain_token(value: str, shown: str) -> None:
    from proxy_core.http.middleware import _loggable

    assert _loggable(value) == shown
