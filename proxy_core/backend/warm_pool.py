"""CLIs started ahead of need, so a new conversation does not wait for Claude Code to start.

Starting the CLI is most of a new conversation's wait (0.3-0.6 s, CPU-bound). Everything
a CLI is fixed to at spawn (model, system prompt, tools, max_tokens, thinking) makes up
its spawn key, and requests of one client mostly share one key. After a request of a key
needed a new CLI, the pool starts a spare for that key in the background; the next new
conversation of the key takes it.

A spare serves one conversation only and never returns to the pool (findings: a CLI
cannot be emptied without leaving traces in the next turn). The pool holds at most
``size`` spares in all and one per key, evicting the key used least recently; spares
expire after ``ttl_s`` (their environment context, the date among it, was read at spawn),
and none is started when the machine is short of memory or a start just failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import psutil
from claude_agent_sdk import ClaudeAgentOptions

from proxy_core.backend.cli_session import CLISession

log = logging.getLogger(__name__)

# A spare costs ~150 MB; below this much free memory the pool starts none.
MIN_AVAILABLE_BYTES = 1 << 30
# After a failed start (CLI missing, broken login), wait this long before trying again.
FAILURE_BACKOFF_S = 30.0

Spawner = Callable[[ClaudeAgentOptions], Awaitable[CLISession]]


class WarmPool:
    def __init__(
        self,
        size: int,
        spawn: Spawner,
        *,
        ttl_s: float,
        available_memory: Callable[[], int] = lambda: psutil.virtual_memory().available,
    ) -> None:
        self._size = size
        self._spawn = spawn
        self._ttl_s = ttl_s
        self._available_memory = available_memory
        # key -> its spare, ready or starting; oldest use first, so eviction takes the front.
        self._spares: OrderedDict[str, _Spare] = OrderedDict()
        self._failed_at = -FAILURE_BACKOFF_S
        self._closed = False

    def __len__(self) -> int:
        """Spares ready to take (not those still starting)."""
        return sum(spare.ready is not None for spare in self._spares.values())

    def take(self, key: str) -> CLISession | None:
        """The key's ready spare, now the caller's alone; None when there is none."""
        spare = self._spares.get(key)
        if spare is None or spare.ready is None:
            return None
        del self._spares[key]
        spare.disarm()
        session = spare.ready
        return None if session.closing else session

    def refill(self, key: str, options: Callable[[], ClaudeAgentOptions]) -> None:
        """Start a spare for ``key`` in the background, unless it has one or may not."""
        if self._size <= 0 or self._closed:
            return  # closed: a request wound down by the shutdown must not start a CLI
        if key in self._spares:
            self._spares.move_to_end(key)
            return
        if time.monotonic() - self._failed_at < FAILURE_BACKOFF_S:
            return
        if len(self._spares) >= self._size and not self._evict_oldest():
            return  # every spare is still starting: they are about to be used
        if self._available_memory() < MIN_AVAILABLE_BYTES:
            log.debug("Warm pool: not starting a spare CLI, the machine is short of memory")
            return
        spare = _Spare()
        spare.starting = asyncio.get_running_loop().create_task(
            self._start(key, spare, options()), name="warm-pool-start"
        )
        self._spares[key] = spare

    async def _start(self, key: str, spare: _Spare, options: ClaudeAgentOptions) -> None:
        try:
            session = await self._spawn(options)
        except Exception as error:  # the next cold start reports it to its caller
            log.warning("Warm pool: a spare CLI did not start: %s", error)
            self._failed_at = time.monotonic()
            self._drop(key, spare)
            return
        if self._spares.get(key) is not spare:  # evicted or closed while starting
            session.abort()
            return
        spare.ready = session
        spare.starting = None
        spare.expiry = asyncio.get_running_loop().call_later(self._ttl_s, self._expire, key, spare)

    def _expire(self, key: str, spare: _Spare) -> None:
        log.debug("Warm pool: a spare CLI expired unused")
        self._drop(key, spare)
        spare.end()

    def _evict_oldest(self) -> bool:
        for key, spare in self._spares.items():
            if spare.ready is not None:
                del self._spares[key]
                spare.end()
                return True
        return False

    def _drop(self, key: str, spare: _Spare) -> None:
        if self._spares.get(key) is spare:
            del self._spares[key]

    async def aclose(self) -> None:
        """End every spare, ready or starting, and wait for the starts to wind down."""
        self._closed = True
        spares = list(self._spares.values())
        self._spares.clear()
        for spare in spares:
            spare.end()
        starting = [spare.starting for spare in spares if spare.starting is not None]
        await asyncio.gather(*starting, return_exceptions=True)


class _Spare:
    """One key's spare: starting, then ready until taken, evicted or expired."""

    def __init__(self) -> None:
        self.starting: asyncio.Task[None] | None = None
        self.ready: CLISession | None = None
        self.expiry: asyncio.TimerHandle | None = None

    def disarm(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()

    def end(self) -> None:
        self.disarm()
        if self.starting is not None:
            self.starting.cancel()
        if self.ready is not None:
            with contextlib.suppress(Exception):
                self.ready.abort()
