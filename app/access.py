"""What each route allows, read from its dependencies (used by the route × role test and docs)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.deps import current_principal

ANY_USER = frozenset({"*"})
# Routes anyone may call: the login form and the health check, the API schema.
PUBLIC = {
    ("/login", "GET"),
    ("/login", "POST"),
    ("/login/totp", "POST"),
    ("/healthz", "GET"),
    ("/openapi.json", "GET"),
    ("/docs", "GET"),
    ("/invite/{token}", "GET"),
    ("/invite/{token}", "POST"),
    ("/metrics", "GET"),
}


def _walk(dependant: Dependant) -> frozenset[str] | None:
    found: frozenset[str] | None = None
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "allowed_roles", None)
        if roles is not None:
            return frozenset(roles)
        if dep.call is current_principal:
            found = ANY_USER
        inner = _walk(dep)
        if inner is not None and inner != ANY_USER:
            return inner
        found = found or inner
    return found


def route_roles(route: APIRoute) -> frozenset[str] | None:
    """The roles a route admits; ANY_USER for any signed-in user; None if it declares none."""
    return _walk(route.dependant)


def app_routes(app: FastAPI) -> list[tuple[str, str, frozenset[str] | None]]:
    """(path, method, roles) for every API route of the app, routers flattened."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute):
            for method in sorted((ctx.methods or set()) - {"HEAD"}):
                out.append((ctx.path or route.path, method, route_roles(route)))
    return out
