"""A chat.completions request translated to the Anthropic shape the backend runs.

System and developer messages become the system prompt; ``tool_calls`` become
``tool_use`` blocks and ``tool`` messages ``tool_result`` blocks; image parts
become image blocks; consecutive messages of one role are merged, as the
Messages API needs. What Claude Code cannot honour is refused (``n`` > 1) or
documented as ignored (sampling parameters, ``stop``, ``logprobs``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from proxy_core.anthropic_api.models import resolve_model
from proxy_core.anthropic_api.request import MAX_TOKENS_LIMIT
from proxy_core.backend.base import BackendRequest, ToolChoice, ToolSpec
from proxy_core.errors import InvalidRequestError
from proxy_core.structured_output import JSON_OBJECT_GUIDANCE, json_schema_guidance

_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)
_OPENAI_SMALL = re.compile(r"mini|nano|3\.5|instant", re.IGNORECASE)
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class ChatCall:
    backend_request: BackendRequest
    stream: bool
    include_usage: bool
    requested_model: str


def field_error(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(f"{param}: {message}", param=param)


def resolve_chat_model(name: str) -> str:
    """OpenAI model names map to a Claude family; Claude names resolve as on /v1/messages."""
    lowered = name.lower()
    if lowered.startswith(("gpt-", "o1", "o3", "o4", "chatgpt")):
        return "haiku" if _OPENAI_SMALL.search(lowered) else "sonnet"
    return resolve_model(name)


def _text_of(content: Any, param: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # Assistant messages sent back may hold a refusal part instead of text.
        texts = [
            part.get("refusal") if part.get("type") == "refusal" else part.get("text")
            for part in content
            if isinstance(part, dict)
        ]
        if all(isinstance(text, str) for text in texts):
            return "\n".join(str(text) for text in texts)
    raise field_error("must be a string or a list of text parts", param)


def media_block(kind: str, url: str, param: str) -> dict[str, Any]:
    """An ``image`` or ``document`` block from a data: URL or an http(s) URL."""
    match = _DATA_URL.match(url)
    if match:
        source = {"type": "base64", "media_type": match["media"], "data": match["data"]}
        return {"type": kind, "source": source}
    if url.startswith(("http://", "https://")):
        return {"type": kind, "source": {"type": "url", "url": url}}
    raise field_error("must be a data: URL or an http(s) URL", param)


def _image_block(part: dict[str, Any], param: str) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise field_error("must hold a url", f"{param}.image_url")
    return media_block("image", url, f"{param}.image_url.url")


def _user_blocks(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise field_error("must be a string or a list of content parts", param)
    blocks = []
    for index, part in enumerate(content):
        where = f"{param}.{index}"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise field_error("must be a string", f"{where}.text")
            blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image_block(part, where))
        else:
            raise field_error(f"unsupported content part type {kind!r}", f"{where}.type")
    return blocks


def _synthetic_id(param: str) -> str:
    # Tool ids upstream may hold only letters, digits, "_" and "-".
    return "call_" + re.sub(r"[^a-zA-Z0-9_-]", "_", param)


def _tool_use(function: Any, tool_id: Any, param: str) -> dict[str, Any]:
    """A function call (``param`` is its path) as a tool_use block."""
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise field_error("must be a function call with a name", param)
    arguments = function.get("arguments") or "{}"
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        raise field_error("is not valid JSON", f"{param}.arguments") from None
    if not isinstance(parsed, dict):
        raise field_error("must be a JSON object", f"{param}.arguments")
    return {
        "type": "tool_use",
        "id": tool_id if isinstance(tool_id, str) and tool_id else _synthetic_id(param),
        "name": function["name"],
        "input": parsed,
    }


def _assistant_blocks(message: dict[str, Any], param: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    content = message.get("content")
    if content:
        blocks.append({"type": "text", "text": _text_of(content, f"{param}.content")})
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise field_error("must be a list", f"{param}.tool_calls")
    for index, call in enumerate(calls):
        where = f"{param}.tool_calls.{index}"
        if not isinstance(call, dict):
            raise field_error("must be an object", where)
        blocks.append(_tool_use(call.get("function"), call.get("id"), f"{where}.function"))
    legacy = message.get("function_call")
    if legacy:
        where = f"{param}.function_call"
        blocks.append(_tool_use(legacy, _synthetic_id(f"legacy_{param}"), where))
    return blocks


def _translate(raw: Any) -> tuple[str | None, list[dict[str, Any]]]:
    if not isinstance(raw, list) or not raw:
        raise field_error("must be a non-empty list", "messages")
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    last_legacy_call = ""
    for index, message in enumerate(raw):
        where = f"messages.{index}"
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("system", "developer"):
            system.append(_text_of(message.get("content"), f"{where}.content"))
            continue
        if role == "user":
            turn = ("user", _user_blocks(message.get("content"), f"{where}.content"))
        elif role == "assistant":
            turn = ("assistant", _assistant_blocks(message, where))
            if message.get("function_call"):
                last_legacy_call = _synthetic_id(f"legacy_{where}")
        elif role in ("tool", "function"):
            tool_id = message.get("tool_call_id") if role == "tool" else last_legacy_call
            if not isinstance(tool_id, str) or not tool_id:
                raise field_error("names no earlier tool call", f"{where}.tool_call_id")
            content = _text_of(message.get("content") or "", f"{where}.content")
            turn = ("user", [{"type": "tool_result", "tool_use_id": tool_id, "content": content}])
        else:
            raise field_error(f"unsupported role {role!r}", f"{where}.role")
        if not turn[1]:
            continue
        if turns and turns[-1][0] == turn[0]:
            turns[-1][1].extend(turn[1])
        else:
            turns.append(turn)
    if not turns or turns[-1][0] != "user":
        raise field_error(
            "the conversation must end with a user or tool message; a trailing assistant "
            "message (prefill) cannot be continued through Claude Code",
            "messages",
        )
    messages = [{"role": role, "content": tool_results_first(blocks)} for role, blocks in turns]
    return "\n\n".join(part for part in system if part) or None, messages


def tool_results_first(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In a user turn the API wants tool results first, whatever order the messages came in."""
    results = [block for block in blocks if block["type"] == "tool_result"]
    return results + [block for block in blocks if block["type"] != "tool_result"]


def _tools(body: dict[str, Any]) -> tuple[ToolSpec, ...]:
    raw = body.get("tools")
    legacy = body.get("functions")
    for name, value in (("tools", raw), ("functions", legacy)):
        if value is not None and not isinstance(value, list):
            raise field_error("must be a list", name)
    functions = [t.get("function") if isinstance(t, dict) else None for t in raw or []]
    if raw is None and legacy is not None:
        functions = list(legacy)
    tools = []
    for index, function in enumerate(functions):
        where = f"tools.{index}.function" if raw is not None else f"functions.{index}"
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise field_error("must be a function with a name", where)
        schema = function.get("parameters") or EMPTY_SCHEMA
        if not isinstance(schema, dict) or schema.get("type", "object") != "object":
            raise field_error("must be a JSON Schema object", f"{where}.parameters")
        tools.append(
            ToolSpec(
                function["name"], function.get("description") or "", {"type": "object", **schema}
            )
        )
    return tuple(tools)


def _tool_choice(body: dict[str, Any], tools: tuple[ToolSpec, ...]) -> ToolChoice:
    raw = body.get("tool_choice", body.get("function_call"))
    if raw is None or raw == "auto":
        return ToolChoice()
    if raw == "none":
        return ToolChoice("none")
    if raw == "required":
        if not tools:
            raise field_error("'required' needs at least one tool in `tools`", "tool_choice")
        return ToolChoice("any")
    name = None
    if isinstance(raw, dict):
        function = raw.get("function", raw)
        name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or name not in {tool.name for tool in tools}:
        raise field_error("must be auto, none, required or name one of the tools", "tool_choice")
    return ToolChoice("tool", name)


def _response_format_guidance(raw: Any) -> str | None:
    if raw is None or (isinstance(raw, dict) and raw.get("type") == "text"):
        return None
    if isinstance(raw, dict) and raw.get("type") == "json_object":
        return JSON_OBJECT_GUIDANCE
    if isinstance(raw, dict) and raw.get("type") == "json_schema":
        spec = raw.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return json_schema_guidance(schema, "response_format.json_schema.schema")
    raise field_error("must be text, json_object or json_schema", "response_format")


def _max_tokens(body: dict[str, Any]) -> int | None:
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    return checked_max_tokens(body.get(key), key)


def checked_max_tokens(raw: Any, key: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_TOKENS_LIMIT:
        raise field_error(f"must be an integer between 1 and {MAX_TOKENS_LIMIT}", key)
    return raw


def parse_chat_request(
    body: Any, *, default_model: str, request_id: str, agent_mode: bool = False
) -> ChatCall:
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    requested = body.get("model", default_model)
    if not isinstance(requested, str) or not requested:
        raise field_error("must be a non-empty string", "model")
    if body.get("n") not in (None, 1):
        raise field_error("only 1 choice per request is supported", "n")
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise field_error("must be a boolean", "stream")
    options = body.get("stream_options") or {}
    system, messages = _translate(body.get("messages"))
    guidance = _response_format_guidance(body.get("response_format"))
    tools = _tools(body)
    parallel = body.get("parallel_tool_calls", True)
    request = BackendRequest(
        model=resolve_chat_model(requested),
        messages=messages,
        system="\n\n".join(part for part in (system, guidance) if part) or None,
        max_tokens=_max_tokens(body),
        request_id=request_id,
        tools=tools,
        tool_choice=_tool_choice(body, tools),
        parallel_tool_calls=parallel is not False,
        agent=agent_mode and not tools,
    )
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    return ChatCall(request, stream, include_usage, requested)
