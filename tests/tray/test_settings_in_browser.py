"""The settings page in a real browser (Chromium, driven by Playwright), against the tray's
real servers on a subscription login: a person changes the port and the key, and the running
proxy follows; what cannot take says so and changes nothing. Screenshots in test-artefacts/."""

from __future__ import annotations

import json
import socket
import urllib.error
from pathlib import Path

import pytest

from tests.browser_pages import open_page, screenshot
from tests.clients.test_browser import PageServer
from tests.conftest import ProxyFactory
from tests.tray.test_controller import generate_key, status_of
from tray_app.controller import TrayController

pytestmark = pytest.mark.timeout(300)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def refused(url: str) -> bool:
    try:
        status_of(url)
    except urllib.error.URLError:
        return True
    return False


def saved(tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "config.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def test_the_port_changes_in_the_browser_and_the_server_follows(
    tray: TrayController, browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    tray.start()
    before = tray.server.base_url
    page = open_page(browser, tray.settings_url()[0])
    expect(page.locator("#now-base-url")).to_have_text(before)
    assert page.url == f"{before}/settings", "the ticket leaves the address at once"
    expect(page.locator("#locked")).to_be_hidden()
    expect(page.locator("#save")).to_be_disabled()  # nothing changed yet
    screenshot(page, "settings.png")

    port = free_port()
    page.fill("#port", str(port))
    page.click("#save")

    moved = f"http://127.0.0.1:{port}"
    page.wait_for_url(f"{moved}/settings", timeout=20_000)
    expect(page.locator("#now-base-url")).to_have_text(moved)
    expect(page.locator("#locked")).to_be_hidden()  # the new address's ticket unlocked it
    assert tray.server.base_url == moved and status_of(moved) == 200
    assert refused(before), "the old server has stopped"
    assert saved(tmp_path)["port"] == port
    assert page.failures == []  # type: ignore[attr-defined]


def test_the_other_settings_restart_the_server_and_read_back(
    tray: TrayController, browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    tray.start()
    base = tray.server.base_url
    page = open_page(browser, tray.settings_url()[0])
    expect(page.locator("#now-warm_pool")).to_have_text("2")
    page.fill("#conversations", "1")
    page.fill("#warm_pool", "0")
    page.fill("#cors_origins", "http://localhost:5173\napp://obsidian.md")
    page.check("#start_at_login")
    page.check("#debug")
    page.click("#save")
    notice = page.locator("#notice")
    expect(notice).to_have_text("Will start at login. Saved and running with them.", timeout=20_000)
    expect(page.locator("#now-conversations")).to_have_text("1")
    expect(page.locator("#now-warm_pool")).to_have_text("0")
    expect(page.locator("#now-cors_origins")).to_have_text(
        "http://localhost:5173, app://obsidian.md"
    )
    expect(page.locator("#now-debug")).to_have_text("debug logging")
    assert tray.server.base_url == base, "a restart keeps the address"
    assert saved(tmp_path) == {
        "conversations": 1,
        "warm_pool": 0,
        "cors_origins": ["http://localhost:5173", "app://obsidian.md"],
        "debug": True,
    }
    assert (tmp_path / "autostart" / "claude-sdk-proxy.desktop").exists()
    # Saying it twice changes nothing, and says so.
    page.uncheck("#debug")
    page.check("#debug")
    expect(page.locator("#save")).to_be_disabled()


def test_a_port_in_use_is_named_and_nothing_changes(
    tray: TrayController, browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    tray.start()
    before = tray.server.base_url
    page = open_page(browser, tray.settings_url()[0])
    expect(page.locator("#now-base-url")).to_have_text(before)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        page.fill("#port", str(taken))
        page.click("#save")
        notice = page.locator("#notice")
        expect(notice).to_contain_text(f"Port {taken} was not used: port {taken} on 127.0.0.1 is")
        expect(notice).to_contain_text(f"Nothing was changed; the proxy still runs on {before}.")
        expect(notice).to_have_class("banner bad")
        screenshot(page, "settings-port-in-use.png")
    assert tray.server.base_url == before and status_of(before) == 200
    assert "port" not in saved(tmp_path)
    expect(page.locator("#now-base-url")).to_have_text(before)


def test_a_key_set_in_the_browser_is_required_at_once(
    tray: TrayController, browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    tray.start()
    base = tray.server.base_url
    page = open_page(browser, tray.settings_url()[0])
    expect(page.locator("#now-key")).to_have_text("not set: only this machine can use the proxy")
    page.fill("#new-key", "my-own-key-0123")
    page.click("#key-set button[type=submit]")
    notice = page.locator("#notice")
    expect(notice).to_contain_text("API key saved in keyring", timeout=20_000)
    expect(page.locator("#now-key")).to_have_text("set: clients must send it")
    assert status_of(base) == 401, "a keyless request is refused"
    assert status_of(base, "my-own-key-0123") == 200
    assert "my-own-key-0123" not in json.dumps(saved(tmp_path)), "the key is kept in the keyring"

    # A new key replaces it only once the person has said yes.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#key-generate")
    assert status_of(base, "my-own-key-0123") == 200
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#key-generate")
    expect(notice).to_contain_text("copy it into your clients now", timeout=20_000)
    generated = page.locator("#key-value").input_value()
    assert generated.startswith("csp-") and tray.settings.api_key == generated
    assert status_of(base, "my-own-key-0123") == 401
    assert status_of(base, generated) == 200
    screenshot(page, "settings-new-key.png")
    assert page.failures == []  # type: ignore[attr-defined]


def test_opened_without_the_tray_link_the_page_only_shows(
    tray: TrayController, browser: object
) -> None:
    from playwright.sync_api import expect

    tray.start()
    page = open_page(browser, f"{tray.server.base_url}/settings")
    locked = page.locator("#locked")
    expect(locked).to_contain_text("open it with Settings… in the tray menu")
    expect(page.locator("#port")).to_be_disabled()
    expect(page.locator("#key-generate")).to_be_disabled()
    expect(page.locator("#now-base-url")).to_have_text(tray.server.base_url)


def test_with_a_key_set_typing_it_unlocks_the_page(tray: TrayController, browser: object) -> None:
    from playwright.sync_api import expect

    tray.start()
    key = generate_key(tray)
    page = open_page(browser, f"{tray.server.base_url}/settings")
    expect(page.locator("#key-form")).to_be_visible()
    page.fill("#key-input", key)
    page.click("#key-entry button[type=submit]")
    expect(page.locator("#now-key")).to_have_text("set: clients must send it")
    expect(page.locator("#locked")).to_be_hidden()
    expect(page.locator("#port")).to_be_enabled()
    # The one failure: the first read, refused (401) until the key was given.
    failures = page.failures  # type: ignore[attr-defined]
    assert [failure for failure in failures if "status of 401" not in failure] == []


def test_another_page_in_the_browser_cannot_change_settings(
    tray: TrayController, browser: object, tmp_path: Path
) -> None:
    tray.start()
    base = tray.server.base_url
    with PageServer() as other:
        page = open_page(browser, f"http://localhost:{other.port}/")
        # A form-like POST, the kind a page may send anywhere without asking (no preflight).
        page.evaluate(
            """async (base) => {
                for (const path of ["/settings/changes", "/settings/api-key"]) {
                    await fetch(base + path, {method: "POST", mode: "no-cors",
                        headers: {"content-type": "text/plain"},
                        body: JSON.stringify({changes: {network: true}, action: "clear"})});
                }
            }""",
            base,
        )
    assert tray.server.base_url == base and tray.settings_page.last_change() is None
    assert saved(tmp_path) == {}


def test_the_headless_server_says_where_its_settings_live(
    make_proxy: ProxyFactory, browser: object
) -> None:
    from playwright.sync_api import expect

    proxy = make_proxy()
    page = open_page(browser, f"{proxy.base_url}/settings")
    locked = page.locator("#locked")
    expect(locked).to_contain_text("started without the tray app")
    expect(locked).to_contain_text("config.json")
    expect(page.locator("#now-base-url")).to_have_text(proxy.base_url)
    expect(page.locator("#save")).to_be_disabled()
    screenshot(page, "settings-headless.png")
