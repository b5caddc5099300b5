"""What the Claude Code CLI says about itself: where it is, its version, its login.

``claude auth status`` answers locally (no network) in about 0.2 s, printing
JSON and exiting 0 when logged in, 1 when not.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATUS_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CLIStatus:
    path: str | None
    version: str | None = None
    logged_in: bool = False
    auth_method: str | None = None
    subscription_type: str | None = None
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "found": self.path is not None,
            "path": self.path,
            "version": self.version,
            "logged_in": self.logged_in,
            "auth_method": self.auth_method,
            "subscription_type": self.subscription_type,
            "problem": self.problem,
        }


def find_cli(configured: str | None) -> str | None:
    """The configured CLI, else the one bundled with claude-agent-sdk, else ``claude`` on PATH."""
    if configured:
        return configured if Path(configured).is_file() else None
    bundled = _sdk_folder() / "_bundled" / "claude"
    for candidate in (bundled, bundled.with_suffix(".exe")):
        if candidate.is_file():
            return str(candidate)
    return shutil.which("claude")


def _sdk_folder() -> Path:
    """claude-agent-sdk's folder, found without importing it (that costs ~55 MB)."""
    spec = importlib.util.find_spec("claude_agent_sdk")
    if spec is None or not spec.submodule_search_locations:
        return Path("/nonexistent")
    return Path(next(iter(spec.submodule_search_locations)))


async def _run(path: str, *args: str, env: Mapping[str, str] | None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        path,
        *args,
        env=None if env is None else dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(STATUS_TIMEOUT_S):
            output, _ = await process.communicate()
    except BaseException:
        # Timed out, or cancelled at shutdown: never leave the child running.
        if process.returncode is None:
            process.kill()
            await asyncio.shield(process.wait())
        raise
    return process.returncode or 0, output.decode("utf-8", "replace")


async def read_cli_status(
    configured_path: str | None, env: Mapping[str, str] | None = None
) -> CLIStatus:
    """What the CLI reports, run with ``env``: the environment requests' CLIs get."""
    path = find_cli(configured_path)
    if path is None:
        where = configured_path or "the claude-agent-sdk bundle or PATH"
        return CLIStatus(path=None, problem=f"Claude Code CLI not found in {where}")
    try:
        _, version_text = await _run(path, "--version", env=env)
        code, status_text = await _run(path, "auth", "status", env=env)
    except (OSError, TimeoutError) as exc:
        return CLIStatus(path=path, problem=f"the CLI could not run: {exc}")
    version = version_text.split()[0] if version_text.strip() else None
    try:
        status = json.loads(status_text)
    except ValueError:
        return CLIStatus(path=path, version=version, problem="unreadable `claude auth status`")
    return CLIStatus(
        path=path,
        version=version,
        logged_in=bool(status.get("loggedIn")) and code == 0,
        auth_method=status.get("authMethod"),
        subscription_type=status.get("subscriptionType"),
    )
