"""Logging in to Claude from the tray, with the CLI the proxy uses: `claude auth login`.

Where a terminal can be opened, the login runs in it, and the terminal stays open
after the CLI ends so its last words can be read. Without one, the CLI runs in the
background: it opens the browser itself and waits for the sign-in to come back to
its local address, which needs no terminal; the sign-in address is read from its
output, for the person to open when no browser appeared.
"""

from __future__ import annotations

import contextlib
import queue
import re
import subprocess
import threading
from collections.abc import Sequence

from proxy_core.frozen import child_env

LOGIN_ARGS = ("auth", "login")
SIGN_IN_ADDRESS = re.compile(r"https://\S+")
ADDRESS_WAIT_S = 20.0
LOGIN_WAIT_S = 600.0  # a person reading a browser page, perhaps finding a password


class BrowserLogin:
    """One `claude auth login` in the background, with what it said."""

    def __init__(self, cli: str, *, args: Sequence[str] = LOGIN_ARGS) -> None:
        self._command = [cli, *args]
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._said: list[str] = []
        self._process: subprocess.Popen[str] | None = None

    def start(self, wait_s: float = ADDRESS_WAIT_S) -> str | None:
        """Start it; the sign-in address once it has printed one, None if it ended first."""
        self._process = subprocess.Popen(
            self._command,
            env=child_env(),
            # Kept open: on end of input the CLI would give up its "paste the code" prompt.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, name="login-output", daemon=True).start()
        try:
            while True:
                line = self._lines.get(timeout=wait_s)
                if line is None:
                    return None
                found = SIGN_IN_ADDRESS.search(line)
                if found:
                    return found.group(0)
        except queue.Empty:
            return None

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        with self._process.stdout as output:
            for line in output:
                self._said.append(line.strip())
                self._lines.put(line)
        self._lines.put(None)

    def finish(self, wait_s: float = LOGIN_WAIT_S) -> bool:
        """Wait for the login to end; True when the CLI says it worked. Never leaves it running."""
        process = self._process
        if process is None:
            return False
        try:
            return process.wait(timeout=wait_s) == 0
        except subprocess.TimeoutExpired:
            return False
        finally:
            self.stop()

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()

    def last_words(self) -> str:
        """What the CLI said last, without its prompts: for a login that did not work."""
        said = [line for line in self._said if line and not line.startswith("Paste code")]
        return said[-1] if said else "the CLI said nothing"
