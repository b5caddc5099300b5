#!/bin/sh
# Run "$@" with a real, unlocked Secret Service (gnome-keyring) on a private session bus.
# Start it as: dbus-run-session -- tests/tray/scripts/secret_service_session.sh CMD...
set -e
export HOME="$(mktemp -d)"
export XDG_DATA_HOME="$HOME/.local/share" XDG_RUNTIME_DIR="$HOME/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
eval "$(printf 'test-password' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
"$@"
