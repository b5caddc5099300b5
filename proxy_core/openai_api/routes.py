"""OpenAI-compatible endpoints: chat completions and the model list.

Both base URLs work: ``http://127.0.0.1:3456/v1`` (the OpenAI convention) and
the seed's ``http://127.0.0.1:3456/v1/chat`` (its clients call
``/v1/chat/chat/completions`` and ``/v1/chat/models``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy_core.anthropic_api.models import CATALOG, FAMILIES, find_model
from proxy_core.http.keys import error_dialects_key, settings_key
from proxy_core.http.middleware import REQUEST_ID_KEY
from proxy_core.http.responding import read_json, respond
from proxy_core.http.served import served_as
from proxy_core.openai_api.errors import openai_error_body
from proxy_core.openai_api.request import parse_chat_request
from proxy_core.openai_api.views import ChunkView, completion_json, new_completion_id

MODEL_CREATED = 1_700_000_000  # OpenAI lists want a timestamp; the catalog's dates are strings


@served_as("openai_chat")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    settings = request.app[settings_key]
    call = parse_chat_request(
        await read_json(request),
        default_model=settings.default_model,
        request_id=request[REQUEST_ID_KEY],
        agent_mode=settings.agent_workspace is not None,
    )
    model = call.requested_model
    view = ChunkView(model=model, include_usage=call.include_usage) if call.stream else None
    completion_id = new_completion_id()
    return await respond(
        request,
        call.backend_request,
        stream_view=view,
        render=lambda message: completion_json(message, model=model, completion_id=completion_id),
    )


def model_json(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODEL_CREATED, "owned_by": "anthropic"}


async def list_models(request: web.Request) -> web.Response:
    ids = [model.id for model in CATALOG] + list(FAMILIES)
    return web.json_response({"object": "list", "data": [model_json(i) for i in ids]})


async def get_model(request: web.Request) -> web.Response:
    model_id = request.match_info["model_id"]
    find_model(model_id)  # 404 for names the proxy does not know
    return web.json_response(model_json(model_id))


def is_openai_client(request: web.Request) -> bool:
    """Anthropic's SDKs always send anthropic-version; OpenAI's name themselves in User-Agent."""
    if "anthropic-version" in request.headers:
        return False
    return "openai" in request.headers.get("user-agent", "").lower()


def is_anthropic_client(request: web.Request) -> bool:
    return "anthropic-version" in request.headers


def add_routes(app: web.Application) -> None:
    routes = [
        app.router.add_post(path, chat_completions)
        for path in ("/v1/chat/completions", "/chat/completions", "/v1/chat/chat/completions")
    ]
    routes.append(app.router.add_get("/v1/chat/models", list_models))
    routes.append(app.router.add_get("/v1/chat/models/{model_id}", get_model))
    dialects = app[error_dialects_key]
    dialects.claim_routes(routes, openai_error_body)
    for namespace in ("/v1/chat", "/chat"):
        dialects.claim_namespace(namespace, openai_error_body)
