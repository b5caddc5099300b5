"""Small desktop services the tray needs: the clipboard, opening a folder, a page, a terminal.

The programs started here get ``child_env()``: in a built app, the environment
without the paths that point into the app (its libraries, its GTK modules).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import webbrowser

from proxy_core.frozen import child_env

# Clipboard writers by platform, first available wins.
_CLIPBOARD_COMMANDS = (
    ["pbcopy"],
    ["clip"],
    ["wl-copy"],
    ["xclip", "-selection", "clipboard"],
    ["xsel", "--clipboard", "--input"],
)


def copy_to_clipboard(text: str) -> None:
    for command in _CLIPBOARD_COMMANDS:
        if shutil.which(command[0]):
            # xclip stays behind to serve the selection: it must not hold on to our stdout/stderr.
            subprocess.run(
                command,
                input=text.encode(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
                env=child_env(),
                timeout=10,
            )
            return
    raise OSError("no clipboard tool found (install xclip or wl-clipboard)")


OPENER_VERDICT_S = 2.0


def open_path(path: str) -> bool:
    """Show ``path`` in the desktop's file manager; False when nothing could open it."""
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]
        return True
    opener = shutil.which("open" if sys.platform == "darwin" else "xdg-open")
    if opener is None:
        return False
    process = subprocess.Popen(
        [opener, path],
        env=child_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # xdg-open fails at once (exit 3 or 4) when no application handles folders.
        return process.wait(timeout=OPENER_VERDICT_S) == 0
    except subprocess.TimeoutExpired:
        return True  # still running: it is showing the folder


def open_url(url: str) -> bool:
    """Open ``url`` in the default browser; False when nothing could."""
    if open_path(url):  # the desktop's own opener knows the user's default browser
        return True
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False  # no screen: webbrowser would only find a text browser, with no terminal
    return webbrowser.open(url)


def open_login_terminal(cli: str) -> bool:
    """Open a terminal running `claude auth login`, which stays open after the CLI ends so
    its last words can be read; False when no terminal could be opened."""
    if sys.platform == "darwin":
        command = f'"{cli}" auth login'.replace('"', '\\"')  # AppleScript string escaping
        launcher = ["osascript", "-e", f'tell application "Terminal" to do script "{command}"']
    elif sys.platform == "win32":
        launcher = ["cmd", "/c", "start", "cmd", "/k", f'"{cli}" auth login']
    else:
        terminal = (
            shutil.which("x-terminal-emulator")
            or shutil.which("gnome-terminal")
            or shutil.which("xterm")
        )
        if terminal is None:
            return False
        # The CLI's path goes in as $0, never into the script's text.
        keep_open = '"$0" auth login; echo; printf "Press Enter to close this window. "; read _'
        launcher = [terminal, "-e", "sh", "-c", keep_open, cli]
    try:
        subprocess.Popen(launcher, env=child_env(), start_new_session=True)
    except OSError:
        return False
    return True
