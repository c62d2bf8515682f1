"""The data browser's pages: the filtered list, one pair, and the admin's actions there."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from app.deps import Admin, AdminOrML, DbDep
from app.models import PolicyVersion
from app.pairs import review, service
from app.pairs.deps import AdminPair, ReadablePair
from app.pairs.schemas import PairFilter, PairSort
from app.projects.deps import ChosenProjectDep, chosen_project
from app.projects.service import visible_projects
from app.quality.service import mark_gold
from app.web import redirect, render

router = APIRouter(prefix="/admin/data", tags=["data"], include_in_schema=False)

SORT_LABELS = {
    PairSort.newest: "newest first",
    PairSort.oldest: "oldest first",
    PairSort.margin_asc: "reward margin ↑ (scored pairs)",
    PairSort.margin_desc: "reward margin ↓ (scored pairs)",
}


@router.get("")
def data_page(
    request: Request,
    db: DbDep,
    principal: AdminOrML,
    project: ChosenProjectDep,
    filt: Annotated[PairFilter, Query()],
    retired: int | None = None,
) -> Response:
    filt = filt.model_copy(update={"project": project.id})
    numbers = db.scalars(
        select(PolicyVersion.number)
        .where(PolicyVersion.project_id == project.id)
        .order_by(PolicyVersion.number)
    )
    ctx = {
        "project": project,
        "projects": visible_projects(db, principal.user),
        "page": service.list_pairs(db, project, filt),
        "filt": filt,
        "version_numbers": list(numbers),
        "sort_labels": SORT_LABELS,
        "can_write": "admin" in principal.roles,
        "retired": retired,
    }
    return render(request, "admin/data.html", ctx, block="rows")


@router.post("/retire")
def retire_selection(
    request: Request, db: DbDep, principal: Admin, filt: Annotated[PairFilter, Form()]
) -> Response:
    project = chosen_project(db, principal, filt.project)
    filt = filt.model_copy(update={"project": project.id})
    n = service.retire_matching(db, project, filt, principal.user.id)
    return redirect(request, filt.link("/admin/data", after=None, retired=n))


@router.get("/pairs/{pair_id}")
def pair_page(request: Request, db: DbDep, principal: AdminOrML, pair: ReadablePair) -> Response:
    project = chosen_project(db, principal, pair.project_id)
    ctx = {
        "project": project,
        "projects": visible_projects(db, principal.user),
        "detail": service.pair_detail(db, pair),
        "can_write": "admin" in principal.roles,
    }
    return render(request, "admin/pair.html", ctx)


@router.post("/pairs/{pair_id}/gold")
def pair_gold(
    request: Request,
    db: DbDep,
    principal: Admin,
    pair: AdminPair,
    answer: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    mark_gold(db, pair, answer or None, principal.user.id)
    return redirect(request, f"/admin/data/pairs/{pair.id}")


@router.post("/pairs/{pair_id}/review")
def pair_send_to_review(
    request: Request,
    db: DbDep,
    principal: Admin,
    pair: AdminPair,
    reason: Annotated[str, Form(max_length=review.NOTE_MAX)] = "",
) -> Response:
    review.send_to_review(db, pair, principal.user.id, reason)
    return redirect(request, f"/admin/data/pairs/{pair.id}")
