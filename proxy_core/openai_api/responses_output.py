"""Anthropic content blocks as Responses output items, and the events that build them.

One assembler serves both answers: a stream feeds it the backend's events as they come
(each call returns the Responses events to send), and a JSON answer replays the finished
message's blocks through it and keeps only the items. Consecutive text blocks share one
``message`` item (a part each); a thinking block is a ``reasoning`` item with its text as
the summary; a ``tool_use`` block is a ``function_call`` or, for a custom tool, a
``custom_tool_call`` item.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from proxy_core.openai_api.responses_tools import CUSTOM_INPUT, ToolNames

Event = dict[str, Any]


def new_item_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


@dataclass
class _Slot:
    """Where an Anthropic block landed: its item, the item's position, the part's position."""

    kind: str
    item: dict[str, Any]
    output_index: int
    content_index: int = 0
    custom: bool = False


class OutputAssembler:
    def __init__(self, names: ToolNames, *, reasoning_item: bool) -> None:
        self.items: list[dict[str, Any]] = []
        self._names = names
        # The caller set `reasoning`: Codex waits for a reasoning item, so one is sent even
        # when no thinking is shown (an empty one).
        self._reasoning_owed = reasoning_item
        self._message: _Slot | None = None
        self._slots: dict[int, _Slot] = {}
        self._partial_json: dict[int, str] = {}

    def _add_item(self, item: dict[str, Any]) -> tuple[int, Event]:
        self.items.append(item)
        index = len(self.items) - 1
        return index, {"type": "response.output_item.added", "output_index": index, "item": item}

    def _done(self, slot: _Slot, status: str = "completed") -> Event:
        if "status" in slot.item:
            slot.item["status"] = status
        return {
            "type": "response.output_item.done",
            "output_index": slot.output_index,
            "item": slot.item,
        }

    def _settle_reasoning(self, starting: str | None) -> list[Event]:
        if not self._reasoning_owed:
            return []
        self._reasoning_owed = False
        if starting == "thinking":
            return []
        index, added = self._add_item({"id": new_item_id("rs"), "type": "reasoning", "summary": []})
        slot = _Slot("reasoning", self.items[index], index)
        return [_copy(added), self._done(slot)]

    def close_message(self, status: str = "completed") -> list[Event]:
        if self._message is None:
            return []
        slot, self._message = self._message, None
        return [self._done(slot, status)]

    def start_block(self, index: int, block: dict[str, Any]) -> list[Event]:
        kind = block.get("type")
        events = self._settle_reasoning(kind)
        if kind == "text":
            return events + self._start_text(index)
        if kind not in ("thinking", "tool_use"):
            return events  # redacted thinking and anything new: nothing the caller can use
        events += self.close_message()
        if kind == "thinking":
            item: dict[str, Any] = {"id": new_item_id("rs"), "type": "reasoning", "summary": []}
            position, added = self._add_item(item)
            events.append(_copy(added))
            part = {"type": "summary_text", "text": ""}
            item["summary"].append(part)
            slot = self._slots[index] = _Slot("thinking", item, position)
            part_added = self._part_event(
                "response.reasoning_summary_part.added", slot, part=dict(part)
            )
            return [*events, part_added]
        caller = self._names.caller_tool(str(block.get("name")))
        custom = caller.kind == "custom"
        item = {
            "id": new_item_id("ctc" if custom else "fc"),
            "type": "custom_tool_call" if custom else "function_call",
            "status": "in_progress",
            "call_id": block.get("id"),
            "name": caller.name,
            CUSTOM_INPUT if custom else "arguments": "",
        }
        if caller.namespace:
            item["namespace"] = caller.namespace
        position, added = self._add_item(item)
        self._slots[index] = _Slot("tool", item, position, custom=custom)
        return [*events, _copy(added)]

    def _start_text(self, index: int) -> list[Event]:
        events: list[Event] = []
        if self._message is None:
            item = {
                "id": new_item_id("msg"),
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            position, added = self._add_item(item)
            self._message = _Slot("message", item, position)
            events.append(_copy(added))
        message = self._message
        part: dict[str, Any] = {
            "type": "output_text",
            "text": "",
            "annotations": [],
            "logprobs": [],
        }
        message.item["content"].append(part)
        slot = _Slot("text", message.item, message.output_index, len(message.item["content"]) - 1)
        self._slots[index] = slot
        events.append(self._part_event("response.content_part.added", slot, part=dict(part)))
        return events

    def delta(self, index: int, delta: dict[str, Any]) -> list[Event]:
        slot = self._slots.get(index)
        kind = delta.get("type")
        if slot is None:
            return []
        if slot.kind == "text" and kind == "text_delta":
            slot.item["content"][slot.content_index]["text"] += delta["text"]
            text = delta["text"]
            return [self._part_event("response.output_text.delta", slot, delta=text, logprobs=[])]
        if slot.kind == "thinking" and kind == "thinking_delta":
            slot.item["summary"][0]["text"] += delta["thinking"]
            thought = delta["thinking"]
            return [self._part_event("response.reasoning_summary_text.delta", slot, delta=thought)]
        if slot.kind == "tool" and kind == "input_json_delta":
            if slot.custom:  # free-form input arrives JSON-quoted: sent whole once complete
                self._partial_json[index] = (
                    self._partial_json.get(index, "") + delta["partial_json"]
                )
                return []
            slot.item["arguments"] += delta["partial_json"]
            fragment = delta["partial_json"]
            return [_item_event("response.function_call_arguments.delta", slot, delta=fragment)]
        return []

    def stop_block(self, index: int) -> list[Event]:
        slot = self._slots.pop(index, None)
        if slot is None:
            return []
        if slot.kind == "text":
            part = slot.item["content"][slot.content_index]
            return [
                self._part_event("response.output_text.done", slot, text=part["text"], logprobs=[]),
                self._part_event("response.content_part.done", slot, part=dict(part)),
            ]
        if slot.kind == "thinking":
            part = slot.item["summary"][0]
            return [
                self._part_event("response.reasoning_summary_text.done", slot, text=part["text"]),
                self._part_event("response.reasoning_summary_part.done", slot, part=dict(part)),
                self._done(slot),
            ]
        if slot.custom:
            text = _custom_input(self._partial_json.pop(index, ""))
            slot.item[CUSTOM_INPUT] = text
            return [
                _item_event("response.custom_tool_call_input.delta", slot, delta=text),
                _item_event("response.custom_tool_call_input.done", slot, input=text),
                self._done(slot),
            ]
        slot.item["arguments"] = slot.item["arguments"] or "{}"
        done = _item_event(
            "response.function_call_arguments.done",
            slot,
            arguments=slot.item["arguments"],
            name=slot.item["name"],
        )
        return [done, self._done(slot)]

    def finish(self, status: str = "completed") -> list[Event]:
        """The end of the reply: close what is open, and pay a reasoning item still owed."""
        events = self._settle_reasoning(None) + self.close_message(status)
        last = self.items[-1] if self.items else None
        if status == "incomplete" and last is not None and "status" in last:
            last["status"] = "incomplete"  # a call cut off by max_tokens has cut-off arguments
        return events

    def replay(self, blocks: list[dict[str, Any]], status: str = "completed") -> None:
        """Build the items of a finished message, as its stream would have built them."""
        for index, block in enumerate(blocks):
            kind = block.get("type")
            self.start_block(index, {k: v for k, v in block.items() if k != "input"})
            if kind == "text":
                self.delta(index, {"type": "text_delta", "text": block.get("text", "")})
            elif kind == "thinking":
                self.delta(index, {"type": "thinking_delta", "thinking": block.get("thinking", "")})
            elif kind == "tool_use":
                arguments = json.dumps(block.get("input") or {})
                self.delta(index, {"type": "input_json_delta", "partial_json": arguments})
            self.stop_block(index)
        self.finish(status)

    @staticmethod
    def _part_event(kind: str, slot: _Slot, **fields: Any) -> Event:
        index_name = "summary_index" if slot.kind == "thinking" else "content_index"
        return {
            "type": kind,
            "item_id": slot.item["id"],
            "output_index": slot.output_index,
            index_name: slot.content_index,
            **fields,
        }


def _item_event(kind: str, slot: _Slot, **fields: Any) -> Event:
    return {"type": kind, "item_id": slot.item["id"], "output_index": slot.output_index, **fields}


def _copy(event: Event) -> Event:
    """The event as it is now: its item goes on changing after it is sent."""
    copied: Event = json.loads(json.dumps(event))
    return copied


def _custom_input(partial_json: str) -> str:
    try:
        parsed = json.loads(partial_json) if partial_json else {}
    except ValueError:
        return partial_json
    value = parsed.get(CUSTOM_INPUT, "") if isinstance(parsed, dict) else parsed
    return value if isinstance(value, str) else json.dumps(value)
