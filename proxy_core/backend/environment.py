"""The environment the Claude Code CLI runs in.

The CLI inherits our process environment (claude-agent-sdk merges
``os.environ`` with the options' ``env``), so two things happen here:
entry points drop what belongs to a parent Claude Code session from our own
environment once at start (an inherited ``CLAUDECODE=1`` makes the CLI refuse
to start, and session ids or IDE ports would tie it to a session that is not
ours), and every request gets the fixed overrides the proxy depends on.

``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` stay: they are how a user picks
an API account or a gateway. They change billing or routing, so the proxy
reports the auth mode and refuses to let the base URL point back at itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, MutableMapping
from urllib.parse import urlsplit

# Variables a running Claude Code session sets for its children.
PARENT_SESSION_VARIABLES = frozenset(
    {
        "CLAUDECODE",
        "CLAUDE_CODE_ENTRYPOINT",
        "CLAUDE_CODE_SSE_PORT",
        "CLAUDE_CODE_SESSION_ID",
        "CLAUDE_CODE_CHILD_SESSION",
        "CLAUDE_CODE_SESSION_KIND",
        "CLAUDE_CODE_SESSION_ACCESS_TOKEN",
        "CLAUDE_CODE_SPAWNED_BY_SERVER",
        "CLAUDE_CODE_SPAWN_TIMESTAMP_MS",
        "CLAUDE_CODE_WORKER_EPOCH",
        "CLAUDE_CODE_REMOTE_SESSION_ID",
        "CLAUDE_AGENT_SDK_VERSION",
        "CLAUDE_AGENT_SDK_CLIENT_APP",
        "CLAUDE_CODE_EXECPATH",
    }
)
PARENT_SESSION_PREFIXES = ("CLAUDE_BRIDGE_", "CLAUDE_PTY_", "CLAUDE_BG_")

DEFAULT_UPSTREAM = "https://api.anthropic.com"
AUTH_MODE_SUBSCRIPTION = "subscription"
AUTH_MODE_API_KEY = "API key"


def is_parent_session_variable(name: str) -> bool:
    return name in PARENT_SESSION_VARIABLES or name.startswith(PARENT_SESSION_PREFIXES)


def drop_parent_session_variables(environ: MutableMapping[str, str]) -> list[str]:
    """Remove a parent Claude Code session's variables; returns the names removed."""
    removed = sorted(name for name in environ if is_parent_session_variable(name))
    for name in removed:
        del environ[name]
    return removed


def set_for_clients(environ: Mapping[str, str], proxy_port: int) -> bool:
    """ANTHROPIC_BASE_URL names this proxy: the shell was set up for the proxy's clients.

    Its ANTHROPIC_API_KEY is then the placeholder those clients send, not an account
    the user chose for the CLI, and must not reach the CLI either.
    """
    base_url = environ.get("ANTHROPIC_BASE_URL", "")
    return bool(base_url) and points_at_proxy(base_url, proxy_port)


def auth_mode(environ: Mapping[str, str], proxy_port: int) -> str:
    """How the CLI will authenticate, judged from the environment alone."""
    if set_for_clients(environ, proxy_port):
        return AUTH_MODE_SUBSCRIPTION
    if environ.get("ANTHROPIC_API_KEY") or environ.get("ANTHROPIC_AUTH_TOKEN"):
        return AUTH_MODE_API_KEY
    return AUTH_MODE_SUBSCRIPTION


def _is_local_host(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def points_at_proxy(base_url: str, proxy_port: int) -> bool:
    """True when ``base_url`` would send the CLI's API calls back to this proxy."""
    try:
        parts = urlsplit(base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    return _is_local_host(parts.hostname or "") and port == proxy_port


PROXY_SETTINGS_PREFIX = "CLAUDE_PROXY_"


def cli_overrides(
    environ: Mapping[str, str], *, proxy_port: int, cli_retries: int, api_timeout_ms: int
) -> dict[str, str]:
    """The variables every CLI gets on top of the inherited environment."""
    overrides = {
        # Caller tool names arrive upstream exactly as the caller wrote them.
        "CLAUDE_AGENT_SDK_MCP_NO_PREFIX": "1",
        "ENABLE_TOOL_SEARCH": "false",
        # A long history must fail clearly, never be summarised behind the caller's back.
        "DISABLE_AUTO_COMPACT": "1",
        # A broken stream is reported, not silently retried without streaming.
        "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1",
        # Without this the CLI re-sends every 400 once without its experimental
        # betas, so an "extra usage" refusal would reach upstream twice.
        "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS": "1",
        "CLAUDE_CODE_MAX_RETRIES": str(cli_retries),
        "API_TIMEOUT_MS": str(api_timeout_ms),
    }
    # No telemetry or update checks from a server process, unless the user chose otherwise.
    overrides["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = environ.get(
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"
    )
    # The proxy's own settings (its API key among them) are no business of the CLI, and must
    # not be in an agent shell's environment. The SDK passes ours on whole: blank them.
    overrides.update({name: "" for name in environ if name.startswith(PROXY_SETTINGS_PREFIX)})
    if set_for_clients(environ, proxy_port):
        # Empty means unset to the CLI: it uses the subscription login.
        overrides.update(
            {
                "ANTHROPIC_BASE_URL": DEFAULT_UPSTREAM,
                "ANTHROPIC_API_KEY": "",
                "ANTHROPIC_AUTH_TOKEN": "",
            }
        )
    return overrides
