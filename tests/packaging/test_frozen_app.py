"""The real app built by ``packaging/build.py`` and run as a user runs it.

Two PyInstaller builds per session, into a temporary folder: the default one, which
carries the Claude Code CLI this release pins (about 2 min on two cores), run with no
``claude`` anywhere on PATH; and the lean one (``--lean``, about 40 s), which uses the
user's. The chain is real except its far end: anthropic SDK -> the frozen executable ->
its bundled claude-agent-sdk -> the CLI inside the app (or the user's) -> upstream
simulator.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import claude_agent_sdk
import psutil
import pytest

from proxy_core.testing.upstream_simulator import Text, ToolCalls, UpstreamSimulator
from proxy_core.version import __version__
from tests.api.test_entrypoint import free_port, wait_healthy
from tests.conftest import anthropic_client

ROOT = Path(__file__).resolve().parents[2]
MODEL = "claude-sonnet-4-6"
HI = [{"role": "user", "content": "hi"}]
USER_LIBRARY_PATH = "/opt/the-users-own-libs"
BUILD_TIMEOUT_S = 600

pytestmark = [
    pytest.mark.frozen,
    pytest.mark.timeout(BUILD_TIMEOUT_S + 120),
    pytest.mark.skipif(
        importlib.util.find_spec("PyInstaller") is None,
        reason="PyInstaller is not installed (the test extra has it: pip install -e .[test])",
    ),
    pytest.mark.skipif(
        sys.platform == "linux" and shutil.which("objdump") is None,
        reason="PyInstaller needs objdump on Linux (Debian package binutils; .ci/run installs it)",
    ),
]


def load_build_script() -> ModuleType:
    # Loaded by path: `import packaging` would find the PyPI library of that name.
    spec = importlib.util.spec_from_file_location("build_script", ROOT / "packaging" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class FrozenApp:
    executable: Path
    folder: Path


def build_app(out: Path, *flags: str) -> FrozenApp:
    build = subprocess.run(
        [
            sys.executable,
            str(ROOT / "packaging" / "build.py"),
            "--dist",
            str(out / "dist"),
            "--work",
            str(out / "work"),
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    executable = load_build_script().built_executable(out / "dist", onefile=False)
    return FrozenApp(executable=executable, folder=executable.parent)


@pytest.fixture(scope="session")
def frozen_app(tmp_path_factory: pytest.TempPathFactory) -> FrozenApp:
    """The default build: the tested CLI inside."""
    return build_app(tmp_path_factory.mktemp("frozen"))


@pytest.fixture(scope="session")
def lean_app(tmp_path_factory: pytest.TempPathFactory) -> FrozenApp:
    return build_app(tmp_path_factory.mktemp("lean"), "--lean")


@pytest.fixture
def user_env(sim: UpstreamSimulator, tmp_path: Path) -> dict[str, str]:
    """A user's environment with no Claude Code installed: their own HOME and XDG folders and
    LD_LIBRARY_PATH, no ``claude`` on PATH, and the simulator as the CLI's upstream (inherited
    from os.environ)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_PROXY_")}
    path = [folder for folder in env.get("PATH", "").split(os.pathsep) if folder]
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_STATE_HOME=str(tmp_path / "xdg-state"),
        PATH=os.pathsep.join(p for p in path if shutil.which("claude", path=p) is None),
        LD_LIBRARY_PATH=USER_LIBRARY_PATH,
    )
    assert shutil.which("claude", path=env["PATH"]) is None
    # No screen; and not the tray tests' dummy pystray backend, whose run() hangs.
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "PYSTRAY_BACKEND"):
        env.pop(name, None)
    return env


@pytest.fixture
def users_claude(user_env: dict[str, str], tmp_path: Path) -> Path:
    """Claude Code installed by the user: a ``claude`` first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "claude").symlink_to(Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude")
    user_env["PATH"] = os.pathsep.join([str(bin_dir), user_env["PATH"]])
    return bin_dir / "claude"


@pytest.fixture
def run_app() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def start(
    run_app: list[subprocess.Popen[str]], app: FrozenApp, env: dict[str, str], *args: str
) -> subprocess.Popen[str]:
    cwd = Path(env["HOME"]) / "somewhere"  # as from a desktop: not the app's folder
    cwd.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [str(app.executable), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_app.append(process)
    return process


def files_under(folder: Path) -> set[Path]:
    return {path.relative_to(folder) for path in folder.rglob("*")}


def test_the_app_reports_its_version_and_carries_the_tested_cli(
    frozen_app: FrozenApp, lean_app: FrozenApp
) -> None:
    result = subprocess.run(
        [str(frozen_app.executable), "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and f"claude-sdk-proxy {__version__}" in result.stdout
    pinned = Path(claude_agent_sdk.__file__).parent / "_bundled"
    carried = {str(path).replace(os.sep, "/") for path in files_under(frozen_app.folder)}
    inside = [path for path in carried if path.endswith("claude_agent_sdk/_bundled/claude")]
    assert len(inside) == 1
    assert (frozen_app.folder / inside[0]).stat().st_size == (pinned / "claude").stat().st_size
    lean = {str(path).replace(os.sep, "/") for path in files_under(lean_app.folder)}
    assert not [path for path in lean if "claude_agent_sdk/_bundled" in path]


def served_count(base_url: str) -> int:
    with urllib.request.urlopen(base_url + "/usage", timeout=10) as response:
        return int(json.loads(response.read())["last_24h"]["requests"])


def test_headless_app_answers_with_no_claude_installed(
    frozen_app: FrozenApp,
    user_env: dict[str, str],
    run_app: list[subprocess.Popen[str]],
    sim: UpstreamSimulator,
) -> None:
    app_files = files_under(frozen_app.folder)
    port = free_port()
    process = start(run_app, frozen_app, user_env, "--headless", "-p", str(port))
    base_url = f"http://127.0.0.1:{port}"
    health = wait_healthy(base_url, process)
    cli = health["cli"]
    assert isinstance(cli, dict)
    # The CLI inside the app, at the version this release pins.
    assert Path(cli["path"]).is_relative_to(frozen_app.folder)
    pinned = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude.version"
    if pinned.is_file():
        assert cli["version"] == pinned.read_text().split()[0]  # "2.1.332 (Claude Code)"

    client = anthropic_client(base_url)
    sim.enqueue(Text("from the frozen app", chunks=3, delay_between_chunks=0.3))
    with client.messages.stream(model=MODEL, max_tokens=50, messages=HI) as stream:
        assert next(iter(stream)).type == "message_start"
        clis = [
            child
            for child in psutil.Process(process.pid).children(recursive=True)
            if "stream-json" in child.cmdline()
        ]
        assert clis, "the request should be running in a CLI"
        cli_env = clis[0].environ()
        text = stream.get_final_text()
    assert text == "from the frozen app"
    # The CLI got the user's library path, not the one the bootloader set for the app.
    assert cli_env.get("LD_LIBRARY_PATH") == USER_LIBRARY_PATH
    assert "LD_LIBRARY_PATH_ORIG" not in cli_env

    # Caller tools run through the SDK's in-process MCP server: its code is in the build too.
    sim.enqueue(ToolCalls(calls=(("get_weather", {"city": "Paris"}),)))
    reply = client.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[
            {
                "name": "get_weather",
                "description": "Current weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    )
    assert [(block.type, getattr(block, "name", None)) for block in reply.content] == [
        ("tool_use", "get_weather")
    ]
    assert len(sim.message_calls()) == 2

    # The dashboard's files are in the build, and the ledger counted both requests.
    with urllib.request.urlopen(base_url + "/dashboard/dashboard.js", timeout=10) as response:
        assert b"/usage/requests" in response.read()
    deadline = time.monotonic() + 10
    while served_count(base_url) < 2:
        assert time.monotonic() < deadline, "the ledger did not record the requests"
        time.sleep(0.05)

    process.send_signal(signal.SIGINT)
    assert process.wait(15) == 0
    # Its state went to the user's data folder, nothing next to the executable.
    data = Path(user_env["XDG_DATA_HOME"]) / "claude-sdk-proxy"
    assert (data / "cli-workdir").is_dir() and (data / "usage.db").is_file()
    assert files_under(frozen_app.folder) == app_files


def test_the_lean_app_answers_through_the_users_claude(
    lean_app: FrozenApp,
    user_env: dict[str, str],
    users_claude: Path,
    run_app: list[subprocess.Popen[str]],
    sim: UpstreamSimulator,
) -> None:
    port = free_port()
    process = start(run_app, lean_app, user_env, "--headless", "-p", str(port))
    base_url = f"http://127.0.0.1:{port}"
    health = wait_healthy(base_url, process)
    assert isinstance(health["cli"], dict) and health["cli"]["path"] == str(users_claude)
    sim.enqueue(Text("through your claude"))
    reply = anthropic_client(base_url).messages.create(model=MODEL, max_tokens=50, messages=HI)
    assert [block.text for block in reply.content if block.type == "text"] == [
        "through your claude"
    ]
    process.send_signal(signal.SIGINT)
    assert process.wait(15) == 0


def test_without_a_display_the_tray_app_serves_headless_and_logs_to_the_user_log_folder(
    frozen_app: FrozenApp, user_env: dict[str, str], run_app: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    process = start(run_app, frozen_app, user_env, "-p", str(port))
    health = wait_healthy(f"http://127.0.0.1:{port}", process)
    assert health["status"] == "ok"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert "running headless" in stderr
    log_file = Path(user_env["XDG_STATE_HOME"]) / "claude-sdk-proxy" / "log" / "tray.log"
    assert "serving without one" in log_file.read_text(encoding="utf-8")
