"""Typed keys for what the application holds; create_app is the only writer."""

from __future__ import annotations

import asyncio

from aiohttp import web

from proxy_core.backend.base import Backend
from proxy_core.config import Settings
from proxy_core.http.dialects import ErrorDialects
from proxy_core.limits import ConcurrencyGate
from proxy_core.status import ProxyStatus
from proxy_core.usage.service import UsageService

settings_key = web.AppKey("settings", Settings)
backend_key = web.AppKey("backend", Backend)
gate_key = web.AppKey("gate", ConcurrencyGate)
status_key = web.AppKey("status", ProxyStatus)
backend_tasks_key = web.AppKey("backend_tasks", set[asyncio.Task[None]])
error_dialects_key = web.AppKey("error_dialects", ErrorDialects)
usage_key = web.AppKey("usage", UsageService)
