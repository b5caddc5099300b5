"""The settings page's routes over HTTP, against the tray's real servers: who may change what,
and what a refused or bad change says. The page itself is driven in Chromium elsewhere."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from proxy_core.web.settings_routes import PASS_HEADER
from tests.conftest import ProxyFactory
from tests.tray.test_controller import generate_key, settle
from tests.tray.xvfb import wait_until
from tray_app.controller import TrayController


def call(
    url: str,
    body: object | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method="POST" if data is not None else "GET",
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code), json.loads(error.read() or b"null")


def redeem(tray: TrayController) -> dict[str, Any]:
    url, ticket = tray.settings_url()[0].split("#ticket=")
    status, handed = call(f"{tray.server.base_url}/settings/ticket", {"ticket": ticket})
    assert status == 200
    return dict(handed)


def own(tray: TrayController, settings_pass: str, **extra: str) -> dict[str, str]:
    """The headers the page sends: its own origin and the pass."""
    return {"origin": tray.server.base_url, PASS_HEADER: settings_pass, **extra}


def test_a_tray_ticket_hands_over_the_pass_once(tray: TrayController) -> None:
    tray.start()
    url, ticket = tray.settings_url()[0].split("#ticket=")
    assert url == f"{tray.server.base_url}/settings"
    status, handed = call(f"{url}/ticket", {"ticket": ticket})
    assert status == 200 and handed["settings_pass"] == tray.settings_page.settings_pass
    assert handed["api_key"] is None
    status, again = call(f"{url}/ticket", {"ticket": ticket})
    assert status == 403 and "expired or was used already" in again["error"]["message"]


def test_changes_need_the_pass_and_the_pages_own_origin(tray: TrayController) -> None:
    tray.start()
    base = tray.server.base_url
    settings_pass = redeem(tray)["settings_pass"]
    change = {"changes": {"conversations": 2}}

    status, body = call(f"{base}/settings/changes", change, headers={"origin": base})
    assert status == 403 and "open it with Settings… in the tray" in body["error"]["message"]
    foreign = own(tray, settings_pass, origin="http://127.0.0.1:9")
    status, body = call(f"{base}/settings/changes", change, headers=foreign)
    assert status == 403 and "from another page" in body["error"]["message"]
    cross_site = own(tray, settings_pass, **{"sec-fetch-site": "cross-site"})
    assert call(f"{base}/settings/changes", change, headers=cross_site)[0] == 403
    assert tray.settings.conversations == 4, "nothing refused was applied"

    status, body = call(f"{base}/settings/changes", change, headers=own(tray, settings_pass))
    assert status == 200 and body["change"]["state"] == "restarting"
    change_id = body["change"]["id"]
    state = follow(base, change_id)
    assert state["change"]["state"] == "done" and state["effective"]["conversations"] == 2


def follow(base: str, change_id: int) -> dict[str, Any]:
    """The route restarts the server after answering: ask until it has, as the page does."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            status, state = call(f"{base}/settings/state")
        except OSError:  # refused or reset while it restarts
            continue
        change = state.get("change") or {}
        if status == 200 and change.get("id") == change_id and change["state"] != "restarting":
            return dict(state)
        time.sleep(0.05)
    raise AssertionError("the server did not come back with the change")


def test_a_rebound_domain_cannot_change_settings_even_with_the_pass(
    tray: TrayController,
) -> None:
    tray.start()
    key = generate_key(tray)  # with a key, the page rules alone guard the host name
    settings_pass = redeem(tray)["settings_pass"]
    port = tray.server.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        body = json.dumps({"changes": {"debug": True}}).encode()
        raw.sendall(
            b"POST /settings/changes HTTP/1.1\r\n"
            + f"Host: attacker.example:{port}\r\nOrigin: http://attacker.example:{port}\r\n".encode()
            + f"x-api-key: {key}\r\n{PASS_HEADER}: {settings_pass}\r\n".encode()
            + f"content-type: application/json\r\ncontent-length: {len(body)}\r\n".encode()
            + b"connection: close\r\n\r\n"
            + body
        )
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 403")
    assert b"only at an address of this machine" in answer
    assert tray.settings.debug is False


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"port": "abc"}, "port: 'abc' is not a valid value."),
        ({"port": True}, "port: True is not a valid value."),
        ({"port": 70000}, "port must be between 0 and 65535"),
        ({"conversations": -1}, "conversations must not be negative"),
        ({"cors_origins": ["localhost:5173/"]}, "is not an origin"),
        ({"api_key": "x"}, "'api_key' cannot be changed here"),
        ({"cli_path": "/nowhere/claude"}, "No program at /nowhere/claude: give the full path"),
        ({}, "at least one setting"),
    ],
)
def test_a_bad_value_is_a_400_in_words_and_changes_nothing(
    tray: TrayController, changes: dict[str, object], words: str
) -> None:
    tray.start()
    settings_pass = redeem(tray)["settings_pass"]
    server = tray.server
    status, body = call(
        f"{server.base_url}/settings/changes",
        {"changes": changes},
        headers=own(tray, settings_pass),
    )
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert words in body["error"]["message"]
    assert tray.server is server and tray.settings_page.last_change() is None


def test_the_key_unlocks_changes_only_where_one_is_set(tray: TrayController) -> None:
    tray.start()
    status, body = call(f"{tray.server.base_url}/settings/unlock", {})
    assert status == 403 and "only the tray can open settings" in body["error"]["message"]
    key = generate_key(tray)
    assert call(f"{tray.server.base_url}/settings/unlock", {})[0] == 401
    status, body = call(f"{tray.server.base_url}/settings/unlock", {}, headers={"x-api-key": key})
    assert status == 200 and body["settings_pass"] == tray.settings_page.settings_pass


def test_health_echoes_the_settings_the_server_runs_with(tray: TrayController) -> None:
    tray.start()
    status, health = call(f"{tray.server.base_url}/health")
    assert status == 200
    assert health["settings"] == {
        "host": "127.0.0.1",
        "port": tray.server.port,
        "network": False,
        "api_key_set": False,
        "cors_origins": [],
        "conversations": 4,
        "warm_pool": 2,
        "cli_path": None,
        "debug": False,
    }
    settle(tray, tray.settings_page.apply({"warm_pool": 0}))
    assert call(f"{tray.server.base_url}/health")[1]["settings"]["warm_pool"] == 0


def test_the_headless_server_shows_its_settings_and_says_where_to_change_them(
    make_proxy: ProxyFactory,
) -> None:
    proxy = make_proxy()
    with urllib.request.urlopen(f"{proxy.base_url}/settings", timeout=10) as page:
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert b"<title>Claude SDK Proxy \xc2\xb7 Settings</title>" in page.read()
    status, state = call(f"{proxy.base_url}/settings/state")
    assert status == 200 and state["writable"] is False
    assert "config.json" in state["read_only_reason"] and "restart it" in state["read_only_reason"]
    assert state["effective"]["port"] == proxy.port
    status, body = call(
        f"{proxy.base_url}/settings/changes",
        {"changes": {"debug": True}},
        headers={"origin": proxy.base_url, PASS_HEADER: "guess"},
    )
    assert status == 403 and "started without the tray app" in body["error"]["message"]


def test_quit_takes_the_pass_and_ends_the_app_only_after_answering(
    tray: TrayController,
) -> None:
    tray.start()
    base = tray.server.base_url
    settings_pass = redeem(tray)["settings_pass"]
    status, body = call(f"{base}/settings/quit", {}, headers=own(tray, settings_pass))
    assert status == 400 and "cannot be quit from its page" in body["error"]["message"]

    quitting: list[bool] = []
    tray.settings_page.on_quit = lambda: quitting.append(tray.is_running())
    status, body = call(f"{base}/settings/quit", {}, headers={"origin": base})
    assert status == 403 and quitting == [], "no pass, no quit"
    status, body = call(f"{base}/settings/quit", {}, headers=own(tray, settings_pass))
    assert status == 200 and body["change"]["message"] == "Claude SDK Proxy has quit."
    wait_until(lambda: quitting == [True], 10, "the quit, run after the answer")


def test_the_page_says_what_the_desktop_cannot_show(tray: TrayController) -> None:
    tray.start()
    assert call(f"{tray.server.base_url}/settings/state")[1]["host"]["desktop_note"] is None
    tray.settings_page.desktop_note = "This desktop has no system tray"
    state = call(f"{tray.server.base_url}/settings/state")[1]
    assert state["host"]["desktop_note"] == "This desktop has no system tray"
