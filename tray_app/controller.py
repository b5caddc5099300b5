"""What the tray's menu items do, without pystray: it can be driven by tests.

The controller holds the server handle (a ProxyServer in its own thread),
the settings file, the key store and the start-at-login writer. It never runs
server logic itself. Every action returns a short message for a notification
and leaves the new state to be read with :meth:`TrayController.state`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from proxy_core.anthropic_api.routes import ONE_OFF_HEADER
from proxy_core.backend.environment import AUTH_MODE_SUBSCRIPTION
from proxy_core.client_setup import recipe
from proxy_core.config import ConfigError, Settings, check_exposure
from proxy_core.http.keys import status_key
from proxy_core.server import ProxyServer, ServerState, network_addresses
from proxy_core.usage.quota import Listener
from proxy_core.version import __version__
from proxy_core.web.settings_host import NotApplied
from tray_app.autostart import Autostart, launch_command
from tray_app.secrets import KeyStore
from tray_app.settings_io import preview_settings, save_settings
from tray_app.settings_page import NEEDS_KEY_FOR_NETWORK, TraySettings
from tray_app.state import Phase, TrayState

log = logging.getLogger(__name__)

PHASES = {
    ServerState.STOPPED: Phase.STOPPED,
    ServerState.STOPPING: Phase.STOPPED,
    ServerState.STARTING: Phase.STARTING,
    ServerState.RUNNING: Phase.RUNNING,
    ServerState.FAILED: Phase.ERROR,
}
TEST_TIMEOUT_S = 60


class TrayController:
    def __init__(
        self,
        settings: Settings,
        *,
        config_path: Path,
        keys: KeyStore,
        autostart: Autostart,
        copy: Callable[[str], None],
        server_factory: Callable[[Settings], ProxyServer] = ProxyServer,
    ) -> None:
        self._config_path = config_path
        self._keys = keys
        self._autostart = autostart
        self._copy = copy
        self._server_factory = server_factory
        # Changes come from the menu and the settings page at once: one at a time.
        self._changing = threading.RLock()
        self.settings_page = TraySettings(self, config_path=config_path)
        # The keyring holds the tray's key; CLAUDE_PROXY_API_KEY still counts when it holds none.
        self.settings = replace(settings, api_key=keys.load().key or settings.api_key)
        # Told when a subscription window crosses 80 %, 95 % or is used up; every server
        # this controller starts shares the list.
        self.quota_listeners: list[Listener] = []
        self.server = self._new_server(self.settings)

    def _new_server(self, settings: Settings) -> ProxyServer:
        server = self._server_factory(settings)
        server.quota_listeners = self.quota_listeners
        server.settings_host = self.settings_page
        return server

    # -- what the menu shows ---------------------------------------------------------
    def state(self) -> TrayState:
        server = self.server
        logged_in: bool | None = None
        cli_found: bool | None = None
        auth_mode = AUTH_MODE_SUBSCRIPTION
        billing = None
        quota = server.quota
        if server.app is not None and server.state is ServerState.RUNNING:
            status = server.app[status_key]
            auth_mode = status.auth_mode
            billing = status.billing_warning.message if status.billing_warning else None
            if status.cli is not None:
                logged_in = status.cli.logged_in and status.auth_failure is None
                cli_found = status.cli.path is not None
        return TrayState(
            phase=PHASES[server.state],
            base_url=server.base_url,
            error=server.error,
            logged_in=logged_in,
            cli_found=cli_found,
            auth_mode=auth_mode,
            billing_warning=billing,
            api_key_set=bool(self.settings.api_key),
            network_bound=not self.settings.is_loopback_only,
            network_urls=self.network_urls(),
            start_at_login=self.starts_at_login(),
            browser_origins=self.settings.cors_origins,
            quota_words=quota.status_words() if quota is not None else None,
            quota_used=quota.fullest_fraction() if quota is not None else 0.0,
        )

    # -- server ----------------------------------------------------------------------
    def start(self) -> str:
        try:
            self.server.start()
        except (OSError, ConfigError) as error:
            return f"Could not start: {error}"
        return f"Running on {self.server.base_url}"

    def stop(self) -> str:
        self.server.stop()
        return "Stopped"

    def _restart_with(self, settings: Settings) -> str:
        with self._changing:
            self.server.stop()
            self.settings = settings
            self.server = self._new_server(settings)
            return self.start()

    # -- changing settings (the settings page, through tray_app.settings_page) ---------
    def plan(self, changes: Mapping[str, object]) -> Settings:
        """The settings ``changes`` give on top of the running ones (flags and environment
        kept), each value read as the server reads the file. Raises ConfigError."""
        previewed = preview_settings(self._config_path, changes)
        wanted = replace(self.settings, **{name: getattr(previewed, name) for name in changes})
        if "port" not in changes and self.is_running():
            # A restart stays where clients reach it, where the configured port was 0 (any).
            wanted = replace(wanted, port=self.server.port)
        check_exposure(wanted)
        return wanted

    def move_to(self, wanted: Settings, changes: Mapping[str, object]) -> ProxyServer:
        """A new port: start the new server beside the running one, and only once it listens
        save ``changes`` and switch to it. Returns the old server, still running, for the caller
        to stop once its answer is out. Raises NotApplied (nothing changed) when it cannot
        listen: the port is taken, or the address is not this machine's."""
        with self._changing:
            moved = self._new_server(wanted)
            try:
                moved.start()
            except (OSError, ConfigError) as error:
                raise NotApplied(moved.error or str(error)) from None
            save_settings(self._config_path, changes)
            previous, self.server, self.settings = self.server, moved, wanted
            return previous

    def restart_if_it_takes(self, wanted: Settings, changes: Mapping[str, object]) -> str | None:
        """Restart with ``wanted`` and save ``changes`` only once the server runs with them;
        otherwise go back to the settings before and return why. Never save a setting that
        did not take: the next launch would fail too."""
        with self._changing:
            previous = self.settings
            self._restart_with(wanted)
            if self.server.state is not ServerState.FAILED:
                if changes:
                    save_settings(self._config_path, changes)
                return None
            reason = self.server.error or "the server did not start"
            self._restart_with(previous)
            return reason

    def is_running(self) -> bool:
        return self.server.state is ServerState.RUNNING

    def toggle_network(self) -> str:
        host = "127.0.0.1" if not self.settings.is_loopback_only else "0.0.0.0"
        if host == "0.0.0.0" and not self.settings.api_key:
            return NEEDS_KEY_FOR_NETWORK
        changes = {"host": host}
        failure = self.restart_if_it_takes(self.plan(changes), changes)
        if failure is not None:
            return f"Not changed: {failure}."
        if host == "0.0.0.0":
            return f"Open to the network: {', '.join(self.network_urls()) or host}"
        return f"Only this machine can reach the proxy now: {self.server.base_url}"

    # -- API key ---------------------------------------------------------------------
    def store_key(self, key: str | None) -> str:
        """Keep ``key`` (None: remove it) where the tray keeps it; returns where that is."""
        if key is None:
            self._keys.clear()
            return "nowhere"
        return self._keys.save(key).where

    def about(self) -> str:
        """Version, state, and what the CLI says of itself and the account."""
        state = self.state()
        parts = [f"{__version__}: {state.status_line()}", f"auth: {state.auth_mode}"]
        status = self.server.app[status_key] if self.server.app is not None else None
        cli = status.cli if status is not None else None
        if cli is not None and cli.path is not None:
            parts.append(f"Claude Code {cli.version or 'of unknown version'} at {cli.path}")
            if cli.auth_method:
                plan = f", plan {cli.subscription_type}" if cli.subscription_type else ""
                parts.append(f"account: {cli.auth_method}{plan}")
        return "; ".join(parts)

    # -- clipboard ---------------------------------------------------------------------
    def copy_text(self, text: str) -> None:
        self._copy(text)

    def network_urls(self) -> tuple[str, ...]:
        """Bound beyond loopback: the base URLs another machine would use."""
        if self.settings.is_loopback_only or self.server.state is not ServerState.RUNNING:
            return ()
        port = self.server.base_url.rsplit(":", 1)[1]
        host = self.settings.host
        if host not in ("0.0.0.0", "", "::"):
            return (f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}",)
        return tuple(f"http://{address}:{port}" for address in network_addresses())

    def copy_base_url(self) -> str:
        self._copy(self.server.base_url)
        return f"Copied {self.server.base_url}"

    def copy_network_url(self) -> str:
        urls = self.network_urls()
        if not urls:
            return "The proxy is not bound to the network."
        self._copy(urls[0])
        others = f" (also: {', '.join(urls[1:])})" if urls[1:] else ""
        return f"Copied {urls[0]}, for other machines{others}"

    def copy_api_key(self) -> str:
        if not self.settings.api_key:
            return "No API key is set."
        self._copy(self.settings.api_key)
        return "API key copied"

    def dashboard_url(self) -> str:
        """For the browser: with a key set, a one-time ticket in the fragment hands it over."""
        return self.server.dashboard_url()

    def settings_url(self) -> tuple[str, str | None]:
        """For the browser: a one-time ticket in the fragment lets the page change settings;
        and what to tell the person, if anything. The page is served by the proxy, so a proxy
        that is not running is started; where its port is taken, on any free port, unsaved,
        so the page can change it (the only way left to do so)."""
        if self.is_running():
            return self.server.settings_url(), None
        self.start()
        if self.is_running():
            return self.server.settings_url(), None
        failure = self.server.error or "it did not start"
        self._restart_with(replace(self.settings, port=0))
        if not self.is_running():
            raise NotApplied(f"The proxy cannot start ({failure}), so settings cannot open.")
        note = (
            f"The proxy could not use its port ({failure}); it runs on {self.server.base_url} "
            "until you choose a port in Settings."
        )
        return self.server.settings_url(), note

    def copy_client_setup(self, recipe_id: str) -> str:
        chosen = recipe(recipe_id)
        self._copy(chosen.render(self.server.base_url, self.settings.api_key))
        return f"Copied the setup for {chosen.client}: paste it into {chosen.where}."

    # -- start at login ------------------------------------------------------------------
    def starts_at_login(self) -> bool:
        return self._autostart.is_enabled()

    def set_start_at_login(self, enabled: bool) -> str:
        if enabled:
            self._autostart.enable(launch_command())
            return "Will start at login"
        self._autostart.disable()
        return "Will not start at login"

    def toggle_start_at_login(self) -> str:
        return self.set_start_at_login(not self.starts_at_login())

    def recheck_login(self) -> None:
        """Ask the CLI again whether it is logged in (a login can expire between requests)."""
        try:
            self.server.refresh_cli_status()
        except Exception:  # a failed check must not break the tray; the next one may work
            log.debug("Login re-check failed", exc_info=True)

    # -- checks ----------------------------------------------------------------------------
    def test_connection(self) -> str:
        """One tiny request through the running proxy: its answer time, or the exact error."""
        body = json.dumps(
            {
                "model": "haiku",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": "Say OK."}],
            }
        ).encode()
        request = urllib.request.Request(
            self.server.base_url + "/v1/messages",
            data=body,
            headers={
                "content-type": "application/json",
                "x-api-key": self.settings.api_key or "",
                # Nobody continues a probe: its CLI ends with it, and no spare starts for it.
                ONE_OFF_HEADER: "1",
            },
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=TEST_TIMEOUT_S) as response:
                json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                detail = json.loads(error.read()).get("error", {}).get("message", "")
            return f"Failed ({error.code}): {detail}"
        except OSError as error:
            return f"Failed: {error}"
        return f"OK: answered in {(time.monotonic() - started) * 1000:.0f} ms"
