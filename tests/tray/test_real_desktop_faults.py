"""The tray app where a desktop cannot show all of it, as a person meets it: real processes on
a virtual screen, a real session bus and notification daemon, the page in Chromium.

- no tray host at all: the app says so and opens its page, which has Quit;
- pystray's plain X11 icon (no PyGObject): a click opens the page, and it opens once by itself;
- a second launch: the running app shows its page, and the launch says where it is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.browser_pages import open_page, screenshot
from tests.conftest import anthropic_client
from tests.tray.real_tray import tray_app, tray_command
from tests.tray.test_real_menu import icon_centre, require_backend
from tests.tray.xvfb import desktop_session, wait_until
from tray_app.tray_host import NO_MENU, NO_TRAY_HOST

NEEDED = (
    "Xvfb",
    "trayer",
    "xwininfo",
    "xdotool",
    "dunst",
    "dbus-run-session",
    "dbus-send",
    "gnome-keyring-daemon",
)
pytestmark = [
    pytest.mark.skipif(
        any(shutil.which(tool) is None for tool in NEEDED),
        reason=f"needs {', '.join(NEEDED)} (Debian packages; see .ci/run)",
    ),
    pytest.mark.timeout(180),
]


def test_with_no_tray_host_the_app_opens_its_page_which_says_so_and_quits_it(
    sim,  # type: ignore[no-untyped-def]
    browser: object,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    require_backend("appindicator")
    # As on stock GNOME: PyGObject's AppIndicator (pystray's first choice) with no panel.
    with (
        desktop_session(tray_host=False) as desktop,
        tray_app(tmp_path, desktop, PYSTRAY_BACKEND="appindicator") as tray,
    ):
        reply = anthropic_client(tray.base_url).messages.create(
            model="sonnet", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.content[0].type == "text", "it serves, icon or not"
        wait_until(lambda: len(tray.pages()) == 1, 30, "the settings page, opened by itself")
        assert tray.pages()[0].startswith(f"{tray.base_url}/settings#ticket=")
        wait_until(lambda: "no system tray" in tray.told(), 10, "the notification")
        wait_until(lambda: len(tray.clis()) >= 1, 15, "the kept conversation's CLI")
        clis = tray.clis()

        page = open_page(browser, tray.pages()[0])
        expect(page.locator("#desktop-note")).to_have_text(NO_TRAY_HOST)
        screenshot(page, "settings-no-tray-host.png")
        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#quit")
        expect(page.locator("#ended")).to_contain_text("Claude SDK Proxy has quit.")
        _, errors = tray.process.communicate(timeout=30)
        assert tray.process.returncode == 0, errors
        assert "Traceback" not in errors
        assert page.failures == []  # type: ignore[attr-defined]
    _, alive = psutil.wait_procs(clis, timeout=5)
    assert alive == [], "Quit on the page ends every CLI"


def test_an_icon_without_a_menu_opens_the_page_by_itself_once_and_on_each_click(
    sim,  # type: ignore[no-untyped-def]
    desktop: dict[str, str],
    tmp_path: Path,
) -> None:
    # pystray's plain X11 icon, as a `pip install` without PyGObject gets it.
    with tray_app(tmp_path, desktop, PYSTRAY_BACKEND="xorg") as tray:
        wait_until(lambda: len(tray.pages()) == 1, 30, "the page, the first time")
        wait_until(lambda: icon_centre(desktop) is not None, 15, "the docked icon")
        icon = icon_centre(desktop)
        assert icon is not None
        click = ["xdotool", "mousemove", str(icon[0]), str(icon[1]), "click", "1"]
        subprocess.run(click, env=desktop, check=True, timeout=10)
        wait_until(lambda: len(tray.pages()) == 2, 15, "the page, from a click on the icon")
        assert all(page.startswith(f"{tray.base_url}/settings#ticket=") for page in tray.pages())
        log = (tmp_path / "logs" / "tray.log").read_text()
        assert NO_MENU in log
    with tray_app(tmp_path, desktop, PYSTRAY_BACKEND="xorg") as tray:
        wait_until(lambda: log.count(NO_MENU) < tray_log(tmp_path).count(NO_MENU), 30, "told")
        assert len(tray.pages()) == 2, "the next start does not open the page by itself"


def tray_log(tmp_path: Path) -> str:
    return (tmp_path / "logs" / "tray.log").read_text()


def test_a_second_launch_shows_the_running_app_and_says_where_it_is(
    sim,  # type: ignore[no-untyped-def]
    desktop: dict[str, str],
    tmp_path: Path,
) -> None:
    require_backend("gtk")
    with tray_app(tmp_path, desktop, PYSTRAY_BACKEND="gtk") as tray:
        second = subprocess.run(
            [sys.executable, "-m", "tray_app"],
            env=tray_command(tmp_path, desktop),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 0, second.stderr
        said = (
            f"Claude SDK Proxy is already running: Running on {tray.base_url}. "
            "Its settings page opened."
        )
        assert second.stdout.strip() == said
        assert len(tray.pages()) == 1 and tray.pages()[0].startswith(f"{tray.base_url}/settings")
        wait_until(lambda: "already running" in tray.told(), 10, "the running app's notification")
        assert tray.process.poll() is None, "the running app goes on"
