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
import signal
import threading
from collections.abc import Callable, Mapping
from enum import Enum

from aiohttp import web

from proxy_core.backend.base import Backend
from proxy_core.backend.claude_sdk import ClaudeSDKBackend
from proxy_core.config import Settings
from proxy_core.http.app import create_app

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


BackendFactory = Callable[[Settings], Backend]


def _default_backend(settings: Settings) -> Backend:
    return ClaudeSDKBackend(settings)


async def start_site(app: web.Application, settings: Settings) -> tuple[web.AppRunner, int]:
    """Set up and bind; returns the runner and the real port (useful when the port is 0)."""
    # handler_cancellation: a client that disconnects cancels its handler at once,
    # which is what ends its CLI process within a second.
    runner = web.AppRunner(
        app, handler_cancellation=True, shutdown_timeout=settings.shutdown_grace_s, access_log=None
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            raise PortInUseError(
                exc.errno, f"port {settings.port} on {settings.host} is already in use"
            ) from None
        raise
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    port = sockets[0].getsockname()[1] if sockets else settings.port
    return runner, port


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
        self._runner: web.AppRunner | None = None
        self.backend: Backend | None = None
        self.app: web.Application | None = None
        self.state = ServerState.STOPPED
        self.error: str | None = None
        self.port = settings.port

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
            self.error = str(failure[0])
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
        self.backend = self._backend_factory(self.settings)
        self.app = create_app(self.settings, self.backend, environ=self._environ)
        self._runner, self.port = await start_site(self.app, self.settings)

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
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def restart(self, settings: Settings) -> None:
        self.stop()
        self.settings = settings
        self.port = settings.port
        self.start()


async def serve_until_signalled(settings: Settings, on_ready: Callable[[str], None]) -> None:
    """The headless main loop: serve until SIGINT or SIGTERM, then shut down cleanly."""
    backend = ClaudeSDKBackend(settings)
    app = create_app(settings, backend)
    runner, port = await start_site(app, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no loop signal handlers
            loop.add_signal_handler(sig, stop.set)
    host = settings.base_url.rsplit(":", 1)[0]
    on_ready(f"{host}:{port}")
    try:
        await stop.wait()
    finally:
        log.info("Shutting down: no new requests; finishing the running ones")
        await runner.cleanup()
