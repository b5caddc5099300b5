"""The bounded store behind previous_response_id: chains, eviction, and clear refusals."""

from __future__ import annotations

from typing import Any

import pytest

from proxy_core.errors import InvalidRequestError
from proxy_core.openai_api.response_store import ResponseStore
from proxy_core.openai_api.responses_input import TranslatedInput


def said(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}]


def put(
    store: ResponseStore, response_id: str, previous: str | None, question: str, answer: str
) -> None:
    store.put(
        {"id": response_id, "object": "response"},
        previous_id=previous,
        own_input=TranslatedInput(
            (f"rule {response_id}",), [{"role": "user", "content": said(question)}]
        ),
        reply=said(answer),
    )


def test_a_chain_is_rebuilt_oldest_first() -> None:
    store = ResponseStore()
    put(store, "r1", None, "My name is Ada.", "Hi Ada.")
    put(store, "r2", "r1", "I like tea.", "Noted.")

    conversation = store.conversation("r2")

    assert conversation.system == ("rule r1", "rule r2")
    assert conversation.messages == [
        {"role": "user", "content": said("My name is Ada.")},
        {"role": "assistant", "content": said("Hi Ada.")},
        {"role": "user", "content": said("I like tea.")},
        {"role": "assistant", "content": said("Noted.")},
    ]
    assert store.get("r1") == {"id": "r1", "object": "response"}


def test_an_unknown_id_and_a_gone_ancestor_are_clear_400s() -> None:
    store = ResponseStore()
    with pytest.raises(InvalidRequestError) as unknown:
        store.conversation("resp_nope")
    assert unknown.value.code == "previous_response_not_found"
    assert unknown.value.param == "previous_response_id"

    put(store, "r1", None, "a", "b")
    put(store, "r2", "r1", "c", "d")
    assert store.delete("r1") and not store.delete("r1")
    with pytest.raises(InvalidRequestError) as gone:
        store.conversation("r2")
    assert "'r1' is gone" in gone.value.message


def test_the_oldest_used_goes_first_and_walking_a_chain_counts_as_use() -> None:
    store = ResponseStore(max_responses=3)
    put(store, "r1", None, "a", "b")
    put(store, "r2", "r1", "c", "d")
    put(store, "other", None, "e", "f")
    store.conversation("r2")  # r1 and r2 are now newer than "other"

    put(store, "r3", "r2", "g", "h")

    assert store.get("other") is None
    assert len(store) == 3
    assert len(store.conversation("r3").messages) == 6


def test_the_byte_bound_holds_and_an_oversized_response_is_not_kept() -> None:
    store = ResponseStore(max_bytes=2000)
    for index in range(20):
        put(store, f"r{index}", None, "x" * 200, "y")
    assert 0 < store.size_bytes <= 2000
    assert store.get("r19") is not None and store.get("r0") is None

    put(store, "huge", None, "z" * 5000, "w")
    assert store.get("huge") is None and store.get("r19") is not None


def test_storing_an_id_again_replaces_it_without_double_counting() -> None:
    store = ResponseStore()
    put(store, "r1", None, "a", "b")
    size = store.size_bytes
    put(store, "r1", None, "a", "b")
    assert len(store) == 1 and store.size_bytes == size
