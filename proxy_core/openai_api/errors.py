"""ProxyError in OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""

from __future__ import annotations

from typing import Any

from proxy_core.errors import ProxyError

# Anthropic error kind -> (OpenAI type, OpenAI code).
_KINDS: dict[str, tuple[str, str | None]] = {
    "invalid_request_error": ("invalid_request_error", None),
    "authentication_error": ("authentication_error", "invalid_api_key"),
    "billing_error": ("insufficient_quota", "insufficient_quota"),
    "permission_error": ("permission_error", None),
    "not_found_error": ("invalid_request_error", "not_found"),
    "request_too_large": ("invalid_request_error", "request_too_large"),
    "rate_limit_error": ("rate_limit_error", "rate_limit_exceeded"),
    "timeout_error": ("timeout", "timeout"),
    "overloaded_error": ("server_error", "overloaded"),
    "api_error": ("server_error", None),
}


def openai_error_body(error: ProxyError) -> dict[str, Any]:
    kind, code = _KINDS.get(error.kind, ("server_error", None))
    if error.code is not None:
        code = error.code
    elif error.kind == "not_found_error" and error.param == "model":
        code = "model_not_found"
    return {"error": {"message": error.message, "type": kind, "param": error.param, "code": code}}
