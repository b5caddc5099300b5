"""Validation of a Messages API request body into a BackendRequest.

Errors name the offending field with the API's own dotted path
(``messages.2.content.0.type``) so a caller can find it.

Messages with ``role: "system"`` (Claude Code sends its environment as one) are accepted
anywhere, as the API accepts them, and join the system prompt in their order: Claude Code
takes no system message in the middle of a conversation, and such text must never be
turned into something the user seems to have said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy_core.anthropic_api.models import resolve_model
from proxy_core.anthropic_api.tools import parse_tool_choice, parse_tools
from proxy_core.backend.base import BackendRequest
from proxy_core.errors import InvalidRequestError
from proxy_core.structured_output import json_schema_guidance

ROLES = ("user", "assistant")
# Block types the CLI passes on unchanged inside a message.
CONTENT_BLOCK_TYPES = frozenset(
    {"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"}
)
MAX_TOKENS_LIMIT = 128_000
EFFORTS = ("low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class MessagesCall:
    """A validated request: what the backend runs, plus what only the HTTP layer needs."""

    backend_request: BackendRequest
    stream: bool
    requested_model: str


def _fail(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(f"{param}: {message}", param=param)


def _strip_cache_control(block: dict[str, Any]) -> dict[str, Any]:
    # The CLI adds its own cache breakpoints; caller markers would exceed the API's limit of 4.
    return {key: value for key, value in block.items() if key != "cache_control"}


def _content(raw: Any, param: str) -> str | list[dict[str, Any]]:
    if isinstance(raw, str):
        if not raw:
            raise _fail("must not be empty", param)
        return raw
    if not isinstance(raw, list) or not raw:
        raise _fail("must be a non-empty string or a non-empty list of content blocks", param)
    blocks = []
    for index, block in enumerate(raw):
        where = f"{param}.{index}"
        if not isinstance(block, dict):
            raise _fail("must be an object", where)
        kind = block.get("type")
        if kind not in CONTENT_BLOCK_TYPES:
            raise _fail(f"unsupported content block type {kind!r}", f"{where}.type")
        if kind == "text" and not isinstance(block.get("text"), str):
            raise _fail("must be a string", f"{where}.text")
        if kind == "tool_result":
            _check_tool_result(block, where)
        blocks.append(_strip_cache_control(block))
    return blocks


def _check_tool_result(block: dict[str, Any], where: str) -> None:
    if not isinstance(block.get("tool_use_id"), str) or not block["tool_use_id"]:
        raise _fail("must be a non-empty string", f"{where}.tool_use_id")
    content = block.get("content", "")
    if not isinstance(content, str | list) or (
        isinstance(content, list) and not all(isinstance(item, dict) for item in content)
    ):
        raise _fail("must be a string or a list of content blocks", f"{where}.content")


def _messages(raw: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The conversation, and the text of its system-role messages."""
    if not isinstance(raw, list) or not raw:
        raise _fail("must be a non-empty list", "messages")
    messages = []
    system = []
    last = 0  # the index of the last message that is not a system message
    for index, message in enumerate(raw):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            raise _fail("must be an object", where)
        role = message.get("role")
        if role not in (*ROLES, "system"):
            raise _fail(
                f"role must be 'user', 'assistant' or 'system', got {role!r}", f"{where}.role"
            )
        if "content" not in message:
            raise _fail("is required", f"{where}.content")
        if role == "system":
            system.append(_text_only(message["content"], f"{where}.content"))
            continue
        messages.append({"role": role, "content": _content(message["content"], f"{where}.content")})
        last = index
    if not messages:
        raise _fail("must hold a user message besides system messages", "messages")
    if messages[-1]["role"] != "user":
        raise _fail(
            "the last message must come from the user; a trailing assistant message "
            "(prefill) cannot be continued through Claude Code",
            f"messages.{last}.role",
        )
    return messages, system


def _text_only(raw: Any, param: str) -> str:
    """System text: a string or a list of text blocks (their cache_control is the CLI's job)."""
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise _fail("must be a string or a list of text blocks", param)
    parts = []
    for index, block in enumerate(raw):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _fail("must be a text block", f"{param}.{index}")
        if not isinstance(block.get("text"), str):
            raise _fail("must be a string", f"{param}.{index}.text")
        parts.append(block["text"])
    return "\n\n".join(parts)


def _system(raw: Any, from_messages: list[str | None]) -> str | None:
    parts = [] if raw is None else [_text_only(raw, "system")]
    return "\n\n".join(part for part in (*parts, *from_messages) if part) or None


def _format_guidance(raw: Any) -> str | None:
    """``output_config.format`` (structured outputs): asked for in one sentence, best effort."""
    fmt = raw.get("format") if isinstance(raw, dict) else None
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise _fail("must be an object whose type is json_schema", "output_config.format")
    return json_schema_guidance(fmt.get("schema"), "output_config.format.schema")


def _effort(raw: Any) -> str | None:
    """``output_config.effort`` (Claude Code sends it): passed on as the CLI's --effort."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail("must be an object", "output_config")
    effort = raw.get("effort")
    if effort is None:
        return None
    if effort not in EFFORTS:
        raise _fail(f"must be one of {', '.join(EFFORTS)}", "output_config.effort")
    return str(effort)


def _max_tokens(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _fail("must be an integer", "max_tokens")
    if not 1 <= raw <= MAX_TOKENS_LIMIT:
        raise _fail(f"must be between 1 and {MAX_TOKENS_LIMIT}", "max_tokens")
    return raw


def _thinking(raw: Any, max_tokens: int | None) -> dict[str, Any] | None:
    """The caller's thinking setting; None when thinking was not asked for."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in ("enabled", "disabled", "adaptive"):
        raise _fail("must be an object whose type is enabled, disabled or adaptive", "thinking")
    if raw["type"] == "disabled":
        return None
    if raw["type"] == "adaptive":
        return {"type": "adaptive"}
    budget = raw.get("budget_tokens")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1024:
        raise _fail("must be an integer of at least 1024", "thinking.budget_tokens")
    if max_tokens is not None and budget >= max_tokens:
        raise _fail("must be less than max_tokens", "thinking.budget_tokens")
    return {"type": "enabled", "budget_tokens": budget}


def parse_messages_request(
    body: Any, *, default_model: str, request_id: str, agent_mode: bool = False
) -> MessagesCall:
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    requested = body.get("model", default_model)
    if not isinstance(requested, str) or not requested:
        raise _fail("must be a non-empty string", "model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _fail("must be a boolean", "stream")
    tools = parse_tools(body.get("tools"))
    tool_choice, parallel_tool_calls = parse_tool_choice(body.get("tool_choice"), tools)
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _fail("must be an object", "metadata")
    max_tokens = _max_tokens(body.get("max_tokens"))
    messages, system_messages = _messages(body.get("messages"))
    request = BackendRequest(
        model=resolve_model(requested),
        messages=messages,
        system=_system(
            body.get("system"), [*system_messages, _format_guidance(body.get("output_config"))]
        ),
        max_tokens=max_tokens,
        thinking=_thinking(body.get("thinking"), max_tokens),
        effort=_effort(body.get("output_config")),
        agent=agent_mode and not tools,
        request_id=request_id,
        metadata=metadata,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=parallel_tool_calls,
    )
    return MessagesCall(backend_request=request, stream=stream, requested_model=requested)
