"""Each state of the tray as a person sees it: the real app docked in a real tray host (Xvfb and
trayer) with the GTK menu open, screenshotted into the test artefacts.

Asserted per state: the words the icon carries (its window's title, which the menu's first
line repeats) and the badge's colour among the docked icon's pixels.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from proxy_core.testing.upstream_simulator import UpstreamSimulator
from tests.browser_pages import ARTEFACTS
from tests.conftest import SIMULATOR_API_KEY, anthropic_client
from tests.tray.real_tray import RunningTray, tray_app
from tests.tray.test_real_menu import choose, icon_centre, require_backend
from tests.tray.xvfb import wait_until
from tray_app.icons import API_KEY_BLUE, ATTENTION, PHASE_COLOURS, WARNING
from tray_app.state import Phase

NEEDED = ("Xvfb", "trayer", "xwininfo", "xdotool", "import", "dbus-run-session", "dunst")
pytestmark = [
    pytest.mark.skipif(
        any(shutil.which(tool) is None for tool in NEEDED),
        reason=f"needs {', '.join(NEEDED)} (Debian packages; see .ci/run)",
    ),
    pytest.mark.timeout(240),
]
RIGHT_CLICK = 3  # GTK's status icon opens its menu on a right click


def icon_title(desktop: dict[str, str]) -> str:
    tree = subprocess.run(
        ["xwininfo", "-root", "-tree"], env=desktop, capture_output=True, text=True
    ).stdout
    for line in tree.splitlines():
        if '"Claude SDK Proxy: ' in line:
            return line.split('"', 2)[1]
    return ""


def shoot(desktop: dict[str, str], name: str, badge: tuple[int, int, int], tmp_path: Path) -> None:
    """The docked icon with its menu open, kept as ``tray-<name>.png``; the badge's colour must
    be among the icon's pixels."""
    centre = icon_centre(desktop)
    assert centre is not None
    screen = tmp_path / f"{name}.png"
    subprocess.run(
        ["xdotool", "mousemove", *map(str, centre), "click", str(RIGHT_CLICK)],
        env=desktop,
        check=True,
        timeout=10,
    )
    try:
        subprocess.run(["xdotool", "sleep", "0.8"], env=desktop, check=True, timeout=10)
        subprocess.run(
            ["import", "-window", "root", str(screen)], env=desktop, check=True, timeout=30
        )
    finally:
        subprocess.run(["xdotool", "key", "Escape"], env=desktop, check=True, timeout=10)
    with Image.open(screen) as image:
        shown = image.convert("RGB")
    x, y = centre
    icon = shown.crop((x - 16, y - 16, x + 16, y + 16))
    colours = {icon.getpixel((i, j)) for i in range(32) for j in range(32)}
    assert badge in colours, f"{name}: no {badge} among the docked icon's pixels"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shown.save(ARTEFACTS / f"tray-{name}.png")  # the whole screen: menus grow leftwards


def shows(tray: RunningTray, desktop: dict[str, str], words: str) -> None:
    wait_until(lambda: words in icon_title(desktop), 30, f"the icon to say {words!r}")


def test_running_then_a_window_nearly_used_then_stopped(
    sim: UpstreamSimulator, desktop: dict[str, str], tmp_path: Path
) -> None:
    require_backend("gtk")
    with tray_app(tmp_path, desktop, PYSTRAY_BACKEND="gtk") as tray:
        shows(tray, desktop, f"Running on {tray.base_url}")
        shoot(desktop, "running", PHASE_COLOURS[Phase.RUNNING], tmp_path)

        sim.set_quota(five_hour=0.85, seven_day=0.13)
        anthropic_client(tray.base_url).messages.create(
            model="sonnet", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
        shows(tray, desktop, "5 h 85%")
        shoot(desktop, "quota-warning", WARNING, tmp_path)

        centre = icon_centre(desktop)
        assert centre is not None
        # Running: the first item that takes a click is Stop.
        choose(
            desktop,
            centre,
            RIGHT_CLICK,
            ("Down", "Return"),
            lambda: "Stopped" in icon_title(desktop),
        )
        shoot(desktop, "stopped", PHASE_COLOURS[Phase.STOPPED], tmp_path)


@pytest.mark.parametrize(
    ("name", "env", "words", "badge"),
    [
        ("not-logged-in", {"CLAUDE_CONFIG_DIR": "{empty}"}, "Not logged in to Claude", ATTENTION),
        (
            "no-cli",
            {"CLAUDE_PROXY_CLI_PATH": "{empty}/claude"},
            "Claude Code CLI not found",
            ATTENTION,
        ),
        ("api-key", {"ANTHROPIC_API_KEY": SIMULATOR_API_KEY}, "billing an API key", API_KEY_BLUE),
    ],
)
def test_what_to_do_before_it_serves_shows_at_once(
    name: str,
    env: dict[str, str],
    words: str,
    badge: tuple[int, int, int],
    sim: UpstreamSimulator,
    desktop: dict[str, str],
    tmp_path: Path,
) -> None:
    require_backend("gtk")
    empty = tmp_path / "empty"
    empty.mkdir()
    settings = {key: value.format(empty=empty) for key, value in env.items()}
    with tray_app(tmp_path, desktop, PYSTRAY_BACKEND="gtk", **settings) as tray:
        shows(tray, desktop, words)
        shoot(desktop, name, badge, tmp_path)


def test_a_port_held_by_another_program_shows_as_an_error(
    sim: UpstreamSimulator, desktop: dict[str, str], tmp_path: Path
) -> None:
    require_backend("gtk")
    with held_port() as port, tray_app(tmp_path, desktop, port=port, PYSTRAY_BACKEND="gtk") as tray:
        shows(tray, desktop, "Error:")
        shoot(desktop, "error", PHASE_COLOURS[Phase.ERROR], tmp_path)


@contextlib.contextmanager
def held_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]
