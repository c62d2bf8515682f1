"""An evaluator's own labels for scripts: list, change within the window, undo the last one
(mirrors /label/history and the labelling page's undo)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.errors import CONFLICT
from app.deps import DbDep, Evaluator, SettingsDep
from app.labeling import history
from app.labeling.api import pair_out
from app.labeling.schemas import ChangeIn, HistoryItemOut, HistoryPageOut, UndoOut
from app.labeling.submission import screen_choice
from app.models import Project

router = APIRouter(prefix="/me/comparisons", tags=["labeling"])


def item_out(item: history.HistoryItem) -> HistoryItemOut:
    c = item.comparison
    return HistoryItemOut(
        id=c.id,
        project_id=c.project_id,
        pair_id=c.pair_id,
        prompt=item.prompt,
        choice=screen_choice(c.choice, item.left_side),
        stored_choice=c.choice,
        left_side=item.left_side,
        strength=c.strength,
        rationale=c.rationale,
        flags=list(c.flags),
        created_at=c.created_at,
        supersedes_id=c.supersedes_id,
        changeable_until=item.changeable_until,
    )


@router.get("", response_model=HistoryPageOut)
def my_comparisons(
    db: DbDep,
    principal: Evaluator,
    project_id: int | None = None,
    before: int | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = history.HISTORY_PAGE,
) -> HistoryPageOut:
    """Your live labels, newest first; keyset pages (`before` = `next_before`)."""
    page = history.my_comparisons(
        db, principal.user, project_id=project_id, before=before, limit=limit
    )
    return HistoryPageOut(items=[item_out(i) for i in page.items], next_before=page.next_before)


@router.post("/undo", response_model=UndoOut, responses=CONFLICT)
def undo(
    db: DbDep, settings: SettingsDep, principal: Evaluator, project_id: int | None = None
) -> UndoOut:
    """Withdraw your newest label (within the project's window) and get its pair back."""
    done = history.undo_last(db, settings, principal.user, project_id)
    project = db.get_one(Project, done.comparison.project_id)
    return UndoOut(undone=done.comparison.id, pair=pair_out(done.lease, project))


@router.post(
    "/{comparison_id}/change", response_model=HistoryItemOut, status_code=201, responses=CONFLICT
)
def change(comparison_id: int, data: ChangeIn, db: DbDep, principal: Evaluator) -> HistoryItemOut:
    """Change your mind on a label within the project's window: a new comparison supersedes
    it (the old one is kept, marked superseded); `choice` in the same lease's screen terms."""
    return item_out(history.change(db, principal.user, comparison_id, data))
