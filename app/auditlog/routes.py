"""The audit log page (admins) and its API twin."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.auditlog.schemas import AuditEventOut, AuditFilter, AuditPageOut
from app.auditlog.service import AuditRow, list_events
from app.deps import Admin, DbDep
from app.web import render

router = APIRouter(tags=["audit"], include_in_schema=False)
api_router = APIRouter(prefix="/audit", tags=["audit"])

# Targets with a page of their own: "kind:id" → the page's path.
TARGET_PAGES = {"pair": "/admin/data/pairs/{}", "user": "/admin/annotators/{}"}


def target_link(target: str | None) -> str | None:
    if not target or ":" not in target:
        return None
    kind, _, ident = target.partition(":")
    page = TARGET_PAGES.get(kind)
    return page.format(ident) if page and ident.isdigit() else None


@router.get("/admin/audit")
def audit_page(
    request: Request, db: DbDep, principal: Admin, filt: Annotated[AuditFilter, Query()]
) -> Response:
    page = list_events(db, filt)
    ctx = {
        "page": page,
        "filt": filt,
        "target_link": target_link,
        "details": lambda row: json.dumps(row.event.details, ensure_ascii=False, sort_keys=True),
    }
    return render(request, "admin/audit.html", ctx, block="rows")


def event_out(row: AuditRow) -> AuditEventOut:
    e = row.event
    return AuditEventOut(
        id=e.id,
        created_at=e.created_at,
        actor_id=e.actor_id,
        actor=row.actor,
        action=e.action,
        target=e.target,
        ip=e.ip,
        details=dict(e.details or {}),
    )


@api_router.get("", response_model=AuditPageOut)
def api_audit(db: DbDep, principal: Admin, filt: Annotated[AuditFilter, Query()]) -> AuditPageOut:
    """Every audit event, newest first, filtered by actor, kind, object and time."""
    page = list_events(db, filt)
    return AuditPageOut(items=[event_out(r) for r in page.rows], next_before=page.next_before)
