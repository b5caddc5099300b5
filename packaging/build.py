"""Build the app for this OS into dist/: ``python packaging/build.py [--lean [--onefile]]``.

Needs the build extra: ``pip install -e '.[build]'``. The result is
``dist/claude-sdk-proxy/`` (a folder with the executable inside, and the Claude Code CLI this
release was tested with), ``dist/claude-sdk-proxy`` with ``--lean --onefile``, or
``dist/Claude SDK Proxy.app`` on macOS. ``--lean`` leaves the CLI out: the app then uses
the user's ``claude``. The build checks that the
executable it made starts and reports the right version.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "claude-sdk-proxy.spec"
NAME = "claude-sdk-proxy"
MAC_APP = "Claude SDK Proxy.app"


def built_executable(dist: Path, *, onefile: bool, platform: str = sys.platform) -> Path:
    """Where the build leaves the executable for ``platform``."""
    suffix = ".exe" if platform == "win32" else ""
    if platform == "darwin":
        return dist / MAC_APP / "Contents" / "MacOS" / NAME
    if onefile:
        return dist / f"{NAME}{suffix}"
    return dist / NAME / f"{NAME}{suffix}"


def size_on_disk(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lean",
        action="store_true",
        help="leave out the Claude Code CLI the app carries (the app then uses the user's claude)",
    )
    parser.add_argument(
        "--onefile", action="store_true", help="one file instead of a folder (with --lean)"
    )
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument(
        "--work", type=Path, default=ROOT / "build", help="PyInstaller's scratch folder"
    )
    args = parser.parse_args(argv)
    if args.onefile and not args.lean:
        parser.error(
            "--onefile needs --lean: a one-file build carrying the CLI would unpack it at "
            "every start"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("PyInstaller") is None:
        print("PyInstaller is missing: pip install -e '.[build]'", file=sys.stderr)
        return 1
    spec_options = [flag for flag, on in (("--onefile", args.onefile), ("--lean", args.lean)) if on]
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--log-level",
        "WARN",
        "--distpath",
        str(args.dist),
        "--workpath",
        str(args.work),
        str(SPEC),
        "--",
        *spec_options,
    ]
    # pystray's build hook imports pystray, which needs a display unless told to use its
    # dummy backend; the frozen app still contains and chooses every real backend.
    env = {**os.environ, "PYSTRAY_BACKEND": "dummy"}
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    elapsed = time.monotonic() - started
    executable = built_executable(args.dist, onefile=args.onefile)
    version = subprocess.run(
        [str(executable), "--version"], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    shipped = executable if args.onefile and sys.platform != "darwin" else executable.parent
    if sys.platform == "darwin":
        shipped = args.dist / MAC_APP
    print(f"built {version} in {elapsed:.0f} s: {executable}")
    print(f"size: {size_on_disk(shipped) / 1e6:.0f} MB ({shipped})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
