"""What Claude Code cannot carry, refused as the caller's input rather than failing a CLI.

The system prompt and the model go to the CLI as command-line arguments, where a NUL
character cannot stand and text must be valid UTF-8; the CLI starts no turn for a last
message that holds nothing but whitespace. Each would otherwise surface as a 5xx about a
CLI that could not start or did not answer. The API's own rule is the same for the last
point: a message needs some non-whitespace text.
"""

from __future__ import annotations

from typing import Any

from proxy_core.backend.base import BackendRequest
from proxy_core.errors import InvalidRequestError


def _refuse_unpassable_text(text: str, param: str, what: str) -> None:
    if "\x00" in text:
        raise InvalidRequestError(
            f"{param}: {what} contains a NUL character (\\u0000), which Claude Code cannot "
            "pass on. Remove it.",
            param=param,
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequestError(
            f"{param}: {what} is not valid Unicode (it holds a lone surrogate such as "
            "\\udfff). Send text that encodes as UTF-8.",
            param=param,
        ) from None


def _only_whitespace(content: Any) -> bool:
    if isinstance(content, str):
        return not content.strip()
    blocks = [block for block in content if isinstance(block, dict)]
    return all(
        block.get("type") == "text" and not str(block.get("text", "")).strip() for block in blocks
    )


def check_passable(request: BackendRequest) -> None:
    what = "the system prompt (system, system or developer messages, instructions)"
    _refuse_unpassable_text(request.system or "", "system", what)
    _refuse_unpassable_text(request.model, "model", "the model name")
    last = request.messages[-1] if request.messages else None
    if last is not None and last["role"] == "user" and _only_whitespace(last["content"]):
        raise InvalidRequestError(
            "messages: the last user message holds only whitespace; send some text "
            "(the Messages API refuses such a message too).",
            param="messages",
        )
