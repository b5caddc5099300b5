"""An honest estimate for /v1/messages/count_tokens.

The subscription path has no token-counting endpoint, so this counts about
four characters of text per token (the usual English average) and a fixed
cost per image or document. Expect it within roughly 10-20% for prose; it
does not include the ~250 tokens of context Claude Code adds to every call.
"""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 1_600
DOCUMENT_PAGE_TOKENS = 2_000
MESSAGE_OVERHEAD_TOKENS = 4


def _text_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return _text_tokens(content)
    total = 0
    for block in content or []:
        kind = block.get("type")
        if kind == "text":
            total += _text_tokens(block.get("text", ""))
        elif kind == "image":
            total += IMAGE_TOKENS
        elif kind == "document":
            total += DOCUMENT_PAGE_TOKENS
        elif kind == "tool_use":
            total += _text_tokens(block.get("name", "") + json.dumps(block.get("input", {})))
        elif kind == "tool_result":
            total += _content_tokens(block.get("content", ""))
        else:
            total += _text_tokens(json.dumps(block))
    return total


def estimate_input_tokens(body: dict[str, Any]) -> int:
    total = 0
    system = body.get("system")
    if system:
        total += _content_tokens(system)
    for message in body.get("messages", []):
        total += MESSAGE_OVERHEAD_TOKENS + _content_tokens(message.get("content"))
    for tool in body.get("tools") or []:
        total += _text_tokens(json.dumps(tool))
    return max(1, total)
