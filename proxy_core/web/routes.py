"""GET /dashboard (and its files) and POST /dashboard/ticket.

The page is open to anyone who may reach the proxy: it holds no data, and asks
for the key (or a tray ticket) before it reads any. Everything it shows comes from
/health, /usage and /usage/requests under the usual key rules, and it changes
nothing. Its Content-Security-Policy allows only its own files: no inline script,
nothing from the internet, no framing by another page.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from aiohttp import web

from proxy_core.errors import InvalidRequestError, PermissionDeniedError
from proxy_core.http.keys import settings_key
from proxy_core.http.responding import read_json
from proxy_core.web.tickets import TicketBook

DASHBOARD = "/dashboard"
TICKET_PATH = f"{DASHBOARD}/ticket"
STATIC_FILES = {
    "dashboard.css": "text/css",
    "dashboard.js": "text/javascript",
    "settings.css": "text/css",
    "settings.js": "text/javascript",
}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
tickets_key = web.AppKey("dashboard_tickets", TicketBook)


def static_file(name: str) -> bytes:
    return resources.files("proxy_core.web").joinpath("static", name).read_bytes()


def html_page(name: str) -> web.Response:
    """One of the web UI's pages, under its strict Content-Security-Policy."""
    return web.Response(
        body=static_file(name), content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
    )


async def page(request: web.Request) -> web.Response:
    return html_page("dashboard.html")


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.Response(
        body=static_file(name),
        content_type=STATIC_FILES[name],
        charset="utf-8",
        headers=PAGE_HEADERS,
    )


async def redeem_ticket_in(request: web.Request, book: TicketBook, expired: str) -> None:
    """Trade the tray link's ticket (``{"ticket": ...}``) once; ``expired``: what to say when
    it is not good (any more)."""
    body: Any = await read_json(request)
    ticket = body.get("ticket") if isinstance(body, dict) else None
    if not isinstance(ticket, str) or not ticket:
        raise InvalidRequestError('Send {"ticket": "..."}, as the tray\'s link gives it.')
    if not book.redeem(ticket):
        raise PermissionDeniedError(expired)


async def redeem_ticket(request: web.Request) -> web.Response:
    await redeem_ticket_in(
        request,
        request.app[tickets_key],
        "This dashboard link has expired or was used already: open it again from the tray.",
    )
    return web.json_response(
        {"api_key": request.app[settings_key].api_key}, headers={"Cache-Control": "no-store"}
    )


def add_routes(app: web.Application) -> None:
    app[tickets_key] = TicketBook()
    app.router.add_get(DASHBOARD, page)
    app.router.add_get(f"{DASHBOARD}/{{name}}", asset)
    app.router.add_post(TICKET_PATH, redeem_ticket)
