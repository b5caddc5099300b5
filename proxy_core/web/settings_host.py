"""What the settings page needs from the program that runs the server.

The server cannot restart itself, write the tray's keyring or its start-at-login
entry: the tray can. It hands each server it starts a :class:`SettingsHost`; the
headless server has none, and its page only shows the settings (they are the
config file and the environment there, read at start).

A change that needs a restart cannot finish inside the request that asks for it
(the restart ends that very server), so :meth:`SettingsHost.apply` validates,
does what can be done at once, and returns the rest as ``then``: the route runs
it on a thread of its own once the answer is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

KeyAction = Literal["set", "generate", "clear"]
ChangeState = Literal["done", "restarting", "failed"]

# What the page may change, by the JSON type it sends; the host says what each one means.
CHANGEABLE: dict[str, type | tuple[type, ...]] = {
    "port": int,
    "network": bool,
    "cors_origins": list,
    "conversations": int,
    "warm_pool": int,
    "cli_path": (str, type(None)),
    "debug": bool,
    "start_at_login": bool,
}


class NotApplied(Exception):
    """A change that was valid but did not take (a port in use); nothing was changed."""


@dataclass(frozen=True)
class Change:
    """The last change asked for, as the page polls it across a restart."""

    id: int
    state: ChangeState
    message: str

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "state": self.state, "message": self.message}


@dataclass(frozen=True)
class Applied:
    change: Change
    # Where the page continues when the change moved the server (a new port).
    next_url: str | None = None
    # A key the host made: shown to the person once, in this answer only.
    new_key: str | None = None
    # The part that must wait until the answer is sent (a restart of this server).
    then: Callable[[], None] | None = None


class SettingsHost(Protocol):
    @property
    def settings_pass(self) -> str:
        """The secret a page must send to change anything; it lasts as long as the host."""

    def host_values(self) -> Mapping[str, object]:
        """Settings the host keeps itself (start at login) and where the file is."""

    def last_change(self) -> Change | None: ...

    def apply(self, changes: Mapping[str, object]) -> Applied:
        """Raises ConfigError for a value that is not usable, NotApplied for one that did not
        take; in both cases nothing was saved."""

    def change_key(self, action: KeyAction, key: str | None) -> Applied: ...

    def quit(self) -> Applied:
        """End the program that runs the server (the page of an app with no menu has the
        only Quit); done in ``then``, after the answer."""
