"""The real node clients (installed from tests/clients/package-lock.json by scripts/test)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NODE_MODULES = Path(__file__).parent / "node_modules"


def missing(reason: str) -> None:
    """CI must have every client; a developer without npm is told why a test did not run."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def node_client(name: str) -> Path:
    """An installed client's executable."""
    path = NODE_MODULES / ".bin" / name
    if not path.exists():
        missing(f"{path} is missing: run scripts/test (it installs the node clients with npm)")
    return path


def node_with(package: str) -> str:
    """The node binary, once ``package`` is installed for the scripts here."""
    found = shutil.which("node")
    if found is None:
        missing("node is not installed")
    if not (NODE_MODULES / package).is_dir():
        missing(f"the npm package {package} is missing: run scripts/test")
    assert found is not None
    return found
