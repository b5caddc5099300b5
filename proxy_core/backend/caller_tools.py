"""The caller's tools as native tools of the model, never run by the proxy.

The tools are served by an in-process MCP server under their exact names
(``CLAUDE_AGENT_SDK_MCP_NO_PREFIX``) and schemas, so the model emits real
``tool_use`` blocks. A PreToolUse hook defers every call: nothing executes,
and the caller receives the blocks to run itself.

What Claude Code cannot pass to the API is approximated and documented:
``tool_choice`` any/tool/none and ``disable_parallel_tool_use`` become one
sentence of guidance after the caller's system prompt; a single tool call is
also enforced by dropping any call after the first (see event_filters).
"""

from __future__ import annotations

from typing import Any

import claude_agent_sdk
from claude_agent_sdk import (
    HookContext,
    HookInput,
    HookJSONOutput,
    HookMatcher,
    McpSdkServerConfig,
)
from mcp.types import CallToolResult, Tool

from proxy_core.backend.base import BackendRequest, ToolChoice, ToolSpec

SERVER_NAME = "caller"

# Public in claude-agent-sdk but missing from its __all__. It builds the server straight
# from JSON Schema, where create_sdk_mcp_server would misread a bare {"type": "object"}.
build_tool_server = claude_agent_sdk.build_tool_server  # type: ignore[attr-defined]


async def _never_run(name: str, arguments: dict[str, Any]) -> CallToolResult:
    # Only reached if the defer hook did not fire; the model learns the call did not run.
    text = f"The tool {name!r} is run by the caller, not here."
    return CallToolResult.model_validate(
        {"content": [{"type": "text", "text": text}], "isError": True}
    )


def tool_server(tools: tuple[ToolSpec, ...]) -> McpSdkServerConfig:
    definitions = [
        Tool.model_validate(
            {"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema}
        )
        for tool in tools
    ]
    server = build_tool_server(SERVER_NAME, "1.0.0", definitions, _never_run)
    return McpSdkServerConfig(type="sdk", name=SERVER_NAME, instance=server)


async def _defer(
    _input: HookInput, _tool_use_id: str | None, _context: HookContext
) -> HookJSONOutput:
    return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "defer"}}


def defer_hooks() -> dict[Any, list[HookMatcher]]:
    return {"PreToolUse": [HookMatcher(matcher=None, hooks=[_defer])]}


def history_uses_tools(messages: list[dict[str, Any]]) -> bool:
    return any(
        isinstance(message["content"], list)
        and any(block.get("type") in ("tool_use", "tool_result") for block in message["content"])
        for message in messages
    )


def offered_tools(request: BackendRequest) -> tuple[ToolSpec, ...]:
    """The tools the model sees. ``none`` offers none, unless the history needs them defined."""
    if request.tool_choice.kind == "none" and not history_uses_tools(request.messages):
        return ()
    return request.tools


def guidance(choice: ToolChoice, parallel: bool, tools_offered: bool) -> str | None:
    sentences = []
    if choice.kind == "any":
        sentences.append("In this reply you must call at least one of the available tools.")
    elif choice.kind == "tool":
        sentences.append(f"In this reply you must call the tool `{choice.name}`.")
    elif choice.kind == "none" and tools_offered:
        sentences.append("In this reply do not call any tool; answer in text.")
    if not parallel and tools_offered and choice.kind != "none":
        sentences.append("Call at most one tool in this reply.")
    return " ".join(sentences) or None


def system_prompt(request: BackendRequest) -> str:
    extra = guidance(request.tool_choice, request.parallel_tool_calls, bool(offered_tools(request)))
    parts = [part for part in (request.system, extra) if part]
    return "\n\n".join(parts)
