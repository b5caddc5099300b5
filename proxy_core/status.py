"""What the running proxy knows about its own health, for /health and the tray."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from proxy_core.backend.cli_status import CLIStatus
from proxy_core.errors import AuthenticationError, BillingRefusedError, ProxyError

log = logging.getLogger(__name__)


@dataclass
class Notice:
    message: str
    at: float = field(default_factory=time.time)

    def as_json(self) -> dict[str, Any]:
        return {"message": self.message, "at": int(self.at)}


@dataclass
class ProxyStatus:
    auth_mode: str
    cli: CLIStatus | None = None
    billing_warning: Notice | None = None
    auth_failure: Notice | None = None
    requests_served: int = 0
    cli_checked_at: float = 0.0

    def note_error(self, error: ProxyError) -> None:
        if isinstance(error, BillingRefusedError):
            self.billing_warning = Notice(error.message)
            log.warning("Billing: the upstream refused a request as extra usage: %s", error.message)
        elif isinstance(error, AuthenticationError):
            self.auth_failure = Notice(error.message)

    def note_success(self) -> None:
        self.requests_served += 1
        self.auth_failure = None
