"""Start at login, per user, without admin rights: one small writer per platform.

- Linux: an XDG autostart ``.desktop`` file in ``$XDG_CONFIG_HOME/autostart``.
- macOS: a LaunchAgent plist in ``~/Library/LaunchAgents`` with ``RunAtLoad``.
- Windows: a value under ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``;
  Windows lets the user disable it in Task Manager, which ``StartupApproved`` records.

Every writer takes its target (a directory, or a registry adapter) as a parameter,
so all three are tested on any machine.
"""

from __future__ import annotations

import os
import plistlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

APP_ID = "claude-sdk-proxy"
APP_NAME = "Claude SDK Proxy"
LAUNCH_AGENT_LABEL = "io.github.claude-sdk-proxy"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"


def launch_command() -> list[str]:
    """How to start this tray app again: the frozen executable, or this Python running it."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    python = Path(sys.executable)
    windowless = python.with_name("pythonw.exe")  # no console window on Windows
    return [str(windowless if windowless.exists() else python), "-m", "tray_app"]


_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = str.maketrans({c: "\\" + c for c in '"`$\\'})


def _desktop_quote(argument: str) -> str:
    """Desktop Entry ``Exec`` quoting: reserved characters need double quotes; % is %%."""
    escaped = argument.replace("%", "%%")
    if _RESERVED & set(escaped):
        return '"' + escaped.translate(_ESCAPED_IN_QUOTES) + '"'
    return escaped


class LinuxAutostart:
    def __init__(self, directory: Path | None = None) -> None:
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        self.path = (directory or Path(config) / "autostart") / f"{APP_ID}.desktop"

    def enable(self, command: Sequence[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(
            "[Desktop Entry]\n"
            "Type=Application\n"
            f"Name={APP_NAME}\n"
            "Comment=A local Anthropic and OpenAI API served from your Claude subscription\n"
            f"Exec={' '.join(_desktop_quote(part) for part in command)}\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n",
            encoding="utf-8",
        )

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)

    def is_enabled(self) -> bool:
        if not self.path.exists():
            return False
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return "Hidden=true" not in lines and "X-GNOME-Autostart-enabled=false" not in lines


class MacAutostart:
    def __init__(self, directory: Path | None = None) -> None:
        base = directory or Path.home() / "Library" / "LaunchAgents"
        self.path = base / f"{LAUNCH_AGENT_LABEL}.plist"

    def enable(self, command: Sequence[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        agent = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "ProcessType": "Interactive",
        }
        with self.path.open("wb") as file:
            plistlib.dump(agent, file)

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)

    def is_enabled(self) -> bool:
        if not self.path.exists():
            return False
        with self.path.open("rb") as file:
            return bool(plistlib.load(file).get("RunAtLoad"))


class Registry(Protocol):
    """The few HKCU operations needed; winreg in production, a dict in tests."""

    def get(self, key: str, name: str) -> str | bytes | None: ...

    def set(self, key: str, name: str, value: str) -> None: ...

    def delete(self, key: str, name: str) -> None: ...


class WindowsAutostart:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def enable(self, command: Sequence[str]) -> None:
        line = " ".join(f'"{part}"' if " " in part else part for part in command)
        self._registry.set(RUN_KEY, APP_NAME, line)

    def disable(self) -> None:
        self._registry.delete(RUN_KEY, APP_NAME)

    def is_enabled(self) -> bool:
        if not self._registry.get(RUN_KEY, APP_NAME):
            return False
        approved = self._registry.get(APPROVED_KEY, APP_NAME)
        # Task Manager's switch: first byte 2 (or absent) enabled, 3 disabled.
        return not (isinstance(approved, bytes) and approved[:1] == b"\x03")


if sys.platform == "win32":
    import winreg

    class WinRegistry:
        """The real HKCU, through winreg (Windows only)."""

        def get(self, key: str, name: str) -> str | bytes | None:
            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                    value, _ = winreg.QueryValueEx(handle, name)
            except OSError:
                return None
            return value if isinstance(value, str | bytes) else None

        def set(self, key: str, name: str, value: str) -> None:
            with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as handle:
                winreg.SetValueEx(handle, name, 0, winreg.REG_SZ, value)

        def delete(self, key: str, name: str) -> None:
            try:
                with winreg.OpenKey(
                    winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE
                ) as handle:
                    winreg.DeleteValue(handle, name)
            except OSError:
                pass


Autostart = LinuxAutostart | MacAutostart | WindowsAutostart


def for_this_platform() -> Autostart:
    if sys.platform == "win32":
        return WindowsAutostart(WinRegistry())
    if sys.platform == "darwin":
        return MacAutostart()
    return LinuxAutostart()
