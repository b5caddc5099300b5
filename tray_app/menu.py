"""The tray menu as plain data: what each item says, whether it is on, what it does.

No pystray here: ``app.py`` turns these items into pystray objects, and tests
read them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy_core.client_setup import RECIPES
from tray_app.state import Phase, TrayState

# "copy_client_setup:<recipe id>": one action per client, each copying one pasteable block.
COPY_SETUP = "copy_client_setup:"


@dataclass(frozen=True)
class Item:
    text: str
    action: str | None = None  # the name of the TrayActions method; None: a label
    enabled: bool = True
    checked: bool | None = None  # None: not a check item
    children: tuple[Item, ...] = ()
    default: bool = False  # what a click on the icon does, where the desktop has such a click


SEPARATOR = Item("-")


def build_menu(state: TrayState) -> tuple[Item, ...]:
    running = state.phase is Phase.RUNNING
    busy = state.phase is Phase.STARTING
    return (
        Item(state.status_line(), enabled=False),
        *((Item(state.quota_words, enabled=False),) if state.quota_words else ()),
        SEPARATOR,
        Item("Start", "start", enabled=state.phase in (Phase.STOPPED, Phase.ERROR)),
        Item("Stop", "stop", enabled=running),
        SEPARATOR,
        Item("Copy base URL", "copy_base_url", enabled=running),
        *(
            (Item("Copy network URL", "copy_network_url", enabled=running),)
            if state.network_urls
            else ()
        ),
        Item("Copy API key", "copy_api_key", enabled=state.api_key_set),
        Item(
            "Copy client setup",
            children=tuple(
                Item(recipe.client, f"{COPY_SETUP}{recipe.id}", enabled=running)
                for recipe in RECIPES
            ),
        ),
        Item("Test connection", "test_connection", enabled=running),
        Item("Open dashboard", "open_dashboard", enabled=running),
        SEPARATOR,
        # Port, key, browser apps, kept conversations, the CLI: one page, not pop-ups. Open
        # on an error too: a port taken at start is changed there.
        Item("Settings…", "open_settings", enabled=not busy, default=True),
        # Reachable from the network only with a key: the subscription would be open otherwise.
        Item(
            "Bind to network (0.0.0.0)",
            "toggle_network",
            enabled=(state.api_key_set or state.network_bound) and not busy,
            checked=state.network_bound,
        ),
        Item("Start at login", "toggle_start_at_login", checked=state.start_at_login),
        SEPARATOR,
        Item("Log in to Claude…", "log_in", enabled=state.logged_in is not True),
        Item("View logs", "view_logs"),
        Item(f"About (auth: {state.auth_mode})", "about"),
        SEPARATOR,
        Item("Quit", "quit"),
    )
