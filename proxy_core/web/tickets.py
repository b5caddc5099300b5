"""One-time tickets that let the tray open the dashboard with the API key, keeping the key
out of the address bar and the history.

The tray asks for a ticket (in-process, through the server handle) and opens
``/dashboard#ticket=...``: a fragment is never sent to a server or written to its
log. The page trades the ticket for the key once, keeps the key in the tab's
session storage, and drops the fragment from its address. A ticket works once,
for two minutes; a leaked address is worthless after that.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time

TICKET_LIFETIME_S = 120.0


class TicketBook:
    def __init__(self, lifetime_s: float = TICKET_LIFETIME_S) -> None:
        self._lifetime_s = lifetime_s
        self._lock = threading.Lock()
        self._tickets: dict[str, float] = {}

    def issue(self) -> str:
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._drop_expired()
            self._tickets[ticket] = time.monotonic() + self._lifetime_s
        return ticket

    def redeem(self, ticket: str) -> bool:
        """True once for a ticket issued here that has not expired."""
        with self._lock:
            self._drop_expired()
            for known in list(self._tickets):
                if hmac.compare_digest(known.encode(), ticket.encode("utf-8", "replace")):
                    del self._tickets[known]
                    return True
        return False

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for ticket, expires in list(self._tickets.items()):
            if expires < now:
                del self._tickets[ticket]
