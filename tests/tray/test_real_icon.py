"""A real icon: the tray app under Xvfb, docked in a real tray host, seen in a screenshot."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tray_app.icons import PHASE_COLOURS, TILE
from tray_app.state import Phase

NEEDED = ("Xvfb", "trayer", "xdpyinfo", "xwininfo", "import")
pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in NEEDED),
    reason=f"needs {', '.join(NEEDED)} (Debian xvfb, trayer, x11-utils, imagemagick; see .ci/run)",
)
WAIT_FOR_TRAY = """
import sys, time, Xlib.display, Xlib.X
d = Xlib.display.Display()
atom = d.intern_atom('_NET_SYSTEM_TRAY_S%d' % d.get_default_screen())
for _ in range(200):
    if d.get_selection_owner(atom) != Xlib.X.NONE:
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
"""


def free_display() -> str:
    for number in range(90, 140):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return f":{number}"
    raise RuntimeError("no free X display number")


def wait_until(check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def desktop() -> Iterator[dict[str, str]]:
    display = free_display()
    env = {**os.environ, "DISPLAY": display, "NO_AT_BRIDGE": "1"}
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tray_host = None
    try:
        wait_until(
            lambda: subprocess.run(["xdpyinfo"], env=env, capture_output=True).returncode == 0,
            10,
            "Xvfb",
        )
        tray_host = subprocess.Popen(
            [
                "trayer",
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "request",
                "--height",
                "32",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run([sys.executable, "-c", WAIT_FOR_TRAY], env=env, check=True, timeout=20)
        yield env
    finally:
        for process in (tray_host, xvfb):
            if process is not None:
                process.terminate()
                process.wait(10)


def test_the_tray_icon_docks_and_shows_the_running_state(
    desktop: dict[str, str],
    sim,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **desktop,
        "PYSTRAY_BACKEND": "xorg",
        "CLAUDE_PROXY_PORT": str(port),
        "CLAUDE_PROXY_DATA_DIR": str(tmp_path / "data"),
        "CLAUDE_PROXY_CONFIG_DIR": str(tmp_path / "config"),
        "CLAUDE_PROXY_LOG_DIR": str(tmp_path / "logs"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }
    app = subprocess.Popen(
        [sys.executable, "-m", "tray_app"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def serving() -> bool:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/health", timeout=2
                ) as response:
                    return json.loads(response.read())["status"] in ("ok", "degraded")
            except OSError:
                return False

        wait_until(serving, 30, "the proxy inside the tray app")
        wait_until(
            lambda: (
                "Claude SDK Proxy"
                in subprocess.run(
                    ["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True
                ).stdout
            ),
            15,
            "the icon window",
        )
        time.sleep(0.5)  # let the tray host paint the docked icon
        shot = tmp_path / "screen.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=env, check=True, timeout=30)
        with Image.open(shot) as image:
            tray_area = image.convert("RGB").crop((600, 0, 800, 40))
            colours = {tray_area.getpixel((x, y)) for x in range(200) for y in range(40)}
        assert TILE in colours, "the icon's tile is on screen"
        assert PHASE_COLOURS[Phase.RUNNING] in colours, "the dot shows the running state"
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            app.kill()
            app.communicate()
