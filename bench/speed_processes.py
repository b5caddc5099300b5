"""The bench's processes: each proxy as ``python -m proxy_core`` of its own, stopping a process
with its tree, finding CLIs that outlived it, and reading memory (RSS) of a process and its CLIs."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

MB = 1_000_000
SAMPLE_EVERY_S = 0.1
LISTENING = re.compile(r"listening at (http://\S+)")


def live(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    found = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
    return found


def descendants(root: psutil.Process) -> list[psutil.Process]:
    try:
        return live(root.children(recursive=True))
    except psutil.Error:
        return []


def summed_rss(processes: Iterable[psutil.Process]) -> int:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """This environment (already pointing at the simulator) without the user's proxy settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_PROXY_")}
    return {**env, **extra}


def private_dirs(root: Path) -> dict[str, str]:
    dirs = {"CLAUDE_PROXY_CONFIG_DIR": "config", "CLAUDE_PROXY_DATA_DIR": "data"}
    dirs["CLAUDE_PROXY_LOG_DIR"] = "logs"
    for sub in dirs.values():
        (root / sub).mkdir(parents=True, exist_ok=True)
    return {variable: str(root / sub) for variable, sub in dirs.items()}


def launch(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a process with the given environment, its output going to ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command, env=child_environment(env), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def stop_tree(popen: subprocess.Popen[bytes], wait_s: float = 30.0) -> list[psutil.Process]:
    """Terminate a process as a user would and return the descendants that outlived it."""
    tree: list[psutil.Process] = []
    with contextlib.suppress(psutil.Error):
        tree = descendants(psutil.Process(popen.pid))
    popen.terminate()
    try:
        popen.wait(wait_s)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()
    _, alive = psutil.wait_procs(tree, timeout=3)
    left = live(alive)
    for process in left:
        with contextlib.suppress(psutil.Error):
            process.kill()
    return left


def strays(root: Path) -> list[psutil.Process]:
    """Processes still running in a directory under ``root``, as every CLI the bench caused does
    (its cwd is the proxy's private work dir): these outlived their parent. They are ended."""
    found = []
    for process in psutil.process_iter(["cwd"]):
        cwd = process.info.get("cwd")
        if cwd and Path(cwd).is_relative_to(root) and live([process]):
            found.append(process)
            with contextlib.suppress(psutil.Error):
                process.kill()
    return found


class ProxyProcess:
    """``python -m proxy_core`` in a process of its own, set up through its own config file."""

    def __init__(self, name: str, root: Path, config: dict[str, Any]) -> None:
        self.name = name
        self._dirs = private_dirs(root / name)
        config_dir = Path(self._dirs["CLAUDE_PROXY_CONFIG_DIR"])
        (config_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
        self._log = root / name / "proxy.log"
        self._popen: subprocess.Popen[bytes] | None = None
        self.process: psutil.Process | None = None
        self.url = ""

    def start(self) -> ProxyProcess:
        command = [sys.executable, "-m", "proxy_core", "--port", "0"]
        self._popen = launch(command, self._dirs, self._log)
        deadline = time.monotonic() + 30
        while not self.url:
            found = LISTENING.search(self._log.read_text(encoding="utf-8", errors="replace"))
            if found:
                self.url = found[1]
            elif self._popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"proxy {self.name} did not start:\n{self.log_tail()}")
            time.sleep(0.05)
        self.process = psutil.Process(self._popen.pid)
        return self

    def log_tail(self) -> str:
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-20:])

    def stop(self) -> list[psutil.Process]:
        if self._popen is None or self._popen.poll() is not None:
            return []
        return stop_tree(self._popen)


class MemorySampler(threading.Thread):
    """Peak RSS of one process, and of its descendants summed, every SAMPLE_EVERY_S."""

    def __init__(self, process: psutil.Process) -> None:
        super().__init__(daemon=True)
        self._process = process
        self.done = threading.Event()
        self.peak_rss = self.peak_children_rss = self.peak_children = 0

    def run(self) -> None:
        while not self.done.is_set():
            children = descendants(self._process)
            self.peak_rss = max(self.peak_rss, summed_rss([self._process]))
            self.peak_children_rss = max(self.peak_children_rss, summed_rss(children))
            self.peak_children = max(self.peak_children, len(children))
            self.done.wait(SAMPLE_EVERY_S)


def own_rss(process: psutil.Process) -> str:
    return f"{summed_rss([process]) / MB:.1f}"


def clis(process: psutil.Process) -> str:
    children = descendants(process)
    return f"{summed_rss(children) / MB:.1f} ({len(children)} procs)"
