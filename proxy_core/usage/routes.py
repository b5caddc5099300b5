"""GET /usage (also /v1/usage), GET /usage/requests and GET /metrics.

Under the same key rules as the API. The ledger is read in a thread: SQLite never
holds up the event loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from proxy_core.http.keys import backend_key, gate_key, usage_key
from proxy_core.usage.ledger import Ledger
from proxy_core.usage.metrics import CONTENT_TYPE, Levels
from proxy_core.usage.service import UsageService

DAY_S = 86400.0
PERIODS = {"last_24h": DAY_S, "last_7d": 7 * DAY_S}
MOST_RECENT = 50
MOST_RECENT_LIMIT = 500


def _period(ledger: Ledger, since: float) -> dict[str, Any]:
    return {
        **ledger.totals(since).as_json(),
        "by_model": {k: v.as_json() for k, v in ledger.totals_by("model", since).items()},
        "by_client": {k: v.as_json() for k, v in ledger.totals_by("client", since).items()},
        "by_api": {k: v.as_json() for k, v in ledger.totals_by("api", since).items()},
        "first_token_ms": ledger.first_token_percentiles(since),
    }


def usage_report(usage: UsageService, now: float) -> dict[str, Any]:
    ledger = usage.ledger
    return {
        "generated_at": int(now),
        "windows": usage.quota.as_json(now),
        **{name: _period(ledger, now - length) for name, length in PERIODS.items()},
        "hourly": ledger.hourly(now - DAY_S + 1, now),
        "ledger": {
            "path": str(ledger.path) if ledger.path else None,
            "retention_days": ledger.retention_days,
        },
    }


async def usage(request: web.Request) -> web.Response:
    service = request.app[usage_key]
    report = await asyncio.to_thread(usage_report, service, time.time())
    return web.json_response(report)


async def recent_requests(request: web.Request) -> web.Response:
    raw = request.query.get("limit", str(MOST_RECENT))
    limit = int(raw) if raw.isdigit() else MOST_RECENT
    ledger = request.app[usage_key].ledger
    rows = await asyncio.to_thread(ledger.recent, max(1, min(limit, MOST_RECENT_LIMIT)))
    return web.json_response({"requests": rows})


async def metrics(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(request.app[usage_key].metrics.render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    gate, backend, service = app[gate_key], app[backend_key], app[usage_key]

    def levels() -> Levels:
        now = time.time()
        windows = [w.current(now) for w in service.quota.windows().values()]
        return Levels(gate.active, gate.queued, backend.cli_counts(), windows)

    service.read_levels_with(levels)
    for prefix in ("", "/v1"):
        app.router.add_get(f"{prefix}/usage", usage)
        app.router.add_get(f"{prefix}/usage/requests", recent_requests)
    app.router.add_get("/metrics", metrics)
