"""Responses kept for ``previous_response_id`` and ``GET``/``DELETE /v1/responses/{id}``.

Each entry holds its response object, its own input (already translated) and the reply's
blocks, and names the response it continued: a conversation is rebuilt by walking that
chain back, so a long conversation costs memory once, not once per turn. Walking a chain
marks every response in it as used, so the conversation a client is in stays while
forgotten ones are evicted, oldest use first, beyond a count and a size. Like the kept
conversations, they live in memory: a restart forgets them, and the client then gets a
clear ``previous_response_not_found``, never a silently shorter conversation.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from proxy_core.errors import InvalidRequestError
from proxy_core.openai_api.responses_input import TranslatedInput

MAX_RESPONSES = 1000
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class _Entry:
    response: dict[str, Any]
    previous_id: str | None
    own_input: TranslatedInput
    reply: list[dict[str, Any]]
    size: int


def _not_found(response_id: str, detail: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Previous response with id {response_id!r} not found{detail}. Responses are kept in "
        "the proxy's memory (the newest ones, until it restarts); send the whole conversation "
        "as `input` instead.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


class ResponseStore:
    def __init__(self, max_responses: int = MAX_RESPONSES, max_bytes: int = MAX_BYTES) -> None:
        self._max_responses = max_responses
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def put(
        self,
        response: dict[str, Any],
        *,
        previous_id: str | None,
        own_input: TranslatedInput,
        reply: list[dict[str, Any]],
    ) -> None:
        size = len(json.dumps([response, own_input.system, own_input.messages, reply], default=str))
        if size > self._max_bytes:
            return  # larger than the whole store: keeping it would evict everything else
        self.delete(response["id"])
        self._entries[response["id"]] = _Entry(response, previous_id, own_input, reply, size)
        self._bytes += size
        while len(self._entries) > self._max_responses or self._bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size

    def get(self, response_id: str) -> dict[str, Any] | None:
        entry = self._entries.get(response_id)
        return entry.response if entry else None

    def delete(self, response_id: str) -> bool:
        entry = self._entries.pop(response_id, None)
        if entry is None:
            return False
        self._bytes -= entry.size
        return True

    def conversation(self, response_id: str) -> TranslatedInput:
        """Everything up to and including ``response_id``'s reply, oldest first."""
        chain: list[_Entry] = []
        wanted: str | None = response_id
        while wanted is not None:
            entry = self._entries.get(wanted)
            if entry is None:
                detail = (
                    "" if wanted == response_id else f" (its earlier response {wanted!r} is gone)"
                )
                raise _not_found(response_id, detail)
            if any(seen is entry for seen in chain):
                break  # a cycle cannot be built through the API, but never loop on one
            chain.append(entry)
            self._entries.move_to_end(wanted)
            wanted = entry.previous_id
        system: list[str] = []
        messages: list[dict[str, Any]] = []
        for entry in reversed(chain):
            system.extend(entry.own_input.system)
            messages.extend(entry.own_input.messages)
            if entry.reply:
                messages.append({"role": "assistant", "content": entry.reply})
        return TranslatedInput(tuple(system), messages)
