"""Errors the proxy reports to clients.

Every failure that reaches a client is one of these, raised by validation or
by the backend and rendered once, by the HTTP error middleware, in the
dialect of the route that failed::

    ProxyError                      500 api_error
    ├── InvalidRequestError         400 invalid_request_error (names the field)
    ├── BillingRefusedError         400 invalid_request_error (extra-usage refusal; never retried)
    ├── AuthenticationError         401 authentication_error
    ├── BillingError                402 billing_error
    ├── PermissionDeniedError       403 permission_error
    ├── NotFoundError               404 not_found_error
    ├── RequestTooLargeError        413 request_too_large
    ├── RateLimitError              429 rate_limit_error (carries retry_after)
    ├── QueueFullError              429 rate_limit_error (our own concurrency limit)
    ├── BackendError                502 api_error (or the upstream's own 5xx status)
    ├── BackendUnavailableError     503 api_error (CLI missing or cannot start)
    ├── NotServedError              501 not_implemented_error (an endpoint Claude Code cannot serve)
    ├── BackendTimeoutError         504 timeout_error
    └── OverloadedError             529 overloaded_error
"""

from __future__ import annotations


class ProxyError(Exception):
    status = 500
    kind = "api_error"
    # Sent as x-should-retry, which the official SDKs obey over their own guess from the status.
    should_retry: bool | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        retry_after: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after
        # A machine-readable reason, for the dialects that carry one (OpenAI's `code`).
        self.code = code


class InvalidRequestError(ProxyError):
    status = 400
    kind = "invalid_request_error"


class BillingRefusedError(InvalidRequestError):
    """Upstream refused because the request would be billed as extra usage."""


class AuthenticationError(ProxyError):
    status = 401
    kind = "authentication_error"


class BillingError(ProxyError):
    status = 402
    kind = "billing_error"


class PermissionDeniedError(ProxyError):
    status = 403
    kind = "permission_error"


class NotFoundError(ProxyError):
    status = 404
    kind = "not_found_error"


class RequestTooLargeError(ProxyError):
    status = 413
    kind = "request_too_large"


class RateLimitError(ProxyError):
    status = 429
    kind = "rate_limit_error"
    should_retry = True


class QueueFullError(RateLimitError):
    """Our own concurrency limit and its queue are both full."""


class BackendError(ProxyError):
    status = 502
    kind = "api_error"


class SessionEndedError(BackendError):
    """The CLI ended before it answered; a kept conversation can be rebuilt instead."""


class BackendUnavailableError(ProxyError):
    status = 503
    kind = "api_error"


class NotServedError(ProxyError):
    """An API endpoint that cannot work through Claude Code; trying again cannot help."""

    status = 501
    kind = "not_implemented_error"
    should_retry = False


class BackendTimeoutError(ProxyError):
    status = 504
    kind = "timeout_error"


class OverloadedError(ProxyError):
    status = 529
    kind = "overloaded_error"
    should_retry = True
