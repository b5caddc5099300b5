"""CORS for the origins the user allowed: preflights, echoed origins, and nothing for others."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from proxy_core.config import ConfigError, Settings, check_exposure, load_settings
from proxy_core.http.app import create_app
from tests.unit.test_dialects import NoBackend

APP = "http://app.test:5173"
Client = TestClient[Any, Any]


@pytest.fixture
async def make_client(tmp_path) -> AsyncIterator[Callable[..., Any]]:
    clients: list[Client] = []

    async def make(**settings: Any) -> Client:
        app = create_app(Settings(port=0, data_dir=tmp_path, **settings), NoBackend(), environ={})
        app.on_startup.clear()  # no `claude auth status` child in a unit test
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def preflight(origin: str, headers: str = "content-type, x-api-key") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": headers,
    }


async def test_a_preflight_from_an_allowed_origin_is_answered_before_the_key_check(
    make_client: Callable[..., Any],
) -> None:
    client = await make_client(api_key="k", cors_origins=(APP,))
    requested = (
        "content-type, x-api-key, anthropic-version, x-stainless-os, authorization, user-agent"
    )
    response = await client.options("/v1/messages", headers=preflight(APP, requested))
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.headers["Access-Control-Allow-Headers"] == requested
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_headers_not_named_are_left_out_of_the_preflight_answer(
    make_client: Callable[..., Any],
) -> None:
    client = await make_client(cors_origins=(APP,))
    response = await client.options(
        "/v1/messages", headers=preflight(APP, "content-type, x-secret-sauce")
    )
    assert response.headers["Access-Control-Allow-Headers"] == "content-type"


async def test_a_preflight_from_another_origin_is_refused_without_cors_headers(
    make_client: Callable[..., Any],
) -> None:
    client = await make_client(cors_origins=(APP,))
    response = await client.options("/v1/messages", headers=preflight("http://evil.test"))
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert (await response.json())["error"]["type"] == "permission_error"


async def test_answers_to_an_allowed_origin_echo_it_errors_included(
    make_client: Callable[..., Any],
) -> None:
    client = await make_client(api_key="k", cors_origins=(APP,))
    refused = await client.post("/v1/messages", json={}, headers={"Origin": APP})
    assert refused.status == 401
    assert refused.headers["Access-Control-Allow-Origin"] == APP
    assert "request-id" in refused.headers["Access-Control-Expose-Headers"]
    assert "retry-after" in refused.headers["Access-Control-Expose-Headers"]
    assert "x-should-retry" in refused.headers["Access-Control-Expose-Headers"]
    bad = await client.post("/v1/messages", data=b"{", headers={"Origin": APP, "x-api-key": "k"})
    assert bad.status == 400 and bad.headers["Access-Control-Allow-Origin"] == APP


async def test_other_origins_get_no_cors_header_and_the_page_check_still_refuses_them(
    make_client: Callable[..., Any],
) -> None:
    client = await make_client(cors_origins=(APP,))
    response = await client.post("/v1/messages", json={}, headers={"Origin": "http://evil.test"})
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Vary"] == "Origin"


async def test_star_echoes_any_origin_when_a_key_is_set(make_client: Callable[..., Any]) -> None:
    client = await make_client(api_key="k", cors_origins=("*",))
    response = await client.options("/v1/chat/completions", headers=preflight("https://x.example"))
    assert response.headers["Access-Control-Allow-Origin"] == "https://x.example"


async def test_private_network_access_is_granted_to_allowed_origins(
    make_client: Callable[..., Any],
) -> None:
    client = await make_client(cors_origins=(APP,))
    headers = {**preflight(APP), "Access-Control-Request-Private-Network": "true"}
    response = await client.options("/v1/messages", headers=headers)
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"


async def test_cors_is_off_by_default(make_client: Callable[..., Any]) -> None:
    client = await make_client()
    response = await client.options("/v1/messages", headers=preflight(APP))
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers and "Vary" not in response.headers


def test_star_without_a_key_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="without an API key"):
        check_exposure(Settings(cors_origins=("*",)))
    check_exposure(Settings(cors_origins=("*",), api_key="k"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "http://localhost:5173, app://obsidian.md",
            ("http://localhost:5173", "app://obsidian.md"),
        ),
        ("", ()),
        ("*", ("*",)),
    ],
)
def test_origins_come_from_the_environment_as_a_list(
    raw: str, expected: tuple[str, ...], tmp_path
) -> None:
    environ = {"CLAUDE_PROXY_CORS_ORIGINS": raw}
    settings = load_settings(environ=environ, config_path=tmp_path / "none.json")
    assert settings.cors_origins == expected


@pytest.mark.parametrize(
    "origin", ["http://localhost:5173/", "localhost:5173", "HTTP://A.B", "null"]
)
def test_an_origin_written_wrongly_is_a_clear_error(origin: str, tmp_path) -> None:
    with pytest.raises(ConfigError, match="is not an origin|default port"):
        environ = {"CLAUDE_PROXY_CORS_ORIGINS": origin}
        load_settings(environ=environ, config_path=tmp_path / "none.json")
