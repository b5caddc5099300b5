"""The headless command: ``claude-sdk-proxy`` / ``python -m proxy_core``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from proxy_core.backend.environment import (
    AUTH_MODE_API_KEY,
    auth_mode,
    drop_parent_session_variables,
    set_for_clients,
)
from proxy_core.config import ConfigError, Settings, check_exposure, load_settings
from proxy_core.frozen import prepare_environment
from proxy_core.log import configure_logging
from proxy_core.server import PortInUseError, serve_until_signalled
from proxy_core.version import __version__

log = logging.getLogger("proxy_core")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One clear line and exit status 2, without the usage block.
        self.exit(2, f"claude-sdk-proxy: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="claude-sdk-proxy",
        description="A local Anthropic Messages API served through your Claude subscription.",
    )
    parser.add_argument(
        "-p", "--port", type=int, help="listen port (default 3456, env CLAUDE_PROXY_PORT)"
    )
    parser.add_argument(
        "-H", "--host", help="bind address (default 127.0.0.1, env CLAUDE_PROXY_HOST)"
    )
    parser.add_argument("-d", "--debug", action="store_true", default=None, help="debug logging")
    parser.add_argument(
        "-v", "--version", action="version", version=f"claude-sdk-proxy {__version__}"
    )
    return parser


def _warn_about_environment(settings: Settings) -> None:
    if auth_mode(os.environ, settings.port) == AUTH_MODE_API_KEY:
        log.warning(
            "ANTHROPIC_API_KEY is set: requests are billed to that API account, "
            "not to your Claude subscription. Unset it to use the subscription."
        )
    base_url = os.environ.get("ANTHROPIC_BASE_URL", "")
    if set_for_clients(os.environ, settings.port):
        log.warning(
            "ANTHROPIC_BASE_URL points at this proxy (set for its clients): the CLI ignores it and "
            "the ANTHROPIC_API_KEY beside it, and uses the Anthropic API with your subscription"
        )
    elif base_url:
        log.info("The CLI will call %s (ANTHROPIC_BASE_URL)", _without_credentials(base_url))


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        parts = parts._replace(
            netloc=f"***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        )
    return urlunsplit(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    prepare_environment()
    removed = drop_parent_session_variables(os.environ)
    try:
        settings = load_settings(
            overrides={"port": args.port, "host": args.host, "debug": args.debug}
        )
        check_exposure(settings)
    except ConfigError as exc:
        print(f"claude-sdk-proxy: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(debug=settings.debug)
    if removed:
        log.info("Started from a Claude Code session; not passing on %s", ", ".join(removed))
    _warn_about_environment(settings)

    def ready(url: str) -> None:
        log.info("claude-sdk-proxy %s listening at %s", __version__, url)

    try:
        asyncio.run(serve_until_signalled(settings, ready))
    except PortInUseError as exc:
        print(
            f"claude-sdk-proxy: error: {exc.strerror}; choose another with --port", file=sys.stderr
        )
        return 1
    except OSError as exc:
        print(
            f"claude-sdk-proxy: error: cannot listen on {settings.host}:{settings.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0
