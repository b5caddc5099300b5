"""A Responses API request (``POST /v1/responses``) as the backend request it runs.

The input and tools are translated by their own modules; this one reads the top-level
fields. ``reasoning.effort`` low to xhigh turns thinking on: Claude Code passes the effort
to models that take one (adaptive thinking at that effort) and the matching budget to those
that take a budget; ``none``/``minimal`` or no effort leave thinking off.
``text.format`` JSON is asked for in one sentence, as on chat completions. Sampling
parameters and other fields Claude Code cannot pass are accepted, echoed and ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxy_core.backend.base import BackendRequest
from proxy_core.errors import InvalidRequestError
from proxy_core.openai_api.request import checked_max_tokens, field_error, resolve_chat_model
from proxy_core.openai_api.responses_input import (
    TranslatedInput,
    joined_conversation,
    translate_input,
)
from proxy_core.openai_api.responses_tools import ToolNames, parse_tool_choice, parse_tools
from proxy_core.structured_output import JSON_OBJECT_GUIDANCE, json_schema_guidance

# Effort -> thinking budget, for the models that take a budget instead of an effort.
THINKING_BUDGETS = {"low": 2048, "medium": 8192, "high": 16384, "xhigh": 31999}
MIN_THINKING_BUDGET = 1024
NO_THINKING_EFFORTS = frozenset({"none", "minimal"})


@dataclass(frozen=True)
class ResponsesCall:
    backend_request: BackendRequest
    stream: bool
    store: bool
    requested_model: str
    previous_response_id: str | None
    names: ToolNames
    # The caller set `reasoning`: its stream gets a reasoning item, empty if none is shown.
    reasoning_item: bool
    # This request's own input, kept with the response for a request that continues it.
    own_input: TranslatedInput
    # The request's settings, as the response object repeats them.
    echo: dict[str, Any]


EarlierTurns = Callable[[str], TranslatedInput]


def _text_guidance(raw: Any) -> str | None:
    if raw is not None and not isinstance(raw, dict):
        raise field_error("must be an object", "text")
    fmt = raw.get("format") if raw is not None else None
    if fmt is not None and not isinstance(fmt, dict):
        raise field_error("must be an object", "text.format")
    if fmt is None or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_object":
        return JSON_OBJECT_GUIDANCE
    if fmt.get("type") == "json_schema":
        return json_schema_guidance(fmt.get("schema"), "text.format.schema")
    raise field_error("must be text, json_object or json_schema", "text.format.type")


def _reasoning(raw: Any) -> tuple[bool, str | None]:
    """Whether the caller asked about reasoning at all, and the effort to think with."""
    if raw is None:
        return False, None
    if not isinstance(raw, dict):
        raise field_error("must be an object", "reasoning")
    effort = raw.get("effort")
    if effort is None or effort in NO_THINKING_EFFORTS:
        return True, None
    if effort not in THINKING_BUDGETS:
        raise field_error("must be none, minimal, low, medium, high or xhigh", "reasoning.effort")
    return True, str(effort)


def _thinking(effort: str | None, max_tokens: int | None) -> dict[str, Any] | None:
    if effort is None:
        return None
    budget = THINKING_BUDGETS[effort]
    if max_tokens is not None:
        # Below max_tokens, as the API wants, and leaving at least half of it for the answer.
        budget = min(budget, max_tokens // 2)
    if budget < MIN_THINKING_BUDGET:
        return None
    return {"type": "enabled", "budget_tokens": budget}


def _instructions(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,) if raw else ()
    if isinstance(raw, list):
        translated = translate_input(raw)
        texts = [
            block["text"]
            for message in translated.messages
            for block in message["content"]
            if block.get("type") == "text"
        ]
        return (*translated.system, *texts)
    raise field_error("must be a string or a list of messages", "instructions")


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise field_error("must be a boolean", key)
    return value


def _echo(body: dict[str, Any], max_tokens: int | None) -> dict[str, Any]:
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise field_error("must be an object", "metadata")
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": max_tokens,
        "metadata": metadata or {},
        "parallel_tool_calls": _flag(body, "parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": _flag(body, "store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation") or "disabled",
        "user": body.get("user"),
    }


def parse_responses_request(
    body: Any,
    *,
    default_model: str,
    request_id: str,
    earlier: EarlierTurns,
    agent_mode: bool = False,
) -> ResponsesCall:
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    requested = body.get("model", default_model)
    if not isinstance(requested, str) or not requested:
        raise field_error("must be a non-empty string", "model")
    for unsupported in ("conversation", "prompt"):
        if body.get(unsupported) is not None:
            # Both name state kept on OpenAI's side; ignoring them would drop it silently.
            raise field_error(
                "is kept on OpenAI's side and cannot be read here; send the conversation as "
                "`input` (or chain with previous_response_id) and the instructions as "
                "`instructions`",
                unsupported,
            )
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise field_error("must be a non-empty string", "previous_response_id")
    if body.get("background"):
        raise field_error(
            "background responses are not served here; send the request in the foreground",
            "background",
        )
    max_tokens = checked_max_tokens(body.get("max_output_tokens"), "max_output_tokens")
    echo = _echo(body, max_tokens)
    own = translate_input(body.get("input"))
    before = earlier(previous) if previous else TranslatedInput((), [])
    messages = joined_conversation([*before.messages, *own.messages])
    if not messages or messages[-1]["role"] != "user":
        raise field_error(
            "must end with a user message or a tool output; a trailing assistant message "
            "(prefill) cannot be continued through Claude Code",
            "input",
        )
    tools = parse_tools(body.get("tools"))
    choice, offered = parse_tool_choice(body.get("tool_choice"), tools)
    reasoning_item, effort = _reasoning(body.get("reasoning"))
    thinking = _thinking(effort, max_tokens)
    system = [
        *_instructions(body.get("instructions")),
        *before.system,
        *own.system,
        _text_guidance(body.get("text")),
    ]
    request = BackendRequest(
        model=resolve_chat_model(requested),
        messages=messages,
        system="\n\n".join(part for part in system if part) or None,
        max_tokens=max_tokens,
        request_id=request_id,
        tools=offered,
        tool_choice=choice,
        parallel_tool_calls=echo["parallel_tool_calls"],
        thinking=thinking,
        effort=effort if thinking else None,
        # As on the other APIs: only a caller that sent no tools at all gets the agent's own.
        agent=agent_mode and not body.get("tools"),
    )
    return ResponsesCall(
        backend_request=request,
        stream=_flag(body, "stream", False),
        store=echo["store"],
        requested_model=requested,
        previous_response_id=previous,
        names=tools.names,
        reasoning_item=reasoning_item,
        own_input=own,
        echo=echo,
    )
