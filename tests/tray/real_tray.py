"""The tray app as a real process on a virtual desktop, with its files under a test's folder."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.api.test_entrypoint import free_port
from tests.tray.test_real_menu import SCRIPTS, serving
from tests.tray.xvfb import wait_until


@dataclass
class RunningTray:
    process: subprocess.Popen[str]
    base_url: str
    opened: Path  # each page the app opened in "the browser", one address per line
    notifications: Path

    def pages(self) -> list[str]:
        return self.opened.read_text().split() if self.opened.exists() else []

    def told(self) -> str:
        return self.notifications.read_text() if self.notifications.exists() else ""

    def clis(self) -> list[psutil.Process]:
        return [
            process
            for process in psutil.Process(self.process.pid).children(recursive=True)
            if "stream-json" in process.cmdline()
        ]


def tray_command(tmp_path: Path, desktop: dict[str, str], **env: str) -> dict[str, str]:
    """The environment of a tray app whose files are under ``tmp_path`` and whose browser
    writes down what it was asked to open."""
    browser = tmp_path / "browser.sh"
    browser.write_text('#!/bin/sh\necho "$1" >> "$OPENED_LOG"\n')
    browser.chmod(0o755)
    return {
        **desktop,  # the tests' own PYSTRAY_BACKEND (dummy) is each test's to override
        "CLAUDE_PROXY_DATA_DIR": str(tmp_path / "data"),
        "CLAUDE_PROXY_CONFIG_DIR": str(tmp_path / "config"),
        "CLAUDE_PROXY_LOG_DIR": str(tmp_path / "logs"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "BROWSER": str(browser),  # xdg-open and Python's webbrowser both take it
        "OPENED_LOG": str(tmp_path / "opened.log"),
        "NOTIFICATION_LOG": str(tmp_path / "notifications.log"),
        **env,
    }


@contextlib.contextmanager
def tray_app(
    tmp_path: Path, desktop: dict[str, str], *, port: int | None = None, **env: str
) -> Iterator[RunningTray]:
    """Run it until the block ends; it serves on ``port`` (a free one unless given) once the
    block begins, unless something else holds that port."""
    port = port or free_port()
    environment = tray_command(tmp_path, desktop, CLAUDE_PROXY_PORT=str(port), **env)
    process = subprocess.Popen(
        [
            "dbus-run-session",
            "--",
            str(SCRIPTS / "secret_service_session.sh"),  # unlocked: no keyring prompt waits
            str(SCRIPTS / "with_notification_daemon.sh"),
            sys.executable,
            "-m",
            "tray_app",
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = RunningTray(
        process, f"http://127.0.0.1:{port}", tmp_path / "opened.log", tmp_path / "notifications.log"
    )
    try:
        wait_until(
            lambda: (
                serving(port) or process.poll() is not None or "Could not start" in _log(tmp_path)
            ),
            30,
            "the tray app",
        )
        assert process.poll() is None, process.communicate()
        yield running
    finally:
        if process.poll() is None:  # the session's children hold the pipes: end them all
            for child in [*psutil.Process(process.pid).children(recursive=True), process]:
                with contextlib.suppress(psutil.Error, ProcessLookupError):
                    child.kill()
        process.communicate(timeout=30)


def _log(tmp_path: Path) -> str:
    log = tmp_path / "logs" / "tray.log"
    return log.read_text() if log.exists() else ""
