"""The dashboard in a real browser (Debian's Chromium, driven by Playwright, offline), on a
subscription login against the simulator: what a person sees, with a screenshot of each."""

from __future__ import annotations

import re

import anthropic
import pytest

from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import UpstreamSimulator
from tests.api.test_usage import HI, MODEL, wait_for_requests
from tests.browser_pages import open_page, screenshot
from tests.conftest import ProxyFactory, anthropic_client

pytestmark = pytest.mark.timeout(300)


def serve_two_requests(proxy: ProxyServer) -> None:
    client = anthropic_client(proxy.base_url)
    client.messages.create(model=MODEL, max_tokens=16, messages=HI)
    with client.messages.stream(model="opus", max_tokens=16, messages=HI) as stream:
        stream.get_final_text()
    wait_for_requests(proxy.base_url, 2)


def test_the_dashboard_shows_the_windows_and_a_row_per_request(
    make_proxy: ProxyFactory, sim: UpstreamSimulator, browser: object
) -> None:
    from playwright.sync_api import expect

    sim.set_quota(five_hour=0.42, seven_day=0.83)
    proxy = make_proxy()
    serve_two_requests(proxy)

    page = open_page(browser, proxy.base_url + "/dashboard")
    five_hour = page.locator('[data-window="five_hour"]')
    expect(five_hour.locator(".percent")).to_have_text("42%")
    expect(five_hour).to_contain_text(re.compile(r"resets in 2 h 5\d min|resets in 3 h 0 min"))
    filled = five_hour.locator(".fill").evaluate(
        "fill => fill.getBoundingClientRect().width"
        " / fill.parentElement.getBoundingClientRect().width"
    )
    assert abs(filled - 0.42) < 0.01, "the bar is drawn at the percentage"
    expect(page.locator('[data-window="seven_day"] .percent')).to_have_text("83%")
    expect(page.locator("#problems")).to_contain_text("83% of the Weekly limit is used")
    expect(page.locator("#state")).to_have_text("Running")
    expect(page.locator("#login")).to_have_text("Logged in (claude.ai, max plan)")
    expect(page.locator("#billing")).to_have_text("Your Claude subscription")
    rows = page.locator("#requests tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Anthropic/Python")
    expect(rows.first).to_contain_text("opus")
    expect(rows.first).to_contain_text("Messages, streamed")
    expect(page.locator("#totals")).to_contain_text("2requests")

    # A request served while the page is open appears without a reload.
    anthropic_client(proxy.base_url).messages.create(model="haiku", max_tokens=16, messages=HI)
    expect(rows).to_have_count(3, timeout=10_000)
    expect(rows.first).to_contain_text("haiku")
    screenshot(page, "dashboard.png")
    assert page.failures == []  # type: ignore[attr-defined]


def test_a_used_up_window_and_a_failed_request_read_in_words(
    make_proxy: ProxyFactory, sim: UpstreamSimulator, browser: object
) -> None:
    from playwright.sync_api import expect

    sim.set_quota(five_hour=1.0)
    proxy = make_proxy()
    with pytest.raises(anthropic.RateLimitError):  # its shape is tested in test_usage
        anthropic_client(proxy.base_url).messages.create(model=MODEL, max_tokens=16, messages=HI)
    wait_for_requests(proxy.base_url, 1)

    page = open_page(browser, proxy.base_url + "/dashboard")
    expect(page.locator('[data-window="five_hour"]')).to_contain_text("Used up")
    expect(page.locator("#problems")).to_contain_text("The 5-hour limit is used up")
    expect(page.locator("#state")).to_have_text("Needs attention")
    failed = page.locator("#requests tbody tr.failed")
    expect(failed.first).to_contain_text("429 Rate limited")
    expect(failed.nth(1)).to_contain_text("5-hour limit")
    screenshot(page, "dashboard-used-up.png")


def test_with_a_key_the_page_asks_once_and_the_tray_link_needs_no_typing(
    make_proxy: ProxyFactory, sim: UpstreamSimulator, browser: object
) -> None:
    from playwright.sync_api import expect

    proxy = make_proxy(api_key="dashboard-key")
    anthropic_client(proxy.base_url, api_key="dashboard-key").messages.create(
        model=MODEL, max_tokens=16, messages=HI
    )

    asked = open_page(browser, proxy.base_url + "/dashboard")
    expect(asked.locator("#key-form")).to_be_visible()
    asked.fill("#key-input", "wrong")
    asked.click("button[type=submit]")
    expect(asked.locator("#key-error")).to_have_text("That key was refused.")
    asked.fill("#key-input", "dashboard-key")
    asked.click("button[type=submit]")
    expect(asked.locator("#requests tbody tr")).to_have_count(1)
    asked.reload()  # kept for the tab: not asked again
    expect(asked.locator("#requests tbody tr")).to_have_count(1)
    asked.close()

    link = proxy.dashboard_url()
    assert "#ticket=" in link and "dashboard-key" not in link
    page = open_page(browser, link)
    expect(page.locator("#requests tbody tr")).to_have_count(1)
    assert page.url == proxy.base_url + "/dashboard", "the ticket leaves the address at once"

    used_again = open_page(browser, link)
    expect(used_again.locator("#key-form")).to_be_visible()
    expect(used_again.locator("#key-error")).to_contain_text("expired or was used already")
