"""The tray app's own memory once idle, measured on this desktop or on a virtual screen."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from speed_processes import descendants, launch, private_dirs, stop_tree
from speed_settle import settle


@dataclass
class TrayResult:
    rss: int | None = None
    uss: int = 0
    note: str = ""
    left: list[psutil.Process] = field(default_factory=list)


def stop_quietly(popen: subprocess.Popen[bytes]) -> None:
    popen.terminate()
    try:
        popen.wait(5)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


def read_line(stream: int, limit_s: float) -> str:
    """One line from a pipe, read to its end: a writer whose reader is gone may die of it."""
    data, deadline = b"", time.monotonic() + limit_s
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(stream, 256) if ready else b""
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def helper(helpers: contextlib.ExitStack, command: list[str], **options: Any) -> None:
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options
    )
    helpers.callback(stop_quietly, process)


def desktop(helpers: contextlib.ExitStack) -> dict[str, str] | None:
    """This desktop, or else a virtual screen with a tray host, a session bus and a notification
    daemon: the tray app then loads what it loads on a desktop."""
    if os.environ.get("DISPLAY") or sys.platform != "linux":
        return {}
    xvfb, dbus = shutil.which("Xvfb"), shutil.which("dbus-daemon")
    if xvfb is None or dbus is None:
        return None
    read_end, write_end = os.pipe()
    screen = ["-screen", "0", "640x480x24", "-nolisten", "tcp"]
    helper(helpers, [xvfb, "-displayfd", str(write_end), *screen], pass_fds=(write_end,))
    os.close(write_end)
    number = read_line(read_end, 10)
    os.close(read_end)
    read_end, write_end = os.pipe()
    bus = [dbus, "--session", "--nofork", f"--print-address={write_end}"]
    helper(helpers, bus, pass_fds=(write_end,))
    os.close(write_end)
    address = read_line(read_end, 10)
    os.close(read_end)
    if not number or not address:
        return None
    env = {"DISPLAY": f":{number}", "DBUS_SESSION_BUS_ADDRESS": address}
    tray_host = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request"]
    for command in (tray_host, ["dunst"]):
        if shutil.which(command[0]):
            helper(helpers, command, env={**os.environ, **env})
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_until_serving(url: str, popen: subprocess.Popen[bytes], limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while popen.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return True
            await asyncio.sleep(0.1)
    return False


def gui_toolkit(process: psutil.Process) -> str:
    maps = [m.path for m in process.memory_maps()]
    return "GTK" if any("libgtk-3" in path for path in maps) else "Xlib"


async def tray_idle(root: Path, idle_s: float, *, preload_sdk: bool = True) -> TrayResult:
    """`python -m tray_app` on a (virtual) screen, with its defaults or with the SDK left
    unloaded until a first request (``preload_sdk``): its own RSS once idle."""
    with contextlib.ExitStack() as helpers:
        screen = desktop(helpers)
        if screen is None:
            return TrayResult(note="not measured: no DISPLAY, and no Xvfb or dbus-daemon")
        where = "on Xvfb" if screen else "on this desktop"
        port = free_port()
        env = {
            **private_dirs(root / "tray"),
            **screen,
            "CLAUDE_PROXY_PORT": str(port),
            "CLAUDE_PROXY_PRELOAD_SDK": "1" if preload_sdk else "0",
            # Never touch the user's keyring; the module is imported all the same.
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "NO_AT_BRIDGE": "1",
        }
        log_path = root / "tray" / f"output-{int(preload_sdk)}.log"
        popen = launch([sys.executable, "-m", "tray_app"], env, log_path)
        try:
            process = psutil.Process(popen.pid)
            if not await wait_until_serving(f"http://127.0.0.1:{port}/health", popen, 60):
                last = (log_path.read_text(errors="replace").strip().splitlines() or [""])[-1]
                return TrayResult(note=f"not measured: its server did not start: {last}")
            await settle([process], idle_s)
            if "running headless" in log_path.read_text(errors="replace"):
                return TrayResult(note="not measured: no tray came up, the app ran headless")
            rss, uss = process.memory_info().rss, process.memory_full_info().uss
            clis = len(descendants(process))
            toolkit = gui_toolkit(process)
            note = f"python -m tray_app {where}, pystray on {toolkit}; {clis} child processes"
        finally:
            left = stop_tree(popen)
        return TrayResult(rss, uss, note, left)
