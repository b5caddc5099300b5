"""The tray's Log in to Claude…: a terminal where there is one, else the CLI's browser sign-in.

Kept apart from the pystray glue: it only needs the controller (the CLI's path, the
clipboard, the login check) and a way to tell the person how it ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from proxy_core.backend.cli_status import find_cli
from tray_app.controller import TrayController
from tray_app.login import BrowserLogin

NO_CLI = (
    "No Claude Code CLI was found: this build leaves it out, or the path in Settings… names "
    "nothing. Install Claude Code (https://claude.com/claude-code) or choose its path in "
    "Settings…."
)


class LoginFlow:
    def __init__(
        self,
        controller: TrayController,
        *,
        open_login_terminal: Callable[[str], bool],
        browser_login: Callable[[str], BrowserLogin],
        tell: Callable[[str], None],
    ) -> None:
        self._controller = controller
        self._open_login_terminal = open_login_terminal
        self._browser_login = browser_login
        self._tell = tell  # how it ended, once the sign-in comes back (or does not)

    def start(self) -> str:
        """What the person should do now."""
        cli = find_cli(self._controller.settings.cli_path)
        if cli is None:
            return NO_CLI
        if self._open_login_terminal(cli):
            return "Log in in the terminal that opened; the icon turns green once it works."
        login = self._browser_login(cli)
        address = login.start()
        if address is None:
            login.stop()
            return f"The login did not start: {login.last_words()}"
        self._controller.copy_text(address)
        threading.Thread(target=self._see_through, args=(login,), name="login", daemon=True).start()
        return (
            "Sign in to Claude in the browser that opened. If none did, open the sign-in "
            "address: it is on the clipboard."
        )

    def _see_through(self, login: BrowserLogin) -> None:
        worked = login.finish()
        self._controller.recheck_login()
        if worked and self._controller.state().logged_in:
            message = "Logged in to Claude: the proxy is ready."
        elif worked:
            message = "The login ended, but Claude Code still reports no login; try again."
        else:
            message = f"The login did not finish: {login.last_words()}"
        self._tell(message)
