# Sourced by the scripts: make .venv (once) and install the project into it (again only when
# pyproject.toml changed). $1 names the extra to install with it ("" for none).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed${1:+-$1}"
# The test install holds everything the plain one does.
if [ -z "${1:-}" ] && [ -f .venv/.installed-test ] && [ ! pyproject.toml -nt .venv/.installed-test ]; then
    stamp=.venv/.installed-test
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".${1:+[$1]}"
    touch "$stamp"
fi
# The Linux tray menu needs PyGObject, built into the venv when its headers are installed:
# the app (scripts/run) then has its full menu and the tests drive the real menus. Without
# it the icon has no menu (a click opens the settings page) and the real-menu tests skip.
if [ "$(uname -s)" = Linux ] && { [ -z "${1:-}" ] || [ "${1:-}" = test ]; } \
    && ! .venv/bin/python -c 'import gi' 2>/dev/null; then
    if ! pkg-config --exists gobject-introspection-1.0 cairo 2>/dev/null; then
        echo "note: the tray icon has no menu without PyGObject: install libgirepository1.0-dev" \
            "and libcairo2-dev (Debian), then run this again" >&2
    elif [ ! -f .venv/.gtk-failed ] || [ pyproject.toml -nt .venv/.gtk-failed ]; then
        .venv/bin/python -m pip install --quiet -e ".[gtk]" || {
            touch .venv/.gtk-failed
            echo "note: PyGObject did not build: the tray icon will have no menu" >&2
        }
    fi
fi
# The real node clients the tests drive (Codex, the AI SDK), pinned by tests/clients/package-lock.json.
if [ "${1:-}" = test ] && command -v npm >/dev/null 2>&1; then
    clients=tests/clients
    if [ ! -f "$clients/node_modules/.installed" ] \
        || [ "$clients/package-lock.json" -nt "$clients/node_modules/.installed" ]; then
        npm ci --prefix "$clients" --no-audit --no-fund --loglevel=error \
            && touch "$clients/node_modules/.installed" \
            || echo "note: npm could not install the node clients; their tests will say so"
    fi
fi
