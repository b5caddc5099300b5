"""Requests aiohttp's HTTP parser refuses before any handler runs, kept out of the logs whole.

A header too long, too many headers, CR, LF or NUL inside one: aiohttp answers these
itself, with a plain-text 400 and a closed connection, and offers no public hook to answer
in an API's JSON shape. It also logs the exception, whose text quotes the offending header
line, which may be the caller's API key. The filter keeps the line to what was refused.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

REFUSED = (HttpProcessingError, RequestPayloadError)

SERVER_LOGGER = "aiohttp.server"


class RedactParserErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        cause = error.__cause__ if error is not None else None
        if isinstance(error, REFUSED) or isinstance(cause, REFUSED):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "Refused a malformed HTTP request from %s: %s (status %s)"
            code = getattr(error, "code", getattr(cause, "code", 400))
            record.args = (peer, type(error).__name__, code)
            record.exc_info = None
            record.exc_text = None
        return True


def install() -> None:
    logger = logging.getLogger(SERVER_LOGGER)
    if not any(isinstance(existing, RedactParserErrors) for existing in logger.filters):
        logger.addFilter(RedactParserErrors())
