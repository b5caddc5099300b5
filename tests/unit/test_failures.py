"""failure_to_error: the CLI's error category, text and status to a ProxyError."""

from __future__ import annotations

import time

import pytest

from proxy_core import errors
from proxy_core.backend.failures import (
    DEFAULT_RETRY_AFTER_S,
    LOGIN_HINT,
    failure_to_error,
    is_billing_refusal,
    retry_after_from,
)

NOW = 1_800_000_000.0
BILLING_REFUSAL = (
    "Third-party apps now draw from your extra usage, not your plan limits. "
    "Turn on extra usage to continue."
)


# --- authentication ----------------------------------------------------------------


def test_401_is_an_authentication_error_with_the_login_hint() -> None:
    error = failure_to_error("authentication_failed", "API Error: 401 Invalid bearer token", 401)
    assert type(error) is errors.AuthenticationError
    assert error.status == 401
    assert error.kind == "authentication_error"
    assert error.message.startswith("Invalid bearer token")
    assert LOGIN_HINT in error.message
    assert "API Error" not in error.message


@pytest.mark.parametrize(
    ("category", "status"), [("authentication_failed", None), (None, 401), ("unknown", 401)]
)
def test_authentication_by_category_or_status(category: str | None, status: int | None) -> None:
    error = failure_to_error(category, "token rejected", status)
    assert isinstance(error, errors.AuthenticationError)
    assert LOGIN_HINT in error.message


@pytest.mark.parametrize(
    "text", ["Not logged in · Please run /login", "Invalid API key · Please run /login"]
)
def test_not_logged_in_text_wins_over_any_status(text: str) -> None:
    error = failure_to_error(None, text, 500)
    assert isinstance(error, errors.AuthenticationError)
    assert error.message == f"Claude Code is not logged in. {LOGIN_HINT}"


def test_login_hint_does_not_double_the_full_stop() -> None:
    error = failure_to_error(
        "authentication_failed", "API Error: 401 OAuth token has expired.", 401
    )
    assert ".." not in error.message


# --- 403 / 402 --------------------------------------------------------------------------


def test_403_is_permission_denied_even_with_an_auth_category() -> None:
    error = failure_to_error("authentication_failed", "API Error: 403 Forbidden", 403)
    assert type(error) is errors.PermissionDeniedError
    assert error.status == 403
    assert error.message == "Forbidden"


@pytest.mark.parametrize(("category", "status"), [("billing_error", None), (None, 402)])
def test_billing_error(category: str | None, status: int | None) -> None:
    error = failure_to_error(category, "Credit balance is too low", status)
    assert type(error) is errors.BillingError
    assert error.status == 402
    assert error.message == "Credit balance is too low"


# --- 429 ------------------------------------------------------------------------------


def test_retry_after_from_resets_at_and_now() -> None:
    assert retry_after_from(int(NOW) + 120, now=NOW) == 120
    assert retry_after_from(int(NOW) + 1, now=NOW - 0.5) == 1


@pytest.mark.parametrize("resets_at", [int(NOW), int(NOW) - 3600])
def test_retry_after_is_at_least_one_second(resets_at: int) -> None:
    assert retry_after_from(resets_at, now=NOW) == 1


@pytest.mark.parametrize("resets_at", [None, 0])
def test_retry_after_defaults_without_resets_at(resets_at: int | None) -> None:
    assert retry_after_from(resets_at, now=NOW) == DEFAULT_RETRY_AFTER_S


@pytest.mark.parametrize(("category", "status"), [("rate_limit", None), (None, 429)])
def test_429_carries_retry_after_from_resets_at(
    monkeypatch: pytest.MonkeyPatch, category: str | None, status: int | None
) -> None:
    # failure_to_error takes no `now`; pin the clock it reads instead.
    monkeypatch.setattr(time, "time", lambda: NOW)
    error = failure_to_error(
        category,
        "API Error: 429 Rate limited",
        status,
        rate_limit_resets_at=int(NOW) + 300,
    )
    assert type(error) is errors.RateLimitError
    assert error.status == 429
    assert error.retry_after == 300
    assert error.message == "Rate limited"


def test_429_without_resets_at_uses_the_default_retry_after() -> None:
    error = failure_to_error("rate_limit", "Usage limit reached", 429)
    assert error.retry_after == DEFAULT_RETRY_AFTER_S


# --- 413 / 404 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "status"),
    [("Prompt is too long", 413), ("Request too large for model", None)],
)
def test_request_too_large(text: str, status: int | None) -> None:
    error = failure_to_error(None, text, status)
    assert type(error) is errors.RequestTooLargeError
    assert error.status == 413


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("model: claude-nope not found", 404),
        ("There's an issue with the selected model (claude-nope). It may not exist.", None),
    ],
)
def test_not_found(text: str, status: int | None) -> None:
    error = failure_to_error(None, text, status)
    assert type(error) is errors.NotFoundError
    assert error.status == 404


# --- 400 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"API Error: 400 {BILLING_REFUSAL}",
        f"API Error: 400 Request rejected (400) · {BILLING_REFUSAL}",
        BILLING_REFUSAL,
    ],
)
def test_400_extra_usage_refusal_is_a_billing_refusal(text: str) -> None:
    error = failure_to_error("invalid_request", text, 400)
    assert type(error) is errors.BillingRefusedError
    assert isinstance(error, errors.InvalidRequestError)
    assert error.status == 400
    assert error.kind == "invalid_request_error"
    assert error.message == BILLING_REFUSAL


def test_billing_refusal_by_status_alone() -> None:
    error = failure_to_error(None, f"API Error: 400 {BILLING_REFUSAL}", 400)
    assert type(error) is errors.BillingRefusedError


def test_plain_400_is_an_invalid_request() -> None:
    error = failure_to_error(
        "invalid_request", "API Error: 400 messages.0.content: must not be empty", 400
    )
    assert type(error) is errors.InvalidRequestError
    assert error.message == "messages.0.content: must not be empty"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Third-party apps now draw from your extra usage", True),
        ("THIRD-PARTY APPS are billed differently", True),
        ("You have run out of Extra Usage", True),
        ("max_tokens: must be at most 128000", False),
        ("", False),
    ],
)
def test_is_billing_refusal(text: str, expected: bool) -> None:
    assert is_billing_refusal(text) is expected


# --- timeouts and server errors --------------------------------------------------------------


def test_timeout_text_without_status_is_a_504() -> None:
    error = failure_to_error(None, "Request timed out.", None)
    assert type(error) is errors.BackendTimeoutError
    assert error.status == 504
    assert error.kind == "timeout_error"


def test_timeout_text_with_a_status_is_not_a_timeout() -> None:
    error = failure_to_error(None, "Upstream timed out", 502)
    assert not isinstance(error, errors.BackendTimeoutError)
    assert error.status == 502


@pytest.mark.parametrize(
    ("text", "status"), [("API Error: 529 Overloaded", 529), ("Overloaded", None)]
)
def test_overloaded(text: str, status: int | None) -> None:
    error = failure_to_error(None, text, status)
    assert type(error) is errors.OverloadedError
    assert error.status == 529
    assert error.message == "Overloaded"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_keeps_the_upstream_status(status: int) -> None:
    error = failure_to_error(None, f"API Error: {status} Internal server error", status)
    assert type(error) is errors.BackendError
    assert error.status == status
    assert error.kind == "api_error"
    assert error.message == "Internal server error"


def test_5xx_status_does_not_leak_into_the_class() -> None:
    failure_to_error(None, "boom", 500)
    assert errors.BackendError.status == 502
    assert failure_to_error(None, "boom", None).status == 502


@pytest.mark.parametrize("status", [None, 418, 302])
def test_anything_else_is_a_502_backend_error(status: int | None) -> None:
    error = failure_to_error("unknown", "Something odd happened", status)
    assert type(error) is errors.BackendError
    assert error.status == 502


# --- message cleaning --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("API Error: 400 Bad thing", "Bad thing"),
        ("  API Error: 400   Bad thing  ", "Bad thing"),
        ("API Error: Bad thing", "Bad thing"),
        ("API Error: 400 Request rejected (400) · Bad thing", "Bad thing"),
        ("Bad thing", "Bad thing"),
        ("Not an API Error: 400 prefix", "Not an API Error: 400 prefix"),
    ],
)
def test_api_error_prefix_is_cleaned(text: str, expected: str) -> None:
    assert failure_to_error(None, text, 400).message == expected


@pytest.mark.parametrize("text", ["", "   ", "API Error: 500"])
def test_empty_text_gets_a_generic_message(text: str) -> None:
    assert failure_to_error(None, text, 500).message == "The upstream API failed."
