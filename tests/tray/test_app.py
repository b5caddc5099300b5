"""The pystray glue with pystray's dummy backend: the menu as pystray shows it, clicks, quit."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pystray
import pytest

from proxy_core.server import port_holder
from proxy_core.testing.upstream_simulator import UpstreamSimulator
from proxy_core.usage.quota import reset_words
from tests.conftest import wait_for_no_cli
from tests.tray.conftest import controller_for
from tests.tray.test_controller import generate_key, status_of
from tests.tray.xvfb import wait_until
from tray_app import tray_host
from tray_app.app import NO_CLI, NOT_LOGGED_IN, TrayApp
from tray_app.controller import TrayController
from tray_app.instance import InstanceDoor, SingleInstance, knock
from tray_app.login import BrowserLogin
from tray_app.state import Phase


class RecordingIcon(pystray.Icon):  # type: ignore[misc]
    """The dummy backend, recording what a real one would have been asked to do."""

    HAS_NOTIFICATION = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.notifications: list[str] = []
        self.menu_updates = 0
        self.stopped = False

    def notify(self, message: str, title: str | None = None) -> None:
        self.notifications.append(message)

    def update_menu(self) -> None:
        self.menu_updates += 1

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def app(tray: TrayController, tmp_path: Path) -> TrayApp:
    return TrayApp(
        tray,
        open_path=lambda path: False,  # no file manager on this machine
        log_dir=str(tmp_path / "logs"),
        icon_class=RecordingIcon,
    )


def quiet_app(tray: TrayController, tmp_path: Path, **options: Any) -> TrayApp:
    """A TrayApp that asks nothing and opens nothing; ``options`` override its parts."""
    parts: dict[str, Any] = {
        "open_path": lambda path: True,
        "log_dir": str(tmp_path),
        "icon_class": RecordingIcon,
        **options,
    }
    return TrayApp(tray, **parts)


def texts(menu: pystray.Menu) -> list[str]:
    return [item.text for item in menu.items]


def test_the_menu_shows_the_state_and_clicks_change_it(app: TrayApp, tray: TrayController) -> None:
    assert texts(app.icon.menu)[0] == "Stopped"
    app.dispatch("start", wait=True)
    assert tray.state().phase is Phase.RUNNING
    first = texts(app.icon.menu)
    assert first[0].startswith("Running on http://127.0.0.1:")
    assert app.icon.notifications[-1].startswith("Running on")
    assert app.icon.menu_updates >= 1
    start = next(i for i in app.icon.menu.items if i.text == "Start")
    stop = next(i for i in app.icon.menu.items if i.text == "Stop")
    assert not start.enabled and stop.enabled
    stop(app.icon)  # a real click on the pystray item
    app.dispatch(None)
    for _ in range(500):
        if tray.state().phase is Phase.STOPPED:
            break
        time.sleep(0.01)
    assert tray.state().phase is Phase.STOPPED


def test_bad_input_and_failing_actions_never_take_the_tray_down(
    app: TrayApp, tray: TrayController
) -> None:
    app.dispatch("start", wait=True)
    app.dispatch("toggle_network", wait=True)  # no key yet: refused in words
    assert app.icon.notifications[-1].startswith("Set an API key first")
    assert tray.state().phase is Phase.RUNNING
    app.dispatch("no_such_action", wait=True)
    assert "failed; see the log" in app.icon.notifications[-1]
    assert status_of(tray.server.base_url) == 200


def test_quit_stops_the_server_and_the_icon(app: TrayApp, tray: TrayController) -> None:
    app.dispatch("start", wait=True)
    app.dispatch("quit", wait=True)
    assert app.icon.stopped and tray.state().phase is Phase.STOPPED


def test_a_second_instance_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "tray.lock"
    first = SingleInstance(lock)
    assert first.acquire()
    script = (
        "import sys; from pathlib import Path; from tray_app.instance import SingleInstance;"
        f"sys.exit(0 if SingleInstance(Path({str(lock)!r})).acquire() else 3)"
    )
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
        ],
        check=False,
        timeout=30,
    )
    assert other.returncode == 3
    first.release()
    again = SingleInstance(lock)
    assert again.acquire(), "the lock is free once its holder lets go"
    again.release()


def test_the_entry_point_has_a_headless_mode() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tray_app", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0 and "--headless" in result.stdout


FAKE_LOGIN = """#!/bin/sh
# Says what `claude auth login` says without a terminal, then waits for the browser's return.
echo "Opening browser to sign in…"
echo "If the browser didn't open, visit:"
echo "https://claude.ai/oauth/authorize?code=true&state=abc"
printf "Paste code here if prompted > "
while [ ! -e "{returned}" ]; do sleep 0.05; done
echo "Login successful."
"""


def test_log_in_opens_a_terminal_where_there_is_one(tray: TrayController, tmp_path: Path) -> None:
    opened: list[str] = []

    def terminal(cli: str) -> bool:
        opened.append(cli)
        return True

    app = quiet_app(tray, tmp_path, open_login_terminal=terminal)
    app.dispatch("log_in", wait=True)
    assert opened and opened[0].endswith("claude")
    assert app.icon.notifications[-1] == (
        "Log in in the terminal that opened; the icon turns green once it works."
    )


def test_without_a_terminal_the_login_runs_in_the_browser_and_says_how_it_ended(
    tray: TrayController, tmp_path: Path, clipboard: list[str]
) -> None:
    returned = tmp_path / "returned"
    script = tmp_path / "fake-login"
    script.write_text(FAKE_LOGIN.format(returned=returned))
    script.chmod(0o755)
    logins: list[BrowserLogin] = []

    def browser_login(cli: str) -> BrowserLogin:
        assert cli.endswith("claude")  # the CLI the proxy uses; the script stands in for it
        logins.append(BrowserLogin(str(script), args=()))
        return logins[-1]

    app = quiet_app(tray, tmp_path, browser_login=browser_login)
    app.dispatch("start", wait=True)
    app.dispatch("log_in", wait=True)
    assert app.icon.notifications[-1] == (
        "Sign in to Claude in the browser that opened. If none did, open the sign-in address: "
        "it is on the clipboard."
    )
    assert clipboard[-1] == "https://claude.ai/oauth/authorize?code=true&state=abc"
    returned.touch()  # the browser came back to the CLI's local address
    for _ in range(400):
        if app.icon.notifications[-1].startswith("Logged in"):
            break
        time.sleep(0.025)
    assert app.icon.notifications[-1] == "Logged in to Claude: the proxy is ready."
    assert logins[0].finish(0) is True


def test_the_pinned_clis_own_login_gives_its_sign_in_address_without_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxy_core.backend.cli_status import find_cli

    cli = find_cli(None)
    assert cli is not None
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / ".claude"))
    monkeypatch.delenv("DISPLAY", raising=False)  # no browser opens here
    login = BrowserLogin(cli)
    try:
        address = login.start()
        assert address is not None and address.startswith("https://claude.ai/oauth/authorize?")
    finally:
        login.stop()
    assert wait_for_no_cli(2.0) == []


def test_a_missing_cli_is_named_with_what_to_do(
    sim: UpstreamSimulator, tmp_path: Path, clipboard: list[str]
) -> None:
    controller = controller_for(tmp_path, clipboard, port=0, cli_path=str(tmp_path / "no-claude"))
    try:
        app = quiet_app(controller, tmp_path)
        app.dispatch("start", wait=True)
        controller.recheck_login()
        app.refresh()
        app.refresh()
        assert app.icon.notifications.count(NO_CLI) == 1, "said once, as soon as it is known"
        assert "Install Claude Code" in NO_CLI and "Settings…" in NO_CLI
        app.dispatch("log_in", wait=True)
        assert app.icon.notifications[-1] == NO_CLI
    finally:
        controller.stop()


@pytest.mark.skipif(
    shutil.which("xclip") is None or shutil.which("Xvfb") is None,
    reason="needs xclip and Xvfb (Debian packages; see .ci/run)",
)
def test_the_clipboard_really_holds_what_was_copied(desktop: dict[str, str]) -> None:
    import os

    from tray_app.desktop import copy_to_clipboard

    saved = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = desktop["DISPLAY"]
    try:
        copy_to_clipboard("http://127.0.0.1:3456")
        pasted = subprocess.run(
            ["xclip", "-o", "-selection", "clipboard"],
            env=desktop,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    finally:
        if saved is None:
            os.environ.pop("DISPLAY")
        else:
            os.environ["DISPLAY"] = saved
    assert pasted.stdout == "http://127.0.0.1:3456"


def test_no_tray_host_is_said_in_a_notification_and_on_the_page_it_opens(
    tray: TrayController, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tray_host, "tray_host_present", lambda backend: False)
    monkeypatch.setattr(tray_host, "TRAY_HOST_GRACE_S", 0.1)
    opened: list[str] = []
    app = quiet_app(tray, tmp_path, open_url=lambda url: opened.append(url) or True)
    starting = app.dispatch("start")
    app._tell_what_the_desktop_lacks(starting)
    wait_until(lambda: len(opened) == 1, 10, "the settings page")
    assert opened[0].startswith(f"{tray.server.base_url}/settings#ticket=")
    assert tray_host.NO_TRAY_HOST in app.icon.notifications
    assert tray.settings_page.host_values()["desktop_note"] == tray_host.NO_TRAY_HOST

    # Quit is on that page: the page's quit is the menu's.
    assert tray.settings_page.on_quit is not None
    tray.settings_page.on_quit()
    wait_until(lambda: app.icon.stopped, 10, "the quit")
    assert tray.state().phase is Phase.STOPPED


def test_an_icon_without_a_menu_opens_the_page_on_a_click_and_once_by_itself(
    tray: TrayController, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class MenulessIcon(RecordingIcon):
        HAS_MENU = False  # pystray's xorg backend: a click runs the default item, no menu

    monkeypatch.setattr(tray_host, "tray_host_present", lambda backend: True)
    opened: list[str] = []
    options: dict[str, Any] = {
        "icon_class": MenulessIcon,
        "open_url": lambda url: opened.append(url) or True,
    }
    first = quiet_app(tray, tmp_path, **options)
    first._tell_what_the_desktop_lacks(first.dispatch("start"))
    wait_until(lambda: len(opened) == 1, 10, "the settings page, the first time")
    assert tray_host.NO_MENU in first.icon.notifications
    assert "PyGObject" in tray_host.NO_MENU and "[gtk]" in tray_host.NO_MENU

    default = next(item for item in first.icon.menu.items if item.default)
    assert default.text == "Settings…", "a click on the icon opens the page"
    default(first.icon)
    wait_until(lambda: len(opened) == 2, 10, "the page, from a click")

    again = quiet_app(tray, tmp_path, **options)  # the next start: told, but no page
    again._tell_what_the_desktop_lacks(None)
    assert again.icon.notifications == [tray_host.NO_MENU]
    time.sleep(0.2)
    assert len(opened) == 2


def test_a_second_launch_is_answered_by_the_running_app(
    app: TrayApp, tray: TrayController, tmp_path: Path
) -> None:
    opened: list[str] = []
    app._open_url = lambda url: opened.append(url) or True
    app.dispatch("start", wait=True)
    door = InstanceDoor(tmp_path / "door.json", app.show_yourself)
    try:
        assert (tmp_path / "door.json").stat().st_mode & 0o077 == 0, "for this user only"
        answer = knock(tmp_path / "door.json")
    finally:
        door.close()
    assert answer == (
        f"Claude SDK Proxy is already running: Running on {tray.server.base_url}. "
        "Its settings page opened."
    )
    assert opened and opened[0].startswith(f"{tray.server.base_url}/settings#ticket=")
    wait_until(lambda: answer in app.icon.notifications, 10, "the notification")
    assert not (tmp_path / "door.json").exists()
    assert knock(tmp_path / "door.json") is None, "nobody there: no answer, no hang"


def test_a_knock_with_the_wrong_key_gets_nothing(app: TrayApp, tmp_path: Path) -> None:
    shown: list[bool] = []
    door = InstanceDoor(tmp_path / "door.json", lambda: shown.append(True) or "shown")
    try:
        facts = json.loads((tmp_path / "door.json").read_text())
        forged = tmp_path / "forged.json"
        forged.write_text(json.dumps({**facts, "key": "00" * 32}))
        assert knock(forged, within_s=2) is None
        assert knock(tmp_path / "door.json") == "shown", "the door still answers the right key"
    finally:
        door.close()
    assert shown == [True]


def test_a_missing_login_shows_as_soon_as_the_server_knows_it(
    app: TrayApp, tray: TrayController, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real CLI, with no login anywhere: no API key, a config folder with no credentials.
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "home" / ".claude"))
    app.dispatch("start", wait=True)
    watching = app.watch_state(look_s=0.05)
    try:
        for _ in range(300):  # the start's `claude auth status` answers within a second or two
            if texts(app.icon.menu)[0] == "Not logged in to Claude":
                break
            time.sleep(0.05)
        assert texts(app.icon.menu)[0] == "Not logged in to Claude", "no menu action needed"
        app.refresh()
        assert app.icon.notifications.count(NOT_LOGGED_IN) == 1, "told once what to do"
    finally:
        watching.set()


def test_view_logs_without_a_file_manager_says_where_they_are(
    app: TrayApp, clipboard: list[str], tmp_path: Path
) -> None:
    app.dispatch("view_logs", wait=True)
    folder = str(tmp_path / "logs")
    assert app.icon.notifications[-1] == (
        f"No file manager could open the logs; their folder is {folder} (copied)."
    )
    assert clipboard[-1] == folder


def test_about_names_the_version_the_cli_and_the_account(app: TrayApp) -> None:
    from proxy_core.version import __version__

    app.dispatch("start", wait=True)
    app._controller.recheck_login()
    app.dispatch("about", wait=True)
    about = app.icon.notifications[-1]
    assert about.startswith(f"Claude SDK Proxy {__version__}: Running on")
    from claude_agent_sdk._cli_version import __cli_version__

    assert f"Claude Code {__cli_version__} at " in about and "auth: subscription" in about
    assert "account: claude.ai, plan max" in about


def test_open_path_tells_whether_anything_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tray_app.desktop import open_path

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert open_path(str(tmp_path)) is False  # no xdg-open at all
    opener = bin_dir / "xdg-open"
    opener.write_text("#!/bin/sh\nexit 3\n")  # xdg-open's word for "no application"
    opener.chmod(0o755)
    assert open_path(str(tmp_path)) is False
    opener.write_text("#!/bin/sh\nexit 0\n")
    assert open_path(str(tmp_path)) is True


def notified(app: TrayApp, matches: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not any(matches(n) for n in app.icon.notifications):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_the_windows_show_notify_once_and_turn_the_icon_amber(
    tray: TrayController, tmp_path: Path, sim: UpstreamSimulator
) -> None:
    from tray_app.icons import PHASE_COLOURS, icon_image

    sim.set_quota(five_hour=0.85, seven_day=0.13)
    app = quiet_app(tray, tmp_path)
    app.dispatch("start", wait=True)
    app.dispatch("test_connection", wait=True)
    # "at 14:10" today, "on Thu 01:25" past midnight: the wording has tests of its own.
    when = reset_words(sim.quota.resets_at("five_hour"))
    reset = when.removeprefix("at ")
    told = f"85% of the 5-hour limit is used; it resets {when}."
    # The CLI reports the windows just after the answer's last event.
    assert notified(app, lambda n: n == told)
    app.refresh()
    assert texts(app.icon.menu)[1] == f"5 h 85% · resets {reset} · 7 d 13%"
    assert app.icon.title.endswith(f"· 5 h 85% · resets {reset} · 7 d 13%")
    assert app.icon.icon.tobytes() == icon_image(Phase.RUNNING, warning=True).tobytes()
    assert PHASE_COLOURS[Phase.STARTING] in {c[1][:3] for c in app.icon.icon.getcolors(65536)}

    app.dispatch("test_connection", wait=True)  # the same level again: no second notification
    assert app.icon.notifications.count(told) == 1
    sim.set_quota(five_hour=1.0)
    app.dispatch("test_connection", wait=True)
    assert any(
        n.startswith("The 5-hour limit is used up; it resets ") for n in app.icon.notifications
    )
    app.refresh()
    assert texts(app.icon.menu)[0] == "A subscription limit is used up: see the dashboard"


def test_open_dashboard_hands_the_browser_a_ticket_not_the_key(
    tray: TrayController, tmp_path: Path, clipboard: list[str]
) -> None:
    opened: list[str] = []
    app = quiet_app(tray, tmp_path, open_url=lambda url: bool(opened.append(url)) or True)
    app.dispatch("start", wait=True)
    app.dispatch("open_dashboard", wait=True)
    assert opened == [f"{tray.server.base_url}/dashboard"]
    key = generate_key(tray)
    app.dispatch("open_dashboard", wait=True)
    assert opened[-1].startswith(f"{tray.server.base_url}/dashboard#ticket=")
    assert key not in opened[-1]


def test_settings_opens_the_page_with_a_ticket_and_no_tk(
    tray: TrayController, tmp_path: Path, clipboard: list[str]
) -> None:
    opened: list[str] = []
    app = quiet_app(tray, tmp_path, open_url=lambda url: bool(opened.append(url)) or True)
    app.dispatch("start", wait=True)
    items = {item.text: item for item in app.icon.menu.items}
    assert "Settings…" in items and items["Settings…"].enabled
    assert not {"Port…", "Allow browser apps…", "API key"} & set(items)
    items["Settings…"](app.icon)  # a real click on the pystray item
    for _ in range(500):
        if opened:
            break
        time.sleep(0.01)
    assert opened[0].startswith(f"{tray.server.base_url}/settings#ticket=")
    assert "tkinter" not in sys.modules


def test_settings_without_a_browser_copies_the_plain_address(
    tray: TrayController, tmp_path: Path, clipboard: list[str]
) -> None:
    app = quiet_app(tray, tmp_path, open_url=lambda url: False)
    app.dispatch("start", wait=True)
    app.dispatch("open_settings", wait=True)
    address = f"{tray.server.base_url}/settings"
    assert clipboard[-1] == address  # no ticket: a pasted link must not unlock anything
    assert app.icon.notifications[-1] == (
        f"No browser could be opened; settings is at {address} (copied)."
    )


def test_open_dashboard_without_a_browser_copies_its_address(
    tray: TrayController, tmp_path: Path, clipboard: list[str]
) -> None:
    app = quiet_app(tray, tmp_path, open_url=lambda url: False)
    app.dispatch("start", wait=True)
    app.dispatch("open_dashboard", wait=True)
    address = f"{tray.server.base_url}/dashboard"
    assert clipboard[-1] == address
    assert app.icon.notifications[-1] == (
        f"No browser could be opened; the dashboard is at {address} (copied)."
    )


def test_a_port_taken_at_start_can_still_be_changed_in_settings(
    sim: UpstreamSimulator, tmp_path: Path, clipboard: list[str]
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        controller = controller_for(tmp_path, clipboard, port=taken)
        opened: list[str] = []
        app = quiet_app(controller, tmp_path, open_url=lambda url: bool(opened.append(url)) or True)
        try:
            app.dispatch("start", wait=True)
            assert controller.state().phase is Phase.ERROR
            assert next(i for i in app.icon.menu.items if i.text == "Settings…").enabled
            app.dispatch("open_settings", wait=True)
            # Served from any free port, unsaved, so the page can choose the port.
            stand_in = controller.server.base_url
            assert controller.state().phase is Phase.RUNNING and not stand_in.endswith(f":{taken}")
            assert opened[-1].startswith(f"{stand_in}/settings#ticket=")
            assert app.icon.notifications[-1] == (
                f"The proxy could not use its port (port {taken} on 127.0.0.1 is already in use"
                f" by {port_holder(taken)}); it runs on {stand_in} until you choose a port in "
                "Settings."
            )
            assert not (tmp_path / "config.json").exists()
        finally:
            controller.stop()
