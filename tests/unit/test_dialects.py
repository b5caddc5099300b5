"""Errors answer in the dialect of the API that owns the route, whatever the path spells."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from proxy_core.backend.base import BackendRequest, StreamEventData
from proxy_core.config import Settings
from proxy_core.http.app import create_app


class NoBackend:
    """Never reached: every request here fails before the backend."""

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEventData]:
        raise AssertionError("the backend was called")
        yield {}

    def list_sessions(self) -> list[dict[str, Any]]:
        return []

    async def preload(self) -> None:
        pass

    def cli_counts(self) -> dict[str, int]:
        return {"kept": 0, "spares": 0}

    def end_session(self, session_id: str) -> bool:
        return False

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def http(tmp_path) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(Settings(port=0, data_dir=tmp_path), NoBackend(), environ={})
    app.on_startup.clear()  # no `claude auth status` child in a unit test
    async with TestClient(TestServer(app)) as client:
        yield client


def _is_openai(body: dict[str, Any]) -> bool:
    return set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}


def _is_anthropic(body: dict[str, Any]) -> bool:
    return body.get("type") == "error" and set(body["error"]) == {"type", "message"}


@pytest.mark.parametrize(
    ("method", "path", "openai"),
    [
        ("POST", "/v1/chat/completions", True),  # a bad body on a matched route
        ("POST", "/chat/completions", True),
        ("POST", "/v1/chat/chat/completions", True),
        ("GET", "/v1/chat/models/no-such-model", True),
        ("GET", "/v1/chat/nowhere", True),  # no route: the namespace's owner answers
        ("GET", "/v1/chat/completions", True),  # wrong method
        ("POST", "/v1/messages", False),
        ("GET", "/v1/models/no-such-model", False),
        ("GET", "/v1/nowhere", False),
        ("GET", "/v1/chatter", False),  # a prefix of the text is not the namespace
        ("POST", "/v1/messages/chat/", False),
    ],
)
async def test_error_dialect_follows_the_route(
    http: TestClient[Any, Any], method: str, path: str, openai: bool
) -> None:
    response = await http.request(method, path, data=b"{not json")
    assert response.status in (400, 404, 405)
    body = await response.json()
    assert _is_openai(body) if openai else _is_anthropic(body), body
