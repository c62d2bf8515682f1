"""Pair look-ups for the data browser and the review queue: 404 when missing or in a
project the caller may not see."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException

from app.deps import Admin, AdminOrML, DbDep, Reviewer
from app.models import Pair
from app.projects.deps import chosen_project


def _visible(db: DbDep, principal: AdminOrML, pair_id: int) -> Pair:
    pair = db.get(Pair, pair_id)
    if pair is None:
        raise HTTPException(404, "No such pair.")
    chosen_project(db, principal, pair.project_id)  # 404 outside the caller's projects
    return pair


def _visible_to_admin(db: DbDep, principal: Admin, pair_id: int) -> Pair:
    return _visible(db, principal, pair_id)


def _visible_to_reviewer(db: DbDep, principal: Reviewer, pair_id: int) -> Pair:
    return _visible(db, principal, pair_id)


ReadablePair = Annotated[Pair, Depends(_visible)]
AdminPair = Annotated[Pair, Depends(_visible_to_admin)]
ReviewablePair = Annotated[Pair, Depends(_visible_to_reviewer)]
