"""pystray's icon class, with clicks on the plain X11 icon made to arrive.

pystray 0.19.5's X11 backend (the one a Linux install without PyGObject gets) handles
a left click by running the menu's default item, but creates its icon window without
asking the X server for button presses, so no click ever reaches it (pystray issue
#151, "clicking does nothing"). Without a menu, that click is the icon's only action:
here it opens the settings page. The subclass asks for the presses as well.
"""

from __future__ import annotations

from typing import Any

import pystray


def tray_icon_class() -> Any:
    """``pystray.Icon``, or on pystray's X11 backend a subclass whose icon takes clicks."""
    if pystray.Icon.__module__ != "pystray._xorg":
        return pystray.Icon
    import Xlib.X  # comes with pystray on Linux

    class ClickableXorgIcon(pystray.Icon):  # type: ignore[misc]
        def _create_window(self) -> Any:
            window = super()._create_window()
            window.change_attributes(
                event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask
            )
            return window

    return ClickableXorgIcon
