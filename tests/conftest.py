"""Shared fixtures: the upstream simulator, a running proxy, and official SDK clients.

The chain under test is real except its far end: anthropic SDK -> proxy ->
claude-agent-sdk -> bundled Claude Code CLI -> upstream simulator. The CLI
inherits this process's environment, which is how it finds the simulator.

The CLI runs as most users run it, on a subscription login (a made-up OAuth token in
its own config folder, no ``ANTHROPIC_API_KEY``); tests about API-key billing ask for
the ``api_key_billing`` fixture.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import psutil
import pytest

from proxy_core.backend.claude_sdk import ClaudeSDKBackend
from proxy_core.backend.deferred import DeferredBackend
from proxy_core.config import Settings
from proxy_core.server import ProxyServer
from proxy_core.testing.subscription_login import write_login
from proxy_core.testing.upstream_simulator import SimulatorThread, UpstreamSimulator

pytest_plugins = ["tests.compat"]


SIMULATOR_API_KEY = "sk-ant-simulator"
_CLI_ACCOUNT_VARIABLES = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "CLAUDE_CONFIG_DIR")


@pytest.fixture(scope="session")
def simulator_thread(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorThread]:
    with SimulatorThread() as thread:
        saved = {k: os.environ.get(k) for k in _CLI_ACCOUNT_VARIABLES}
        config_dir = tmp_path_factory.mktemp("claude-config")
        write_login(config_dir)
        os.environ["ANTHROPIC_BASE_URL"] = thread.base_url
        os.environ["CLAUDE_CONFIG_DIR"] = str(config_dir)
        os.environ.pop("ANTHROPIC_API_KEY", None)
        yield thread
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def api_key_billing(monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI bills an API key instead of the subscription (set before the proxy starts)."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", SIMULATOR_API_KEY)
    return SIMULATOR_API_KEY


@pytest.fixture
def sim(simulator_thread: SimulatorThread) -> Iterator[UpstreamSimulator]:
    simulator_thread.simulator.reset()
    yield simulator_thread.simulator
    simulator_thread.simulator.reset()


def cli_processes() -> list[psutil.Process]:
    """Live request-serving CLI processes (``--output-format stream-json``) under this process."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "stream-json" in child.cmdline():
                found.append(child)
        except psutil.Error:
            continue
    return found


def wait_for_no_cli(timeout_s: float = 1.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = cli_processes()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


ProxyFactory = Callable[..., ProxyServer]


def loaded_backend(proxy: ProxyServer) -> ClaudeSDKBackend:
    """The proxy's Claude Code backend, once a request has loaded it."""
    assert isinstance(proxy.backend, DeferredBackend)
    assert isinstance(proxy.backend.loaded, ClaudeSDKBackend), "no request has loaded it yet"
    return proxy.backend.loaded


_open_clients: list[anthropic.Anthropic] = []


def anthropic_client(base_url: str, **options: Any) -> anthropic.Anthropic:
    """An official client for the proxy; closed when the test ends, so no socket leaks."""
    client = anthropic.Anthropic(
        base_url=base_url, **{"api_key": "unused", "max_retries": 0, **options}
    )
    _open_clients.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _open_clients:
        _open_clients.pop().close()


@pytest.fixture
def make_proxy(sim: UpstreamSimulator, tmp_path: Path) -> Iterator[ProxyFactory]:
    started: list[ProxyServer] = []

    def factory(**overrides: Any) -> ProxyServer:
        # No spares unless a test asks: the other tests count the CLIs a request leaves.
        overrides.setdefault("warm_pool", 0)
        overrides.setdefault("data_dir", tmp_path / f"data{len(started)}")
        settings = Settings(port=0, **overrides)
        server = ProxyServer(settings)
        server.start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
    assert wait_for_no_cli(2.0) == [], "a CLI process outlived its test"


@pytest.fixture
def proxy(make_proxy: ProxyFactory) -> ProxyServer:
    return make_proxy()


@pytest.fixture
def client(proxy: ProxyServer) -> anthropic.Anthropic:
    return anthropic_client(proxy.base_url)


@pytest.fixture
def browser() -> Iterator[object]:
    """A Chromium to open pages in (see tests/browser_pages.py)."""
    from playwright.sync_api import sync_playwright

    from tests.browser_pages import chromium_path

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()
