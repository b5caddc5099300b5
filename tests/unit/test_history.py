"""history_frames: the caller's conversation as the CLI's stdin frames."""

from __future__ import annotations

from typing import Any

from proxy_core.backend.history import Frame, history_frames


def conversation() -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "u0"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": [{"type": "text", "text": "u2"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a3"}]},
        {"role": "user", "content": "u4"},
    ]


def text_of(frame: Frame) -> str:
    content = frame.payload["message"]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def test_single_user_message_is_one_normal_frame() -> None:
    frames = history_frames([{"role": "user", "content": "Hello"}])
    assert frames == [
        Frame(
            {
                "type": "user",
                "message": {"role": "user", "content": "Hello"},
                "parent_tool_use_id": None,
            },
            awaits_ack=False,
        )
    ]
    assert "shouldQuery" not in frames[0].payload


def test_frames_keep_the_conversation_order() -> None:
    frames = history_frames(conversation())
    assert [frame.payload["type"] for frame in frames] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert [text_of(frame) for frame in frames] == ["u0", "a1", "u2", "a3", "u4"]
    assert all(frame.payload["parent_tool_use_id"] is None for frame in frames)
    assert all(frame.payload["message"]["role"] == frame.payload["type"] for frame in frames)


def test_should_query_is_false_on_every_user_frame_but_the_last() -> None:
    frames = history_frames(conversation())
    users = [frame for frame in frames if frame.payload["type"] == "user"]
    assert [frame.payload.get("shouldQuery") for frame in users] == [False, False, None]
    assert "shouldQuery" not in users[-1].payload


def test_assistant_frames_never_carry_should_query() -> None:
    frames = history_frames(conversation())
    assistants = [frame for frame in frames if frame.payload["type"] == "assistant"]
    assert assistants
    assert all("shouldQuery" not in frame.payload for frame in assistants)


def test_only_history_user_frames_await_an_ack() -> None:
    frames = history_frames(conversation())
    assert [frame.awaits_ack for frame in frames] == [True, False, True, False, False]


def test_consecutive_user_messages_each_await_an_ack_except_the_last() -> None:
    messages = [{"role": "user", "content": f"u{index}"} for index in range(3)]
    frames = history_frames(messages)
    assert [frame.awaits_ack for frame in frames] == [True, True, False]
    assert [frame.payload.get("shouldQuery") for frame in frames] == [False, False, None]


def test_assistant_string_content_becomes_a_text_block() -> None:
    frames = history_frames(conversation())
    assert frames[1].payload["message"] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "a1"}],
    }


def test_assistant_block_content_is_copied_not_shared() -> None:
    blocks = [
        {"type": "text", "text": "a"},
        {"type": "tool_use", "id": "t", "name": "f", "input": {}},
    ]
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": blocks},
        {"role": "user", "content": "next"},
    ]
    frame = history_frames(messages)[1]
    assert frame.payload["message"]["content"] == blocks
    assert frame.payload["message"]["content"] is not blocks


def test_user_content_is_passed_as_given() -> None:
    blocks = [{"type": "tool_result", "tool_use_id": "t", "content": "42"}]
    frames = history_frames([{"role": "user", "content": blocks}])
    assert frames[0].payload["message"]["content"] == blocks
    frames = history_frames([{"role": "user", "content": "plain"}])
    assert frames[0].payload["message"]["content"] == "plain"


def test_no_messages_no_frames() -> None:
    assert history_frames([]) == []
