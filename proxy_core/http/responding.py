"""Running a backend request and writing its answer, whatever the dialect.

Both APIs answer the same way: take a concurrency slot, pump the backend's
events, then either fold them into one JSON body or stream them through a
dialect's :class:`StreamView`. Until the first event arrives nothing is sent,
so an early failure keeps its real HTTP status; once the stream is committed,
failures become the dialect's in-band error.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from proxy_core.backend.base import BackendRequest
from proxy_core.backend.passable import check_passable
from proxy_core.errors import InvalidRequestError, ProxyError
from proxy_core.events import StreamEventData, aggregate
from proxy_core.http.keys import backend_key, backend_tasks_key, gate_key, settings_key, status_key
from proxy_core.http.middleware import ACCESS_DETAIL_KEY, COMMITTED_RESPONSE_KEY
from proxy_core.http.pump import END, SILENCE, EventPump
from proxy_core.http.served import SERVED_KEY
from proxy_core.usage.served import ServedRequest

NESTED_TOO_DEEPLY = "The request body is nested too deeply to read."


class StreamView(Protocol):
    def start(self, *, early: bool) -> bytes:
        """Sent when the stream is committed; ``early`` when the upstream has not started."""
        ...

    def frames(self, event: StreamEventData) -> bytes: ...

    def ping(self) -> bytes: ...

    def error(self, error: ProxyError) -> bytes: ...

    def end(self) -> bytes: ...


async def read_json(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except ValueError as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidRequestError(NESTED_TOO_DEEPLY) from None
    except RequestPayloadError:
        # A broken chunk, gzip or trailer: the body cannot be read. Its text stays out of it.
        raise InvalidRequestError("The request body could not be read (malformed).") from None


async def start_pump(request: web.Request, backend_request: BackendRequest) -> EventPump:
    app = request.app
    gate = app[gate_key]
    await gate.acquire()
    try:
        events = app[backend_key].stream(backend_request)
    except BaseException:
        gate.release()
        raise
    return EventPump(events, on_finished=gate.release, tasks=app[backend_tasks_key])


async def respond(
    request: web.Request,
    backend_request: BackendRequest,
    *,
    stream_view: StreamView | None,
    render: Callable[[dict[str, Any]], dict[str, Any]],
) -> web.StreamResponse:
    """Stream through ``stream_view``, or answer ``render(message)`` as one JSON body."""
    status = request.app[status_key]
    streamed = stream_view is not None
    request[ACCESS_DETAIL_KEY] = {"model": backend_request.model, "stream": streamed}
    served = request.get(SERVED_KEY) or ServedRequest("internal", "", "", streamed)
    served.model, served.stream = backend_request.model, streamed
    check_passable(backend_request)
    pump = await start_pump(request, backend_request)
    try:
        if stream_view is not None:
            return await _stream(request, pump, stream_view, served)
        message = aggregate(await _collect(pump, served))
    except ProxyError as error:
        status.note_error(error)
        raise
    finally:
        pump.abandon()
    status.note_success()
    return web.json_response(render(message))


async def _collect(pump: EventPump, served: ServedRequest) -> list[StreamEventData]:
    # The first failure raises; the middleware answers it with its real status.
    events: list[StreamEventData] = []
    while True:
        item = await pump.next()
        if item is END:
            return events
        assert isinstance(item, dict)
        served.observe(item)
        events.append(item)
        if item["type"] == "message_stop":
            return events


async def _stream(
    request: web.Request, pump: EventPump, view: StreamView, served: ServedRequest
) -> web.StreamResponse:
    settings = request.app[settings_key]
    first = await pump.next(settings.stream_commit_wait_s)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    # From here on the status line is sent: every failure must be an in-band error.
    request[COMMITTED_RESPONSE_KEY] = response
    item = first
    try:
        await response.write(view.start(early=item is SILENCE))
        if item is SILENCE:
            item = await pump.next(settings.ping_interval_s)
        while item is not END:
            if item is SILENCE:
                await response.write(view.ping())
            else:
                assert isinstance(item, dict)
                served.observe(item)
                await response.write(view.frames(item))
                if item["type"] == "message_stop":
                    break
            item = await pump.next(settings.ping_interval_s)
        await response.write(view.end())
        await response.write_eof()
    except ProxyError as error:
        request.app[status_key].note_error(error)
        request[ACCESS_DETAIL_KEY]["error"] = f"{error.kind} (in the stream)"
        served.fail(error.kind, error.message)
        with contextlib.suppress(ConnectionError):
            await response.write(view.error(error))
            await response.write_eof()
        return response
    except ConnectionError:
        served.fail("client_closed", "The client left before the answer ended.")
        return response  # the client left; the pump is abandoned by the caller
    request.app[status_key].note_success()
    return response
