"""One server's usage: its ledger, the subscription's windows and its metrics, together.

Made before the backend (whose CLIs report the windows) and closed after the app.
The windows last reported are kept in the ledger, so a restart shows them at once,
with their age.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from proxy_core.config import Settings
from proxy_core.usage.ledger import FILE_NAME, Ledger
from proxy_core.usage.metrics import Levels, Metrics
from proxy_core.usage.quota import QuotaBoard
from proxy_core.usage.served import ServedRequest

log = logging.getLogger(__name__)


class UsageService:
    def __init__(self, settings: Settings) -> None:
        self.ledger = Ledger(
            settings.data_dir / FILE_NAME, retention_days=settings.usage_retention_days
        )
        self.quota = QuotaBoard(self.ledger.windows())
        self.quota.on_change = self.ledger.save_windows
        self._levels: Callable[[], Levels] = Levels
        self.metrics = Metrics(lambda: self._levels())

    def read_levels_with(self, levels: Callable[[], Levels]) -> None:
        """How /metrics learns the server's queue and CLIs (the app knows them)."""
        self._levels = levels

    def record(self, served: ServedRequest) -> None:
        self.ledger.record(served)
        try:
            self.metrics.observe(served)
        except Exception:  # a metric is never a reason for a request to fail
            log.exception("Could not count a request in the metrics")

    def close(self) -> None:
        self.ledger.close()
