"""The only package that touches claude-agent-sdk."""
