"""The OpenAI Responses API: ``POST /v1/responses``, ``GET`` and ``DELETE /v1/responses/{id}``.

A fourth view of the one event stream: the request is translated to the Anthropic shape
and runs the same path as the other APIs (native tools, kept conversations, exact usage,
the same limits and errors), and its events are written back as a response object or as
Responses stream events. Its errors are in OpenAI's shape, 404s and 405s included.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy_core.errors import NotFoundError
from proxy_core.http.keys import error_dialects_key, settings_key
from proxy_core.http.middleware import REQUEST_ID_KEY
from proxy_core.http.responding import read_json, respond
from proxy_core.http.served import served_as
from proxy_core.openai_api.errors import openai_error_body
from proxy_core.openai_api.response_store import ResponseStore
from proxy_core.openai_api.responses_request import parse_responses_request
from proxy_core.openai_api.responses_view import ResponseEventView, ResponseShell, response_json

response_store_key = web.AppKey("response_store", ResponseStore)


@served_as("openai_responses")
async def create_response(request: web.Request) -> web.StreamResponse:
    settings = request.app[settings_key]
    store = request.app[response_store_key]
    call = parse_responses_request(
        await read_json(request),
        default_model=settings.default_model,
        request_id=request[REQUEST_ID_KEY],
        earlier=store.conversation,
        agent_mode=settings.agent_workspace is not None,
    )
    shell = ResponseShell(model=call.requested_model, echo=call.echo)

    def keep(response: dict[str, Any], reply: list[dict[str, Any]]) -> None:
        if call.store:
            store.put(
                response,
                previous_id=call.previous_response_id,
                own_input=call.own_input,
                reply=reply,
            )

    view = (
        ResponseEventView(shell, call.names, reasoning_item=call.reasoning_item, on_finished=keep)
        if call.stream
        else None
    )
    return await respond(
        request,
        call.backend_request,
        stream_view=view,
        render=lambda message: response_json(
            message, shell, call.names, reasoning_item=call.reasoning_item, on_finished=keep
        ),
    )


def _stored(request: web.Request) -> tuple[ResponseStore, str]:
    return request.app[response_store_key], request.match_info["response_id"]


def _missing(response_id: str) -> NotFoundError:
    return NotFoundError(
        f"No response with id {response_id!r} is kept here (only those created with "
        "store: true, in this proxy's memory, since it started).",
        param="response_id",
    )


async def get_response(request: web.Request) -> web.Response:
    store, response_id = _stored(request)
    response = store.get(response_id)
    if response is None:
        raise _missing(response_id)
    return web.json_response(response)


async def delete_response(request: web.Request) -> web.Response:
    store, response_id = _stored(request)
    if not store.delete(response_id):
        raise _missing(response_id)
    return web.json_response({"id": response_id, "object": "response", "deleted": True})


def add_routes(app: web.Application) -> None:
    app[response_store_key] = ResponseStore()
    routes = []
    for prefix in ("/v1", ""):
        routes.append(app.router.add_post(f"{prefix}/responses", create_response))
        routes.append(app.router.add_get(f"{prefix}/responses/{{response_id}}", get_response))
        routes.append(app.router.add_delete(f"{prefix}/responses/{{response_id}}", delete_response))
        app[error_dialects_key].claim_namespace(f"{prefix}/responses", openai_error_body)
    app[error_dialects_key].claim_routes(routes, openai_error_body)
