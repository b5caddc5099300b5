"""estimate_input_tokens: a monotonic estimate that is never below 1."""

from __future__ import annotations

from typing import Any

import pytest

from proxy_core.anthropic_api.count_tokens import (
    CHARS_PER_TOKEN,
    DOCUMENT_PAGE_TOKENS,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD_TOKENS,
    estimate_input_tokens,
)

IMAGE: dict[str, Any] = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
}
DOCUMENT: dict[str, Any] = {
    "type": "document",
    "source": {"type": "text", "media_type": "text/plain", "data": "x"},
}


def user(content: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}]}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": []},
        {"system": ""},
        {"system": None, "messages": [], "tools": None},
    ],
)
def test_never_below_one(body: dict[str, Any]) -> None:
    assert estimate_input_tokens(body) == 1


def test_about_four_characters_per_token_plus_message_overhead() -> None:
    text = "a" * (CHARS_PER_TOKEN * 10)
    assert estimate_input_tokens(user(text)) == 10 + MESSAGE_OVERHEAD_TOKENS


def test_partial_tokens_round_up() -> None:
    assert estimate_input_tokens(user("a")) == 1 + MESSAGE_OVERHEAD_TOKENS
    assert estimate_input_tokens(user("a" * (CHARS_PER_TOKEN + 1))) == 2 + MESSAGE_OVERHEAD_TOKENS


def test_monotonic_in_text_length() -> None:
    estimates = [estimate_input_tokens(user("x" * length)) for length in range(0, 400, 7)]
    assert estimates == sorted(estimates)
    assert estimates[-1] > estimates[0]


def test_every_message_adds_to_the_estimate() -> None:
    messages: list[dict[str, Any]] = []
    previous = estimate_input_tokens({"messages": messages})
    for turn in range(6):
        role = "user" if turn % 2 == 0 else "assistant"
        messages.append({"role": role, "content": f"turn {turn}"})
        current = estimate_input_tokens({"messages": messages})
        assert current > previous
        previous = current


def test_system_prompt_adds_to_the_estimate() -> None:
    without = estimate_input_tokens(user("hi"))
    with_system = estimate_input_tokens({**user("hi"), "system": "s" * 40})
    assert with_system == without + 10


def test_system_as_text_blocks_counts_like_a_string() -> None:
    as_string = estimate_input_tokens({**user("hi"), "system": "s" * 40})
    as_blocks = estimate_input_tokens(
        {**user("hi"), "system": [{"type": "text", "text": "s" * 40}]}
    )
    assert as_blocks == as_string


def test_string_and_text_block_content_count_the_same() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    assert estimate_input_tokens(user(text)) == estimate_input_tokens(
        user([{"type": "text", "text": text}])
    )


def test_images_have_a_fixed_cost() -> None:
    text_only = estimate_input_tokens(user([{"type": "text", "text": "what is this?"}]))
    with_image = estimate_input_tokens(user([{"type": "text", "text": "what is this?"}, IMAGE]))
    with_two = estimate_input_tokens(
        user([{"type": "text", "text": "what is this?"}, IMAGE, IMAGE])
    )
    assert with_image - text_only == IMAGE_TOKENS
    assert with_two - text_only == 2 * IMAGE_TOKENS


def test_image_cost_does_not_depend_on_the_encoded_size() -> None:
    big = {**IMAGE, "source": {**IMAGE["source"], "data": "A" * 100_000}}
    assert estimate_input_tokens(user([big])) == estimate_input_tokens(user([IMAGE]))


def test_documents_have_a_fixed_cost() -> None:
    assert estimate_input_tokens(user([DOCUMENT])) == DOCUMENT_PAGE_TOKENS + MESSAGE_OVERHEAD_TOKENS


def test_images_inside_tool_results_are_counted() -> None:
    result = {"type": "tool_result", "tool_use_id": "t", "content": [IMAGE]}
    assert estimate_input_tokens(user([result])) == IMAGE_TOKENS + MESSAGE_OVERHEAD_TOKENS


def test_tool_use_counts_its_name_and_input() -> None:
    small = {"type": "tool_use", "id": "t", "name": "f", "input": {}}
    large = {"type": "tool_use", "id": "t", "name": "f", "input": {"q": "x" * 200}}
    body_small = {"messages": [{"role": "assistant", "content": [small]}]}
    body_large = {"messages": [{"role": "assistant", "content": [large]}]}
    assert estimate_input_tokens(body_large) - estimate_input_tokens(body_small) >= 50


def test_unknown_blocks_are_counted_by_their_json() -> None:
    block = {"type": "thinking", "thinking": "t" * 400, "signature": "s"}
    assert estimate_input_tokens(user([block])) > 100


def test_tools_add_to_the_estimate() -> None:
    tool = {"name": "weather", "description": "d" * 200, "input_schema": {"type": "object"}}
    assert (
        estimate_input_tokens({**user("hi"), "tools": [tool]})
        > estimate_input_tokens(user("hi")) + 50
    )
