"""The backend that runs each request through claude-agent-sdk and the Claude Code CLI.

One request, one CLI process: the caller's history is fed in as structured
frames, the model's turn is streamed back as the upstream's own events, and
the process is interrupted and closed as soon as the first message ends, when
the client goes away, or when the watchdog fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    CLIConnectionError,
    CLINotFoundError,
    RateLimitEvent,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
)

from proxy_core import errors
from proxy_core.backend import caller_tools
from proxy_core.backend.base import BackendRequest, StreamEventData
from proxy_core.backend.environment import cli_overrides
from proxy_core.backend.failures import failure_to_error
from proxy_core.backend.history import Frame, history_frames
from proxy_core.backend.orphans import OrphanGuard
from proxy_core.config import Settings

log = logging.getLogger(__name__)

SYNTHETIC_MODEL = "<synthetic>"
MAX_LINE_BYTES = 64 << 20
# After a max_tokens or refusal stop the CLI calls the model again on its own ("Output
# token limit hit. Resume directly..."), spending the user's quota on an answer the
# caller never sees. A budget any single call exceeds makes it stop after the first
# call; interrupting at message_stop alone still let the extra call out in about half
# of the runs.
ONE_CALL_BUDGET_USD = 1e-6
CLOSE_TIMEOUT_S = 3.0


class _Failure:
    """A failure the CLI announced; its HTTP status arrives with the result."""

    def __init__(self, category: str | None, text: str) -> None:
        self.category = category
        self.text = text


class ClaudeSDKBackend:
    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        self._settings = settings
        self._environ = os.environ if environ is None else environ
        self._processes: set[Any] = set()
        self._orphans = OrphanGuard(settings.data_dir / "cli-processes")
        self._orphans.reap()

    @property
    def live_cli_pids(self) -> frozenset[int]:
        return frozenset(p.pid for p in self._processes if p.returncode is None)

    def options_for(self, request: BackendRequest) -> ClaudeAgentOptions:
        settings = self._settings
        env = cli_overrides(
            self._environ,
            proxy_port=settings.port,
            cli_retries=settings.cli_retries,
            api_timeout_ms=min(settings.timeout_ms, int(settings.idle_timeout_s * 1000)),
        )
        if request.max_tokens is not None:
            env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(request.max_tokens)
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        tools = caller_tools.offered_tools(request)
        return ClaudeAgentOptions(
            system_prompt=caller_tools.system_prompt(request),
            model=request.model,
            tools=[],
            setting_sources=[],
            strict_mcp_config=True,
            skills=[],
            include_partial_messages=True,
            # Without it, "@path" in caller text makes the CLI read local files.
            verbatim_prompts=True,
            max_turns=1,
            max_budget_usd=ONE_CALL_BUDGET_USD,
            cwd=str(settings.work_dir),
            cli_path=settings.cli_path,
            max_buffer_size=MAX_LINE_BYTES,
            extra_args={"no-session-persistence": None},
            env=env,
            stderr=_log_cli_stderr,
            mcp_servers={caller_tools.SERVER_NAME: caller_tools.tool_server(tools)}
            if tools
            else {},
            hooks=caller_tools.defer_hooks() if tools else None,
        )

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEventData]:
        client = ClaudeSDKClient(self.options_for(request))
        process: Any = None
        try:
            try:
                await client.connect()
            except CLINotFoundError as exc:
                raise errors.BackendUnavailableError(
                    "The Claude Code CLI was not found. Install it or set CLAUDE_PROXY_CLI_PATH."
                ) from exc
            except CLIConnectionError as exc:
                raise errors.BackendUnavailableError(
                    f"The Claude Code CLI could not start: {exc}"
                ) from exc
            process = _cli_process(client)
            if process is not None:
                self._processes.add(process)
                self._orphans.track(process.pid)
            frames = history_frames(request.messages)
            await self._feed_history(client, frames[:-1])
            await client.query(_one(frames[-1].payload))
            events = self._turn_events(client)
            if not request.parallel_tool_calls:
                events = caller_tools.first_tool_call_only(events)
            async for event in events:
                yield event
        finally:
            await _close(client, process)
            if process is not None:
                self._processes.discard(process)
                self._orphans.untrack(process.pid)

    async def _feed_history(self, client: ClaudeSDKClient, frames: list[Frame]) -> None:
        for frame in frames:
            await client.query(_one(frame.payload))
            if not frame.awaits_ack:
                continue
            async with asyncio.timeout(self._settings.idle_timeout_s):
                async for message in client.receive_response():
                    if isinstance(message, ResultMessage) and message.is_error:
                        raise errors.BackendError("The CLI refused a history message.")

    async def _turn_events(self, client: ClaudeSDKClient) -> AsyncIterator[StreamEventData]:
        settings = self._settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.timeout_ms / 1000
        messages = client.receive_messages().__aiter__()
        started = False
        failure: _Failure | None = None
        resets_at: int | None = None
        while True:
            wait = min(settings.idle_timeout_s, deadline - loop.time())
            try:
                async with asyncio.timeout(max(wait, 0.001)):
                    message = await anext(messages)
            except TimeoutError:
                raise errors.BackendTimeoutError(
                    "The model sent nothing for too long; the request was ended."
                ) from None
            except StopAsyncIteration:
                raise errors.BackendError("The Claude Code CLI ended without an answer.") from None

            if isinstance(message, StreamEvent):
                if message.parent_tool_use_id is not None:
                    continue
                event = message.event
                kind = event.get("type")
                if not started:
                    if kind != "message_start":
                        continue
                    started = True
                elif kind == "message_delta" and not event.get("delta", {}).get("stop_reason"):
                    # The CLI closes a broken stream with a delta that has no stop reason.
                    raise _failure_error(failure, None, resets_at, "The upstream stream broke.")
                yield event
                if kind == "message_stop":
                    return
            elif isinstance(message, AssistantMessage):
                if message.error or message.model == SYNTHETIC_MODEL:
                    failure = _Failure(message.error, _text_of(message))
                    if started:
                        raise _failure_error(failure, None, resets_at, "The upstream stream broke.")
            elif isinstance(message, RateLimitEvent):
                info = message.rate_limit_info
                if info.status == "rejected":
                    resets_at = info.resets_at
            elif isinstance(message, SystemMessage):
                if message.subtype == "api_retry":
                    log.info("CLI retrying the upstream call: %s", message.data.get("error_status"))
            elif isinstance(message, ResultMessage):
                if failure is not None or message.is_error:
                    raise _failure_error(
                        failure, message.api_error_status, resets_at, "The request failed."
                    )
                raise errors.BackendError("The Claude Code CLI finished without a response.")

    async def aclose(self) -> None:
        """Last resort at shutdown: end any CLI process a request left behind."""
        for process in list(self._processes):
            _kill_if_running(process)
        self._processes.clear()


def _failure_error(
    failure: _Failure | None, status: int | None, resets_at: int | None, fallback: str
) -> errors.ProxyError:
    if failure is None:
        if status is None:
            return errors.OverloadedError(fallback)
        return failure_to_error(None, fallback, status)
    return failure_to_error(failure.category, failure.text, status, rate_limit_resets_at=resets_at)


def _text_of(message: AssistantMessage) -> str:
    return " ".join(block.text for block in message.content if isinstance(block, TextBlock))


async def _one(payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield payload


def _cli_process(client: ClaudeSDKClient) -> Any:
    # A private attribute, read defensively: the process handle is only a safety net.
    transport = getattr(client, "_transport", None)
    process = getattr(transport, "_process", None)
    return process if hasattr(process, "returncode") and hasattr(process, "kill") else None


async def _close(client: ClaudeSDKClient, process: Any) -> None:
    """Interrupt, then disconnect; a CLI that outlives both is killed."""
    # The caller may be cancelled (client gone); finish cleaning up regardless.
    with contextlib.suppress(Exception, asyncio.CancelledError):
        async with asyncio.timeout(1.0):
            await client.interrupt()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await client.disconnect()
    if process is not None:
        _kill_if_running(process)


def _kill_if_running(process: Any) -> None:
    # The handle knows whether its own child has exited, so a reused pid is never hit.
    if process.returncode is None:
        log.warning("CLI process %s outlived its request; killing it", process.pid)
        with contextlib.suppress(ProcessLookupError, OSError):
            process.kill()


def _log_cli_stderr(line: str) -> None:
    log.debug("cli: %s", line.rstrip())
