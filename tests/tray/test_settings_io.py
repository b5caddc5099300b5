"""The tray writes the config file the headless server reads, safely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy_core.config import ConfigError, load_settings
from tray_app.settings_io import save_settings


def test_changes_merge_into_the_file_the_server_reads(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"max_concurrent": 3}))
    settings = save_settings(path, {"port": 4567})
    assert settings.port == 4567 and settings.max_concurrent == 3
    assert json.loads(path.read_text()) == {"max_concurrent": 3, "port": 4567}
    server_view = load_settings(environ={}, config_path=path)
    assert server_view.port == 4567 and server_view.max_concurrent == 3


@pytest.mark.parametrize(
    "changes", [{"port": 70000}, {"host": ""}, {"max_concurrent": 0}, {"no_such_setting": 1}]
)
def test_bad_values_are_refused_and_the_file_is_untouched(
    tmp_path: Path, changes: dict[str, object]
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"port": 4000}))
    with pytest.raises(ConfigError):
        save_settings(path, changes)
    assert json.loads(path.read_text()) == {"port": 4000}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"], (
        "no temporary file is left"
    )


def test_the_api_key_never_goes_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    with pytest.raises(ConfigError, match="keyring"):
        save_settings(path, {"api_key": "csp-secret"})
    assert not path.exists()


def test_none_removes_a_setting(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    save_settings(path, {"port": 4567, "host": "127.0.0.1"})
    save_settings(path, {"host": None})
    assert json.loads(path.read_text()) == {"port": 4567}


def test_a_preview_validates_without_writing(tmp_path: Path) -> None:
    from tray_app.settings_io import preview_settings

    path = tmp_path / "config.json"
    assert preview_settings(path, {"port": 4567}).port == 4567
    assert not path.exists()
    with pytest.raises(ConfigError):
        preview_settings(path, {"port": 70000})
