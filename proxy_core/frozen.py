"""Undo, for the programs we start, what a frozen (PyInstaller) start changes.

PyInstaller's bootloader puts the app's own library folder first on
``LD_LIBRARY_PATH`` and keeps the user's value in ``LD_LIBRARY_PATH_ORIG``. Our
children (the Claude Code CLI, ``xdg-open``, ``xclip``) are the system's
programs and must load the system's libraries, so both entry points call
:func:`prepare_environment` once at start. The dynamic loader read
``LD_LIBRARY_PATH`` when this process started, so the change reaches only children.

Runtime hooks of a build with GTK also point ``GI_TYPELIB_PATH``,
``GIO_MODULE_DIR``, ``XDG_DATA_DIRS`` and the like into the app, for its own GTK,
which reads them later; desktop programs we open get :func:`child_env` instead,
with every such path removed.

An app started from Finder, Explorer or a desktop menu also gets a short ``PATH``
that misses where the Claude Code installers put ``claude``; those folders are
added at its end, so the CLI is found as it is in the user's terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

LIBRARY_PATH = "LD_LIBRARY_PATH"
SAVED_LIBRARY_PATH = "LD_LIBRARY_PATH_ORIG"


def bundle_dir() -> str | None:
    """The frozen app's library folder, or None when running from source."""
    if not getattr(sys, "frozen", False):
        return None
    return getattr(sys, "_MEIPASS", None)


def cli_install_dirs(home: Path, platform: str = sys.platform) -> list[Path]:
    """Where Claude Code's installers put ``claude`` (the places claude-agent-sdk also tries)."""
    dirs = [home / ".local" / "bin", home / ".claude" / "local"]
    if platform != "win32":
        dirs += [Path("/opt/homebrew/bin"), Path("/usr/local/bin")]
        dirs += [home / ".npm-global" / "bin", home / ".yarn" / "bin"]
        dirs += [home / "node_modules" / ".bin"]
    return dirs


def restore_library_path(environ: MutableMapping[str, str], bundle: str) -> None:
    saved = environ.pop(SAVED_LIBRARY_PATH, None)
    if saved is not None:
        environ[LIBRARY_PATH] = saved
        return
    # No saved value: the variable was unset before the bootloader added the bundle to it.
    entries = environ.get(LIBRARY_PATH, "").split(os.pathsep)
    if bundle in entries:
        rest = [entry for entry in entries if entry and entry != bundle]
        if rest:
            environ[LIBRARY_PATH] = os.pathsep.join(rest)
        else:
            del environ[LIBRARY_PATH]


def add_cli_install_dirs(environ: MutableMapping[str, str], dirs: list[Path]) -> None:
    entries = [entry for entry in environ.get("PATH", "").split(os.pathsep) if entry]
    missing = [str(d) for d in dirs if d.is_dir() and str(d) not in entries]
    if missing:
        environ["PATH"] = os.pathsep.join(entries + missing)


def without_bundle_paths(environ: Mapping[str, str], bundle: str) -> dict[str, str]:
    """A copy of ``environ`` without the paths into ``bundle`` (a variable left empty goes)."""
    env = {}
    for name, value in environ.items():
        if bundle not in value:
            env[name] = value
            continue
        kept = [part for part in value.split(os.pathsep) if part and not part.startswith(bundle)]
        if kept:
            env[name] = os.pathsep.join(kept)
    return env


def child_env() -> dict[str, str] | None:
    """The environment for a desktop program we start; None (inherit ours) from source."""
    bundle = bundle_dir()
    return None if bundle is None else without_bundle_paths(os.environ, bundle)


def prepare_environment(
    environ: MutableMapping[str, str] | None = None,
    *,
    bundle: str | None = None,
    home: Path | None = None,
) -> None:
    """Make a frozen app's environment right for its children; nothing happens from source.

    Safe to call twice (the tray's headless mode runs the server's entry point too).
    """
    environ = os.environ if environ is None else environ
    bundle = bundle or bundle_dir()
    if bundle is None:
        return
    restore_library_path(environ, bundle)
    add_cli_install_dirs(environ, cli_install_dirs(home or Path.home()))
