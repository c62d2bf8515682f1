"""Home page (sends each role to its work) and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from app.deps import Authenticated, DbDep
from app.projects.service import visible_projects
from app.web import render

router = APIRouter()


@router.get("/", include_in_schema=False)
def home(request: Request, db: DbDep, principal: Authenticated) -> Response:
    projects = visible_projects(db, principal.user)
    return render(request, "home.html", {"projects": projects, "roles": principal.user.roles})


@router.get("/healthz", tags=["system"])
def healthz(db: DbDep) -> Response:
    """200 when the database answers, 503 otherwise."""
    try:
        db.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database error means unhealthy
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
