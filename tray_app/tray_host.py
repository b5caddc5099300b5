"""Whether a Linux desktop has somewhere to show the icon, and whether the icon has a menu.

pystray shows the icon by one of two standards: the XEmbed system tray (an X
selection a panel owns; pystray's ``xorg`` and ``gtk`` backends) or the
StatusNotifier one (a D-Bus name; ``appindicator``, which falls back to XEmbed
when no watcher runs). A desktop with neither (stock GNOME without its
AppIndicator extension, a bare window manager) shows nothing at all, and a person
would have a running app they can neither see nor quit. macOS and Windows always
have a place for it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATUS_NOTIFIER_WATCHER = "org.kde.StatusNotifierWatcher"


def backend_name(icon: Any) -> str:
    """pystray's backend of ``icon``: xorg, gtk, appindicator, darwin, win32; "" for none."""
    for kind in type(icon).__mro__:
        module = kind.__module__
        if module.startswith("pystray._") and module not in ("pystray._base", "pystray._dummy"):
            return module.removeprefix("pystray._")
    return ""


def tray_host_present(backend: str) -> bool | None:
    """True or False where it can be told, None where it cannot (or need not) be."""
    if not sys.platform.startswith("linux") or backend not in ("xorg", "gtk", "appindicator"):
        return None
    xembed = _xembed_tray_present()
    if xembed or backend != "appindicator":
        return xembed
    watcher = _status_notifier_watcher_present()
    return xembed if watcher is None else watcher


def _xembed_tray_present() -> bool | None:
    """Whether a panel owns the XEmbed tray selection of the default screen."""
    try:
        import Xlib.display
        import Xlib.X
    except ImportError:
        return None
    try:
        display = Xlib.display.Display()
    except Exception:  # no X display (Wayland only), or one we may not open
        return None
    try:
        selection = display.intern_atom(f"_NET_SYSTEM_TRAY_S{display.get_default_screen()}")
        return bool(display.get_selection_owner(selection) != Xlib.X.NONE)
    except Exception:
        log.debug("Could not ask X for its tray", exc_info=True)
        return None
    finally:
        with contextlib.suppress(Exception):
            display.close()


def _status_notifier_watcher_present() -> bool | None:
    """Whether something on the session bus gathers StatusNotifier icons (a panel)."""
    try:
        from gi.repository import Gio, GLib
    except ImportError:
        return None
    try:
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        reply = bus.call_sync(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            GLib.Variant("(s)", (STATUS_NOTIFIER_WATCHER,)),
            GLib.VariantType("(b)"),
            Gio.DBusCallFlags.NONE,
            2000,
            None,
        )
    except Exception:  # no session bus
        log.debug("Could not ask the session bus for a tray", exc_info=True)
        return None
    return bool(reply.unpack()[0])


NO_TRAY_HOST = (
    "This desktop has no system tray, so the Claude SDK Proxy icon cannot be shown; the proxy "
    "runs anyway, and this page is its window: Quit is under This app. For the icon, add a "
    "system tray to the panel (GNOME: the AppIndicator extension, Debian's "
    "gnome-shell-extension-appindicator), then start the app again."
)
NO_MENU = (
    "This desktop shows the icon without a menu (pystray's plain X11 icon, used when PyGObject "
    "is missing): a click on the icon opens this page, where Quit is under This app. For the "
    "full menu, install the app's own build, or PyGObject: Debian's libgirepository1.0-dev and "
    "libcairo2-dev, then pip install 'claude-sdk-proxy[gtk]'."
)
TRAY_HOST_GRACE_S = 10.0  # started at login, the app may come up a few seconds before the panel
TRAY_HOST_POLL_S = 0.5


@dataclass(frozen=True)
class Lack:
    """What a person must be told about this desktop, and whether to open the page for it."""

    note: str
    open_page: bool


def what_the_desktop_lacks(
    icon: Any,
    told_before: Path,
    *,
    grace_s: float = TRAY_HOST_GRACE_S,
    poll_s: float = TRAY_HOST_POLL_S,
) -> Lack | None:
    """Blocks up to ``grace_s`` for a tray host to appear. With none, the page is the app's only
    face, so it opens at every start; an icon without a menu still opens the page when clicked,
    so the page opens for it only the first time (``told_before`` records that)."""
    backend = backend_name(icon)
    deadline = time.monotonic() + grace_s
    present = tray_host_present(backend)
    while present is False and time.monotonic() < deadline:
        time.sleep(poll_s)
        present = tray_host_present(backend)
    if present is False:
        return Lack(NO_TRAY_HOST, open_page=True)
    if getattr(icon, "HAS_MENU", True):
        return None
    first_time = not told_before.exists()
    with contextlib.suppress(OSError):
        told_before.parent.mkdir(parents=True, exist_ok=True)
        told_before.touch()
    return Lack(NO_MENU, open_page=first_time)
