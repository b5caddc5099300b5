"""Validation of ``tools`` and ``tool_choice``.

Caller tools become real tools for the model, with the caller's exact names
and schemas. Anthropic's server tools (web search, code execution, the
versioned bash and editor tools) run on Anthropic's side of a direct API call
and cannot be offered through Claude Code, so they are refused by name.
"""

from __future__ import annotations

import re
from typing import Any

from proxy_core.backend.base import ToolChoice, ToolSpec
from proxy_core.errors import InvalidRequestError

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
CHOICE_KINDS = ("auto", "any", "tool", "none")


def _fail(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(f"{param}: {message}", param=param)


def _tool(raw: Any, where: str) -> ToolSpec:
    if not isinstance(raw, dict):
        raise _fail("must be an object", where)
    kind = raw.get("type", "custom")
    if kind not in ("custom", None):
        raise _fail(
            f"server tool {kind!r} cannot run through Claude Code; define it as a custom "
            "tool (name, description, input_schema) and run it yourself",
            f"{where}.type",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not TOOL_NAME.match(name):
        raise _fail("must be 1-128 letters, digits, '_' or '-'", f"{where}.name")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _fail("must be a string", f"{where}.description")
    schema = raw.get("input_schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise _fail("must be a JSON Schema object with type 'object'", f"{where}.input_schema")
    return ToolSpec(name=name, description=description, input_schema=schema)


def parse_tools(raw: Any) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail("must be a list", "tools")
    tools = tuple(_tool(item, f"tools.{index}") for index, item in enumerate(raw))
    names = [tool.name for tool in tools]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate is not None:
        raise _fail(f"tool name {duplicate!r} is used more than once", "tools")
    return tools


def parse_tool_choice(raw: Any, tools: tuple[ToolSpec, ...]) -> tuple[ToolChoice, bool]:
    """The choice and whether parallel tool calls are allowed."""
    if raw is None:
        return ToolChoice(), True
    if not isinstance(raw, dict) or raw.get("type") not in CHOICE_KINDS:
        raise _fail(
            f"must be an object whose type is one of {', '.join(CHOICE_KINDS)}", "tool_choice"
        )
    kind = raw["type"]
    disable_parallel = raw.get("disable_parallel_tool_use", False)
    if not isinstance(disable_parallel, bool):
        raise _fail("must be a boolean", "tool_choice.disable_parallel_tool_use")
    name = raw.get("name")
    if kind == "tool":
        if not isinstance(name, str) or name not in {tool.name for tool in tools}:
            raise _fail(f"names no tool in `tools`: {name!r}", "tool_choice.name")
    elif kind == "any" and not tools:
        raise _fail("'any' needs at least one tool in `tools`", "tool_choice.type")
    return ToolChoice(kind=kind, name=name if kind == "tool" else None), not disable_parallel
