"""What the tray shows, as one immutable snapshot taken from the running proxy.

The menu and the icon are pure functions of this snapshot, so they can be
tested without a display and redrawn only when the snapshot changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from proxy_core.backend.environment import AUTH_MODE_SUBSCRIPTION

QUOTA_WARNING_AT = 0.8


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
    # False when no Claude Code CLI was found at all (None: not checked yet).
    cli_found: bool | None = None
    auth_mode: str = AUTH_MODE_SUBSCRIPTION
    billing_warning: str | None = None
    api_key_set: bool = False
    network_bound: bool = False
    # When bound to the network: the URLs other machines would use.
    network_urls: tuple[str, ...] = ()
    start_at_login: bool = False
    # Web-page origins allowed to call the proxy from a browser (CORS).
    browser_origins: tuple[str, ...] = ()
    # The subscription's windows in a few words ("5 h 42% · resets 14:10 · 7 d 13%").
    quota_words: str | None = None
    # The fullest window's used fraction (1.0 when one is used up).
    quota_used: float = 0.0

    @property
    def quota_warning(self) -> bool:
        """A window is nearly used up: the icon turns amber."""
        return self.quota_used >= QUOTA_WARNING_AT

    @property
    def needs_attention(self) -> bool:
        return (
            self.phase is Phase.ERROR
            or self.logged_in is False
            or self.cli_found is False
            or self.billing_warning is not None
            or self.quota_used >= 1.0
        )

    @property
    def login_unsettled(self) -> bool:
        """Running without a usable login yet: worth asking the CLI again soon."""
        return self.phase is Phase.RUNNING and self.logged_in is not True

    def status_line(self) -> str:
        """The first line of the menu: what a person most needs to know, in a few words."""
        if self.phase is Phase.ERROR:
            return f"Error: {self.error or 'the proxy stopped'}"
        if self.phase is Phase.STARTING:
            return "Starting…"
        if self.phase is Phase.STOPPED:
            return "Stopped"
        if self.cli_found is False:
            return "Claude Code CLI not found: install it, or set its path"
        if self.logged_in is False:
            return "Not logged in to Claude"
        if self.billing_warning:
            return "Billing warning: requests refused as extra usage"
        if self.quota_used >= 1.0:
            return "A subscription limit is used up: see the dashboard"
        where = self.base_url
        if self.network_urls:
            where = f"{self.network_urls[0]} (network) and {self.base_url}"
        if self.auth_mode != AUTH_MODE_SUBSCRIPTION:
            return f"Running on {where}, billing an API key"
        return f"Running on {where}"
