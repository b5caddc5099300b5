"""An idle server never imports claude-agent-sdk: that import alone costs ~55 MB."""

from __future__ import annotations

import json
import subprocess
import sys

SERVE_AND_ASK_FOR_HEALTH = """
import json, sys, tempfile, urllib.request
from pathlib import Path
from proxy_core.config import Settings
from proxy_core.server import ProxyServer
import tray_app.controller
with tempfile.TemporaryDirectory() as data:
    server = ProxyServer(Settings(port=0, data_dir=Path(data)))
    server.start()
    try:
        with urllib.request.urlopen(server.base_url + "/health", timeout=30) as response:
            health = json.loads(response.read())
    finally:
        server.stop()
print(json.dumps({"cli": health["cli"]["path"], "loaded": "claude_agent_sdk" in sys.modules}))
"""


def test_a_server_that_served_no_request_has_not_imported_the_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_ASK_FOR_HEALTH],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["cli"], "the bundled CLI is found without importing the SDK"
    assert report["loaded"] is False
