"""The README's first command, as a new user meets it: scripts/run, a plain install's tray."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

from packaging.requirements import Requirement

from proxy_core.testing.upstream_simulator import UpstreamSimulator
from tests.api.test_entrypoint import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]


def test_a_plain_install_brings_the_tray_with_it() -> None:
    requirements = [Requirement(r) for r in importlib.metadata.requires("claude-sdk-proxy") or []]
    plain = {r.name.lower() for r in requirements if r.marker is None}
    assert {"pystray", "pillow", "keyring"} <= plain


def test_scripts_run_serves_headless_without_a_display_and_logs_each_line_once(
    sim: UpstreamSimulator, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY", "PYSTRAY_BACKEND")
    }
    env.update(
        CLAUDE_PROXY_PORT=str(port),
        CLAUDE_PROXY_DATA_DIR=str(tmp_path / "data"),
        CLAUDE_PROXY_CONFIG_DIR=str(tmp_path / "config"),
        CLAUDE_PROXY_LOG_DIR=str(tmp_path / "logs"),
    )
    app = subprocess.Popen(
        [str(ROOT / "scripts" / "run")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", app)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10) as answer:
            assert answer.status == 200
    finally:
        app.send_signal(signal.SIGTERM)
        _, errors = app.communicate(timeout=30)
    assert app.returncode == 0, errors
    assert "running headless" in errors
    assert errors.count("listening at") == 1, errors
    assert (tmp_path / "logs" / "tray.log").exists()
