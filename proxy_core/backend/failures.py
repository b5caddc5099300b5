"""How a CLI failure becomes a ProxyError: the one table for the SDK boundary.

The CLI reports upstream failures as a synthetic assistant message (readable
text plus an ``error`` category) followed by a result carrying the HTTP status.
This module turns that pair into the error a client should see.
"""

from __future__ import annotations

import re
import time

from claude_agent_sdk import CLIConnectionError, CLINotFoundError

from proxy_core import errors

LOGIN_HINT = "Run `claude /login` (or `claude auth login`) on this machine, then retry."

_BILLING_REFUSAL = re.compile(r"extra usage|third-party apps", re.IGNORECASE)
_API_ERROR_PREFIX = re.compile(r"^API Error:\s*(\d{3}\s*)?(Request rejected \(\d{3}\)\s*·\s*)?")
DEFAULT_RETRY_AFTER_S = 10


def is_billing_refusal(message: str) -> bool:
    return bool(_BILLING_REFUSAL.search(message))


def _clean(text: str) -> str:
    return _API_ERROR_PREFIX.sub("", text.strip()).strip() or "The upstream API failed."


def retry_after_from(resets_at: int | None, now: float | None = None) -> int:
    if not resets_at:
        return DEFAULT_RETRY_AFTER_S
    return max(1, int(resets_at - (now if now is not None else time.time())))


def failure_to_error(
    category: str | None,
    text: str,
    status: int | None,
    *,
    rate_limit_resets_at: int | None = None,
) -> errors.ProxyError:
    """Map the CLI's error category, its message text and the upstream status."""
    message = _clean(text)
    lowered = message.lower()
    if "not logged in" in lowered or "please run /login" in lowered:
        return errors.AuthenticationError(f"Claude Code is not logged in. {LOGIN_HINT}")
    if status == 403:
        return errors.PermissionDeniedError(message)
    if category == "authentication_failed" or status == 401:
        return errors.AuthenticationError(f"{message.rstrip('.')}. {LOGIN_HINT}")
    if category == "billing_error" or status == 402:
        return errors.BillingError(message)
    if category == "rate_limit" or status == 429:
        retry_after = retry_after_from(rate_limit_resets_at)
        return errors.RateLimitError(message, retry_after=retry_after)
    if status == 413 or "request too large" in lowered:
        return errors.RequestTooLargeError(message)
    if status == 404 or "issue with the selected model" in lowered:
        return errors.NotFoundError(message)
    if category == "invalid_request" or status == 400:
        if is_billing_refusal(message):
            return errors.BillingRefusedError(message)
        return errors.InvalidRequestError(message)
    if status is None and "timed out" in lowered:
        return errors.BackendTimeoutError(message)
    if status == 529 or "overloaded" in lowered:
        return errors.OverloadedError(message, retry_after=DEFAULT_RETRY_AFTER_S)
    if status is not None and 500 <= status < 600:
        error = errors.BackendError(message)
        error.status = status
        return error
    return errors.BackendError(message)


def start_failure(error: Exception) -> errors.ProxyError:
    """Why a CLI did not start, as the client should read it."""
    if isinstance(error, errors.ProxyError):
        return error
    if isinstance(error, CLINotFoundError):
        return errors.BackendUnavailableError(
            "The Claude Code CLI was not found. Install it or set CLAUDE_PROXY_CLI_PATH."
        )
    if isinstance(error, CLIConnectionError):
        return errors.BackendUnavailableError(f"The Claude Code CLI could not start: {error}")
    return errors.BackendUnavailableError(f"The Claude Code CLI did not start: {error}")
