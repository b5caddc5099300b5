"""The access line's token counts: taken from whichever event carries them, never lowered to 0."""

from __future__ import annotations

from typing import Any

from proxy_core.http.middleware import ACCESS_DETAIL_KEY
from proxy_core.http.responding import note_usage


def noted(*events: dict[str, Any]) -> dict[str, Any]:
    request: dict[Any, Any] = {ACCESS_DETAIL_KEY: {}}
    for event in events:
        note_usage(request, event)  # type: ignore[arg-type]
    detail: dict[str, Any] = request[ACCESS_DETAIL_KEY]
    return detail


def start(**usage: int) -> dict[str, Any]:
    return {"type": "message_start", "message": {"usage": usage}}


def end(**usage: int) -> dict[str, Any]:
    return {"type": "message_delta", "delta": {}, "usage": usage}


def test_a_final_delta_with_only_output_keeps_the_start_counts() -> None:
    assert noted(
        start(input_tokens=10, cache_read_input_tokens=5, output_tokens=1), end(output_tokens=7)
    ) == {"in": 10, "cached": 5, "out": 7}


def test_zeros_never_hide_counts_seen_before_or_after() -> None:
    assert noted(
        start(input_tokens=0, output_tokens=0),
        end(input_tokens=12, cache_read_input_tokens=3, output_tokens=4),
    ) == {"in": 12, "cached": 3, "out": 4}
    assert noted(start(input_tokens=12), end(input_tokens=0, output_tokens=4)) == {
        "in": 12,
        "out": 4,
    }


def test_other_events_are_not_counted() -> None:
    assert noted({"type": "content_block_delta", "usage": {"input_tokens": 9}}) == {}
