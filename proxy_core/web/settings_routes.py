"""The settings page: GET /settings, its state, the two kinds of change it sends, and Quit.

Reading takes the API key, as every other data route. Changing takes more, because
a page in the person's browser is the one client here that other web pages can
aim at:

- the settings pass: a secret of the tray's run that only a tray link hands over
  (``/settings#ticket=...``, redeemed once) or the API key unlocks;
- the request must come from this page's own origin (no CSRF), and be addressed to
  this machine by an IP address or ``localhost`` (a rebound domain names itself).

The values shown are read from the running server, not from the file, so a change
that did not take is seen as such.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast, get_args
from urllib.parse import urlsplit

from aiohttp import web

from proxy_core.config import ConfigError, config_file_path
from proxy_core.errors import InvalidRequestError, PermissionDeniedError
from proxy_core.http.keys import settings_key, status_key
from proxy_core.http.responding import read_json
from proxy_core.web.routes import html_page, redeem_ticket_in
from proxy_core.web.settings_host import (
    CHANGEABLE,
    Applied,
    KeyAction,
    NotApplied,
    SettingsHost,
)
from proxy_core.web.tickets import TicketBook

log = logging.getLogger(__name__)

SETTINGS = "/settings"
TICKET_PATH = f"{SETTINGS}/ticket"
PASS_HEADER = "x-settings-pass"
settings_host_key = web.AppKey("settings_host", SettingsHost)
settings_tickets_key = web.AppKey("settings_tickets", TicketBook)
NO_STORE = {"Cache-Control": "no-store"}


def _host(app: web.Application) -> SettingsHost | None:
    return app.get(settings_host_key)


def _read_only_reason() -> str:
    return (
        "This proxy was started without the tray app: its settings are read at start from "
        f"{config_file_path()} and CLAUDE_PROXY_* variables. Change them there and restart it."
    )


async def page(request: web.Request) -> web.Response:
    return html_page("settings.html")


async def state(request: web.Request) -> web.Response:
    app = request.app
    host = _host(app)
    cli = app[status_key].cli
    change = host.last_change() if host is not None else None
    return web.json_response(
        {
            "writable": host is not None,
            "read_only_reason": None if host is not None else _read_only_reason(),
            "base_url": app[settings_key].base_url,
            "effective": app[settings_key].visible(),
            "cli": cli.as_json() if cli is not None else None,
            "host": dict(host.host_values()) if host is not None else {},
            "change": change.as_json() if change is not None else None,
        },
        headers=NO_STORE,
    )


async def redeem_ticket(request: web.Request) -> web.Response:
    """The tray's link: a one-time ticket for the key and the settings pass."""
    await redeem_ticket_in(
        request,
        request.app[settings_tickets_key],
        "This settings link has expired or was used already: choose Settings… in the tray.",
    )
    host = _host(request.app)
    return web.json_response(
        {
            "api_key": request.app[settings_key].api_key,
            "settings_pass": host.settings_pass if host is not None else None,
        },
        headers=NO_STORE,
    )


async def unlock(request: web.Request) -> web.Response:
    """The API key (checked by the key middleware) unlocks changes too, where one is set:
    without a key, anyone on this machine could call this, so only a tray link does."""
    host = _host(request.app)
    if host is None:
        raise PermissionDeniedError(_read_only_reason())
    if not request.app[settings_key].api_key:
        raise PermissionDeniedError(
            "No API key is set, so only the tray can open settings for changes: choose "
            "Settings… in its menu."
        )
    return web.json_response({"settings_pass": host.settings_pass}, headers=NO_STORE)


def _writer(request: web.Request) -> SettingsHost:
    """The host, once the request has shown it may change settings."""
    host = _host(request.app)
    if host is None:
        raise PermissionDeniedError(_read_only_reason())
    hostname = urlsplit(f"//{request.host}").hostname or ""
    if not _names_this_machine_directly(hostname):
        raise PermissionDeniedError(
            f"Settings are changed only at an address of this machine, not {request.host!r}."
        )
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise PermissionDeniedError(f"Settings cannot be changed from another page ({origin}).")
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise PermissionDeniedError("Settings cannot be changed from another site.")
    presented = request.headers.get(PASS_HEADER, "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(presented, host.settings_pass.encode()):
        raise PermissionDeniedError(
            "This page may only show settings: open it with Settings… in the tray, or unlock "
            "it with the API key, to change them."
        )
    return host


def _names_this_machine_directly(hostname: str) -> bool:
    """An IP address or localhost: DNS rebinding needs a domain name of the attacker's."""
    if hostname == "localhost":
        return True
    try:
        ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        return False
    return True


def _checked_changes(body: object) -> dict[str, object]:
    changes = body.get("changes") if isinstance(body, dict) else None
    if not isinstance(changes, dict) or not changes:
        raise InvalidRequestError('Send {"changes": {...}} with at least one setting.')
    for name, value in changes.items():
        kind = CHANGEABLE.get(name)
        if kind is None:
            raise InvalidRequestError(
                f"{name!r} cannot be changed here; these can: {', '.join(CHANGEABLE)}."
            )
        # JSON true is an int to Python: a whole number must not come as a boolean.
        wrong_bool = isinstance(value, bool) and kind is int
        if wrong_bool or not isinstance(value, kind):
            raise InvalidRequestError(f"{name}: {value!r} is not a valid value.")
    return changes


async def change_settings(request: web.Request) -> web.StreamResponse:
    host = _writer(request)
    changes = _checked_changes(await read_json(request))
    return await _answer(request, lambda: host.apply(changes))


async def change_key(request: web.Request) -> web.StreamResponse:
    host = _writer(request)
    body: Any = await read_json(request)
    action = body.get("action") if isinstance(body, dict) else None
    if action not in get_args(KeyAction):
        raise InvalidRequestError('Send {"action": "set" | "generate" | "clear"}.')
    key = body.get("key")
    if action == "set" and not isinstance(key, str):
        raise InvalidRequestError('Send the new key as {"action": "set", "key": "..."}.')
    return await _answer(request, lambda: host.change_key(cast(KeyAction, action), key))


async def quit_app(request: web.Request) -> web.StreamResponse:
    host = _writer(request)
    return await _answer(request, host.quit)


async def _answer(request: web.Request, work: Callable[[], Applied]) -> web.StreamResponse:
    """Run the host's part off the loop (it may start a server), answer, then do the rest."""
    try:
        applied = await asyncio.to_thread(work)
    except (ConfigError, NotApplied) as error:
        raise InvalidRequestError(str(error)) from None
    response = web.json_response(_applied_json(applied), headers=NO_STORE)
    if applied.then is None:
        return response
    # The answer goes out whole before the restart that ends this server begins.
    await response.prepare(request)
    await response.write_eof()
    threading.Thread(target=_run_then, args=(applied,), name="settings-apply", daemon=True).start()
    return response


def _run_then(applied: Applied) -> None:
    assert applied.then is not None
    try:
        applied.then()
    except Exception:  # recorded by the host as the change's state; the log has the rest
        log.exception("Applying settings change %d failed", applied.change.id)


def _applied_json(applied: Applied) -> Mapping[str, object]:
    return {
        "change": applied.change.as_json(),
        "next_url": applied.next_url,
        "new_key": applied.new_key,
    }


def add_routes(app: web.Application, host: SettingsHost | None) -> None:
    if host is not None:
        app[settings_host_key] = host
    app[settings_tickets_key] = TicketBook()
    app.router.add_get(SETTINGS, page)
    app.router.add_get(f"{SETTINGS}/state", state)
    app.router.add_post(TICKET_PATH, redeem_ticket)
    app.router.add_post(f"{SETTINGS}/unlock", unlock)
    app.router.add_post(f"{SETTINGS}/changes", change_settings)
    app.router.add_post(f"{SETTINGS}/api-key", change_key)
    app.router.add_post(f"{SETTINGS}/quit", quit_app)
