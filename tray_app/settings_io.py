"""The tray's side of config.json: the same file the headless server reads.

Changes are validated the way the server would read them before anything is
written, and written atomically, so a crash never leaves half a file. The API
key never goes here; it lives in the keyring (tray_app.secrets).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from proxy_core.config import ConfigError, Settings, load_settings, read_config_file

SECRET_SETTINGS = frozenset({"api_key"})


def save_settings(path: Path, changes: Mapping[str, Any]) -> Settings:
    """Merge ``changes`` into the file; returns the settings the server will now read.

    Raises ConfigError, leaving the file as it was, when a value is not usable.
    """
    settings, merged = _validated(path, changes)
    _write_atomically(path, merged)
    return settings


def preview_settings(path: Path, changes: Mapping[str, Any]) -> Settings:
    """The settings ``changes`` would give, validated, with the file left as it is: for a
    change that must be seen to work (a port) before it is saved."""
    return _validated(path, changes)[0]


def _validated(path: Path, changes: Mapping[str, Any]) -> tuple[Settings, dict[str, Any]]:
    secret = SECRET_SETTINGS & set(changes)
    if secret:
        raise ConfigError(f"{', '.join(sorted(secret))} belongs in the keyring, not in {path.name}")
    merged = {**read_config_file(path), **changes}
    merged = {key: value for key, value in merged.items() if value is not None}
    candidate = path.with_name(f".{path.name}.check")
    try:
        _write_atomically(candidate, merged)
        # Validate through the same reader the server uses, with no environment in the way.
        settings = load_settings(environ={}, config_path=candidate)
    finally:
        candidate.unlink(missing_ok=True)
    return settings, merged


def _write_atomically(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(dict(data), file, indent=2, sort_keys=True, default=str)
            file.write("\n")
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
