import sys

from proxy_core.cli import main

sys.exit(main())
