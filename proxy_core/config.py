"""Settings: defaults < config file < environment < command-line flags.

``load_settings`` is the only reader of the environment and the config file;
everything else receives a frozen :class:`Settings`. The tray writes the same
JSON file the headless server reads.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "claude-sdk-proxy"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3456
DEFAULT_MAX_CONCURRENT = 5
DEFAULT_TIMEOUT_MS = 30 * 60 * 1000
DEFAULT_IDLE_TIMEOUT_S = 300.0
DEFAULT_QUEUE_TIMEOUT_S = 60.0
DEFAULT_PING_INTERVAL_S = 15.0
DEFAULT_STREAM_COMMIT_WAIT_S = 1.5
DEFAULT_SHUTDOWN_GRACE_S = 10.0
DEFAULT_CLI_RETRIES = 0
DEFAULT_MODEL = "sonnet"
DEFAULT_CONVERSATIONS = 4
DEFAULT_WARM_POOL = 2
# Waiting requests per running one: 5 running + 20 waiting lets 16 clients at once all succeed.
QUEUE_PER_SLOT = 4
DEFAULT_CONVERSATION_TTL_S = 600.0
DEFAULT_USAGE_RETENTION_DAYS = 30

ENV_PREFIX = "CLAUDE_PROXY_"
# An origin as a browser sends it: scheme://host[:port], lower case, no path.
ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$")


class ConfigError(ValueError):
    """A setting has a value the proxy cannot use."""


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    return _user_dir(environ, "CLAUDE_PROXY_CONFIG_DIR", platformdirs.user_config_dir)


def user_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    return _user_dir(environ, "CLAUDE_PROXY_DATA_DIR", platformdirs.user_data_dir)


def user_log_dir(environ: Mapping[str, str] | None = None) -> Path:
    return _user_dir(environ, "CLAUDE_PROXY_LOG_DIR", platformdirs.user_log_dir)


def _user_dir(
    environ: Mapping[str, str] | None, variable: str, platform_dir: Callable[..., str]
) -> Path:
    override = (os.environ if environ is None else environ).get(variable)
    # appauthor=False: on Windows the folder would otherwise be claude-sdk-proxy\claude-sdk-proxy.
    return Path(override) if override else Path(platform_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    api_key: str | None = field(default=None, repr=False)
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    # Requests beyond max_concurrent wait here; past it they are refused at once.
    max_queue: int = QUEUE_PER_SLOT * DEFAULT_MAX_CONCURRENT
    queue_timeout_s: float = DEFAULT_QUEUE_TIMEOUT_S
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    ping_interval_s: float = DEFAULT_PING_INTERVAL_S
    # How long a stream waits for the upstream's first event before sending message_start.
    stream_commit_wait_s: float = DEFAULT_STREAM_COMMIT_WAIT_S
    shutdown_grace_s: float = DEFAULT_SHUTDOWN_GRACE_S
    cli_retries: int = DEFAULT_CLI_RETRIES
    cli_path: str | None = None
    default_model: str = DEFAULT_MODEL
    # Finished conversations whose CLI is kept for the next turn (0: one CLI per request).
    conversations: int = DEFAULT_CONVERSATIONS
    # CLIs started ahead for new conversations, at most one per spawn key (0: none).
    warm_pool: int = DEFAULT_WARM_POOL
    conversation_ttl_s: float = DEFAULT_CONVERSATION_TTL_S
    # Agent mode: requests without caller tools run Claude Code's own tools in this directory.
    agent_workspace: Path | None = None
    # Web pages allowed to call the API from a browser (CORS): exact origins; "*" needs a key.
    cors_origins: tuple[str, ...] = ()
    # Import claude-agent-sdk right after start (~0.9 s, ~55 MB), not on the first request.
    preload_sdk: bool = True
    # How long the request ledger (usage.db) keeps a request.
    usage_retention_days: int = DEFAULT_USAGE_RETENTION_DAYS
    debug: bool = False
    data_dir: Path = field(default_factory=lambda: user_data_dir())

    @property
    def base_url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def is_loopback_only(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")

    def visible(self) -> dict[str, Any]:
        """What a person may change, as this server runs with it: /health and the settings
        page echo it, so a change that did not take shows. Never the key itself."""
        return {
            "host": self.host,
            "port": self.port,
            "network": not self.is_loopback_only,
            "api_key_set": bool(self.api_key),
            "cors_origins": list(self.cors_origins),
            "conversations": self.conversations,
            "warm_pool": self.warm_pool,
            "cli_path": self.cli_path,
            "debug": self.debug,
        }

    @property
    def work_dir(self) -> Path:
        """The empty private directory every CLI runs in (its path reaches the prompt)."""
        return self.data_dir / "cli-workdir"


# Environment variable -> (field name, parser). Names follow the seed where users know them.
_ENV_FIELDS: dict[str, str] = {
    "CLAUDE_PROXY_HOST": "host",
    "CLAUDE_PROXY_PORT": "port",
    "CLAUDE_PROXY_API_KEY": "api_key",
    "CLAUDE_PROXY_MAX_CONCURRENT": "max_concurrent",
    "CLAUDE_PROXY_MAX_QUEUE": "max_queue",
    "CLAUDE_PROXY_QUEUE_TIMEOUT_S": "queue_timeout_s",
    "CLAUDE_PROXY_TIMEOUT_MS": "timeout_ms",
    "CLAUDE_PROXY_IDLE_TIMEOUT_S": "idle_timeout_s",
    "CLAUDE_PROXY_PING_INTERVAL_S": "ping_interval_s",
    "CLAUDE_PROXY_STREAM_COMMIT_WAIT_S": "stream_commit_wait_s",
    "CLAUDE_PROXY_SHUTDOWN_GRACE_S": "shutdown_grace_s",
    "CLAUDE_PROXY_CLI_RETRIES": "cli_retries",
    "CLAUDE_PROXY_CLI_PATH": "cli_path",
    "CLAUDE_PROXY_DEFAULT_MODEL": "default_model",
    "CLAUDE_PROXY_CONVERSATIONS": "conversations",
    "CLAUDE_PROXY_WARM_POOL": "warm_pool",
    "CLAUDE_PROXY_CONVERSATION_TTL_S": "conversation_ttl_s",
    "CLAUDE_PROXY_AGENT_WORKSPACE": "agent_workspace",
    "CLAUDE_PROXY_CORS_ORIGINS": "cors_origins",
    "CLAUDE_PROXY_PRELOAD_SDK": "preload_sdk",
    "CLAUDE_PROXY_USAGE_RETENTION_DAYS": "usage_retention_days",
    "CLAUDE_PROXY_DEBUG": "debug",
}

_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, raw: Any, source: str) -> Any:
    kind = _FIELD_TYPES[name]
    if isinstance(raw, bool) and kind != "bool" or isinstance(raw, float) and kind == "int":
        # JSON true or 5.7 where a whole number belongs is a mistake, not a value to truncate.
        raise ConfigError(f"{source}: {raw!r} is not a valid {kind}")
    try:
        if kind == "int":
            value: Any = int(raw)
        elif kind == "float":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError(value)
        elif kind == "bool":
            value = (
                raw
                if isinstance(raw, bool)
                else str(raw).strip().lower() in ("1", "true", "yes", "on")
            )
        elif kind == "tuple[str, ...]":
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                raise ValueError(raw)
            value = tuple(item.strip() for item in items if item.strip())
        elif kind in ("Path", "Path | None"):
            value = Path(raw).expanduser() if raw not in (None, "") else None
        else:
            value = None if raw in (None, "") else str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {raw!r} is not a valid {kind}") from None
    return value


def _validate(settings: Settings) -> Settings:
    if not settings.host or not settings.default_model:
        raise ConfigError("host and default_model must not be empty")
    if not 0 <= settings.port <= 65535:
        raise ConfigError(f"port must be between 0 and 65535, got {settings.port}")
    if settings.max_concurrent < 1:
        raise ConfigError(f"max_concurrent must be at least 1, got {settings.max_concurrent}")
    if settings.conversations < 0:
        raise ConfigError(f"conversations must not be negative, got {settings.conversations}")
    if settings.warm_pool < 0:
        raise ConfigError(f"warm_pool must not be negative, got {settings.warm_pool}")
    if settings.max_queue < 0:
        raise ConfigError(f"max_queue must not be negative, got {settings.max_queue}")
    positive = (
        "timeout_ms",
        "idle_timeout_s",
        "ping_interval_s",
        "queue_timeout_s",
        "conversation_ttl_s",
    )
    for name in positive:
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name} must be positive, got {getattr(settings, name)}")
    workspace = settings.agent_workspace
    if workspace is not None and not workspace.is_dir():
        raise ConfigError(f"agent_workspace {workspace} is not an existing directory")
    if settings.stream_commit_wait_s < 0:
        raise ConfigError(
            f"stream_commit_wait_s must not be negative, got {settings.stream_commit_wait_s}"
        )
    if settings.shutdown_grace_s < 0:
        raise ConfigError(f"shutdown_grace_s must not be negative, got {settings.shutdown_grace_s}")
    if settings.usage_retention_days < 1:
        raise ConfigError(
            f"usage_retention_days must be at least 1, got {settings.usage_retention_days}"
        )
    if not 0 <= settings.cli_retries <= 15:
        raise ConfigError(f"cli_retries must be between 0 and 15, got {settings.cli_retries}")
    for origin in settings.cors_origins:
        if (
            origin.startswith("http://")
            and origin.endswith(":80")
            or (origin.startswith("https://") and origin.endswith(":443"))
        ):
            raise ConfigError(
                f"cors_origins: {origin!r} names its scheme's default port, which browsers "
                "leave out of the Origin header; write it without the port"
            )
        if origin != "*" and not ORIGIN.match(origin):
            raise ConfigError(
                f"cors_origins: {origin!r} is not an origin; write it as the browser sends it, "
                "scheme://host[:port] with no path (e.g. http://localhost:5173)"
            )
    return settings


def check_exposure(settings: Settings) -> None:
    """Listening beyond this machine without a key would open the subscription to the network,
    and in agent mode this machine's shell and files as well; so would letting every web page
    in through CORS."""
    if "*" in settings.cors_origins and not settings.api_key:
        raise ConfigError(
            "refusing cors_origins '*' without an API key: every web page you visit could use "
            "your subscription. Name the origins, or set CLAUDE_PROXY_API_KEY"
        )
    if not settings.is_loopback_only and not settings.api_key:
        what = (
            "your subscription and, in agent mode, this machine"
            if settings.agent_workspace
            else ("your subscription")
        )
        raise ConfigError(
            f"refusing to listen on {settings.host} without an API key: set CLAUDE_PROXY_API_KEY "
            f"so only your clients can use {what}"
        )


def config_file_path(environ: Mapping[str, str] | None = None) -> Path:
    return user_config_dir(environ) / "config.json"


def read_config_file(path: Path) -> dict[str, Any]:
    """The JSON settings file, or ``{}`` when there is none. Unknown keys are an error."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    unknown = sorted(set(data) - set(_FIELD_TYPES))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return data


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {"data_dir": user_data_dir(environ)}
    path = config_path or config_file_path(environ)
    for name, raw in read_config_file(path).items():
        values[name] = _coerce(name, raw, f"{path}: {name}")
    for variable, name in _ENV_FIELDS.items():
        if variable in environ and environ[variable] != "":
            values[name] = _coerce(name, environ[variable], variable)
    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _coerce(name, raw, f"--{name.replace('_', '-')}")
    if "max_concurrent" in values and "max_queue" not in values:
        values["max_queue"] = QUEUE_PER_SLOT * int(values["max_concurrent"])
    return _validate(replace(Settings(), **values))
