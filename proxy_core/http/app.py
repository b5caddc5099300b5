"""create_app: the one constructor of the aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping

from aiohttp import web

from proxy_core.anthropic_api import routes as anthropic_routes
from proxy_core.anthropic_api.stream_view import error_body
from proxy_core.backend.base import Backend
from proxy_core.backend.environment import auth_mode
from proxy_core.config import Settings
from proxy_core.http import parser_errors, service_routes, session_routes
from proxy_core.http.cors import add_cors_headers, cors
from proxy_core.http.dialects import ErrorDialects
from proxy_core.http.keys import (
    backend_key,
    backend_tasks_key,
    error_dialects_key,
    gate_key,
    settings_key,
    status_key,
    usage_key,
)
from proxy_core.http.middleware import (
    add_request_id_headers,
    refuse_foreign_pages,
    request_context,
    require_api_key,
)
from proxy_core.limits import ConcurrencyGate
from proxy_core.openai_api import responses_routes
from proxy_core.openai_api import routes as openai_routes
from proxy_core.status import ProxyStatus
from proxy_core.usage import routes as usage_routes
from proxy_core.usage.service import UsageService
from proxy_core.web import routes as web_routes
from proxy_core.web import settings_routes
from proxy_core.web.settings_host import SettingsHost

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024


def create_app(
    settings: Settings,
    backend: Backend,
    *,
    environ: Mapping[str, str] | None = None,
    usage: UsageService | None = None,
    settings_host: SettingsHost | None = None,
) -> web.Application:
    """``usage`` is the one the backend reports windows to; the app closes it at cleanup.
    ``settings_host`` (the tray) lets the settings page change settings; without one the page
    only shows them."""
    environ = os.environ if environ is None else environ
    parser_errors.install()
    app = web.Application(
        # CORS before the page and key checks: a preflight carries no key.
        middlewares=[request_context, cors, refuse_foreign_pages, require_api_key],
        client_max_size=MAX_BODY_BYTES,
    )
    app[settings_key] = settings
    app[backend_key] = backend
    app[gate_key] = ConcurrencyGate(
        settings.max_concurrent, settings.max_queue, settings.queue_timeout_s
    )
    app[status_key] = ProxyStatus(auth_mode=auth_mode(environ, settings.port))
    app[backend_tasks_key] = set()
    app[usage_key] = UsageService(settings) if usage is None else usage
    # Anthropic's shape unless an API claims the route (the OpenAI routes do).
    app[error_dialects_key] = ErrorDialects(default=error_body)
    service_routes.add_routes(app)
    anthropic_routes.add_routes(app)
    session_routes.add_routes(app)
    openai_routes.add_routes(app)
    responses_routes.add_routes(app)
    usage_routes.add_routes(app)
    web_routes.add_routes(app)
    settings_routes.add_routes(app, settings_host)
    app.on_response_prepare.append(add_request_id_headers)
    app.on_response_prepare.append(add_cors_headers)
    app.on_startup.append(_start_background_work)
    app.on_shutdown.append(_finish_in_flight)
    app.on_cleanup.append(_close_backend)
    app.on_cleanup.append(_close_usage)
    return app


_background_key = web.AppKey("background_work", list[asyncio.Task[None]])


async def _start_background_work(app: web.Application) -> None:
    """What the server does right after it listens, without holding up its start."""
    work = [_check_cli(app)]
    if app[settings_key].preload_sdk:
        work.append(_preload_backend(app))
    loop = asyncio.get_running_loop()
    app[_background_key] = [loop.create_task(coroutine) for coroutine in work]


async def _check_cli(app: web.Application) -> None:
    with contextlib.suppress(Exception):  # /health reads it again, and says what fails
        await service_routes.refresh_cli_status(app)


async def _preload_backend(app: web.Application) -> None:
    try:
        await app[backend_key].preload()
    except Exception:  # the first request loads it again and reports what fails
        log.exception("Could not load the backend in the background")


async def _finish_in_flight(app: web.Application) -> None:
    """Let running requests finish within the grace period, then end their CLIs."""
    tasks = app[backend_tasks_key].copy()
    if not tasks:
        return
    grace = app[settings_key].shutdown_grace_s
    log.info("Waiting up to %.0f s for %d running request(s)", grace, len(tasks))
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=5)


async def _close_backend(app: web.Application) -> None:
    for task in app.get(_background_key, []):
        task.cancel()
        # Wait for it: a `claude auth status` child must be reaped before the loop closes.
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await app[backend_key].aclose()


async def _close_usage(app: web.Application) -> None:
    # After the backend: the last requests' rows are written before the file closes.
    await asyncio.to_thread(app[usage_key].close)
