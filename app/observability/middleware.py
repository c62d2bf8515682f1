"""One ASGI middleware per request: request id, latency metrics and one access log line."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from fastapi.routing import iter_route_contexts
from sqlalchemy import inspect
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import REQUEST_ID
from app.observability.metrics import REQUEST_SECONDS, REQUESTS

log = logging.getLogger("pairwise.request")
HEADER = b"x-request-id"
# A caller's id is kept when it is short and plain (it ends up in logs and headers).
VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED = "unmatched"


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == HEADER:
            given = value.decode("latin-1")
            if VALID_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RouteTemplates:
    """Maps the route a request matched to its full path template (prefixes included)."""

    def __init__(self) -> None:
        self._by_route: dict[int, str] | None = None
        self._mounts: list[str] = []

    def _build(self, app: Any) -> dict[int, str]:
        # `scope["route"]` is the route as declared in its router, without the prefixes
        # of the routers that include it; the route contexts know the full template.
        table: dict[int, str] = {}
        for ctx in iter_route_contexts(app.routes):
            if ctx.path_format:
                table.setdefault(id(ctx.original_route), ctx.path_format)
        self._mounts = [r.path for r in app.routes if isinstance(r, Mount) and r.path]
        return table

    def template(self, scope: Scope) -> str:
        app = scope.get("app")
        if app is None:
            return UNMATCHED
        if self._by_route is None:
            self._by_route = self._build(app)
        route = scope.get("route")
        if route is not None:
            if id(route) not in self._by_route:  # a route added after the first request
                self._by_route = self._build(app)
            return self._by_route.get(id(route)) or str(getattr(route, "path", UNMATCHED))
        path = scope.get("path", "")
        for mount in self._mounts:
            if path.startswith(mount + "/"):
                return mount + "/{path}"
        # Unknown paths share one label so that scanners cannot blow up the series count.
        return UNMATCHED


def _user_id(scope: Scope) -> int | None:
    principal = scope.get("state", {}).get("principal")
    if principal is None:
        return None
    # The user row is detached by now; read its identity without touching the database.
    identity = inspect(principal.user).identity
    return int(identity[0]) if identity else None


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        token = REQUEST_ID.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((HEADER, request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route = self.routes.template(scope)
            method = scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            REQUEST_SECONDS.labels(method, route).observe(elapsed)
            duration_ms = round(elapsed * 1000, 1)
            log.info(
                "%s %s %s %.1fms",
                method,
                route,
                status,
                duration_ms,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": duration_ms,
                    "user_id": _user_id(scope),
                },
            )
            REQUEST_ID.reset(token)
