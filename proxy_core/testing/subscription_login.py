"""A made-up subscription login, so the real CLI runs as most users run it: on OAuth.

The CLI reads its login from ``$CLAUDE_CONFIG_DIR/.credentials.json``. With one of
these there and no ``ANTHROPIC_API_KEY``, it calls the upstream with
``Authorization: Bearer <token>``, and the upstream simulator answers such callers
with the subscription's rate-limit headers. The token is never valid anywhere else.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

MADE_UP_TOKEN = "sk-ant-oat01-simulated-subscription-login"
TEN_YEARS_S = 10 * 365 * 86400


def write_login(config_dir: Path, *, subscription_type: str = "max") -> Path:
    """Write the login into ``config_dir`` (use it as ``CLAUDE_CONFIG_DIR``); returns the file."""
    config_dir.mkdir(parents=True, exist_ok=True)
    credentials = config_dir / ".credentials.json"
    login = {
        "claudeAiOauth": {
            "accessToken": MADE_UP_TOKEN,
            "refreshToken": "sk-ant-ort01-simulated-refresh",
            # Far off, so the CLI never tries to refresh it (that would call the real login).
            "expiresAt": int((time.time() + TEN_YEARS_S) * 1000),
            "scopes": ["user:inference", "user:profile"],
            "subscriptionType": subscription_type,
        }
    }
    credentials.write_text(json.dumps(login), encoding="utf-8")
    credentials.chmod(0o600)
    return credentials
