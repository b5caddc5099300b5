"""The concurrency limit: a few requests run, a bounded queue waits, the rest are refused.

A slot is held until the request's CLI is gone or kept for the conversation's
next turn, not just until the response is written. Kept CLIs are bounded
separately (CLAUDE_PROXY_CONVERSATIONS), so at most max_concurrent plus that
many CLIs exist at once.
"""

from __future__ import annotations

import asyncio

from proxy_core.errors import OverloadedError, QueueFullError

# A full queue clears as fast as requests finish; one that timed out is behind a long queue.
QUEUE_FULL_RETRY_AFTER_S = 5
QUEUE_TIMEOUT_RETRY_AFTER_S = 30


class ConcurrencyGate:
    def __init__(self, limit: int, max_queue: int, queue_timeout_s: float) -> None:
        self._semaphore = asyncio.Semaphore(limit)
        self._limit = limit
        self._max_queue = max_queue
        self._queue_timeout_s = queue_timeout_s
        self.active = 0
        self.queued = 0

    async def acquire(self) -> None:
        if self.active >= self._limit and self.queued >= self._max_queue:
            raise QueueFullError(
                f"The proxy is at its limit: {self.active} requests running and "
                f"{self.queued} waiting (CLAUDE_PROXY_MAX_CONCURRENT={self._limit}). "
                "Retry shortly.",
                retry_after=QUEUE_FULL_RETRY_AFTER_S,
            )
        self.queued += 1
        try:
            async with asyncio.timeout(self._queue_timeout_s):
                await self._semaphore.acquire()
        except TimeoutError:
            raise OverloadedError(
                f"No request slot became free within {self._queue_timeout_s:g} s; "
                "the proxy is overloaded. Retry later.",
                retry_after=QUEUE_TIMEOUT_RETRY_AFTER_S,
            ) from None
        finally:
            self.queued -= 1
        self.active += 1

    def release(self) -> None:
        self.active -= 1
        self._semaphore.release()
