"""Runs a backend stream in a task of its own and hands its events to the handler.

claude-agent-sdk wants its client used, and closed, by the task that opened
it; the pump's task is that task. The handler can then wait for the next event
with a timeout (to send pings, or to decide when to commit to a stream) without
cancelling the stream, and a client that disconnects only cancels the pump.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Final

from proxy_core.backend.base import StreamEventData
from proxy_core.errors import BackendError, OverloadedError, ProxyError

log = logging.getLogger(__name__)


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


# A stopping proxy is usually a restarting one (a tray setting, an upgrade).
RESTART_RETRY_S = 5
END: Final = _Marker("END")
SILENCE: Final = _Marker("SILENCE")


class EventPump:
    def __init__(
        self,
        events: AsyncIterator[StreamEventData],
        *,
        on_finished: Callable[[], None],
        tasks: set[asyncio.Task[None]],
    ) -> None:
        self._events = events
        self._queue: asyncio.Queue[StreamEventData | ProxyError | _Marker] = asyncio.Queue()
        self._ended = False
        self._task = asyncio.get_running_loop().create_task(self._run())
        # A done callback runs even for a task cancelled before it started, so the slot is
        # always given back.
        self._task.add_done_callback(lambda _task: on_finished())
        # The owner keeps a reference, so shutdown can wait for, or cancel, every CLI.
        tasks.add(self._task)
        self._task.add_done_callback(tasks.discard)

    async def _run(self) -> None:
        try:
            async for event in self._events:
                self._queue.put_nowait(event)
            self._queue.put_nowait(END)
        except ProxyError as error:
            self._queue.put_nowait(error)
        except asyncio.CancelledError:
            # Shutdown, or the client left: whoever still waits gets a clear error.
            self._queue.put_nowait(
                OverloadedError(
                    "The request was ended: the proxy is stopping.", retry_after=RESTART_RETRY_S
                )
            )
            raise
        except Exception:
            log.exception("The backend failed unexpectedly")
            self._queue.put_nowait(BackendError("The backend failed unexpectedly."))

    async def next(self, wait_s: float | None = None) -> StreamEventData | _Marker:
        """The next event, :data:`END`, or :data:`SILENCE` when ``wait_s`` passed first."""
        try:
            async with asyncio.timeout(wait_s):
                item = await self._queue.get()
        except TimeoutError:
            return SILENCE
        if isinstance(item, ProxyError):
            self._ended = True
            raise item
        # After message_stop the backend is only cleaning up; the response is complete.
        if item is END or (isinstance(item, dict) and item.get("type") == "message_stop"):
            self._ended = True
        return item

    def abandon(self) -> None:
        """The client is gone or the response failed: stop the backend unless it is done."""
        if not self._ended and not self._task.done():
            self._task.cancel()
