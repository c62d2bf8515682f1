"""Request bodies past a size limit are refused with 413 before the app holds them in memory.

The limit depends on the route, not on what the request declares about itself: every route
takes at most `MAX_BODY_BYTES`; a route that takes a file (an `UploadFile` parameter) takes
up to the import limit, and only from a caller whose credentials name an active admin, checked
here before the body is read. The limit holds while the body streams, declared length or not.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, HTTPException, UploadFile
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.deps import SESSION_COOKIE, resolve_caller

# JSON and form bodies: the largest legitimate one (guidelines, 100,000 characters) is
# well under this. File uploads get the prompt import limit instead.
MAX_BODY_BYTES = 2 * 1024 * 1024
MULTIPART_OVERHEAD = 1024 * 1024
UPLOAD_ROLE = "admin"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit // 1024} KB.")


def takes_upload(route: APIRoute) -> bool:
    """Whether a route (or one of its dependencies) has a file parameter."""
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        stack.extend(dep.dependencies)
        if any(p.field_info.annotation is UploadFile for p in dep.body_params):
            return True
    return False


def upload_routes(app: FastAPI) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """(path pattern, methods) of every route that takes a file, routers flattened."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and takes_upload(route):
            pattern, _, _ = compile_path(ctx.path or route.path)
            out.append((pattern, frozenset(ctx.methods or route.methods or ())))
    return out


def _caller_may_upload(scope: Scope) -> bool:
    """Whether the request's credentials name an active admin; nothing is written."""
    conn = HTTPConnection(scope)
    state = scope["app"].state
    db = state.sessionmaker()
    try:
        caller = resolve_caller(
            db,
            state.settings,
            conn.headers.get("authorization", ""),
            conn.cookies.get(SESSION_COOKIE),
        )
        return caller is not None and caller.user is not None and UPLOAD_ROLE in caller.user.roles
    finally:
        db.rollback()
        db.close()


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload = max_upload_bytes + MULTIPART_OVERHEAD
        self._uploads: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def _is_upload_route(self, scope: Scope) -> bool:
        if self._uploads is None:  # the routes are all in place by the first request
            self._uploads = upload_routes(scope["app"])
        path, method = scope["path"], scope["method"]
        return any(p.match(path) and method in methods for p, methods in self._uploads)

    async def _limit(self, scope: Scope, declared: int | None) -> int:
        if declared is not None and declared <= MAX_BODY_BYTES:
            return MAX_BODY_BYTES  # small enough for any route and any caller
        if self._is_upload_route(scope) and await run_in_threadpool(_caller_may_upload, scope):
            return self.max_upload
        return MAX_BODY_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(b"content-length", b"")
        declared = int(raw) if raw.isdigit() else None
        limit = await self._limit(scope, declared)
        if declared is not None and declared > limit:
            error = BodyTooLarge(limit)
            api = scope.get("path", "").startswith("/api/")
            response = (
                JSONResponse({"detail": error.detail}, 413)
                if api
                else PlainTextResponse(error.detail, 413)
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            # Counted as it arrives, whatever the length declared. The app's error
            # handler turns the HTTPException into a 413 page or JSON body.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
