"""The pystray glue: the menu model becomes pystray items, clicks become controller calls.

pystray's icon owns the main thread (macOS requires it). Actions that can take
seconds (start, stop, a test request) run on a worker thread so the menu never
freezes; when one finishes, the icon and menu are refreshed through
:meth:`TrayApp.refresh`, the one place that touches pystray after start-up.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

import pystray

from proxy_core.backend.environment import AUTH_MODE_SUBSCRIPTION
from proxy_core.usage.quota import Crossing
from proxy_core.web.settings_host import NotApplied
from tray_app.controller import TrayController
from tray_app.icons import icon_image
from tray_app.login import BrowserLogin
from tray_app.login_flow import NO_CLI, LoginFlow
from tray_app.menu import COPY_SETUP, SEPARATOR, Item, build_menu
from tray_app.state import Phase, TrayState
from tray_app.tray_host import what_the_desktop_lacks

log = logging.getLogger(__name__)

APP_TITLE = "Claude SDK Proxy"
LOGIN_RECHECK_S = 300.0  # `claude auth status` is local and takes ~0.2 s
UNSETTLED_RECHECK_S = 5.0
STATE_LOOK_S = 1.0  # reading the state is a snapshot of the server's, and nearly free
TOLD_ABOUT_NO_MENU = "told-about-the-missing-menu"  # in the data folder, once per machine

NOT_LOGGED_IN = (
    "Not logged in to Claude yet: choose Log in to Claude… in this menu, and sign in with "
    "your Claude account."
)

# pystray's X11 backend hands each update to the icon's loop over one X connection shared
# with the calling thread, which is unsafe when two of our threads do so at once.
_ui_lock = threading.Lock()


def on_ui_thread(function: Callable[[], None]) -> None:
    """Run a pystray update where the platform allows it: AppKit only on the main thread."""
    if sys.platform == "darwin":
        from PyObjCTools import AppHelper  # pyobjc comes with pystray on macOS

        AppHelper.callAfter(function)
        return
    with _ui_lock:  # the other backends accept updates from any thread, one at a time
        function()


def _image(state: TrayState) -> Any:
    return icon_image(
        state.phase,
        attention=state.needs_attention,
        warning=state.quota_warning,
        api_key=state.auth_mode != AUTH_MODE_SUBSCRIPTION,
    )


class TrayApp:
    def __init__(
        self,
        controller: TrayController,
        *,
        open_path: Callable[[str], bool],
        log_dir: str,
        open_login_terminal: Callable[[str], bool] = lambda cli: False,
        open_url: Callable[[str], bool] = lambda url: False,
        browser_login: Callable[[str], BrowserLogin] = BrowserLogin,
        icon_class: Any = pystray.Icon,
    ) -> None:
        self._controller = controller
        self._open_url = open_url
        self._open_path = open_path
        self._login = LoginFlow(
            controller,
            open_login_terminal=open_login_terminal,
            browser_login=browser_login,
            tell=self._tell_from_a_worker,
        )
        self._told_first_step = False
        self._log_dir = log_dir
        self._shown: TrayState | None = None
        self._lock = threading.Lock()
        self._refresh_lock = threading.RLock()
        state = controller.state()
        self.icon = icon_class(
            "claude-sdk-proxy", _image(state), APP_TITLE, menu=self._pystray_menu(state)
        )
        controller.quota_listeners.append(self._tell_quota)
        controller.settings_page.on_quit = self._quit_from_the_page

    # -- model -> pystray -----------------------------------------------------------------
    def _pystray_menu(self, state: TrayState) -> pystray.Menu:
        return pystray.Menu(*(self._pystray_item(item) for item in build_menu(state)))

    def _pystray_item(self, item: Item) -> Any:
        if item is SEPARATOR:
            return pystray.Menu.SEPARATOR
        if item.children:
            return pystray.MenuItem(
                item.text, pystray.Menu(*(self._pystray_item(c) for c in item.children))
            )
        action = item.action
        return pystray.MenuItem(
            item.text,
            (lambda icon, menu_item: self.dispatch(action)) if action else None,
            enabled=item.enabled,
            checked=(lambda _: bool(item.checked)) if item.checked is not None else None,
            default=item.default,
        )

    # -- actions -----------------------------------------------------------------------------
    def dispatch(self, action: str | None, *, wait: bool = False) -> threading.Thread | None:
        """Run a menu action off the UI thread; ``wait`` joins it (tests, quit)."""
        if action is None:
            return None
        worker = threading.Thread(target=self._run_action, args=(action,), daemon=True)
        worker.start()
        if wait:
            worker.join()
        return worker

    def _run_action(self, action: str) -> None:
        with self._lock:  # one action at a time: they restart servers and rewrite files
            try:
                message = self._perform(action)
            except Exception:  # a menu click must never take the tray down
                log.exception("Tray action %s failed", action)
                message = f"{action.replace('_', ' ')} failed; see the log"
            on_ui_thread(self.refresh)
            if message:
                on_ui_thread(lambda: self.notify(message))

    def _perform(self, action: str) -> str | None:
        controller = self._controller
        if action == "quit":
            controller.stop()
            self.icon.stop()
            return None
        if action.startswith(COPY_SETUP):
            return controller.copy_client_setup(action.removeprefix(COPY_SETUP))
        if action == "view_logs":
            if self._open_path(self._log_dir):
                return None
            controller.copy_text(self._log_dir)
            return f"No file manager could open the logs; their folder is {self._log_dir} (copied)."
        if action == "log_in":
            return self._login.start()
        if action == "open_dashboard":
            return self._open_page(controller.dashboard_url(), "the dashboard", "/dashboard")
        if action == "open_settings":
            return self._open_settings()
        if action == "about":
            return f"{APP_TITLE} {controller.about()}"
        method: Callable[[], str] = getattr(controller, action)
        return method()

    def _open_settings(self) -> str | None:
        try:
            url, note = self._controller.settings_url()
        except NotApplied as error:
            return str(error)
        opened = self._open_page(url, "settings", "/settings")
        return " ".join(part for part in (note, opened) if part) or None

    def _open_page(self, url: str, what: str, path: str) -> str | None:
        """In the default browser; without one, the plain address (no ticket) is copied."""
        if self._open_url(url):
            return None
        plain = f"{self._controller.server.base_url}{path}"
        self._controller.copy_text(plain)
        return f"No browser could be opened; {what} is at {plain} (copied)."

    def _tell_quota(self, crossing: Crossing) -> None:
        """When a window crosses 80 %, 95 % or is used up. Called on the server's loop, which a
        notification (a D-Bus call) must not hold up: told from a thread of its own."""
        threading.Thread(
            target=self._tell_from_a_worker,
            args=(crossing.message(),),
            name="quota-notice",
            daemon=True,
        ).start()

    # -- pystray state -----------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw icon and menu, only when the state really changed (menus close on redraw)."""
        with self._refresh_lock:  # called from the UI, the state watch and the server's thread
            state = self._controller.state()
            if state == self._shown:
                return
            self._shown = state
            self._redraw(state)
            self._tell_first_step(state)

    def _tell_first_step(self, state: TrayState) -> None:
        """Once per run, as soon as it is known: what to do before the proxy can serve."""
        if self._told_first_step or state.phase is not Phase.RUNNING:
            return
        if state.cli_found is False:
            message = NO_CLI
        elif state.logged_in is False and state.auth_mode == AUTH_MODE_SUBSCRIPTION:
            message = NOT_LOGGED_IN
        else:
            return
        self._told_first_step = True
        self.notify(message)

    def _redraw(self, state: TrayState) -> None:
        self.icon.icon = _image(state)
        words = f" · {state.quota_words}" if state.quota_words else ""
        self.icon.title = f"{APP_TITLE}: {state.status_line()}{words}"
        self.icon.menu = self._pystray_menu(state)
        with contextlib.suppress(NotImplementedError):  # the dummy backend (tests) has no menu
            self.icon.update_menu()

    def notify(self, message: str) -> None:
        log.info("%s", message)
        if getattr(self.icon, "HAS_NOTIFICATION", False):
            try:
                self.icon.notify(message, APP_TITLE)
            except Exception:  # notifications are a courtesy; never fail an action on them
                log.debug("Notification failed", exc_info=True)

    def _tell_from_a_worker(self, message: str) -> None:
        on_ui_thread(self.refresh)
        on_ui_thread(lambda: self.notify(message))

    def _quit_from_the_page(self) -> None:
        self.dispatch("quit")

    def show_yourself(self) -> str:
        """A second launch asks where the app is: its settings page is its window."""
        with self._lock:
            state = self._controller.state()
            said = f"{APP_TITLE} is already running: {state.status_line()}."
            if state.phase is not Phase.STARTING:
                said += " " + (self._open_settings() or "Its settings page opened.")
        on_ui_thread(self.refresh)
        on_ui_thread(lambda: self.notify(said))
        return said

    def _tell_what_the_desktop_lacks(self, starting: threading.Thread | None) -> None:
        """A desktop with no tray, or an icon with no menu: said once, and on the page."""
        told_before = self._controller.settings.data_dir / TOLD_ABOUT_NO_MENU
        lack = what_the_desktop_lacks(self.icon, told_before)
        if lack is None:
            return
        log.warning("%s", lack.note)
        self._controller.settings_page.desktop_note = lack.note
        on_ui_thread(lambda: self.notify(lack.note))
        if lack.open_page:
            if starting is not None:
                starting.join()  # the page needs the server (or the free port after an error)
            self.dispatch("open_settings")

    def watch_state(
        self, every_s: float = LOGIN_RECHECK_S, look_s: float = STATE_LOOK_S
    ) -> threading.Event:
        """Show the proxy's state as soon as it changes (the login check at start ends a moment
        after the server is up), and ask the CLI about the login again every ``every_s``."""
        stopped = threading.Event()

        def loop() -> None:
            since_check = 0.0
            while not stopped.wait(look_s):
                since_check += look_s
                # Until a login works (a CLI just installed, a login just started), ask often.
                unsettled = self._shown is not None and self._shown.login_unsettled
                if since_check >= (UNSETTLED_RECHECK_S if unsettled else every_s):
                    since_check = 0.0
                    self._controller.recheck_login()
                on_ui_thread(self.refresh)  # redraws only when the snapshot changed

        threading.Thread(target=loop, name="state-watch", daemon=True).start()
        return stopped

    def run(self) -> None:
        def setup(icon: Any) -> None:
            # The proxy first: it must run even if the icon cannot be shown.
            starting = self.dispatch("start")
            on_ui_thread(lambda: setattr(icon, "visible", True))
            threading.Thread(
                target=self._tell_what_the_desktop_lacks,
                args=(starting,),
                name="desktop-check",
                daemon=True,
            ).start()

        watching = self.watch_state()
        try:
            self.icon.run(setup)
        finally:
            watching.set()
