"""Anthropic Messages API endpoints: messages, count_tokens, models."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from aiohttp import web

from proxy_core.anthropic_api.count_tokens import estimate_input_tokens
from proxy_core.anthropic_api.models import CATALOG, ModelInfo, display_model, find_model
from proxy_core.anthropic_api.request import MessagesCall, parse_messages_request
from proxy_core.anthropic_api.stream_view import (
    PING_FRAME,
    SSEView,
    sse_error_frame,
)
from proxy_core.errors import InvalidRequestError, ProxyError
from proxy_core.events import StreamEventData, aggregate
from proxy_core.http.keys import backend_key, backend_tasks_key, gate_key, settings_key, status_key
from proxy_core.http.middleware import COMMITTED_RESPONSE_KEY, REQUEST_ID_KEY
from proxy_core.http.pump import END, SILENCE, EventPump


async def read_json(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except ValueError as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc}") from None


async def start_pump(request: web.Request, call: MessagesCall) -> EventPump:
    app = request.app
    gate = app[gate_key]
    await gate.acquire()
    try:
        events = app[backend_key].stream(call.backend_request)
    except BaseException:
        gate.release()
        raise
    return EventPump(events, on_finished=gate.release, tasks=app[backend_tasks_key])


async def create_message(request: web.Request) -> web.StreamResponse:
    settings = request.app[settings_key]
    call = parse_messages_request(
        await read_json(request),
        default_model=settings.default_model,
        request_id=request[REQUEST_ID_KEY],
        agent_mode=settings.agent_workspace is not None,
    )
    pump = await start_pump(request, call)
    try:
        if call.stream:
            return await _stream_message(request, call, pump)
        message = await _collect_message(pump)
    except ProxyError as error:
        request.app[status_key].note_error(error)
        raise
    finally:
        pump.abandon()
    request.app[status_key].note_success()
    return web.json_response(message)


async def _collect_message(pump: EventPump) -> dict[str, Any]:
    # The first failure raises; the middleware answers it with its real status.
    events: list[StreamEventData] = []
    while True:
        item = await pump.next()
        if item is END:
            break
        assert isinstance(item, dict)
        events.append(item)
        if item["type"] == "message_stop":
            break
    return aggregate(events)


async def _stream_message(
    request: web.Request, call: MessagesCall, pump: EventPump
) -> web.StreamResponse:
    settings = request.app[settings_key]
    # Until the first event, a failure is still an ordinary HTTP error response (a 429 keeps
    # its status and retry-after); past the wait, the stream is committed with message_start.
    first = await pump.next(settings.stream_commit_wait_s)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            "request-id": request[REQUEST_ID_KEY],
        }
    )
    await response.prepare(request)
    # From here on the status line is sent: every failure must become an SSE error event.
    request[COMMITTED_RESPONSE_KEY] = response
    view = SSEView()
    item = first
    try:
        if item is SILENCE:
            await response.write(view.early_start(model=display_model(call.backend_request.model)))
            item = await pump.next(settings.ping_interval_s)
        while item is not END:
            if item is SILENCE:
                await response.write(PING_FRAME)
            else:
                assert isinstance(item, dict)
                await response.write(view.frames(item))
                if item["type"] == "message_stop":
                    break
            item = await pump.next(settings.ping_interval_s)
        await response.write_eof()
    except ProxyError as error:
        request.app[status_key].note_error(error)
        with contextlib.suppress(ConnectionError):
            await response.write(sse_error_frame(error))
            await response.write_eof()
        return response
    except ConnectionError:
        return response  # the client left; the pump is abandoned by the caller
    request.app[status_key].note_success()
    return response


async def count_tokens(request: web.Request) -> web.Response:
    settings = request.app[settings_key]
    body = await read_json(request)
    # Validate exactly as /v1/messages does, so a body that counts is a body that runs.
    parse_messages_request(body, default_model=settings.default_model, request_id="")
    return web.json_response({"input_tokens": estimate_input_tokens(body)})


def _model_json(model: ModelInfo) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model.id,
        "display_name": model.display_name,
        "created_at": model.created_at,
    }


async def list_models(request: web.Request) -> web.Response:
    data = [_model_json(model) for model in CATALOG]
    return web.json_response(
        {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
    )


async def get_model(request: web.Request) -> web.Response:
    return web.json_response(_model_json(find_model(request.match_info["model_id"])))


def add_routes(app: web.Application) -> None:
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/messages", create_message)
        app.router.add_post(f"{prefix}/messages/count_tokens", count_tokens)
        app.router.add_get(f"{prefix}/models", list_models)
        app.router.add_get(f"{prefix}/models/{{model_id}}", get_model)
