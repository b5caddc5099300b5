"""Middleware by concern: request ids, local API-key auth, and error rendering.

Errors are rendered here and only here, in the dialect the route's API declared
(see dialects.py), with the status, a clear message, and ``retry-after`` where
the client should wait. Nothing else leaks out.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from proxy_core.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProxyError,
    RequestTooLargeError,
)
from proxy_core.http.cors import ALLOWED_ORIGIN_KEY
from proxy_core.http.dialects import ErrorRenderer
from proxy_core.http.keys import error_dialects_key, settings_key, usage_key
from proxy_core.http.served import SERVED_KEY

log = logging.getLogger("proxy_core.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The settings page and its ticket hold no data either; a ticket proves itself.
OPEN_PATHS = frozenset({"/health", "/v1/health", "/settings", "/settings/ticket"})
# The dashboard's page and files hold no data; it asks for the key before reading any.
OPEN_FOLDER = "/dashboard"
REQUEST_ID_KEY = web.RequestKey("request_id", str)
# Set by a handler once it has sent its status line; errors after that are the handler's.
COMMITTED_RESPONSE_KEY = web.RequestKey("committed_response", web.StreamResponse)
# What a handler adds to the access line: model, stream. Never content or keys.
ACCESS_DETAIL_KEY = web.RequestKey("access_detail", dict)
# The token counts the access line shows, by their short names there.
LOGGED_COUNTS = {"input_tokens": "in", "cache_read_input_tokens": "cached", "output_tokens": "out"}
# nginx's word for it: the client closed the connection before the answer ended.
CLIENT_CLOSED = 499


# A caller's own request id is taken when it is a plain token: it reaches the log line.
CALLER_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Longer waits than this are the caller's to schedule, not an SDK's to sleep through.
LONGEST_RETRY_S = 60
# What the access line shows of a caller's value (a model name) as it is; others are quoted.
PLAIN_VALUE = re.compile(r"[A-Za-z0-9._:/-]{1,80}")


def new_request_id() -> str:
    return f"req_{secrets.token_hex(12)}"


def request_id_for(request: web.Request) -> str:
    """The caller's x-request-id when it sent a usable one, so its logs and ours agree."""
    supplied = request.headers.get("x-request-id", "")
    return supplied if CALLER_REQUEST_ID.fullmatch(supplied) else new_request_id()


async def add_request_id_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer, streams included, as Anthropic (request-id) and others (x-request-id)."""
    request_id = request.get(REQUEST_ID_KEY)
    if request_id is not None:
        response.headers["request-id"] = request_id
        response.headers["x-request-id"] = request_id


def error_response(error: ProxyError, request_id: str, render: ErrorRenderer) -> web.Response:
    headers = {}
    if error.retry_after is not None:
        headers["retry-after"] = str(error.retry_after)
    should_retry = error.should_retry
    if should_retry and error.retry_after is not None and error.retry_after > LONGEST_RETRY_S:
        # A plan limit resets in hours: an SDK obeying retry-after would hang that long.
        should_retry = False
    if should_retry is not None:
        headers["x-should-retry"] = "true" if should_retry else "false"
    return web.json_response(render(error), status=error.status, headers=headers)


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
    request_id = request_id_for(request)
    request[REQUEST_ID_KEY] = request_id
    render = request.app[error_dialects_key].renderer_for(request)
    started = time.monotonic()
    status = 500
    failure: ProxyError | None = None
    try:
        response = await handler(request)
        status = response.status
        return response
    except ProxyError as error:
        status, failure = error.status, error
        return error_response(error, request_id, render)
    except web.HTTPException as exc:
        failure = _from_http_exception(exc)
        status = failure.status
        return error_response(failure, request_id, render)
    except RecursionError:
        # Input nested deeper than anything can walk: the caller's doing, never a 500.
        failure = InvalidRequestError("The request is nested too deeply to process.")
        status = failure.status
        return error_response(failure, request_id, render)
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    except Exception:
        log.exception("Unexpected failure in %s %s", request.method, request.path)
        if COMMITTED_RESPONSE_KEY in request:
            # A second status line would corrupt the stream that is already under way.
            return request[COMMITTED_RESPONSE_KEY]
        failure = ProxyError("The proxy failed unexpectedly.")
        return error_response(failure, request_id, render)
    finally:
        _record_served(request, status, failure)
        detail = " ".join(
            f"{k}={_loggable(v)}" for k, v in request.get(ACCESS_DETAIL_KEY, {}).items()
        )
        served = request.get(SERVED_KEY)
        if served is not None:
            detail += "".join(
                f" {short}={served.tokens[name]}"
                for name, short in LOGGED_COUNTS.items()
                if name in served.tokens
            )
        if failure is not None:
            # Our own words (a field name, the upstream's reason), never a body: quoted, cut.
            detail += f" error={failure.kind} reason={failure.message[:160]!r}"
        log.info(
            "%s %s %s %d %.0fms %s",
            request_id,
            request.method,
            request.path,
            status,
            (time.monotonic() - started) * 1000,
            detail,
        )


def _record_served(request: web.Request, status: int, failure: ProxyError | None) -> None:
    served = request.get(SERVED_KEY)
    if served is None:
        return
    if failure is not None:
        served.fail(failure.kind, failure.message)
    elif status == CLIENT_CLOSED:
        served.fail("client_closed", "The client left before the answer ended.")
    served.finish(status)
    request.app[usage_key].record(served)


def _loggable(value: object) -> str:
    """A value for the access line: plain tokens as they are, anything else quoted and cut,
    so a caller's model name cannot forge a line."""
    text = str(value)
    return text if PLAIN_VALUE.fullmatch(text) else repr(text[:80])


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@web.middleware
async def refuse_foreign_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Without a key, only this machine's clients may call: not web pages, not rebound DNS.

    Any page a browser visits can POST to 127.0.0.1; its Origin names the page. A page whose
    domain re-resolves to 127.0.0.1 (DNS rebinding) can even read the answers; its Host then
    names that domain. Neither is a local client, and neither gets the subscription.
    """
    if request.app[settings_key].api_key:
        return await handler(request)
    host = urlsplit(f"//{request.host}").hostname
    if not _is_loopback(host):
        raise PermissionDeniedError(
            f"This proxy answers only requests addressed to localhost, not {request.host!r}. "
            "Set CLAUDE_PROXY_API_KEY to serve other names."
        )
    origin = request.headers.get("origin")
    allowed = ALLOWED_ORIGIN_KEY in request  # the user let this page in (cors.py)
    if origin is not None and not allowed and _from_foreign_page(origin):
        raise PermissionDeniedError(
            f"Requests from web pages ({origin}) are refused. Allow the origin "
            "(CLAUDE_PROXY_CORS_ORIGINS, or 'Allow browser apps' in the tray) to let it in."
        )
    return await handler(request)


def _from_foreign_page(origin: str) -> bool:
    # "null" is what sandboxed frames send; app:// and the like are desktop apps' own pages.
    if origin == "null":
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and not _is_loopback(parts.hostname)


def has_valid_key(request: web.Request) -> bool:
    expected = request.app[settings_key].api_key
    if not expected:
        return True
    # surrogateescape: a header that is not UTF-8 is a wrong key, not a server error.
    presented = _presented_key(request).encode("utf-8", "surrogateescape")
    return hmac.compare_digest(presented, expected.encode("utf-8"))


def _presented_key(request: web.Request) -> str:
    key = request.headers.get("x-api-key", "")
    authorization = request.headers.get("authorization", "")
    if not key and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    return key


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path == OPEN_FOLDER or path.startswith(f"{OPEN_FOLDER}/")


@web.middleware
async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _is_open(request.path) and not has_valid_key(request):
        raise AuthenticationError(
            "Invalid or missing API key for this proxy. Send it as `x-api-key` "
            "or `Authorization: Bearer`."
        )
    return await handler(request)
