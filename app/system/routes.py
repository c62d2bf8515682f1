"""`/system` (page, refreshed by htmx) and `GET /api/v1/system`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import AdminOrML, DbDep, SettingsDep
from app.system.schemas import SystemOut
from app.system.service import system_status
from app.web import render

router = APIRouter()
api = APIRouter(tags=["system"])


@router.get("/system", include_in_schema=False)
def system_page(
    request: Request, db: DbDep, settings: SettingsDep, principal: AdminOrML
) -> Response:
    status = system_status(db, principal.user, settings)
    return render(request, "system.html", {"status": status}, block="status")


@api.get("/system", response_model=SystemOut)
def system_api(db: DbDep, settings: SettingsDep, principal: AdminOrML) -> SystemOut:
    """Workers alive, and per project: active version, buffer depth, sampler speed and errors."""
    return system_status(db, principal.user, settings)
