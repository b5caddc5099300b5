"""What the frozen executable runs: the tray app, which also serves headless (``--headless``)."""

import sys

from tray_app.main import main

if __name__ == "__main__":
    sys.exit(main())
