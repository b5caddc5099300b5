"""Which error shape a request is answered in, as each API declared it when adding its routes.

The middleware renders every error, but it knows no API: an API package names its routes
(and, for paths no route matched, the namespace it owns) with the renderer of its dialect,
the way starlette takes exception handlers in. Anything unclaimed gets the default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource

from proxy_core.errors import ProxyError

ErrorRenderer = Callable[[ProxyError], dict[str, Any]]


class ErrorDialects:
    def __init__(self, default: ErrorRenderer) -> None:
        self._default = default
        self._by_resource: dict[AbstractResource, ErrorRenderer] = {}
        self._namespaces: list[tuple[str, ErrorRenderer]] = []

    def claim_routes(self, routes: Iterable[web.AbstractRoute], renderer: ErrorRenderer) -> None:
        for route in routes:
            if route.resource is not None:
                self._by_resource[route.resource] = renderer

    def claim_namespace(self, prefix: str, renderer: ErrorRenderer) -> None:
        """Paths at or under ``prefix`` that match no route (a 404, a 405) speak this dialect."""
        self._namespaces.append((prefix.rstrip("/"), renderer))

    def renderer_for(self, request: web.Request) -> ErrorRenderer:
        resource: AbstractResource | None = request.match_info.route.resource
        if resource is not None and resource in self._by_resource:
            return self._by_resource[resource]
        path = request.path.rstrip("/")
        for prefix, renderer in self._namespaces:
            if path == prefix or path.startswith(prefix + "/"):
                return renderer
        return self._default
