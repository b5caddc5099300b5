"""CLIs started ahead of need, so a new conversation does not wait for Claude Code to start.

Starting the CLI is most of a new conversation's wait (0.3-0.6 s, CPU-bound). Everything
a CLI is fixed to at spawn (model, system prompt, tools, max_tokens, thinking) makes up
its spawn key, and requests of one client mostly share one key. After a request of a key
needed a new CLI, the pool starts a spare for that key in the background; the next new
conversation of the key takes it.

A spare serves one conversation only and never returns to the pool (findings: a CLI
cannot be emptied without leaving traces in the next turn). The pool holds at most
``size`` spares in all and one per key (see ``depth`` below), evicting the key used least
recently; spares expire after ``ttl_s`` (their environment context, the date among it, was
read at spawn), and none is started when the machine is short of memory or a start just
failed.

A start costs 0.6-0.7 CPU-seconds, and 0.3 more in the seconds after it (the CLI's garbage
collection and background set-up; bench/pacing.py times them). Begun while a turn runs, it
slows that turn (a client's quick follow-up, an agent's next tool round: 38 -> 68 ms in
bench/pacing.py), so spares are started once no turn has run for ``quiet_s``. A client
that sends new conversations in a row would then arrive before its spare is up: for it the
backend asks ``at_once``, as its turn ends (a second or so apart) or, when they come sooner
than a CLI starts (agent frameworks send them 0.3 s apart), while the turn runs; a request
that finds its spare still starting takes it and waits for the rest of the start.

Such a client may take a spare every 0.4-0.5 s, sooner than one CLI starts (0.6-0.8 s),
and one spare ahead is not enough: it may ask for ``depth`` 2, which the key gets once one
of its requests outran its spare (took it still starting); a client 1 s apart finds its
spare up, and a second start would only slow its next turn. The second spare of a key only
takes a free place (it evicts no other key's, and is the first to give way) and starts once
the key's start before it is done: one start per key at a time, so two starts never compete
for the CPU with each other and the turn beside them. A burst then finds two spares up; a
client that keeps the pace for long outruns any pool on two cores (README, Speed).
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
# Keys remembered as outrunning their spare (see ``depth``).
OUTRUN_REMEMBERED = 64

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
        # key -> its spares, ready or starting, first started first; keys in order of use,
        # oldest first, so eviction takes the front.
        self._spares: OrderedDict[str, list[_Spare]] = OrderedDict()
        # Keys that asked for more spares than they have, to start once their start is done.
        self._deeper: dict[str, tuple[int, Callable[[], ClaudeAgentOptions]]] = {}
        # Keys whose last request took its spare still starting, the oldest first.
        self._outrun: OrderedDict[str, None] = OrderedDict()
        self._failed_at = -FAILURE_BACKOFF_S
        self._closed = False

    def __len__(self) -> int:
        """Spares ready to take (not those still starting)."""
        return sum(spare.ready is not None for spare in self._all())

    def _all(self) -> list[_Spare]:
        return [spare for spares in self._spares.values() for spare in spares]

    async def take(self, key: str) -> CLISession | None:
        """The key's spare started first, now the caller's alone; None when there is none.

        A spare still starting is taken too, and waited for: it is further along than a CLI
        started now would be. None when that start fails (the caller's own start will say why).
        """
        spares = self._spares.get(key)
        if not spares:
            return None
        spare = spares.pop(0)
        if not spares:
            del self._spares[key]
        self._note_outrun(key, spare.ready is None)
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
        self,
        key: str,
        options: Callable[[], ClaudeAgentOptions],
        *,
        at_once: bool = False,
        depth: int = 1,
    ) -> None:
        """See that ``key`` has ``depth`` spares, starting one once no turn runs (``at_once``:
        now); a second one starts when the first is up, and only where there is room."""
        if self._size <= 0 or self._closed:
            return  # closed: a request wound down by the shutdown must not start a CLI
        if key not in self._outrun:
            depth = 1  # its spare keeps up: a second start would only slow its turns
        if depth > 1:
            self._deeper[key] = (depth, options)
        else:
            self._deeper.pop(key, None)
        if at_once:
            self._wanted.pop(key, None)
            self._start_spare(key, options, depth)
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
            self._start_spare(key, options, self._deeper.get(key, (1, options))[0])

    def _start_spare(
        self, key: str, options: Callable[[], ClaudeAgentOptions], depth: int = 1
    ) -> None:
        """Start the key's first spare, evicting another if need be, or one more of its
        ``depth`` once none of the key's is starting and there is a free place."""
        spares = self._spares.get(key)
        if spares:
            self._spares.move_to_end(key)
            if len(spares) >= depth or self._starting(key):
                return  # enough, or the key's start is under way: the next one follows it
            if not self._room():
                return  # the second spare of a key takes a free place only
        elif not self._room() and not self._evict_oldest():
            return  # every spare is still starting: they are about to be used
        if time.monotonic() - self._failed_at < FAILURE_BACKOFF_S:
            return
        if self._available_memory() < MIN_AVAILABLE_BYTES:
            log.debug("Warm pool: not starting a spare CLI, the machine is short of memory")
            return
        spare = _Spare()
        spare.starting = asyncio.get_running_loop().create_task(
            self._start(key, spare, options()), name="warm-pool-start"
        )
        self._spares.setdefault(key, []).append(spare)

    def _note_outrun(self, key: str, outrun: bool) -> None:
        self._outrun.pop(key, None)
        if outrun:
            self._outrun[key] = None
            if len(self._outrun) > OUTRUN_REMEMBERED:
                self._outrun.popitem(last=False)

    def _room(self) -> bool:
        return sum(map(len, self._spares.values())) < self._size

    def _starting(self, key: str) -> bool:
        return any(spare.ready is None for spare in self._spares.get(key, ()))

    async def _start(self, key: str, spare: _Spare, options: ClaudeAgentOptions) -> None:
        try:
            session = await self._spawn(options)
        except Exception as error:  # the next cold start reports it to its caller
            log.warning("Warm pool: a spare CLI did not start: %s", error)
            self._failed_at = time.monotonic()
            self._drop(key, spare)
            self._start_deeper(key)
            return
        spare.ready = session
        if spare.claimed:
            pass  # a request is waiting for exactly this one
        elif spare not in self._spares.get(key, ()):  # evicted or closed while starting
            session.abort()
        else:
            spare.starting = None
            loop = asyncio.get_running_loop()
            spare.expiry = loop.call_later(self._ttl_s, self._expire, key, spare)
        self._start_deeper(key)

    def _start_deeper(self, key: str) -> None:
        """A start of the key ended: the next of the spares it asked for may begin. The wish
        is dropped once met or when it cannot be (every spare taken, no free place): the
        key's next request in a row asks again."""
        wanted = self._deeper.get(key)
        if wanted is None or self._closed or self._starting(key):
            return  # a start still under way calls again when it ends
        depth, options = wanted
        spares = self._spares.get(key, [])
        if not spares or len(spares) >= depth or not self._room():
            del self._deeper[key]
            return
        if len(spares) + 1 >= depth:
            del self._deeper[key]
        self._start_spare(key, options, depth)

    def _expire(self, key: str, spare: _Spare) -> None:
        log.debug("Warm pool: a spare CLI expired unused")
        self._drop(key, spare)
        spare.end()

    def _evict_oldest(self) -> bool:
        """End a ready spare to make room: a key's second one first, else the only one of
        the key used least recently."""
        ready = [
            (key, spare, len(spares) > 1)
            for key, spares in self._spares.items()
            for spare in reversed(spares)
            if spare.ready is not None
        ]
        if not ready:
            return False
        key, spare, _ = next((found for found in ready if found[2]), ready[0])
        self._drop(key, spare)
        spare.end()
        return True

    def _drop(self, key: str, spare: _Spare) -> None:
        spares = self._spares.get(key)
        if spares is not None and spare in spares:
            spares.remove(spare)
            if not spares:
                del self._spares[key]

    async def aclose(self) -> None:
        """End every spare, ready or starting, and wait for the starts to wind down."""
        self._closed = True
        if self._waiting is not None:
            self._waiting.cancel()
        self._wanted.clear()
        self._deeper.clear()
        spares = self._all()
        self._spares.clear()
        for spare in spares:
            spare.end()
        starting = [spare.starting for spare in spares if spare.starting is not None]
        await asyncio.gather(*starting, return_exceptions=True)


class _Spare:
    """One spare of a key: starting, then ready until taken, evicted or expired."""

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
