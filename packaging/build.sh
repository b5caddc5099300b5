#!/usr/bin/env bash
# Build the app on Linux or macOS in a venv of its own (.venv-build), into dist/.
#   packaging/build.sh [--lean [--onefile]]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-build
if [ ! -x "$venv/bin/python" ]; then
    if [ "$(uname)" = Linux ] && /usr/bin/python3 -c 'import gi' 2>/dev/null; then
        # The tray menu on Linux needs PyGObject and AppIndicator, which come with the
        # system's Python (Debian: python3-gi gir1.2-ayatanaappindicator3-0.1).
        /usr/bin/python3 -m venv --system-site-packages "$venv"
    else
        if [ "$(uname)" = Linux ]; then
            echo "note: no PyGObject in /usr/bin/python3: the Linux tray icon will have no menu" >&2
        fi
        "${PYTHON:-python3}" -m venv "$venv"
    fi
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e '.[build]'
exec "$venv/bin/python" packaging/build.py "$@"
