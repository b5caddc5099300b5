"""A virtual screen with a real tray host (Xvfb + trayer), for tests that need a desktop."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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


@contextlib.contextmanager
def desktop_session(*, tray_host: bool = True) -> Iterator[dict[str, str]]:
    """A virtual screen, with a panel holding a system tray unless ``tray_host`` is False."""
    display = free_display()
    env = {**os.environ, "DISPLAY": display, "NO_AT_BRIDGE": "1"}
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    panel = None
    try:
        wait_until(
            lambda: subprocess.run(["xdpyinfo"], env=env, capture_output=True).returncode == 0,
            10,
            "Xvfb",
        )
        if not tray_host:
            yield env
            return
        panel = subprocess.Popen(
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
        for process in (panel, xvfb):
            if process is not None:
                process.terminate()
                process.wait(10)
