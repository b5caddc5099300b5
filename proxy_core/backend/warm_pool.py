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

A start costs about 0.4 CPU-seconds. Begun while a turn runs, it slows that turn (a
client's quick follow-up, an agent's next tool round: 38 -> 68 ms in bench/pacing.py), so
spares are started once no turn has run for ``quiet_s``. A client that sends new
conversations in a row, fast (agent frameworks send them 0.3 s apart), would then always
arrive before its spare is up: for it the backend asks ``at_once``, and a request that finds
its spare still starting takes it and waits for the rest of the start.
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
# How long no turn must have run before a spare starts.
QUIET_S = 0.3

Spawner = Callable[[ClaudeAgentOptions], Awaitable[CLISession]]


class WarmPool:
    def __init__(
        self,
        size: int,
        spawn: Spawner,
        *,
        ttl_s: float,
        quiet: Callable[[], bool] = lambda: True,
        quiet_s: float | None = None,
        available_memory: Callable[[], int] = lambda: psutil.virtual_memory().available,
    ) -> None:
        self._size = size
        self._spawn = spawn
        self._ttl_s = ttl_s
        self._quiet = quiet
        self._quiet_s = QUIET_S if quiet_s is None else quiet_s
        self._available_memory = available_memory
        # Keys wanting a spare, with how to make its options, until the machine is quiet.
        self._wanted: OrderedDict[str, Callable[[], ClaudeAgentOptions]] = OrderedDict()
        self._waiting: asyncio.TimerHandle | None = None
        # key -> its spare, ready or starting; oldest use first, so eviction takes the front.
        self._spares: OrderedDict[str, _Spare] = OrderedDict()
        self._failed_at = -FAILURE_BACKOFF_S
        self._closed = False

    def __len__(self) -> int:
        """Spares ready to take (not those still starting)."""
        return sum(spare.ready is not None for spare in self._spares.values())

    async def take(self, key: str) -> CLISession | None:
        """The key's spare, now the caller's alone; None when there is none.

        A spare still starting is taken too, and waited for: it is further along than a CLI
        started now would be. None when that start fails (the caller's own start will say why).
        """
        spare = self._spares.pop(key, None)
        if spare is None:
            return None
        spare.disarm()
        if spare.ready is None and spare.starting is not None:
            spare.claimed = True
            try:
                await asyncio.shield(spare.starting)
            except asyncio.CancelledError:
                spare.end()  # the caller left while it started: no one else will use it
                raise
            except Exception:  # _start reports its own failures
                return None
        session = spare.ready
        return None if session is None or session.closing else session

    def refill(
        self, key: str, options: Callable[[], ClaudeAgentOptions], *, at_once: bool = False
    ) -> None:
        """Start a spare for ``key`` once no turn runs (``at_once``: now), unless it has one
        or may not."""
        if self._size <= 0 or self._closed:
            return  # closed: a request wound down by the shutdown must not start a CLI
        if at_once:
            self._wanted.pop(key, None)
            self._start_spare(key, options)
            return
        self._wanted[key] = options
        self._wanted.move_to_end(key)
        self._wait_for_quiet()

    def _wait_for_quiet(self) -> None:
        if self._waiting is not None:
            self._waiting.cancel()  # a turn just ended: the quiet period starts again
        self._waiting = asyncio.get_running_loop().call_later(self._quiet_s, self._start_wanted)

    def _start_wanted(self) -> None:
        self._waiting = None
        if not self._quiet():
            self._wait_for_quiet()
            return
        while self._wanted:
            key, options = self._wanted.popitem(last=False)
            self._start_spare(key, options)

    def _start_spare(self, key: str, options: Callable[[], ClaudeAgentOptions]) -> None:
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
        if spare.claimed:
            spare.ready = session  # a request is waiting for exactly this one
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
        if self._waiting is not None:
            self._waiting.cancel()
        self._wanted.clear()
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
        # Taken while starting: its request waits for it, so it never goes back to the pool.
        self.claimed = False

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
