"""Start at login: each platform's entry, written into a test directory or registry double."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tray_app.autostart import (
    APP_NAME,
    APPROVED_KEY,
    LAUNCH_AGENT_LABEL,
    RUN_KEY,
    LinuxAutostart,
    MacAutostart,
    WindowsAutostart,
    launch_command,
)

COMMAND = ["/opt/Claude Proxy/claude-sdk-proxy-tray", "--port", "3456", "100%"]


def test_linux_desktop_entry_round_trip(tmp_path: Path) -> None:
    autostart = LinuxAutostart(tmp_path / "autostart")
    assert not autostart.is_enabled()
    autostart.enable(COMMAND)
    text = autostart.path.read_text()
    assert autostart.is_enabled()
    assert "Type=Application" in text and f"Name={APP_NAME}" in text
    assert 'Exec="/opt/Claude Proxy/claude-sdk-proxy-tray" --port 3456 100%%' in text
    autostart.disable()
    assert not autostart.is_enabled() and not autostart.path.exists()


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="needs desktop-file-validate (Debian desktop-file-utils), installed by .ci/run",
)
def test_linux_desktop_entry_passes_the_freedesktop_validator(tmp_path: Path) -> None:
    autostart = LinuxAutostart(tmp_path)
    autostart.enable([*COMMAND, 'quote"and$dollar'])
    result = subprocess.run(
        ["desktop-file-validate", str(autostart.path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_macos_launch_agent_round_trip(tmp_path: Path) -> None:
    autostart = MacAutostart(tmp_path)
    autostart.enable(COMMAND)
    with autostart.path.open("rb") as file:
        agent = plistlib.load(file)
    assert agent == {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": COMMAND,
        "RunAtLoad": True,
        "ProcessType": "Interactive",
    }
    assert autostart.is_enabled()
    autostart.disable()
    assert not autostart.is_enabled()


class FakeRegistry:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str | bytes] = {}

    def get(self, key: str, name: str) -> str | bytes | None:
        return self.values.get((key, name))

    def set(self, key: str, name: str, value: str) -> None:
        self.values[(key, name)] = value

    def delete(self, key: str, name: str) -> None:
        self.values.pop((key, name), None)


def test_windows_run_key_round_trip_and_task_manager_switch() -> None:
    registry = FakeRegistry()
    autostart = WindowsAutostart(registry)
    autostart.enable(["C:\\Program Files\\Claude Proxy\\proxy.exe", "--minimized"])
    assert (
        registry.values[(RUN_KEY, APP_NAME)]
        == '"C:\\Program Files\\Claude Proxy\\proxy.exe" --minimized'
    )
    assert autostart.is_enabled()
    registry.values[(APPROVED_KEY, APP_NAME)] = b"\x03" + bytes(11)  # disabled in Task Manager
    assert not autostart.is_enabled()
    registry.values[(APPROVED_KEY, APP_NAME)] = b"\x02" + bytes(11)
    assert autostart.is_enabled()
    autostart.disable()
    assert not autostart.is_enabled() and (RUN_KEY, APP_NAME) not in registry.values


def test_the_launch_command_starts_this_tray_app() -> None:
    command = launch_command()
    assert command[-2:] == ["-m", "tray_app"]
    assert Path(command[0]).exists()
