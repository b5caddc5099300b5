# The headless proxy in a container; README "Run on a server" shows how to run it.
#   docker build -t claude-sdk-proxy .
FROM python:3.11-slim-bookworm

# The container user takes the host user's ids so that it can read a ~/.claude mounted
# from the host: the CLI keeps its login there, readable by its owner only.
ARG UID=1000
ARG GID=1000
RUN groupadd --gid "$GID" proxy \
    && useradd --uid "$UID" --gid "$GID" --create-home --shell /usr/sbin/nologin proxy

WORKDIR /opt/claude-sdk-proxy
COPY pyproject.toml README.md ./
COPY proxy_core ./proxy_core
COPY tray_app ./tray_app
# The claude-agent-sdk wheel brings the Claude Code CLI with it (about 400 MB).
RUN pip install --no-cache-dir . && rm -rf /opt/claude-sdk-proxy

# All interfaces, so the published port reaches it. The server refuses that without
# CLAUDE_PROXY_API_KEY, which the container therefore needs (docker run -e, or compose).
ENV CLAUDE_PROXY_HOST=0.0.0.0 \
    CLAUDE_PROXY_PORT=3456 \
    PYTHONUNBUFFERED=1
USER proxy
WORKDIR /home/proxy
EXPOSE 3456
# /health answers without the API key; the slim image has no curl, so Python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('CLAUDE_PROXY_PORT', '3456'), timeout=4)"
ENTRYPOINT ["claude-sdk-proxy"]
