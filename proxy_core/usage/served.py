"""What the ledger keeps of one served request: who, which model, how it went, how big.

Never message content, never a key: the client is named by its User-Agent's product.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

USAGE_COUNTS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
# A product token with its version cut off: "OpenAI/Python 3.57.0" -> "OpenAI/Python",
# "codex_cli_rs/0.171.0 (Linux)" -> "codex_cli_rs", "curl/8.5.0" -> "curl".
_VERSION_PART = re.compile(r"/v?\d[^\s/]*$")
_PLAIN_CLIENT = re.compile(r"[A-Za-z0-9._/+-]{1,64}")
UNKNOWN_CLIENT = "unknown"
MESSAGE_CHARS = 160


def client_name(user_agent: str | None) -> str:
    """The caller's product, from its User-Agent; "unknown" when it sent none usable."""
    first = (user_agent or "").strip().split(" ", 1)[0]
    name = _VERSION_PART.sub("", first)
    return name if _PLAIN_CLIENT.fullmatch(name) else UNKNOWN_CLIENT


@dataclass
class ServedRequest:
    """Filled in while a request is served; recorded when its answer has ended."""

    api: str
    model: str
    client: str
    stream: bool
    started_at: float = field(default_factory=time.time)
    started_monotonic: float = field(default_factory=time.monotonic)
    status: int = 0
    error_type: str | None = None
    # The proxy's own words for a failure (as on the access line), never the caller's content.
    error_message: str | None = None
    first_token_ms: float | None = None
    total_ms: float | None = None
    tokens: dict[str, int] = field(default_factory=dict)

    def observe(self, event: dict[str, Any]) -> None:
        """Note the first token's time, and the counts of the start and final delta."""
        kind = event.get("type")
        if self.first_token_ms is None and kind in ("content_block_start", "content_block_delta"):
            self.first_token_ms = (time.monotonic() - self.started_monotonic) * 1000
        if kind not in ("message_start", "message_delta"):
            return
        usage = event.get("usage") or event.get("message", {}).get("usage") or {}
        for name in USAGE_COUNTS:
            count = usage.get(name)
            # A count once seen is never lowered to 0 by a later event without it.
            if isinstance(count, int) and (count or not self.tokens.get(name)):
                self.tokens[name] = count

    def fail(self, error_type: str, message: str) -> None:
        if self.error_type is None:
            self.error_type, self.error_message = error_type, message[:MESSAGE_CHARS]

    def finish(self, status: int) -> None:
        self.status = status
        self.total_ms = (time.monotonic() - self.started_monotonic) * 1000

    @property
    def failed(self) -> bool:
        return self.status >= 400 or self.error_type is not None
