#!/bin/sh
# Run "$@" while a real notification daemon (dunst) owns org.freedesktop.Notifications on the
# session bus; what it receives is printed to $NOTIFICATION_LOG.
dunst -print >"$NOTIFICATION_LOG" 2>&1 &
daemon=$!
for _ in $(seq 50); do  # until dunst owns the name: an earlier notification would be lost
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.GetNameOwner string:org.freedesktop.Notifications >/dev/null 2>&1 && break
    sleep 0.1
done
"$@"
status=$?
kill "$daemon"
exit "$status"
