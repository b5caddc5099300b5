"""Tray test fixtures. pystray picks its backend at import: the dummy one needs no display."""

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest

from proxy_core.config import Settings
from proxy_core.log import set_debug
from proxy_core.testing.upstream_simulator import UpstreamSimulator
from tests.conftest import wait_for_no_cli
from tests.tray.memory_keyring import MemoryKeyring
from tests.tray.xvfb import desktop_session
from tray_app.autostart import LinuxAutostart
from tray_app.controller import TrayController
from tray_app.secrets import KeyStore

os.environ.setdefault("PYSTRAY_BACKEND", "dummy")  # before any test module imports pystray


@pytest.fixture
def clipboard() -> list[str]:
    return []


def controller_for(tmp_path: Path, clipboard: list[str], **settings: Any) -> TrayController:
    """A tray controller whose files all live under ``tmp_path``; ``settings`` as the user's."""
    return TrayController(
        Settings(**{"port": 0, "data_dir": tmp_path / "data", **settings}),
        config_path=tmp_path / "config.json",
        keys=KeyStore(tmp_path / "key"),
        autostart=LinuxAutostart(tmp_path / "autostart"),
        copy=clipboard.append,
    )


@pytest.fixture
def tray(sim: UpstreamSimulator, tmp_path: Path, clipboard: list[str]) -> Iterator[TrayController]:
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    level = logging.getLogger().level  # the settings page may turn debug logging on
    controller = controller_for(tmp_path, clipboard)
    yield controller
    controller.stop()
    keyring.set_keyring(previous)
    set_debug(level == logging.DEBUG)
    assert wait_for_no_cli(2.0) == []


@pytest.fixture
def desktop() -> Iterator[dict[str, str]]:
    with desktop_session() as env:
        yield env
