"""claude-agent-sdk (~55 MB, ~0.9 s to import) is loaded right after start, so the first
request does not wait for it; with preload_sdk off an idle server never imports it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVE_AND_ASK_FOR_HEALTH = """
import json, sys, tempfile, time, urllib.request
from pathlib import Path
from proxy_core.config import Settings
from proxy_core.server import ProxyServer
import tray_app.controller
with tempfile.TemporaryDirectory() as data:
    server = ProxyServer(Settings(port=0, data_dir=Path(data), preload_sdk=PRELOAD))
    server.start()
    try:
        with urllib.request.urlopen(server.base_url + "/health", timeout=30) as response:
            health = json.loads(response.read())
        deadline = time.monotonic() + 20
        while PRELOAD and "claude_agent_sdk" not in sys.modules and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0 if PRELOAD else 2)  # long enough for a preload to have begun
    finally:
        server.stop()
print(json.dumps({"cli": health["cli"]["path"], "loaded": "claude_agent_sdk" in sys.modules}))
"""


@pytest.mark.parametrize("preload", [True, False])
def test_the_sdk_is_loaded_at_start_unless_the_idle_server_should_stay_small(
    preload: bool,
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_ASK_FOR_HEALTH.replace("PRELOAD", str(preload))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["cli"], "the bundled CLI is found without importing the SDK"
    assert report["loaded"] is preload
