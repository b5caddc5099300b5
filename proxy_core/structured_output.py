"""Asking for JSON in one sentence after the system prompt: Claude Code cannot enforce it.

The Messages API's ``output_config.format``, chat completions' ``response_format`` and the
Responses API's ``text.format`` all come down to these sentences: best effort, documented.
"""

from __future__ import annotations

import json
from typing import Any

from proxy_core.errors import InvalidRequestError

JSON_OBJECT_GUIDANCE = (
    "Answer with one valid JSON object and nothing else: no prose, no code fences."
)


def json_schema_guidance(schema: Any, param: str) -> str:
    """One sentence asking for JSON that matches ``schema``."""
    if not isinstance(schema, dict):
        raise InvalidRequestError(f"{param}: must hold a schema", param=param)
    return (
        "Answer with one valid JSON value that matches this JSON Schema, and nothing else "
        f"(no prose, no code fences):\n{json.dumps(schema)}"
    )
