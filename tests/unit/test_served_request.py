"""What one served request keeps: the counts of whichever event carries them, the first token,
and a client named by its product only."""

from __future__ import annotations

from typing import Any

import pytest

from proxy_core.usage.served import ServedRequest, client_name


def noted(*events: dict[str, Any]) -> dict[str, int]:
    served = ServedRequest("anthropic", "sonnet", "test", stream=True)
    for event in events:
        served.observe(event)
    return served.tokens


def start(**usage: int) -> dict[str, Any]:
    return {"type": "message_start", "message": {"usage": usage}}


def end(**usage: int) -> dict[str, Any]:
    return {"type": "message_delta", "delta": {}, "usage": usage}


def test_a_final_delta_with_only_output_keeps_the_start_counts() -> None:
    assert noted(
        start(input_tokens=10, cache_read_input_tokens=5, output_tokens=1), end(output_tokens=7)
    ) == {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7}


def test_zeros_never_hide_counts_seen_before_or_after() -> None:
    assert noted(
        start(input_tokens=0, output_tokens=0),
        end(input_tokens=12, cache_read_input_tokens=3, output_tokens=4),
    ) == {"input_tokens": 12, "cache_read_input_tokens": 3, "output_tokens": 4}
    assert noted(start(input_tokens=12), end(input_tokens=0, output_tokens=4)) == {
        "input_tokens": 12,
        "output_tokens": 4,
    }


def test_other_events_are_not_counted() -> None:
    assert noted({"type": "content_block_delta", "usage": {"input_tokens": 9}}) == {}


def test_the_first_token_is_the_first_content_event() -> None:
    served = ServedRequest("anthropic", "sonnet", "test", stream=True)
    served.observe(start(input_tokens=1))
    assert served.first_token_ms is None
    served.observe({"type": "content_block_start", "index": 0, "content_block": {}})
    first = served.first_token_ms
    served.observe({"type": "content_block_delta", "index": 0, "delta": {}})
    assert first is not None and served.first_token_ms == first


def test_the_first_failure_is_the_one_kept() -> None:
    served = ServedRequest("anthropic", "sonnet", "test", stream=True)
    served.fail("rate_limit_error", "x" * 500)
    served.fail("client_closed", "later")
    served.finish(200)
    assert served.error_type == "rate_limit_error" and served.failed
    assert served.error_message is not None and len(served.error_message) == 160


@pytest.mark.parametrize(
    ("user_agent", "name"),
    [
        ("Anthropic/Python 2.15.0", "Anthropic/Python"),
        ("OpenAI/Python 3.57.0", "OpenAI/Python"),
        ("codex_cli_rs/0.171.0 (Debian 12; x86_64) xterm", "codex_cli_rs"),
        ("curl/8.5.0", "curl"),
        ("claude-cli/2.1.0 (external, sdk-py)", "claude-cli"),
        ("Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0", "Mozilla"),
        ("", "unknown"),
        (None, "unknown"),
        ("<script>alert(1)</script>", "unknown"),
    ],
)
def test_a_client_is_named_by_its_product(user_agent: str | None, name: str) -> None:
    assert client_name(user_agent) == name
