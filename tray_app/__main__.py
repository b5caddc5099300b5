"""``python -m tray_app`` / ``claude-sdk-proxy-tray``: the desktop app, or the server without it."""

import sys

from tray_app.main import main

sys.exit(main())
