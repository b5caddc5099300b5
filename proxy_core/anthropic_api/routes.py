"""Anthropic Messages API endpoints: messages, count_tokens, models."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from proxy_core.anthropic_api.count_tokens import estimate_input_tokens
from proxy_core.anthropic_api.models import CATALOG, ModelInfo, display_model, find_model
from proxy_core.anthropic_api.request import parse_messages_request
from proxy_core.anthropic_api.stream_view import SSEView
from proxy_core.backend.passable import check_passable
from proxy_core.errors import NotServedError
from proxy_core.http.keys import settings_key
from proxy_core.http.middleware import REQUEST_ID_KEY
from proxy_core.http.responding import read_json, respond
from proxy_core.http.served import served_as
from proxy_core.openai_api import routes as openai_routes

# Sent by the tray's Test connection: a probe must not leave a kept CLI and a spare behind.
ONE_OFF_HEADER = "x-claude-proxy-one-off"


@served_as("anthropic")
async def create_message(request: web.Request) -> web.StreamResponse:
    settings = request.app[settings_key]
    call = parse_messages_request(
        await read_json(request),
        default_model=settings.default_model,
        request_id=request[REQUEST_ID_KEY],
        agent_mode=settings.agent_workspace is not None,
    )
    model = display_model(call.backend_request.model)
    view = SSEView(early_model=model) if call.stream else None
    backend_request = call.backend_request
    if request.headers.get(ONE_OFF_HEADER) == "1":
        backend_request = replace(backend_request, keep=False)
    return await respond(request, backend_request, stream_view=view, render=lambda m: m)


async def count_tokens(request: web.Request) -> web.Response:
    settings = request.app[settings_key]
    body = await read_json(request)
    # Validate exactly as /v1/messages does, so a body that counts is a body that runs.
    call = parse_messages_request(body, default_model=settings.default_model, request_id="")
    check_passable(call.backend_request)
    return web.json_response({"input_tokens": estimate_input_tokens(body)})


def _model_json(model: ModelInfo) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model.id,
        "display_name": model.display_name,
        "created_at": model.created_at,
    }


def _either_json(model: ModelInfo) -> dict[str, Any]:
    """For a caller that names neither API: a model both SDKs can read."""
    return {**openai_routes.model_json(model.id), **_model_json(model)}


async def list_models(request: web.Request) -> web.Response:
    if openai_routes.is_openai_client(request):
        return await openai_routes.list_models(request)
    both = not openai_routes.is_anthropic_client(request)
    data = [(_either_json if both else _model_json)(model) for model in CATALOG]
    page = {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
    return web.json_response({"object": "list", **page} if both else page)


async def get_model(request: web.Request) -> web.Response:
    if openai_routes.is_openai_client(request):
        return await openai_routes.get_model(request)
    model = find_model(request.match_info["model_id"])
    both = not openai_routes.is_anthropic_client(request)
    return web.json_response(_either_json(model) if both else _model_json(model))


async def batches(request: web.Request) -> web.Response:
    raise NotServedError(
        "Message batches are not supported: Claude Code answers one request at a time. "
        "Send the requests to /v1/messages instead (up to CLAUDE_PROXY_MAX_CONCURRENT run at once)."
    )


def add_routes(app: web.Application) -> None:
    for prefix in ("/v1", ""):
        app.router.add_route("*", f"{prefix}/messages/batches{{rest:(/.*)?}}", batches)
        app.router.add_post(f"{prefix}/messages", create_message)
        app.router.add_post(f"{prefix}/messages/count_tokens", count_tokens)
        app.router.add_get(f"{prefix}/models", list_models)
        app.router.add_get(f"{prefix}/models/{{model_id}}", get_model)
