"""conversation_key: what counts as the same conversation; ConversationStore bounds."""

from __future__ import annotations

from typing import Any

import pytest

from proxy_core.backend.conversations import ConversationStore, conversation_key

SPAWN = "spawn-key"
BASE: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather?"},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]},
]


def key(messages: list[dict[str, Any]], spawn: str = SPAWN) -> str:
    return conversation_key(spawn, messages)


@pytest.mark.parametrize(
    "variant",
    [
        # string content vs a text block
        [{"role": "user", "content": [{"type": "text", "text": "Weather?"}]}, *BASE[1:]],
        # what an SDK adds when it dumps a message back: None fields, citations, cache_control
        [
            BASE[0],
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "text",
                        "text": "Checking.",
                        "citations": None,
                        "cache_control": {"type": "ephemeral"},
                    },
                    {
                        "type": "tool_use",
                        "id": "t1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                        "caller": None,
                    },
                ],
            },
            BASE[2],
        ],
        # thinking blocks, which Claude Code drops from history anyway
        [
            BASE[0],
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    *BASE[1]["content"],
                ],
            },
            BASE[2],
        ],
        # tool_result content as blocks, and trailing white space
        [
            BASE[0],
            BASE[1],
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "sunny "}],
                    },
                ],
            },
        ],
    ],
    ids=["string-vs-block", "sdk-extras", "thinking", "result-blocks"],
)
def test_re_serialised_messages_are_the_same_conversation(variant: list[dict[str, Any]]) -> None:
    assert key(variant) == key(BASE)


@pytest.mark.parametrize(
    "variant",
    [
        [{"role": "user", "content": "Weather!"}, *BASE[1:]],
        [
            BASE[0],
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "t1",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    },
                ],
            },
            BASE[2],
        ],
        [
            BASE[0],
            BASE[1],
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": "sunny",
                        "is_error": True,
                    },
                ],
            },
        ],
        BASE[:2],
        [*BASE, {"role": "user", "content": "more"}],
    ],
    ids=["edited-text", "other-input", "error-flag", "shorter", "longer"],
)
def test_any_real_difference_is_another_conversation(variant: list[dict[str, Any]]) -> None:
    assert key(variant) != key(BASE)


def test_the_spawn_key_separates_otherwise_equal_conversations() -> None:
    assert key(BASE, "one") != key(BASE, "two")


class FakeSession:
    def __init__(self, name: str) -> None:
        self.session_id = name
        self.turns = 1
        self.pid = None
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_store_claims_once_and_evicts_the_oldest() -> None:
    store = ConversationStore(capacity=2)
    a, b, c = FakeSession("a"), FakeSession("b"), FakeSession("c")
    store.park("ka", a)  # type: ignore[arg-type]
    store.park("kb", b)  # type: ignore[arg-type]
    store.park("kc", c)  # type: ignore[arg-type]
    assert a.closed and not b.closed and not c.closed
    assert store.claim("kb") is b
    assert store.claim("kb") is None
    assert len(store) == 1


def test_store_with_no_capacity_keeps_nothing() -> None:
    store = ConversationStore(capacity=0)
    session = FakeSession("a")
    store.park("k", session)  # type: ignore[arg-type]
    assert session.closed and len(store) == 0


def test_store_ends_sessions_by_id() -> None:
    store = ConversationStore(capacity=4)
    a = FakeSession("a")
    store.park("k", a)  # type: ignore[arg-type]
    assert store.describe() == [{"id": "a", "turns": 1, "pid": None}]
    assert store.close("missing") is False
    assert store.close("a") is True and a.closed
    assert store.claim("k") is None
