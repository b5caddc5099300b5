"""Running the application: a handle for a background thread, and the headless main loop.

:class:`ProxyServer` is what the tray (and the tests) hold: ``start()`` returns
once the port is listening or raises the reason it is not; ``stop()`` lets
in-flight requests finish, ends every CLI process and joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum

import psutil
from aiohttp import web

from proxy_core.backend.base import Backend
from proxy_core.backend.deferred import DeferredBackend
from proxy_core.config import Settings, check_exposure
from proxy_core.http.app import create_app
from proxy_core.http.keys import settings_key
from proxy_core.http.service_routes import refresh_cli_status
from proxy_core.usage.quota import Listener, QuotaBoard
from proxy_core.usage.service import UsageService
from proxy_core.web.routes import tickets_key
from proxy_core.web.settings_host import SettingsHost
from proxy_core.web.settings_routes import settings_tickets_key

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0


class ServerState(Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


class PortInUseError(OSError):
    """The port is taken; the message says which one."""


BackendFactory = Callable[[Settings, QuotaBoard], Backend]


def network_addresses() -> list[str]:
    """This machine's addresses another machine could reach it at (IPv4, not loopback)."""
    found = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                found.append(address.address)
    return sorted(set(found))


def port_holder(port: int) -> str | None:
    """Which program listens on ``port``, in words, when this user may see it."""
    try:
        for connection in psutil.net_connections(kind="inet"):
            listening = connection.status == psutil.CONN_LISTEN and connection.pid
            if listening and connection.laddr and connection.laddr.port == port:
                name = psutil.Process(connection.pid).name()
                return f"{name} (pid {connection.pid})"
    except (psutil.Error, OSError):
        return None
    return None


def _default_backend(settings: Settings, quota: QuotaBoard) -> Backend:
    return DeferredBackend(settings, quota=quota)


def bind(settings: Settings) -> tuple[socket.socket, Settings]:
    """Bind the listening socket first, so everything after knows the real port (port 0)."""
    check_exposure(settings)
    family, kind, proto, _, address = socket.getaddrinfo(
        settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, kind, proto)
    if os.name != "nt":  # on Windows this would let two servers share the port
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(128)
    except OSError as exc:
        listener.close()
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            holder = port_holder(settings.port)
            by = f" by {holder}" if holder else ""
            raise PortInUseError(
                exc.errno, f"port {settings.port} on {settings.host} is already in use{by}"
            ) from None
        raise
    return listener, replace(settings, port=listener.getsockname()[1])


async def start_site(app: web.Application, listener: socket.socket) -> web.AppRunner:
    settings = app[settings_key]
    # handler_cancellation: a client that disconnects cancels its handler at once,
    # which is what ends its CLI process within a second.
    runner = web.AppRunner(
        app, handler_cancellation=True, shutdown_timeout=settings.shutdown_grace_s, access_log=None
    )
    await runner.setup()
    await web.SockSite(runner, listener).start()
    return runner


@dataclass(frozen=True)
class Serving:
    """A server that listens: its settings with the real port, and its parts."""

    settings: Settings
    usage: UsageService
    backend: Backend
    app: web.Application
    runner: web.AppRunner
    listener: socket.socket

    async def stop(self) -> None:
        """Stop accepting, then let the running requests finish and end every CLI."""
        # Connections the loop has just accepted are attached to the server only on its next
        # turn; closing it before then leaves their sockets open, and their clients waiting
        # forever (asyncio drops them without closing). So: no new ones, one turn, then close.
        asyncio.get_running_loop().remove_reader(self.listener.fileno())
        for _ in range(3):
            await asyncio.sleep(0)
        await self.runner.cleanup()


async def start_serving(
    settings: Settings,
    *,
    backend_factory: BackendFactory = _default_backend,
    environ: Mapping[str, str] | None = None,
    quota_listeners: Sequence[Listener] = (),
    settings_host: SettingsHost | None = None,
) -> Serving:
    """Bind, open the usage ledger, build the backend and the app, and listen: the one start
    of the tray's thread and the headless main loop. On failure nothing is left open."""
    listener, settings = bind(settings)
    usage: UsageService | None = None
    try:
        usage = await asyncio.to_thread(UsageService, settings)
        for quota_listener in quota_listeners:
            usage.quota.subscribe(quota_listener)
        backend = backend_factory(settings, usage.quota)
        app = create_app(
            settings, backend, environ=environ, usage=usage, settings_host=settings_host
        )
        runner = await start_site(app, listener)
    except BaseException:
        listener.close()
        if usage is not None:
            usage.close()
        raise
    return Serving(settings, usage, backend, app, runner, listener)


class ProxyServer:
    """The server on its own event loop in a background thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        backend_factory: BackendFactory = _default_backend,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self._backend_factory = backend_factory
        self._environ = environ
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._serving: Serving | None = None
        self.backend: Backend | None = None
        self.app: web.Application | None = None
        self.state = ServerState.STOPPED
        self.error: str | None = None
        self.port = settings.port
        self.usage: UsageService | None = None
        # Told when a window crosses 80 %, 95 % or is used up, from the server's thread.
        self.quota_listeners: list[Listener] = []
        # What lets the settings page change settings (the tray); None: the page only shows.
        self.settings_host: SettingsHost | None = None

    @property
    def base_url(self) -> str:
        host = self.settings.base_url.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    def start(self) -> None:
        if self.state in (ServerState.RUNNING, ServerState.STARTING):
            return
        self.state = ServerState.STARTING
        self.error = None
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(ready, failure), name="proxy-server", daemon=False
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            failure.append(TimeoutError("the server did not start in time"))
        if failure:
            self.state = ServerState.FAILED
            error = failure[0]
            # An OSError's own words, without its "[Errno 98]".
            self.error = (
                error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            )
            self._thread.join(timeout=5)
            raise failure[0]
        self.state = ServerState.RUNNING

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start())
        except BaseException as exc:  # reported to start()'s caller
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        loop.run_forever()
        loop.close()

    async def _start(self) -> None:
        serving = await start_serving(
            self.settings,
            backend_factory=self._backend_factory,
            environ=self._environ,
            quota_listeners=self.quota_listeners,
            settings_host=self.settings_host,
        )
        self.port = serving.settings.port
        self.usage, self.backend, self.app = serving.usage, serving.backend, serving.app
        self._serving = serving

    def stop(self) -> None:
        if self.state is not ServerState.RUNNING or self._loop is None:
            return
        self.state = ServerState.STOPPING
        future = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        with contextlib.suppress(Exception):
            future.result(timeout=self.settings.shutdown_grace_s + 15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.state = ServerState.STOPPED

    async def _stop(self) -> None:
        if self._serving is not None:
            await self._serving.stop()
            self._serving = None

    @property
    def quota(self) -> QuotaBoard | None:
        """The subscription's windows as last reported (thread-safe); None before a start."""
        return self.usage.quota if self.usage is not None else None

    def dashboard_url(self) -> str:
        """The dashboard's address; with a key set, carrying a one-time ticket that hands the
        page the key (in the fragment: never sent, never in a log, dropped by the page)."""
        url = f"{self.base_url}/dashboard"
        if self.app is None or not self.settings.api_key:
            return url
        return f"{url}#ticket={self.app[tickets_key].issue()}"

    def settings_url(self) -> str:
        """The settings page, with a one-time ticket that hands it the settings pass (and the
        key): only the tray's link lets the page change settings without typing the key."""
        url = f"{self.base_url}/settings"
        if self.app is None:
            return url
        return f"{url}#ticket={self.app[settings_tickets_key].issue()}"

    def refresh_cli_status(self, timeout_s: float = 30.0) -> None:
        """Re-read `claude auth status` now, on the server's loop (the tray checks periodically)."""
        if self.state is not ServerState.RUNNING or self._loop is None or self.app is None:
            return
        future = asyncio.run_coroutine_threadsafe(refresh_cli_status(self.app), self._loop)
        future.result(timeout=timeout_s)

    def restart(self, settings: Settings) -> None:
        self.stop()
        self.settings = settings
        self.port = settings.port
        self.start()


async def serve_until_signalled(settings: Settings, on_ready: Callable[[str], None]) -> None:
    """The headless main loop: serve until SIGINT or SIGTERM, then shut down cleanly."""
    serving = await start_serving(settings)
    settings = serving.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no loop signal handlers
            loop.add_signal_handler(sig, stop.set)
    on_ready(settings.base_url)
    try:
        await stop.wait()
    finally:
        log.info("Shutting down: no new requests; finishing the running ones")
        await serving.stop()
