"""The tray's side of the settings page: what a change means, and when it is done.

The page (proxy_core/web/settings_routes.py) sends what a person changed; this
turns it into settings, applies them through the controller and keeps the last
change's outcome for the page to poll, because a restart ends the server that
took the request. The rules:

- A new port is started beside the running server first; only once it listens is
  it saved, and the page continues at the new address. A port in use changes
  nothing and says what holds it.
- Anything else the server reads at start restarts it on the same port after the
  answer is sent; it is saved only once the server runs with it.
- Start at login (the controller's) and the key's place in the keyring need no restart of
  their own.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from proxy_core.config import ConfigError, Settings
from proxy_core.log import set_debug
from proxy_core.web.settings_host import Applied, Change, ChangeState, KeyAction, NotApplied
from tray_app.secrets import generate_key

if TYPE_CHECKING:
    from tray_app.controller import TrayController

SHORTEST_KEY = 8
NEEDS_KEY_FOR_NETWORK = (
    "Set an API key first: without one, anyone on the network could use your subscription."
)
NEEDS_KEY_FOR_EVERY_PAGE = (
    "Set an API key first: '*' would let every web page you visit use your subscription."
)


class TraySettings:
    """A :class:`proxy_core.web.settings_host.SettingsHost` for the tray's servers."""

    def __init__(self, controller: TrayController, *, config_path: Path) -> None:
        self._controller = controller
        self._config_path = config_path
        # Lasts as long as the tray runs: restarts and port changes keep it.
        self._pass = secrets.token_urlsafe(32)
        self._ids = itertools.count(1)
        self._record_lock = threading.Lock()
        self._change: Change | None = None
        # Set by the tray app: what its desktop cannot show, and how it quits.
        self.desktop_note: str | None = None
        self.on_quit: Callable[[], None] | None = None

    @property
    def settings_pass(self) -> str:
        return self._pass

    def host_values(self) -> Mapping[str, object]:
        return {
            "start_at_login": self._controller.starts_at_login(),
            "config_path": str(self._config_path),
            "desktop_note": self.desktop_note,
        }

    def last_change(self) -> Change | None:
        return self._change

    # -- settings --------------------------------------------------------------------
    def apply(self, changes: Mapping[str, object]) -> Applied:
        controller = self._controller
        wanted_changes = dict(changes)
        start_at_login = wanted_changes.pop("start_at_login", None)
        if "network" in wanted_changes:
            network = wanted_changes.pop("network")
            wanted_changes["host"] = "0.0.0.0" if network else "127.0.0.1"
        self._refuse_exposure(wanted_changes)
        self._refuse_missing_cli(wanted_changes.get("cli_path"))
        wanted = controller.plan(wanted_changes)
        differing = {
            name: value
            for name, value in wanted_changes.items()
            if getattr(wanted, name) != self._running_value(name)
        }
        said = []
        if start_at_login is not None and start_at_login != controller.starts_at_login():
            said.append(f"{controller.set_start_at_login(bool(start_at_login))}.")
        if not differing:
            return Applied(
                self._record(
                    "done", " ".join(said) or "The proxy already runs with these settings."
                )
            )
        if "port" in differing:
            return self._move(wanted, differing, said)
        change = self._record("restarting", "Restarting with the new settings…")
        return Applied(
            change,
            then=self._guarded(
                change.id, lambda: self._restart(change.id, wanted, differing, said)
            ),
        )

    def _running_value(self, name: str) -> object:
        if name == "port":  # the one it listens on (a configured 0 means any)
            return self._controller.server.port
        return getattr(self._controller.settings, name)

    def _refuse_exposure(self, changes: Mapping[str, object]) -> None:
        """The server would refuse to start these; say why in the person's words."""
        if self._controller.settings.api_key:
            return
        if changes.get("host") == "0.0.0.0":
            raise ConfigError(NEEDS_KEY_FOR_NETWORK)
        origins = changes.get("cors_origins")
        if isinstance(origins, list) and "*" in origins:
            raise ConfigError(NEEDS_KEY_FOR_EVERY_PAGE)

    def _refuse_missing_cli(self, cli_path: object) -> None:
        """A CLI path that names nothing runnable would fail every request; say so now."""
        if not isinstance(cli_path, str) or not cli_path:
            return
        path = Path(cli_path).expanduser()
        if not path.is_file() or not os.access(path, os.X_OK):
            raise ConfigError(
                f"No program at {cli_path}: give the full path of a claude executable, or leave "
                "it empty to use the one this app was tested with."
            )

    def _move(self, wanted: Settings, changes: Mapping[str, object], said: list[str]) -> Applied:
        controller = self._controller
        before = controller.server.base_url
        try:
            previous = controller.move_to(wanted, changes)
        except NotApplied as error:
            self._record("failed", str(error))
            raise NotApplied(
                f"Port {wanted.port} was not used: {error}. Nothing was changed; the proxy still "
                f"runs on {before}."
            ) from None
        self._after_change(changes)
        said.append(f"Now on {controller.server.base_url}; {before} has stopped.")
        return Applied(
            self._record("done", " ".join(said)),
            next_url=controller.server.settings_url(),
            then=previous.stop,
        )

    def _restart(
        self, change_id: int, wanted: Settings, changes: Mapping[str, object], said: list[str]
    ) -> None:
        failure = self._controller.restart_if_it_takes(wanted, changes)
        if failure is not None:
            self._record("failed", f"Not changed: {failure}.", change_id)
            return
        self._after_change(changes)
        self._record("done", " ".join([*said, "Saved and running with them."]), change_id)

    def _after_change(self, changes: Mapping[str, object]) -> None:
        if "debug" in changes:  # the log's level is the process's, not the server's
            set_debug(bool(changes["debug"]))

    def quit(self) -> Applied:
        if self.on_quit is None:
            raise NotApplied("This app cannot be quit from its page; use its menu.")
        return Applied(self._record("done", "Claude SDK Proxy has quit."), then=self.on_quit)

    # -- the API key ---------------------------------------------------------------------
    def change_key(self, action: KeyAction, key: str | None) -> Applied:
        controller = self._controller
        if action == "clear":
            settings = controller.settings
            if not settings.is_loopback_only:
                raise NotApplied(
                    "The proxy is open to the network: switch Bind to network off before "
                    "removing the key."
                )
            if "*" in settings.cors_origins:
                raise NotApplied(
                    "Every web page is allowed in ('*'): name the browser apps before removing "
                    "the key."
                )
            new_key = None
        elif action == "generate":
            new_key = generate_key()
        else:
            new_key = self._usable_key(key)
        return self._restart_with_key(new_key, shown=new_key if action == "generate" else None)

    def _usable_key(self, key: str | None) -> str:
        key = (key or "").strip()
        if len(key) < SHORTEST_KEY:
            raise ConfigError(f"An API key needs at least {SHORTEST_KEY} characters.")
        if any(character.isspace() or not character.isprintable() for character in key):
            raise ConfigError("An API key cannot hold spaces or control characters.")
        return key

    def _restart_with_key(self, key: str | None, *, shown: str | None) -> Applied:
        controller = self._controller
        before = controller.settings.api_key
        where = controller.store_key(key)
        wanted = replace(controller.plan({}), api_key=key)  # plan: where it listens now
        done = (
            f"API key saved in {where}; clients must now send it."
            if key
            else "API key removed; only this machine can reach the proxy."
        )
        change = self._record("restarting", "Restarting with the new key…")

        def restart() -> None:
            failure = controller.restart_if_it_takes(wanted, {})
            if failure is None:
                self._record("done", done, change.id)
                return
            controller.store_key(before)  # the key that works stays the kept one
            self._record("failed", f"Key not changed: {failure}.", change.id)

        return Applied(change, new_key=shown, then=self._guarded(change.id, restart))

    # -- the record the page polls --------------------------------------------------------
    def _guarded(self, change_id: int, work: Callable[[], None]) -> Callable[[], None]:
        """A restart that raised must not leave the page waiting for it forever."""

        def run() -> None:
            try:
                work()
            except Exception:
                self._record("failed", "The change failed; the log says why.", change_id)
                raise

        return run

    def _record(self, state: ChangeState, message: str, change_id: int | None = None) -> Change:
        with self._record_lock:
            change = Change(next(self._ids) if change_id is None else change_id, state, message)
            self._change = change
            return change
