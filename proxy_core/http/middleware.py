"""Middleware by concern: request ids, local API-key auth, and error rendering.

Errors are rendered here and only here, in the dialect of the route: the
Anthropic error shape everywhere for now, with the status, a clear message,
and ``retry-after`` where the client should wait. Nothing else leaks out.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy_core.anthropic_api.stream_view import error_body
from proxy_core.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    ProxyError,
    RequestTooLargeError,
)
from proxy_core.http.keys import settings_key, status_key

log = logging.getLogger("proxy_core.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = frozenset({"/health", "/v1/health"})
REQUEST_ID_KEY = web.RequestKey("request_id", str)


def new_request_id() -> str:
    return f"req_{secrets.token_hex(12)}"


def error_response(error: ProxyError, request_id: str) -> web.Response:
    headers = {"request-id": request_id}
    if error.retry_after is not None:
        headers["retry-after"] = str(error.retry_after)
    return web.json_response(error_body(error), status=error.status, headers=headers)


def _from_http_exception(exc: web.HTTPException) -> ProxyError:
    if isinstance(exc, web.HTTPNotFound):
        return NotFoundError("No such endpoint. See GET / for the ones this proxy serves.")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return NotFoundError(f"{exc.method} is not supported here.")
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return RequestTooLargeError("The request body is too large.")
    error = InvalidRequestError(exc.reason)
    error.status = exc.status
    return error


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Gives each request an id, answers errors in the API's shape, and logs one line."""
    request_id = new_request_id()
    request[REQUEST_ID_KEY] = request_id
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers["request-id"] = request_id
        return response
    except ProxyError as error:
        status = error.status
        request.app[status_key].note_error(error)
        return error_response(error, request_id)
    except web.HTTPException as exc:
        http_error = _from_http_exception(exc)
        status = http_error.status
        return error_response(http_error, request_id)
    except Exception:
        log.exception("Unexpected failure in %s %s", request.method, request.path)
        return error_response(ProxyError("The proxy failed unexpectedly."), request_id)
    finally:
        log.info(
            "%s %s %s %d %.0fms",
            request_id,
            request.method,
            request.path,
            status,
            (time.monotonic() - started) * 1000,
        )


def _presented_key(request: web.Request) -> str:
    key = request.headers.get("x-api-key", "")
    authorization = request.headers.get("authorization", "")
    if not key and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    return key


@web.middleware
async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    expected = request.app[settings_key].api_key
    if expected and request.path not in OPEN_PATHS:
        presented = _presented_key(request)
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            raise AuthenticationError(
                "Invalid or missing API key for this proxy. Send it as `x-api-key` "
                "or `Authorization: Bearer`."
            )
    return await handler(request)
