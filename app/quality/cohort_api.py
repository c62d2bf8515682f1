"""Annotator cohort tags through the API (admins): read and replace one annotator's tags.

Beside the annotators API under `/annotators`, but here because a change marks the quality
figures of every project the annotator labelled in out of date (`app.quality` stands on
`app.annotators`, not the other way round).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.annotators import cohorts
from app.annotators.routes import get_user
from app.deps import Admin, DbDep
from app.quality.figures import cohorts_changed

router = APIRouter(prefix="/annotators", tags=["annotators"])


class CohortsIn(BaseModel):
    tags: dict[str, str] = Field(
        description="The annotator's whole set of tags, dimension → value (language → de); "
        "a dimension left out, or given an empty value, is removed.",
        max_length=50,
    )


class CohortsOut(BaseModel):
    user_id: int
    tags: dict[str, str] = Field(description="Dimension → the annotator's cohort in it.")


@router.get("/{user_id}/cohorts", response_model=CohortsOut)
def api_cohorts(db: DbDep, principal: Admin, user_id: int) -> CohortsOut:
    user = get_user(db, user_id)
    return CohortsOut(user_id=user.id, tags=cohorts.tags_of(db, user.id))


@router.put("/{user_id}/cohorts", response_model=CohortsOut)
def api_set_cohorts(db: DbDep, principal: Admin, user_id: int, body: CohortsIn) -> CohortsOut:
    """Replace the annotator's cohort tags (each change audited)."""
    user = get_user(db, user_id)
    tags = cohorts.replace_tags(db, user, body.tags, principal.user.id)
    cohorts_changed(db)
    return CohortsOut(user_id=user.id, tags=tags)
