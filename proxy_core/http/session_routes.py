"""/sessions: the conversations kept for their next turn, and a way to end them."""

from __future__ import annotations

from aiohttp import web

from proxy_core.errors import NotFoundError
from proxy_core.http.keys import backend_key


async def list_sessions(request: web.Request) -> web.Response:
    return web.json_response({"data": request.app[backend_key].list_sessions()})


async def end_session(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    if not request.app[backend_key].end_session(session_id):
        raise NotFoundError(f"No kept conversation has the id {session_id!r}.")
    return web.Response(status=204)


async def end_all_sessions(request: web.Request) -> web.Response:
    backend = request.app[backend_key]
    for session in backend.list_sessions():
        backend.end_session(str(session["id"]))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    for prefix in ("/v1", ""):
        app.router.add_get(f"{prefix}/sessions", list_sessions)
        app.router.add_delete(f"{prefix}/sessions", end_all_sessions)
        app.router.add_delete(f"{prefix}/sessions/{{session_id}}", end_session)
