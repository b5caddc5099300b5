# Sourced by the scripts: make .venv (once) and install the project into it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ -n "$1" ]; then extra="[$1]"; else extra=""; fi
.venv/bin/python -m pip install --quiet -e ".$extra"
