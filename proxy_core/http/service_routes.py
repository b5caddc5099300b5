"""GET / (what this is and how to use it) and GET /health (is it able to serve)."""

from __future__ import annotations

import asyncio
import os
import time

from aiohttp import web

from proxy_core.backend.cli_status import read_cli_status
from proxy_core.backend.environment import cli_overrides
from proxy_core.http.keys import backend_key, gate_key, settings_key, status_key, usage_key
from proxy_core.http.middleware import has_valid_key
from proxy_core.usage.quota import Crossing
from proxy_core.version import __version__

CLI_STATUS_MAX_AGE_S = 60.0
UNSETTLED_MAX_AGE_S = 5.0
_check_lock_key = web.AppKey("cli_check_lock", asyncio.Lock)


async def refresh_cli_status(app: web.Application, *, max_age_s: float = 0.0) -> None:
    """Re-read `claude auth status` when the last reading is older than ``max_age_s``."""
    async with app[_check_lock_key]:
        status = app[status_key]
        if status.cli is not None and time.monotonic() - status.cli_checked_at < max_age_s:
            return
        settings = app[settings_key]
        env = {
            **os.environ,
            **cli_overrides(
                os.environ, proxy_port=settings.port, cli_retries=0, api_timeout_ms=10_000
            ),
        }
        status.cli = await read_cli_status(settings.cli_path, env)
        status.cli_checked_at = time.monotonic()


ENDPOINTS = (
    "POST /v1/messages",
    "POST /v1/messages/count_tokens",
    "GET /v1/models",
    "GET /v1/models/{model_id}",
    "POST /v1/chat/completions",
    "GET /v1/chat/models",
    "POST /v1/responses",
    "GET /v1/responses/{response_id}",
    "DELETE /v1/responses/{response_id}",
    "GET /sessions",
    "DELETE /sessions/{session_id}",
    "GET /health",
    "GET /usage",
    "GET /usage/requests",
    "GET /metrics",
    "GET /dashboard",
    "GET /settings",
)


async def service_info(request: web.Request) -> web.Response:
    settings = request.app[settings_key]
    gate = request.app[gate_key]
    return web.json_response(
        {
            "status": "ok",
            "service": "claude-sdk-proxy",
            "name": "claude-sdk-proxy",
            "version": __version__,
            "base_url": settings.base_url,
            "endpoints": list(ENDPOINTS),
            "queue": {
                "active": gate.active,
                "queued": gate.queued,
                "max": settings.max_concurrent,
                "max_queued": settings.max_queue,
            },
            "auth_required": bool(settings.api_key),
        }
    )


async def health(request: web.Request) -> web.Response:
    app = request.app
    if not has_valid_key(request):
        # Open to load balancers and the tray without the key, but tells strangers nothing more.
        return web.json_response({"status": "ok"})
    known = app[status_key].cli
    # Not found or not logged in may change any moment (an install, a login): look again soon.
    settled = known is not None and known.path is not None and known.logged_in
    await refresh_cli_status(
        app, max_age_s=CLI_STATUS_MAX_AGE_S if settled else UNSETTLED_MAX_AGE_S
    )
    status = app[status_key]
    gate = app[gate_key]
    cli = status.cli
    problems = []
    if cli is None or cli.path is None:
        problems.append("Claude Code CLI not found")
    elif cli.problem:
        problems.append(cli.problem)
    elif not cli.logged_in:
        problems.append("Claude Code is not logged in: run `claude /login`")
    if status.auth_failure:
        problems.append(status.auth_failure.message)
    used_up = app[usage_key].quota.rejected()
    if used_up is not None:
        problems.append(Crossing(used_up, 1.0).message())
    return web.json_response(
        {
            "status": "ok" if not problems else "degraded",
            "version": __version__,
            "auth_mode": status.auth_mode,
            "cli": cli.as_json() if cli else None,
            "requests": {
                "active": gate.active,
                "queued": gate.queued,
                "served": status.requests_served,
            },
            "clis_waiting": app[backend_key].cli_counts(),
            "billing_warning": status.billing_warning.as_json() if status.billing_warning else None,
            # The subscription's fullest window, as the upstream last reported it (see /usage).
            "quota": app[usage_key].quota.summary(),
            "problems": problems,
            "settings": app[settings_key].visible(),
        }
    )


async def hello(request: web.Request) -> web.Response:
    """Claude Code sends HEAD /api/hello when it starts, to open its connection early."""
    return web.Response(status=200)


def add_routes(app: web.Application) -> None:
    app[_check_lock_key] = asyncio.Lock()
    app.router.add_route("HEAD", "/api/hello", hello)
    app.router.add_get("/", service_info)
    app.router.add_get("/health", health)
    app.router.add_get("/v1/health", health)
