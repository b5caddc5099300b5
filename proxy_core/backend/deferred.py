"""The Claude Code backend, loaded in the background right after start, or by the first
request when ``preload_sdk`` is off.

Importing claude-agent-sdk, and the MCP library it builds on, costs about 55 MB of
memory and most of a second. Loaded at start (the default), the first request does not
wait for it; a tray app started at login that should stay small while it serves nothing
turns ``preload_sdk`` off and pays it once used. The import runs in a thread either way,
so the server keeps answering (``/health`` among others) meanwhile. CLIs a crashed
earlier run left behind are still ended at start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from proxy_core.backend.base import Backend, BackendRequest, StreamEventData
from proxy_core.backend.orphans import OrphanGuard
from proxy_core.config import Settings
from proxy_core.usage.quota import QuotaBoard

NOTHING_WAITING = {"kept": 0, "spares": 0}


class DeferredBackend:
    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str] | None = None,
        *,
        quota: QuotaBoard | None = None,
    ) -> None:
        self._settings = settings
        self._environ = environ
        self._quota = quota
        self._closed = False
        self.loaded: Backend | None = None
        OrphanGuard(settings.data_dir / "cli-processes").reap()

    async def _load(self) -> Backend:
        if self.loaded is None:
            backend_class = await asyncio.to_thread(_import_backend)
            if self.loaded is None:  # another first request may have won the race
                self.loaded = backend_class(self._settings, self._environ, quota=self._quota)
        return self.loaded

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEventData]:
        backend = await self._load()
        if self._closed:  # shut down while loading: start no CLI now
            await backend.aclose()
            return
        async with contextlib.aclosing(backend.stream(request)) as events:  # type: ignore[type-var]
            async for event in events:
                yield event

    async def preload(self) -> None:
        if not self._closed:
            await self._load()

    def list_sessions(self) -> list[dict[str, Any]]:
        return self.loaded.list_sessions() if self.loaded else []

    def cli_counts(self) -> dict[str, int]:
        return self.loaded.cli_counts() if self.loaded else dict(NOTHING_WAITING)

    def end_session(self, session_id: str) -> bool:
        return self.loaded.end_session(session_id) if self.loaded else False

    async def aclose(self) -> None:
        self._closed = True
        if self.loaded is not None:
            await self.loaded.aclose()


def _import_backend() -> Callable[..., Backend]:
    # A plain import statement, so that PyInstaller sees it and bundles the SDK.
    from proxy_core.backend.claude_sdk import ClaudeSDKBackend

    return ClaudeSDKBackend
