"""Browser apps: CORS for the web-page origins the user allowed, and for nobody else.

Off by default. For an allowed origin (``cors_origins``: exact origins, ``*`` only with an
API key) a preflight is answered 204 before the key check, with the request headers the
APIs use named one by one; every answer to that origin, errors and streams included,
echoes the origin with ``Vary: Origin`` and exposes the request ids and the retry headers. No
credentials are ever allowed: the key travels in a header. Any other origin gets no CORS
header, and the anti-rebinding checks in middleware.py still refuse it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy_core.errors import PermissionDeniedError
from proxy_core.http.keys import settings_key

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ALLOWED_HEADERS = frozenset(
    {
        "authorization",
        "x-api-key",
        "anthropic-version",
        "anthropic-beta",
        "anthropic-dangerous-direct-browser-access",
        "content-type",
        "accept",
        "user-agent",  # the SDKs set their own; Firefox asks for it in the preflight
        "x-request-id",
        "openai-organization",
        "openai-project",
    }
)
# The official SDKs describe themselves in x-stainless-* headers (os, arch, runtime, retries).
SDK_HEADER_PREFIX = "x-stainless-"
ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
EXPOSED_HEADERS = "request-id, x-request-id, retry-after, x-should-retry"
PREFLIGHT_MAX_AGE_S = 600
# Set on a request from an allowed origin: the origin to echo.
ALLOWED_ORIGIN_KEY = web.RequestKey("cors_origin", str)


def allowed_origin(request: web.Request) -> str | None:
    origin = request.headers.get("origin")
    origins = request.app[settings_key].cors_origins
    if origin is None or not origins:
        return None
    return origin if origin in origins or "*" in origins else None


def _allowed_headers(requested: str, origin: str) -> str:
    names = [name.strip().lower() for name in requested.split(",") if name.strip()]
    allowed = [n for n in names if n in ALLOWED_HEADERS or n.startswith(SDK_HEADER_PREFIX)]
    refused = sorted(set(names) - set(allowed))
    if refused:
        log.warning("CORS: a page from %s asked to send headers not allowed: %s", origin, refused)
    return ", ".join(allowed)


def _preflight(request: web.Request, origin: str) -> web.Response:
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    requested = request.headers.get("access-control-request-headers", "")
    if requested:
        headers["Access-Control-Allow-Headers"] = _allowed_headers(requested, origin)
    # Chrome asks before a public page may reach a local address (Private Network Access).
    if request.headers.get("access-control-request-private-network") == "true":
        headers["Access-Control-Allow-Private-Network"] = "true"
    return web.Response(status=204, headers=headers)


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = allowed_origin(request)
    preflight = request.method == "OPTIONS" and "access-control-request-method" in request.headers
    if preflight:
        if origin is None:
            raise PermissionDeniedError(
                f"Web pages from {request.headers.get('origin')!r} may not call this proxy. "
                "Allow the origin in the settings (cors_origins, 'Allow browser apps')."
            )
        return _preflight(request, origin)
    if origin is not None:
        request[ALLOWED_ORIGIN_KEY] = origin
    return await handler(request)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer, streams included, just before its headers are sent."""
    if not request.app[settings_key].cors_origins:
        return
    vary = response.headers.get("Vary")
    if vary is None:
        response.headers["Vary"] = "Origin"
    elif "origin" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Origin"
    origin = request.get(ALLOWED_ORIGIN_KEY)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
