"""The headless command as a user runs it: flags, errors, a Claude Code parent, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from proxy_core.testing.upstream_simulator import Text, UpstreamSimulator
from proxy_core.version import __version__
from tests.conftest import anthropic_client

MODEL = "claude-sonnet-4-6"
HI = [{"role": "user", "content": "hi"}]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy_core", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env or dict(os.environ),
    )


def test_version_and_help() -> None:
    version = run_cli("--version")
    assert version.returncode == 0 and __version__ in version.stdout
    usage = run_cli("--help")
    assert usage.returncode == 0
    for flag in ("--port", "--host", "--debug", "--version"):
        assert flag in usage.stdout


def test_bad_flag_is_one_clear_line_and_exit_2() -> None:
    result = run_cli("--prot", "80")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--prot" in result.stderr


def test_bad_environment_value_is_named() -> None:
    result = run_cli(env={**os.environ, "CLAUDE_PROXY_PORT": "eighty"})
    assert result.returncode == 2
    assert "CLAUDE_PROXY_PORT" in result.stderr


def test_network_bind_without_key_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLAUDE_PROXY_API_KEY"}
    result = run_cli("--host", "0.0.0.0", "--port", str(free_port()), env=env)
    assert result.returncode == 2
    assert "CLAUDE_PROXY_API_KEY" in result.stderr


def test_port_in_use_is_reported_and_exits_1() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli("--port", str(port))
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "in use" in result.stderr


def wait_healthy(base_url: str, process: subprocess.Popen[str]) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            with urllib.request.urlopen(base_url + "/health", timeout=5) as response:
                return dict(json.loads(response.read()))
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the proxy did not come up")


def start_headless(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy_core", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_healthy(f"http://127.0.0.1:{port}", process)
    return process


@pytest.fixture
def headless_env(sim: UpstreamSimulator, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CLAUDE_PROXY_DATA_DIR": str(tmp_path / "data"),
        "CLAUDE_PROXY_CONFIG_DIR": str(tmp_path / "config"),
        # As if started from a Claude Code terminal:
        "CLAUDECODE": "1",
        "CLAUDE_CODE_ENTRYPOINT": "cli",
        "CLAUDE_CODE_SSE_PORT": "1",
    }


@pytest.fixture
def headless(headless_env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = start_headless(headless_env, port)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_started_from_claude_code_it_still_serves_and_warns_about_the_api_key(
    api_key_billing: str, headless: tuple[str, subprocess.Popen[str]], sim: UpstreamSimulator
) -> None:
    base_url, process = headless
    client = anthropic_client(base_url, api_key="x", max_retries=0)
    assert client.messages.create(model=MODEL, max_tokens=8, messages=HI).content
    assert len(sim.message_calls()) == 1
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert "ANTHROPIC_API_KEY is set" in stderr
    assert "CLAUDECODE" in stderr  # named among the variables not passed on
    assert "sk-ant-simulator" not in stderr, "a secret reached the log"


def test_sigterm_finishes_the_running_request_and_leaves_no_cli(
    headless: tuple[str, subprocess.Popen[str]], sim: UpstreamSimulator
) -> None:
    base_url, process = headless
    sim.enqueue(Text("finished despite SIGTERM", chunks=4, delay_between_chunks=0.3))
    client = anthropic_client(base_url, api_key="x", max_retries=0)
    with client.messages.stream(model=MODEL, max_tokens=8, messages=HI) as stream:
        first = next(iter(stream))
        assert first.type == "message_start"
        server = psutil.Process(process.pid)
        clis = [p for p in server.children(recursive=True) if "stream-json" in p.cmdline()]
        assert clis, "the request should be running in a CLI"
        process.send_signal(signal.SIGTERM)
        text = stream.get_final_text()
    assert text == "finished despite SIGTERM"
    assert process.wait(15) == 0
    _, still_alive = psutil.wait_procs(clis, timeout=2)
    assert still_alive == []


def test_a_restart_ends_the_clis_a_killed_proxy_left_behind(
    headless: tuple[str, subprocess.Popen[str]],
    headless_env: dict[str, str],
    sim: UpstreamSimulator,
) -> None:
    base_url, process = headless
    sim.enqueue(Text("word " * 40, chunks=40, delay_between_chunks=0.5))
    client = anthropic_client(base_url, api_key="x", max_retries=0)
    with client.messages.stream(model=MODEL, max_tokens=8, messages=HI) as stream:
        # The first text, not the first event: in a cold process loading the SDK can outlast
        # the commit wait, and the proxy's own early message_start comes before any CLI.
        next(event for event in stream if event.type == "content_block_delta")
        server = psutil.Process(process.pid)
        clis = [p for p in server.children(recursive=True) if "stream-json" in p.cmdline()]
        assert clis
        process.kill()  # no chance to clean up
        process.communicate(timeout=10)
    assert all(cli.is_running() for cli in clis), "the orphan should outlive a SIGKILLed parent"

    port = free_port()
    restarted = start_headless(headless_env, port)
    try:
        _, still_alive = psutil.wait_procs(clis, timeout=2)
        # The killed orphan is init's child now: when init reaps it is not the proxy's doing.
        assert [p for p in still_alive if not _is_zombie(p)] == []
    finally:
        restarted.kill()
        restarted.communicate(timeout=10)


def test_a_shell_set_up_for_clients_does_not_turn_the_proxy_into_one(
    headless_env: dict[str, str],
) -> None:
    # ANTHROPIC_BASE_URL at the proxy and a placeholder key: what users export for their apps.
    port = free_port()
    env = {
        **headless_env,
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ANTHROPIC_API_KEY": "unused",
    }
    process = start_headless(env, port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
            health = json.loads(response.read())
        assert health["auth_mode"] == "subscription"
        assert health["cli"]["auth_method"] != "api_key"
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    assert "points at this proxy" in stderr
    assert "ANTHROPIC_API_KEY is set" not in stderr


def _is_zombie(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True  # reaped meanwhile
