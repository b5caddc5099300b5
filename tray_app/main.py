"""Start the tray app: one instance, logs to a file, the server in its own thread.

Without a usable tray (no display, no tray host) it says so and serves headless,
so the proxy still works and is controlled through its HTTP endpoints.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from proxy_core import cli as headless
from proxy_core.backend.environment import drop_parent_session_variables
from proxy_core.config import (
    ConfigError,
    config_file_path,
    load_settings,
    user_config_dir,
    user_data_dir,
    user_log_dir,
)
from proxy_core.frozen import prepare_environment
from proxy_core.log import configure_logging
from proxy_core.version import __version__

log = logging.getLogger("tray_app")

DOOR_FILE = "tray-door.json"  # beside the lock: where a second launch finds the running app


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="claude-sdk-proxy-tray", description="The Claude SDK Proxy tray app."
    )
    parser.add_argument("--headless", action="store_true", help="run the server without a tray")
    parser.add_argument("-p", "--port", type=int, help="listen port (default 3456)")
    parser.add_argument("-H", "--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("-d", "--debug", action="store_true", default=None, help="debug logging")
    parser.add_argument(
        "-v", "--version", action="version", version=f"claude-sdk-proxy {__version__}"
    )
    return parser.parse_args(argv)


def _headless_argv(args: argparse.Namespace) -> list[str]:
    argv = []
    if args.port is not None:
        argv += ["--port", str(args.port)]
    if args.host:
        argv += ["--host", args.host]
    if args.debug:
        argv.append("--debug")
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_environment()  # before anything starts a child process
    if args.headless:
        return headless.main(_headless_argv(args))
    from tray_app.instance import InstanceDoor, SingleInstance

    instance = SingleInstance(user_data_dir() / "tray.lock")
    door_file = user_data_dir() / DOOR_FILE
    if not instance.acquire():
        return _second_launch(door_file)
    drop_parent_session_variables(os.environ)
    try:
        settings = load_settings(
            overrides={"port": args.port, "host": args.host, "debug": args.debug}
        )
    except ConfigError as error:
        print(f"claude-sdk-proxy-tray: error: {error}", file=sys.stderr)
        return 2
    configure_logging(debug=settings.debug, log_file=user_log_dir() / "tray.log")
    try:
        from tray_app.app import TrayApp  # imports pystray, which needs a display
    except Exception as error:  # pystray raises various errors when no backend works
        log.warning("No system tray is available (%s); serving without one", error)
        print(f"No system tray available ({error}); running headless.", file=sys.stderr)
        return headless.main(_headless_argv(args))
    from tray_app.autostart import for_this_platform
    from tray_app.clickable_icon import tray_icon_class
    from tray_app.controller import TrayController
    from tray_app.desktop import copy_to_clipboard, open_login_terminal, open_path, open_url
    from tray_app.secrets import KeyStore

    controller = TrayController(
        settings,
        config_path=config_file_path(),
        keys=KeyStore(user_config_dir() / "api-key"),
        autostart=for_this_platform(),
        copy=copy_to_clipboard,
    )
    app = TrayApp(
        controller,
        open_path=open_path,
        log_dir=str(user_log_dir()),
        open_login_terminal=open_login_terminal,
        open_url=open_url,
        icon_class=tray_icon_class(),
    )
    log.info("claude-sdk-proxy %s tray starting", __version__)
    door = InstanceDoor(door_file, app.show_yourself)
    # A logout or `kill` ends the icon's loop, so the server stops cleanly and ends its CLIs.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: app.icon.stop())
    try:
        app.run()
    finally:
        door.close()
        controller.stop()
    return 0


def _second_launch(door_file: Path) -> int:
    """Another launch while one runs: that one shows itself, and says where it is."""
    from tray_app.instance import knock

    answer = knock(door_file)
    if answer is None:
        print(
            "claude-sdk-proxy-tray is already running but did not answer; its log is "
            f"{user_log_dir() / 'tray.log'}.",
            file=sys.stderr,
        )
        return 1
    print(answer)
    return 0
