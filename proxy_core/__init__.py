"""claude-sdk-proxy: a local Anthropic Messages API served through the Claude Agent SDK."""

from proxy_core.version import __version__

__all__ = ["__version__"]
