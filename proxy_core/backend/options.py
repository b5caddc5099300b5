"""The options a CLI is spawned with, and the key of everything fixed at spawn."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import cast

from claude_agent_sdk import ClaudeAgentOptions, EffortLevel, ThinkingConfig
from claude_agent_sdk.types import SystemPromptFile

from proxy_core.backend import caller_tools
from proxy_core.backend.base import BackendRequest
from proxy_core.backend.environment import cli_overrides
from proxy_core.config import Settings

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 << 20
# After a max_tokens or refusal stop the CLI calls the model again on its own ("Output
# token limit hit. Resume directly..."), spending quota on an answer the caller never
# sees. A budget any single call exceeds makes it stop after the first call. The budget
# counts a whole session, so it is only set for processes that serve one request
# (CLAUDE_PROXY_CONVERSATIONS=0); kept processes are interrupted at such a stop instead.
ONE_CALL_BUDGET_USD = 1e-6
# Longer system prompts go to the CLI in a file: command lines are short on Windows.
ARGUMENT_BYTES = 16_000
KEPT_PROMPT_FILES = 32


# The seed's agent toolset: files, shell and the web. Nothing that schedules or spawns more.
AGENT_TOOLS = ["Read", "Write", "Edit", "Bash", "Glob", "Grep", "WebFetch", "WebSearch"]
AGENT_MAX_TURNS = 50


def spawn_key(request: BackendRequest) -> str:
    """Identifies what a CLI is fixed to at spawn: two requests with one key may share it."""
    fixed = {
        "model": request.model,
        "system": caller_tools.system_prompt(request),
        "tools": [
            [tool.name, tool.description, tool.input_schema]
            for tool in caller_tools.offered_tools(request)
        ],
        "max_tokens": request.max_tokens,
        "thinking": request.thinking,
        "effort": request.effort,
    }
    text = json.dumps(fixed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def options_for(
    request: BackendRequest, settings: Settings, environ: Mapping[str, str], *, single_use: bool
) -> ClaudeAgentOptions:
    env = cli_overrides(
        environ,
        proxy_port=settings.port,
        cli_retries=settings.cli_retries,
        api_timeout_ms=min(settings.timeout_ms, int(settings.idle_timeout_s * 1000)),
    )
    if request.max_tokens is not None:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(request.max_tokens)
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    tools = () if request.agent else caller_tools.offered_tools(request)
    options = ClaudeAgentOptions(
        system_prompt=passable_system_prompt(caller_tools.system_prompt(request), settings),
        model=request.model,
        tools=[],
        setting_sources=[],
        strict_mcp_config=True,
        skills=[],
        include_partial_messages=True,
        # Without it, "@path" in caller text makes the CLI read local files.
        verbatim_prompts=True,
        max_turns=1,
        # Claude Code turns thinking on by default; the API does so only when asked. Models
        # that always think ignore "disabled", and their thinking blocks are filtered out.
        thinking=cast(ThinkingConfig, request.thinking or {"type": "disabled"}),
        effort=cast(EffortLevel | None, request.effort),
        max_budget_usd=ONE_CALL_BUDGET_USD if single_use else None,
        cwd=str(settings.work_dir),
        cli_path=settings.cli_path,
        max_buffer_size=MAX_LINE_BYTES,
        extra_args={"no-session-persistence": None},
        env=env,
        stderr=_log_cli_stderr,
        mcp_servers={caller_tools.SERVER_NAME: caller_tools.tool_server(tools)} if tools else {},
        hooks=caller_tools.defer_hooks() if tools else None,
    )
    if request.agent and settings.agent_workspace is not None:
        return _agent_options(options, request, settings.agent_workspace)
    return options


def _agent_options(
    base: ClaudeAgentOptions, request: BackendRequest, workspace: Path
) -> ClaudeAgentOptions:
    return replace(
        base,
        # Claude Code's own prompt explains its tools; the caller's system prompt follows it.
        system_prompt={"type": "preset", "preset": "claude_code", "append": request.system or ""},
        tools=AGENT_TOOLS,
        # Pre-approved by name, so no permission prompt blocks a headless run (and no bypass
        # mode, which the CLI refuses as root).
        allowed_tools=AGENT_TOOLS,
        max_turns=AGENT_MAX_TURNS,
        max_budget_usd=None,
        cwd=str(workspace),
        mcp_servers={},
        hooks=None,
    )


def passable_system_prompt(text: str, settings: Settings) -> str | SystemPromptFile:
    """The prompt as the CLI's argument, or, when too long for a command line (Linux takes
    128 KiB per argument, Windows 32 K characters for the whole line), as a file it reads."""
    if len(text.encode("utf-8", "surrogatepass")) <= ARGUMENT_BYTES:
        return text
    folder = system_prompt_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    path = folder / f"{digest}.txt"
    if not path.exists():
        temporary = path.with_suffix(".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
        _keep_newest(folder, KEPT_PROMPT_FILES)
    return {"type": "file", "path": str(path)}


def _keep_newest(folder: Path, count: int) -> None:
    """A CLI reads its prompt file when it starts, so older files can go."""
    files = sorted(folder.glob("*.txt"), key=lambda file: file.stat().st_mtime, reverse=True)
    for old in files[count:]:
        old.unlink(missing_ok=True)


def system_prompt_folder(settings: Settings) -> Path:
    """Long system prompts, one file per prompt; emptied when the backend starts."""
    return settings.data_dir / "system-prompts"


def _log_cli_stderr(line: str) -> None:
    log.debug("cli: %s", line.rstrip())
