"""Browser apps in a real browser: Debian's Chromium, driven by Playwright, no browser download.

A page served from another origin (app.test, resolved to this machine inside Chromium only)
calls the proxy with fetch, as chat front-ends and extensions do: /v1/messages with the
Anthropic SDK's browser headers and /v1/chat/completions with a Bearer key, streamed and not.
A page from an origin that was not allowed must get nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import DEFAULT_TEXT, UpstreamSimulator
from tests.api.test_entrypoint import free_port
from tests.browser_pages import chromium_path
from tests.conftest import ProxyFactory

# A real client's own start and run, beyond the suite's 60 s per test.
pytestmark = pytest.mark.timeout(300)


KEY = "browser-test-key"
PAGE = """<!doctype html><meta charset="utf-8"><title>browser app</title>
<script>
async function call(base, path, headers, body) {
  const response = await fetch(base + path, {
    method: "POST",
    headers: {"content-type": "application/json", ...headers},
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return {status: response.status, requestId: response.headers.get("request-id"), text};
}
async function runAll(base, key) {
  const anthropic = {
    "x-api-key": key,
    "anthropic-version": "2023-06-01",
    "anthropic-dangerous-direct-browser-access": "true",
    "x-stainless-lang": "js",
    "x-stainless-os": "Linux",
  };
  const openai = {"authorization": "Bearer " + key, "x-stainless-runtime": "browser:chrome"};
  const message = {model: "sonnet", max_tokens: 32, messages: [{role: "user", content: "hi"}]};
  const chat = {model: "gpt-4o", messages: [{role: "user", content: "hi"}]};
  const out = {};
  for (const [name, path, headers, body] of [
    ["messages", "/v1/messages", anthropic, message],
    ["messages_stream", "/v1/messages", anthropic, {...message, stream: true}],
    ["chat", "/v1/chat/completions", openai, chat],
    ["chat_stream", "/v1/chat/completions", openai, {...chat, stream: true}],
  ]) {
    try { out[name] = await call(base, path, headers, body); }
    catch (error) { out[name] = {error: String(error)}; }
  }
  return out;
}
</script>"""


class PageServer:
    """Serves the page on this machine, in a thread, for any Host name."""

    def __init__(self) -> None:
        self.port = free_port()
        self._ready = threading.Event()
        self._stop: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import asyncio

        async def page(_request: web.Request) -> web.Response:
            return web.Response(text=PAGE, content_type="text/html")

        async def main() -> None:
            app = web.Application()
            app.router.add_get("/", page)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(main())
        self._loop.close()

    def __enter__(self) -> PageServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def run_page(origin_host: str, page_port: int, proxy: ProxyServer) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=[
                # The page's names resolve to this machine only; nothing leaves it.
                f"--host-resolver-rules=MAP {origin_host} 127.0.0.1",
                "--no-sandbox",
            ],
        )
        try:
            page = browser.new_page()
            page.goto(f"http://{origin_host}:{page_port}/")
            result: dict[str, Any] = page.evaluate(
                "([b, k]) => runAll(b, k)", [proxy.base_url, KEY]
            )
        finally:
            browser.close()
    return result


@pytest.mark.compat("Chromium, fetch from a web page", "plain", "streamed")
def test_an_allowed_page_calls_both_apis_streamed_and_not(
    make_proxy: ProxyFactory, sim: UpstreamSimulator, page_server: PageServer
) -> None:
    origin = f"http://app.test:{page_server.port}"
    proxy = make_proxy(api_key=KEY, cors_origins=(origin,))

    result = run_page("app.test", page_server.port, proxy)

    for name, answer in result.items():
        assert answer.get("status") == 200, (name, answer)
        assert answer["requestId"], f"{name}: request-id must be exposed to the page"
    assert DEFAULT_TEXT in result["messages"]["text"]
    assert "event: message_stop" in result["messages_stream"]["text"]
    assert DEFAULT_TEXT in result["chat"]["text"]
    assert result["chat_stream"]["text"].rstrip().endswith("data: [DONE]")
    assert len(sim.message_calls()) == 4


def test_a_page_from_an_origin_not_allowed_gets_nothing(
    make_proxy: ProxyFactory, sim: UpstreamSimulator, page_server: PageServer
) -> None:
    proxy = make_proxy(api_key=KEY, cors_origins=(f"http://app.test:{page_server.port}",))

    result = run_page("evil.test", page_server.port, proxy)

    for name, answer in result.items():
        assert "Failed to fetch" in answer.get("error", ""), (name, answer)
    assert sim.message_calls() == [], "a refused preflight must stop the request itself"


def test_without_a_key_an_allowed_page_gets_in_and_others_stay_out(
    make_proxy: ProxyFactory, sim: UpstreamSimulator, page_server: PageServer
) -> None:
    proxy = make_proxy(cors_origins=(f"http://app.test:{page_server.port}",))

    allowed = run_page("app.test", page_server.port, proxy)
    refused = run_page("evil.test", page_server.port, proxy)

    assert all(answer.get("status") == 200 for answer in allowed.values()), allowed
    assert all("Failed to fetch" in answer.get("error", "") for answer in refused.values())
    assert len(sim.message_calls()) == 4
