"""What the tray shows, as one immutable snapshot taken from the running proxy.

The menu and the icon are pure functions of this snapshot, so they can be
tested without a display and redrawn only when the snapshot changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Phase(Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    ERROR = "error"


@dataclass(frozen=True)
class TrayState:
    phase: Phase
    base_url: str
    error: str | None = None
    # None until `claude auth status` has answered.
    logged_in: bool | None = None
    auth_mode: str = "subscription"
    billing_warning: str | None = None
    api_key_set: bool = False
    network_bound: bool = False
    start_at_login: bool = False
    # Web-page origins allowed to call the proxy from a browser (CORS).
    browser_origins: tuple[str, ...] = ()

    @property
    def needs_attention(self) -> bool:
        return (
            self.phase is Phase.ERROR or self.logged_in is False or self.billing_warning is not None
        )

    def status_line(self) -> str:
        """The first line of the menu: what a person most needs to know, in a few words."""
        if self.phase is Phase.ERROR:
            return f"Error: {self.error or 'the proxy stopped'}"
        if self.phase is Phase.STARTING:
            return "Starting…"
        if self.phase is Phase.STOPPED:
            return "Stopped"
        if self.logged_in is False:
            return "Not logged in to Claude"
        if self.billing_warning:
            return "Billing warning: requests refused as extra usage"
        return f"Running on {self.base_url}"
