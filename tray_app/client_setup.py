"""Ready-to-paste setup for the clients people point at the proxy."""

from __future__ import annotations


def client_setup(base_url: str, api_key: str | None) -> str:
    key = api_key or "unused"
    return f"""# Shell (Claude Code, the Anthropic and OpenAI SDKs, most tools)
export ANTHROPIC_BASE_URL={base_url}
export ANTHROPIC_API_KEY={key}
export OPENAI_BASE_URL={base_url}/v1
export OPENAI_API_KEY={key}

# Python, Anthropic SDK
anthropic.Anthropic(base_url="{base_url}", api_key="{key}")

# Python, OpenAI SDK
openai.OpenAI(base_url="{base_url}/v1", api_key="{key}")

# Chat apps: Anthropic-compatible provider -> base URL {base_url}, API key {key};
# OpenAI-compatible provider -> base URL {base_url}/v1, same key. Models: sonnet, opus, haiku.
"""
