"""The tray's actions against a real running proxy (real SDK and CLI, simulated upstream)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from proxy_core.config import ConfigError
from proxy_core.server import network_addresses
from proxy_core.testing.upstream_simulator import UpstreamSimulator
from proxy_core.web.settings_host import Applied, Change, NotApplied
from tests.conftest import cli_processes, wait_for_no_cli
from tests.tray.conftest import controller_for
from tray_app.controller import TrayController
from tray_app.state import Phase


def status_of(url: str, key: str | None = None) -> int:
    request = urllib.request.Request(url + "/v1/models", headers={"x-api-key": key or ""})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code)


def test_start_copy_and_test_connection(
    tray: TrayController, clipboard: list[str], sim: UpstreamSimulator
) -> None:
    assert tray.state().phase is Phase.STOPPED
    assert tray.start().startswith("Running on http://127.0.0.1:")
    state = tray.state()
    # The test bed logs in with a subscription, as most users do.
    assert state.phase is Phase.RUNNING and state.auth_mode == "subscription"
    assert state.status_line() == f"Running on {tray.server.base_url}"
    tray.copy_base_url()
    assert clipboard == [tray.server.base_url]
    result = tray.test_connection()
    assert result.startswith("OK: answered in ") and result.endswith(" ms")
    assert len(sim.message_calls()) == 1
    # A probe holds no CLI afterwards: no kept conversation, no spare (about 360 MB before).
    assert wait_for_no_cli(2.0) == []
    time.sleep(0.5)  # past the pool's quiet period: a spare would have started by now
    assert cli_processes() == [] and tray.server.backend is not None
    assert tray.server.backend.cli_counts() == {"kept": 0, "spares": 0}
    assert tray.copy_client_setup("claude-code").startswith("Copied the setup for Claude Code")
    assert f"export ANTHROPIC_BASE_URL={tray.server.base_url}\n" in clipboard[-1]
    tray.copy_client_setup("codex")
    assert f'base_url = "{tray.server.base_url}/v1"' in clipboard[-1]


def test_billing_an_api_key_is_said_on_the_status_line(
    api_key_billing: str, tray: TrayController
) -> None:
    tray.start()
    state = tray.state()
    assert state.auth_mode == "API key"
    assert state.status_line() == f"Running on {tray.server.base_url}, billing an API key"


def settle(tray: TrayController, applied: Applied) -> Change:
    """Do what the settings page's route does after answering, and read the outcome."""
    if applied.then is not None:
        applied.then()
    change = tray.settings_page.last_change()
    assert change is not None
    return change


def generate_key(tray: TrayController) -> str:
    applied = tray.settings_page.change_key("generate", None)
    assert applied.new_key is not None
    assert settle(tray, applied).state == "done"
    return applied.new_key


def test_a_generated_key_is_required_at_once_and_kept_out_of_the_config(
    tray: TrayController, tmp_path: Path
) -> None:
    tray.start()
    applied = tray.settings_page.change_key("generate", None)
    # Not yet: the restart waits until the page has its answer (with the key, once).
    assert applied.change.state == "restarting" and status_of(tray.server.base_url) == 200
    key = applied.new_key
    assert key is not None and key.startswith("csp-")
    change = settle(tray, applied)
    assert change.state == "done" and change.message.startswith("API key saved in keyring")
    assert tray.state().api_key_set and tray.server.state.value == "running"
    assert status_of(tray.server.base_url) == 401
    assert status_of(tray.server.base_url, key) == 200
    assert tray.test_connection().startswith("OK")
    written = [
        p for p in tmp_path.rglob("*") if p.is_file() and key in p.read_text(errors="replace")
    ]
    assert written == [], "the key belongs in the keyring only"
    settle(tray, tray.settings_page.change_key("clear", None))
    assert status_of(tray.server.base_url) == 200


def test_a_key_too_short_or_with_spaces_is_refused_in_words(tray: TrayController) -> None:
    tray.start()
    with pytest.raises(ConfigError, match="at least 8 characters"):
        tray.settings_page.change_key("set", "short")
    with pytest.raises(ConfigError, match="cannot hold spaces"):
        tray.settings_page.change_key("set", "two words here")
    assert not tray.state().api_key_set


def test_the_network_needs_a_key_and_keeps_it(
    tray: TrayController, tmp_path: Path, clipboard: list[str]
) -> None:
    tray.start()
    assert "API key first" in tray.toggle_network()
    with pytest.raises(ConfigError, match="API key first"):
        tray.settings_page.apply({"network": True})
    assert tray.state().network_bound is False
    generate_key(tray)
    assert tray.toggle_network().startswith("Open to the network")
    assert tray.state().network_bound is True
    # Another machine needs this machine's address, not 127.0.0.1.
    port = tray.server.base_url.rsplit(":", 1)[1]
    expected = tuple(f"http://{address}:{port}" for address in network_addresses())
    assert tray.state().network_urls == expected
    if expected:
        assert f"Running on {expected[0]} (network)" in tray.state().status_line()
        assert tray.copy_network_url().startswith(f"Copied {expected[0]}, for other machines")
        assert clipboard[-1] == expected[0]
    assert json.loads((tmp_path / "config.json").read_text())["host"] == "0.0.0.0"
    with pytest.raises(NotApplied, match="switch Bind to network off"):
        tray.settings_page.change_key("clear", None)
    tray.toggle_network()
    assert tray.state().network_bound is False


def test_a_port_in_use_is_refused_with_the_reason(tray: TrayController, tmp_path: Path) -> None:
    tray.start()
    before = tray.server.base_url
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(NotApplied) as refused:
            tray.settings_page.apply({"port": taken})
        # Said in words, with what holds the port; the proxy stays where it was, and the
        # failed port is not saved, so the next launch does not fail too.
        message = str(refused.value)
        assert message.startswith(f"Port {taken} was not used: port {taken} on 127.0.0.1 is")
        assert "[Errno" not in message and "(pid " in message
        assert message.endswith(f"Nothing was changed; the proxy still runs on {before}.")
        assert tray.state().phase is Phase.RUNNING and tray.server.base_url == before
        saved = tmp_path / "config.json"
        assert not saved.exists() or "port" not in json.loads(saved.read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    old = tray.server
    applied = tray.settings_page.apply({"port": free})
    # The new server listens before the answer; the old one ends after it.
    assert tray.server.base_url == f"http://127.0.0.1:{free}" and status_of(before) == 200
    assert applied.next_url is not None
    assert applied.next_url.startswith(f"http://127.0.0.1:{free}/settings#ticket=")
    settle(tray, applied)
    assert old.state.value == "stopped" and status_of(tray.server.base_url) == 200
    assert json.loads((tmp_path / "config.json").read_text())["port"] == free


def test_start_at_login_toggles(tray: TrayController, tmp_path: Path) -> None:
    assert tray.toggle_start_at_login() == "Will start at login"
    assert (
        tray.state().start_at_login
        and (tmp_path / "autostart" / "claude-sdk-proxy.desktop").exists()
    )
    assert tray.toggle_start_at_login() == "Will not start at login"
    assert not tray.state().start_at_login


FAKE_CLI = """#!/bin/sh
# Answers like `claude` for the login check only: logged in when the flag file exists.
if [ "$1" = "--version" ]; then echo "9.9.9 (Claude Code)"; exit 0; fi
if [ -e "{flag}" ]; then echo '{{"loggedIn": true, "authMethod": "claude.ai"}}'; exit 0; fi
echo '{{"loggedIn": false, "authMethod": "none"}}'; exit 1
"""


def test_a_login_that_changes_is_noticed_by_the_recheck(
    sim: UpstreamSimulator, tmp_path: Path, clipboard: list[str]
) -> None:
    flag = tmp_path / "logged-in"
    cli = tmp_path / "claude"
    cli.write_text(FAKE_CLI.format(flag=flag))
    cli.chmod(0o755)
    controller = controller_for(tmp_path, clipboard, port=0, cli_path=str(cli))
    try:
        controller.start()
        controller.recheck_login()
        assert controller.state().logged_in is False
        assert controller.state().status_line() == "Not logged in to Claude"
        flag.touch()  # the user logged in meanwhile
        controller.recheck_login()
        assert controller.state().logged_in is True
        assert controller.state().status_line().startswith("Running on")
    finally:
        controller.stop()


def preflight_status(url: str, origin: str) -> tuple[int, str | None]:
    request = urllib.request.Request(
        url + "/v1/messages",
        method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.headers.get("Access-Control-Allow-Origin")
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code), error.headers.get("Access-Control-Allow-Origin")


def test_browser_apps_are_allowed_by_origin_and_saved(tray: TrayController, tmp_path: Path) -> None:
    tray.start()
    page = "http://localhost:5173"
    host = tray.settings_page
    assert preflight_status(tray.server.base_url, page)[0] == 403
    with pytest.raises(ConfigError, match="Set an API key first"):
        host.apply({"cors_origins": ["*"]})
    with pytest.raises(ConfigError, match="not an origin"):
        host.apply({"cors_origins": ["localhost:5173/"]})

    change = settle(tray, host.apply({"cors_origins": [page, "app://obsidian.md"]}))

    assert change.state == "done"
    assert tray.state().browser_origins == (page, "app://obsidian.md")
    assert preflight_status(tray.server.base_url, page) == (204, page)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["cors_origins"] == [page, "app://obsidian.md"]
    assert settle(tray, host.apply({"cors_origins": []})).state == "done"
    assert preflight_status(tray.server.base_url, page)[0] == 403
