"""The backend seam: one request in, Anthropic Messages stream events out.

Events are the ``data`` objects of the Anthropic SSE stream (``message_start``,
``content_block_start``, ``content_block_delta``, ``content_block_stop``,
``message_delta``, ``message_stop``), from one ``message_start`` to its
``message_stop``. Failures are raised as :class:`proxy_core.errors.ProxyError`.
Every response the proxy writes is a view of this stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from proxy_core.events import StreamEventData

__all__ = ["Backend", "BackendRequest", "StreamEventData", "ToolChoice", "ToolSpec"]


@dataclass(frozen=True)
class ToolSpec:
    """A caller's tool, exactly as the caller defined it."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolChoice:
    """``auto`` (the default), ``any``, ``tool`` (with ``name``) or ``none``."""

    kind: str = "auto"
    name: str | None = None


@dataclass(frozen=True)
class BackendRequest:
    """A validated Messages request, in the shape the backend needs."""

    model: str
    messages: list[dict[str, Any]]
    system: str | None = None
    max_tokens: int | None = None
    request_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    parallel_tool_calls: bool = True
    # The caller's `thinking` setting; None when it did not ask for thinking.
    thinking: dict[str, Any] | None = None
    # How hard the model should think ("low" .. "max"), with adaptive thinking; None: the default.
    effort: str | None = None
    # Run Claude Code's own tools in the agent workspace (opt-in; never with caller tools).
    agent: bool = False
    # False for a one-off that nobody continues (the tray's Test connection): its CLI ends
    # with the answer, and no spare is started or taken for it.
    keep: bool = True


class Backend(Protocol):
    def stream(self, request: BackendRequest) -> AsyncIterator[StreamEventData]:
        """Yield the response's stream events; raise ProxyError on failure."""
        ...

    def list_sessions(self) -> list[dict[str, Any]]:
        """Conversations kept for their next turn."""
        ...

    def cli_counts(self) -> dict[str, int]:
        """CLI processes held between requests: kept conversations and warm spares."""
        ...

    def end_session(self, session_id: str) -> bool:
        """Forget a kept conversation; False when there is none with that id."""
        ...

    async def preload(self) -> None:
        """Load what the first request would otherwise wait for (nothing, if it is loaded)."""
        ...

    async def aclose(self) -> None:
        """End every running request and release what the backend holds."""
        ...
