"""A real icon: the tray app under Xvfb, docked in a real tray host, seen in a screenshot."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tests.tray.xvfb import wait_until
from tray_app.icons import PHASE_COLOURS, TILE
from tray_app.state import Phase

NEEDED = ("Xvfb", "trayer", "xdpyinfo", "xwininfo", "import")
pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in NEEDED),
    reason=f"needs {', '.join(NEEDED)} (Debian xvfb, trayer, x11-utils, imagemagick; see .ci/run)",
)


def test_the_tray_icon_docks_and_shows_the_running_state(
    desktop: dict[str, str],
    sim,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    colours = tray_colours_of_a_running_app(desktop, tmp_path / "first")
    if TILE not in colours:
        # pystray's X11 backend starts its setup thread before its loop can take that
        # thread's messages, and now and then (~5 %) the icon never docks. That race is
        # pystray's; one more start tells it from an icon of ours that never shows.
        colours = tray_colours_of_a_running_app(desktop, tmp_path / "second")
    assert TILE in colours, "the icon's tile is on screen"
    assert PHASE_COLOURS[Phase.RUNNING] in colours, "the dot shows the running state"


def tray_colours_of_a_running_app(
    desktop: dict[str, str], tmp_path: Path
) -> set[tuple[int, int, int]]:
    """Start the tray app, screenshot its corner of the panel, end it with SIGTERM."""
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
        # The README's first command, as a new user runs it.
        [str(Path(__file__).resolve().parents[2] / "scripts" / "run")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def serving() -> bool:
            if app.poll() is not None:
                output, errors = app.communicate()
                raise AssertionError(f"the tray app exited ({app.returncode}): {output}{errors}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/health", timeout=2
                ) as response:
                    return json.loads(response.read())["status"] in ("ok", "degraded")
            except OSError:
                return False

        try:
            wait_until(serving, 30, "the proxy inside the tray app")
        except AssertionError:
            log = tmp_path / "logs" / "tray.log"
            print(log.read_text() if log.exists() else "no tray.log")  # shown with the failure
            raise
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
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            app.kill()
            app.communicate()
    assert app.returncode == 0, "SIGTERM ends the tray app cleanly"
    return colours
