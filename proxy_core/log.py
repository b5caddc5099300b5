"""Logging for entry points only: stderr, plus a rotating file when asked."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
OURS = "_claude_sdk_proxy_handler"


def configure_logging(*, debug: bool, log_file: Path | None = None) -> None:
    """Once per process: the tray configures it, then may serve through the headless entry
    point, whose own call must not add a second handler (every line would show twice)."""
    set_debug(debug)
    root = logging.getLogger()
    if any(getattr(handler, OURS, False) for handler in root.handlers):
        return
    handler: logging.Handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    setattr(handler, OURS, True)
    root.addHandler(handler)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
        )
        rotating.setFormatter(logging.Formatter(FORMAT))
        setattr(rotating, OURS, True)
        root.addHandler(rotating)


def set_debug(debug: bool) -> None:
    """The level of everything logged; the tray changes it while running."""
    logging.getLogger().setLevel(logging.DEBUG if debug else logging.INFO)
    _quiet_noisy_loggers(debug)


def _quiet_noisy_loggers(debug: bool) -> None:
    # The SDK logs message contents at DEBUG; keep them out unless debugging.
    logging.getLogger("claude_agent_sdk").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
