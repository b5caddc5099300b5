# Sourced by the scripts: make .venv (once) and install the project into it (again only when
# pyproject.toml changed). $1 names the extra to install with it ("" for none).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed${1:+-$1}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".${1:+[$1]}"
    touch "$stamp"
fi
