"""The real node clients (installed from tests/clients/package-lock.json by scripts/test)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NODE_BIN = Path(__file__).parent / "node_modules" / ".bin"


def node_client(name: str) -> Path:
    """The client's executable; CI must have it, a developer without npm is told why not."""
    path = NODE_BIN / name
    if not path.exists():
        reason = f"{path} is missing: run scripts/test (it installs the node clients with npm)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def node() -> str:
    found = shutil.which("node")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed")
        pytest.skip("node is not installed")
    return found
