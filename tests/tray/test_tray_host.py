"""Whether the desktop can show the icon and its menu: the verdict's rules, and the real X tray."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tray.xvfb import desktop_session
from tray_app import tray_host
from tray_app.tray_host import NO_MENU, NO_TRAY_HOST, Lack, backend_name, what_the_desktop_lacks


class MenuIcon:
    HAS_MENU = True


class MenulessIcon:
    HAS_MENU = False


def answers(monkeypatch: pytest.MonkeyPatch, *present: bool | None) -> list[str]:
    """tray_host_present answers these in turn (the last one from then on)."""
    asked: list[str] = []

    def present_now(backend: str) -> bool | None:
        asked.append(backend)
        return present[min(len(asked), len(present)) - 1]

    monkeypatch.setattr(tray_host, "tray_host_present", present_now)
    return asked


def test_no_tray_host_within_the_grace_opens_the_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asked = answers(monkeypatch, False)
    started = time.monotonic()
    lack = what_the_desktop_lacks(MenuIcon(), tmp_path / "told", grace_s=0.3, poll_s=0.05)
    assert lack == Lack(NO_TRAY_HOST, open_page=True)
    assert time.monotonic() - started >= 0.3 and len(asked) > 2, "it waited for a late panel"


def test_a_panel_that_comes_up_late_is_waited_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answers(monkeypatch, False, False, True)
    assert what_the_desktop_lacks(MenuIcon(), tmp_path / "told", grace_s=5, poll_s=0.01) is None


def test_what_cannot_be_told_is_not_claimed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answers(monkeypatch, None)  # macOS, Windows, or no way to ask
    assert what_the_desktop_lacks(MenuIcon(), tmp_path / "told", grace_s=5) is None


def test_a_missing_menu_opens_the_page_only_the_first_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answers(monkeypatch, True)
    told = tmp_path / "data" / "told"
    assert what_the_desktop_lacks(MenulessIcon(), told) == Lack(NO_MENU, open_page=True)
    assert what_the_desktop_lacks(MenulessIcon(), told) == Lack(NO_MENU, open_page=False)


def test_the_backend_is_named_from_pystrays_module() -> None:
    xorg = type("Icon", (), {"__module__": "pystray._xorg"})
    appindicator = type("Icon", (), {"__module__": "pystray._appindicator"})
    subclass = type("Recording", (appindicator,), {"__module__": "tests.anything"})
    assert backend_name(xorg()) == "xorg"
    assert backend_name(subclass()) == "appindicator"
    assert backend_name(MenuIcon()) == ""
    assert tray_host.tray_host_present("darwin") is None


ASK = (
    "import sys; from tray_app.tray_host import tray_host_present;"
    "print(tray_host_present(sys.argv[1]))"
)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not (shutil.which("Xvfb") and shutil.which("trayer")),
    reason="needs Linux with Xvfb and trayer (Debian xvfb, trayer; see .ci/run)",
)
@pytest.mark.parametrize("with_panel", [True, False])
def test_the_real_x_tray_is_seen_or_missed(with_panel: bool) -> None:
    with desktop_session(tray_host=with_panel) as env:
        env = {**env, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}
        said = {
            backend: subprocess.run(
                [sys.executable, "-c", ASK, backend],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                cwd=Path.cwd(),
            ).stdout.strip()
            for backend in ("xorg", "gtk", "appindicator")
        }
    expected = str(with_panel)
    # With no session bus, appindicator's own watcher cannot be asked: X decides alone.
    assert said == {"xorg": expected, "gtk": expected, "appindicator": expected}
