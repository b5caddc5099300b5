"""What the proxy served and what the subscription has left: the ledger, windows, metrics."""
