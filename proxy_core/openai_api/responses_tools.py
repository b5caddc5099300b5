"""The tools of a Responses request as native tools, and the names that map their calls back.

- ``function`` tools are native tools with the caller's name, description and schema.
- ``custom`` tools (free-form input, such as an ``apply_patch`` with a grammar) become a
  tool taking one string, ``input``; their grammar, if any, is written into the description.
  Their calls come back as ``custom_tool_call`` items with that string.
- ``namespace`` groups are flattened to ``<namespace>__<name>``; calls come back with the
  caller's name and ``namespace``.
- Hosted tools (``web_search``, ``file_search``, ``code_interpreter``, ``mcp``, ...) run on
  OpenAI's side and cannot run here. Codex always offers ``web_search``, so they are left out
  of what the model sees, logged once per type, and the request still runs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from proxy_core.backend.base import ToolChoice, ToolSpec
from proxy_core.openai_api.request import EMPTY_SCHEMA, field_error

log = logging.getLogger(__name__)

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
NAMESPACE_SEPARATOR = "__"
CUSTOM_INPUT = "input"
_hosted_types_logged: set[str] = set()


@dataclass(frozen=True)
class CallerTool:
    """What the caller called a native tool, and how its calls are written back."""

    name: str
    kind: str = "function"  # or "custom"
    namespace: str | None = None


@dataclass(frozen=True)
class ToolNames:
    """Native tool name -> the caller's tool. Unknown names are plain functions."""

    by_native: dict[str, CallerTool] = field(default_factory=dict)

    def caller_tool(self, native: str) -> CallerTool:
        return self.by_native.get(native, CallerTool(native))


def native_name(name: str, namespace: str | None = None) -> str:
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name


@dataclass(frozen=True)
class ResponsesTools:
    specs: tuple[ToolSpec, ...]
    names: ToolNames


def _custom_schema(tool: dict[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    description = tool.get("description") or ""
    grammar = tool.get("format")
    if isinstance(grammar, dict) and grammar.get("type") == "grammar":
        syntax = grammar.get("syntax", "lark")
        definition = grammar.get("definition")
        if not isinstance(definition, str):
            raise field_error("must be a string", f"{where}.format.definition")
        description += (
            f"\n\nThe input is free-form text, not JSON, and must follow this {syntax} grammar:"
            f"\n{definition}"
        )
    schema = {
        "type": "object",
        "properties": {CUSTOM_INPUT: {"type": "string", "description": "The tool's input."}},
        "required": [CUSTOM_INPUT],
    }
    return description, schema


def _native_tool(
    tool: dict[str, Any], where: str, namespace: str | None, group_note: str
) -> tuple[ToolSpec, CallerTool]:
    kind = tool.get("type")
    name = tool.get("name")
    if not isinstance(name, str) or not TOOL_NAME.match(native := native_name(name, namespace)):
        raise field_error("must be 1-128 letters, digits, '_' or '-'", f"{where}.name")
    description = tool.get("description") or ""
    if not isinstance(description, str):
        raise field_error("must be a string", f"{where}.description")
    if kind == "custom":
        description, schema = _custom_schema(tool, where)
    else:
        schema = tool.get("parameters") or EMPTY_SCHEMA
        if not isinstance(schema, dict) or schema.get("type", "object") != "object":
            raise field_error("must be a JSON Schema object", f"{where}.parameters")
        schema = {"type": "object", **schema}
    spec = ToolSpec(native, description + group_note, schema)
    return spec, CallerTool(name, "custom" if kind == "custom" else "function", namespace)


def _left_out(kind: Any) -> None:
    label = str(kind)
    if label not in _hosted_types_logged:
        _hosted_types_logged.add(label)
        log.info(
            "Responses API: the hosted tool %r cannot run through Claude Code; left out", label
        )


def parse_tools(raw: Any) -> ResponsesTools:
    if raw is None:
        return ResponsesTools((), ToolNames())
    if not isinstance(raw, list):
        raise field_error("must be a list", "tools")
    specs: list[ToolSpec] = []
    names: dict[str, CallerTool] = {}

    def add(tool: Any, where: str, namespace: str | None = None, note: str = "") -> None:
        if not isinstance(tool, dict):
            raise field_error("must be an object", where)
        if tool.get("type") not in ("function", "custom"):
            _left_out(tool.get("type"))
            return
        spec, caller = _native_tool(tool, where, namespace, note)
        if spec.name in names:
            raise field_error(f"tool name {spec.name!r} is used more than once", "tools")
        specs.append(spec)
        names[spec.name] = caller

    for index, tool in enumerate(raw):
        where = f"tools.{index}"
        if isinstance(tool, dict) and tool.get("type") == "namespace":
            group, members = tool.get("name"), tool.get("tools")
            if not isinstance(group, str) or not isinstance(members, list):
                raise field_error("must have a name and a list of tools", where)
            about = tool.get("description")
            note = f"\n\n(Part of the tool group `{group}`: {about})" if about else ""
            for position, member in enumerate(members):
                add(member, f"{where}.tools.{position}", group, note)
        else:
            add(tool, where)
    return ResponsesTools(tuple(specs), ToolNames(names))


def parse_tool_choice(raw: Any, tools: ResponsesTools) -> tuple[ToolChoice, tuple[ToolSpec, ...]]:
    """The choice, and the tools left on offer (``allowed_tools`` narrows them exactly)."""
    specs = tools.specs
    if raw is None or raw == "auto":
        return ToolChoice(), specs
    if raw == "none":
        return ToolChoice("none"), specs
    if raw == "required":
        if not specs:
            raise field_error("'required' needs at least one function tool", "tool_choice")
        return ToolChoice("any"), specs
    if not isinstance(raw, dict):
        raise field_error("must be auto, none, required or an object", "tool_choice")
    kind = raw.get("type")
    if kind in ("function", "custom"):
        native = native_name(str(raw.get("name")), raw.get("namespace"))
        if native not in tools.names.by_native:
            raise field_error(f"names no tool in `tools`: {raw.get('name')!r}", "tool_choice.name")
        return ToolChoice("tool", native), specs
    if kind == "allowed_tools":
        allowed = raw.get("tools")
        if not isinstance(allowed, list):
            raise field_error("must be a list", "tool_choice.tools")
        wanted = {
            native_name(str(t.get("name")), t.get("namespace"))
            for t in allowed
            if isinstance(t, dict)
        }
        narrowed = tuple(spec for spec in specs if spec.name in wanted)
        mode = raw.get("mode", "auto")
        if mode == "required" and narrowed:
            return ToolChoice("any"), narrowed
        return ToolChoice(), narrowed
    # A hosted tool named as the choice: that tool is not offered here, so the model chooses.
    return ToolChoice(), specs
