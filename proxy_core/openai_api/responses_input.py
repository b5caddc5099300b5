"""A Responses ``input`` (a string or a list of items) as Anthropic messages.

Messages keep their order; ``system`` and ``developer`` messages join the system prompt,
as on chat completions. ``function_call`` and ``custom_tool_call`` items become ``tool_use``
blocks under their ``call_id``, their outputs ``tool_result`` blocks. Each ``output_text``
part stays a block of its own, so a reply sent back reads exactly as the model wrote it
and the conversation's kept CLI is found again. ``reasoning`` items are dropped (Claude
Code keeps no foreign reasoning), and so are the traces of hosted tools, which never ran
here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from proxy_core.openai_api.request import field_error, media_block, tool_results_first
from proxy_core.openai_api.responses_tools import CUSTOM_INPUT, native_name

log = logging.getLogger(__name__)

_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text"})
# Items that carry nothing the model can be shown again.
_DROPPED_ITEMS = frozenset(
    {
        "reasoning",
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "computer_call",
        "computer_call_output",
        "local_shell_call",
        "local_shell_call_output",
        "mcp_list_tools",
        "mcp_call",
        "mcp_approval_request",
        "mcp_approval_response",
    }
)


@dataclass(frozen=True)
class TranslatedInput:
    system: tuple[str, ...]
    messages: list[dict[str, Any]]


def _text(part: dict[str, Any], where: str) -> str:
    text = part.get("refusal") if part.get("type") == "refusal" else part.get("text")
    if not isinstance(text, str):
        raise field_error("must be a string", f"{where}.text")
    return text


def _file_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    data = part.get("file_data")
    if isinstance(data, str):
        if not data.startswith("data:"):
            data = f"data:application/pdf;base64,{data}"  # the SDKs send bare base64 too
        return media_block("document", data, f"{where}.file_data")
    url = part.get("file_url")
    if isinstance(url, str):
        return media_block("document", url, f"{where}.file_url")
    raise field_error(
        "needs file_data (base64) or file_url; uploaded file ids cannot be read here", where
    )


def _image_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    url = part.get("image_url")
    if not isinstance(url, str):
        raise field_error(
            "needs image_url (a data: or http(s) URL); uploaded file ids cannot be read here",
            where,
        )
    return media_block("image", url, f"{where}.image_url")


def content_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """A message's (or a tool output's) content as Anthropic blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise field_error("must be a string or a list of content parts", where)
    blocks = []
    for index, part in enumerate(content):
        at = f"{where}.{index}"
        if not isinstance(part, dict):
            raise field_error("must be an object", at)
        kind = part.get("type")
        if kind in _TEXT_PARTS or kind == "refusal":
            if text := _text(part, at):
                blocks.append({"type": "text", "text": text})
        elif kind == "input_image":
            blocks.append(_image_block(part, at))
        elif kind == "input_file":
            blocks.append(_file_block(part, at))
        else:
            raise field_error(f"unsupported content part type {kind!r}", f"{at}.type")
    return blocks


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw) if isinstance(raw, str) and raw.strip() else raw or {}
    except ValueError:
        raise field_error("is not valid JSON", f"{where}.arguments") from None
    if not isinstance(parsed, dict):
        raise field_error("must be a JSON object", f"{where}.arguments")
    return parsed


def _call_id(item: dict[str, Any], where: str) -> str:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise field_error("must be a non-empty string", f"{where}.call_id")
    return call_id


def _tool_use(item: dict[str, Any], where: str) -> dict[str, Any]:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise field_error("must be a non-empty string", f"{where}.name")
    if item["type"] == "custom_tool_call":
        arguments = {CUSTOM_INPUT: str(item.get("input") or "")}
    else:
        arguments = _arguments(item.get("arguments"), where)
    return {
        "type": "tool_use",
        "id": _call_id(item, where),
        "name": native_name(name, item.get("namespace")),
        "input": arguments,
    }


def _tool_result(item: dict[str, Any], where: str) -> dict[str, Any]:
    output = item.get("output")
    if output is None:
        output = ""
    content = content_blocks(output, f"{where}.output")
    return {"type": "tool_result", "tool_use_id": _call_id(item, where), "content": content or ""}


def _system_text(content: Any, where: str) -> str:
    blocks = content_blocks(content, where)
    if any(block["type"] != "text" for block in blocks):
        raise field_error("a system or developer message can hold only text", where)
    return "\n".join(block["text"] for block in blocks)


def _turn(item: Any, where: str, system: list[str]) -> tuple[str, list[dict[str, Any]]] | None:
    if not isinstance(item, dict):
        raise field_error("must be an object", where)
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        if role in ("system", "developer"):
            system.append(_system_text(item.get("content"), f"{where}.content"))
            return None
        if role not in ("user", "assistant"):
            raise field_error(f"unsupported role {role!r}", f"{where}.role")
        return str(role), content_blocks(item.get("content"), f"{where}.content")
    if kind in ("function_call", "custom_tool_call"):
        return "assistant", [_tool_use(item, where)]
    if kind in ("function_call_output", "custom_tool_call_output"):
        return "user", [_tool_result(item, where)]
    if kind == "item_reference":
        raise field_error(
            "item references cannot be resolved here; send the item itself", f"{where}.type"
        )
    if kind not in _DROPPED_ITEMS:
        log.debug("Responses API: input item of type %r dropped", kind)
    return None


def translate_input(raw: Any) -> TranslatedInput:
    if isinstance(raw, str):
        return TranslatedInput((), [{"role": "user", "content": [{"type": "text", "text": raw}]}])
    if not isinstance(raw, list):
        raise field_error("must be a string or a list of items", "input")
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for index, item in enumerate(raw):
        turn = _turn(item, f"input.{index}", system)
        if turn is None or not turn[1]:
            continue
        if turns and turns[-1][0] == turn[0]:
            turns[-1][1].extend(turn[1])
        else:
            turns.append(turn)
    messages = [{"role": role, "content": blocks} for role, blocks in turns]
    return TranslatedInput(tuple(part for part in system if part), messages)


def joined_conversation(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge neighbours of one role (earlier turns and new input meet here); tool results first."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1] = {**merged[-1], "content": [*merged[-1]["content"], *message["content"]]}
        else:
            merged.append({**message, "content": list(message["content"])})
    return [
        {**m, "content": tool_results_first(m["content"]) if m["role"] == "user" else m["content"]}
        for m in merged
    ]
