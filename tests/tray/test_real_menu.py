"""The real Linux menus: the tray app under GTK and AppIndicator, driven by mouse and keyboard.

The app runs on a virtual screen with a tray host, a real session bus, an unlocked
Secret Service and a real notification daemon (dunst), as on a Linux desktop. The
menu is opened by clicking the docked icon, items are chosen with the keyboard,
and what they did is read back from the clipboard, the daemon and the processes.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.api.test_entrypoint import free_port
from tests.conftest import anthropic_client
from tests.tray.xvfb import wait_until

SCRIPTS = Path(__file__).parent / "scripts"
NEEDED = (
    "Xvfb",
    "trayer",
    "xwininfo",
    "xdotool",
    "xclip",
    "dunst",
    "dbus-run-session",
    "dbus-send",
    "gnome-keyring-daemon",
)
pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in NEEDED),
    reason=f"needs {', '.join(NEEDED)} (Debian packages; see .ci/run)",
)

# The typelibs each backend loads; PyGObject itself comes from the `gtk` extra.
TYPELIBS = {
    "gtk": (("Gtk", "3.0"),),
    "appindicator": (("Gtk", "3.0"), ("AyatanaAppIndicator3", "0.1")),
}


def require_backend(backend: str) -> None:
    try:
        import gi
    except ImportError:
        pytest.skip("needs PyGObject (the gtk extra; scripts/_venv.sh installs it on Linux)")
    for namespace, version in TYPELIBS[backend]:
        try:
            gi.require_version(namespace, version)
        except ValueError:
            pytest.skip(f"needs the {namespace} {version} typelib (Debian gir1.2-* packages)")


def serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return json.loads(response.read())["status"] in ("ok", "degraded")
    except OSError:
        return False


def icon_centre(env: dict[str, str]) -> tuple[int, int] | None:
    """Where the docked icon is: its window is titled after the app."""
    tree = subprocess.run(
        ["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True
    ).stdout
    for line in tree.splitlines():
        if '"Claude SDK Proxy: ' in line:
            window = line.split()[0]
            info = subprocess.run(
                ["xwininfo", "-id", window], env=env, capture_output=True, text=True
            ).stdout
            fields = {
                key.strip(): value.strip()
                for key, _, value in (row.partition(":") for row in info.splitlines())
            }
            x, y = int(fields["Absolute upper-left X"]), int(fields["Absolute upper-left Y"])
            return x + int(fields["Width"]) // 2, y + int(fields["Height"]) // 2
    return None


def choose(
    env: dict[str, str],
    icon: tuple[int, int],
    button: int,
    keys: tuple[str, ...],
    done: Callable[[], bool],
) -> None:
    """Open the menu with a click on the icon, pick an item with the keyboard, until ``done``.

    On a loaded machine the menu may not be open yet when the keys arrive: then the
    menu is closed and opened again (at most three times)."""
    for _ in range(3):
        xdotool = ["xdotool", "mousemove", str(icon[0]), str(icon[1]), "click", str(button)]
        subprocess.run(xdotool, env=env, check=True, timeout=10)
        subprocess.run(["xdotool", "sleep", "0.5", "key", *keys], env=env, check=True, timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if done():
                return
            time.sleep(0.05)
        subprocess.run(["xdotool", "key", "Escape"], env=env, check=True, timeout=10)
    raise AssertionError(f"choosing {keys} from the menu had no effect")


def clipboard(env: dict[str, str]) -> str:
    pasted = subprocess.run(
        ["xclip", "-o", "-selection", "clipboard"], env=env, capture_output=True, text=True
    )
    return pasted.stdout


@pytest.mark.parametrize(
    ("backend", "button"),
    [("gtk", 3), ("appindicator", 1)],  # GTK's status icon opens its menu on a right click
)
def test_the_real_menu_copies_the_url_notifies_and_quits_leaving_no_cli(
    backend: str,
    button: int,
    desktop: dict[str, str],
    sim,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    require_backend(backend)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    notifications = tmp_path / "notifications.log"
    env = {
        **desktop,
        "PYSTRAY_BACKEND": backend,
        "CLAUDE_PROXY_PORT": str(port),
        "CLAUDE_PROXY_DATA_DIR": str(tmp_path / "data"),
        "CLAUDE_PROXY_CONFIG_DIR": str(tmp_path / "config"),
        "CLAUDE_PROXY_LOG_DIR": str(tmp_path / "logs"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "NOTIFICATION_LOG": str(notifications),
    }
    app = subprocess.Popen(
        [
            "dbus-run-session",
            "--",
            str(SCRIPTS / "secret_service_session.sh"),
            str(SCRIPTS / "with_notification_daemon.sh"),
            sys.executable,
            "-m",
            "tray_app",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: serving(port), 30, "the proxy inside the tray app")
        wait_until(lambda: f"Running on {url}" in notifications.read_text(), 10, "a notification")

        # One answered request leaves its conversation's CLI kept for a next turn.
        reply = anthropic_client(url).messages.create(
            model="sonnet", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.content[0].type == "text"

        def clis() -> list[psutil.Process]:
            return [
                process
                for process in psutil.Process(app.pid).children(recursive=True)
                if "stream-json" in process.cmdline()
            ]

        # The answered conversation's CLI is kept, and a spare starts for the next one.
        wait_until(lambda: len(clis()) == 2, 15, "the kept CLI and a warm spare")
        started = clis()

        wait_until(lambda: icon_centre(env) is not None, 15, "the docked icon")
        icon = icon_centre(env)
        assert icon is not None
        # Running: Start is greyed out, so Down, Down lands on Copy base URL after Stop.
        choose(env, icon, button, ("Down", "Down", "Return"), lambda: clipboard(env) == url)
        wait_until(lambda: f"Copied {url}" in notifications.read_text(), 10, "its notification")

        # Quit is the last item.
        choose(env, icon, button, ("Up", "Return"), lambda: app.poll() is not None)
        _, errors = app.communicate(timeout=30)
    finally:
        if app.poll() is None:  # the session's children hold the pipes: end them all
            for process in [*psutil.Process(app.pid).children(recursive=True), app]:
                with contextlib.suppress(psutil.Error, ProcessLookupError):
                    process.kill()
            app.communicate()
    assert app.returncode == 0, errors
    assert "Traceback" not in errors
    _, alive = psutil.wait_procs(started, timeout=5)
    assert alive == [], "Quit ends the kept CLI and the spare"
    assert not serving(port)
