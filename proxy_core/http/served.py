"""Which routes' requests are served ones: each becomes one row of the usage ledger.

A route says so by wrapping its handler (``served_as("openai_chat")``); the request
then carries a :class:`ServedRequest` that the answer fills in (model, first token,
tokens) and the request middleware completes and records once the answer has ended,
failures before the backend (a bad body, a full queue) included.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy_core.usage.served import ServedRequest, client_name

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVED_KEY = web.RequestKey("served", ServedRequest)
UNPARSED_MODEL = "-"


def served_as(api: str) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def recorded(request: web.Request) -> web.StreamResponse:
            request[SERVED_KEY] = ServedRequest(
                api=api,
                model=UNPARSED_MODEL,
                client=client_name(request.headers.get("User-Agent")),
                stream=False,
            )
            return await handler(request)

        return recorded

    return wrap
