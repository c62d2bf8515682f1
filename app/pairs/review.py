"""Adjudication: the review queue (split pairs whose labels are in, and pairs an admin sent)
and a reviewer's final label, which the preference builder uses over the votes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from app.domain.audit import audit
from app.models import Adjudication, Pair, Project, utcnow
from app.models.labeling import CHOICES
from app.pairs.service import PairRow, decided, pair_rows, rows_for, split_pair_ids
from app.vocabulary import PairKind, PairStatus, ReviewStatus

NOTE_MAX = 2000
QUEUE_PAGE = 50


class ReviewError(ValueError):
    """A review action that cannot be done; the message says why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _pending() -> ColumnElement[bool]:
    return exists().where(
        Adjudication.pair_id == Pair.id, Adjudication.status == ReviewStatus.pending
    )


def in_queue(project_id: int) -> ColumnElement[bool]:
    """Pairs (of the project) waiting for a reviewer: sent by an admin, or split once all
    their labels are in (gold pairs are decided by their answer, never queued)."""
    split_done = and_(
        Pair.id.in_(split_pair_ids(project_id)),
        Pair.status != PairStatus.open,
        Pair.kind != PairKind.gold,
    )
    return and_(Pair.project_id == project_id, ~decided(), or_(_pending(), split_done))


def queue_depth(db: Session, project_id: int) -> int:
    """How many pairs wait for a reviewer."""
    return int(db.scalar(select(func.count(Pair.id)).where(in_queue(project_id))) or 0)


@dataclass
class QueuePage:
    rows: list[PairRow]
    next_after: int | None


def review_queue(
    db: Session, project: Project, *, after: int | None = None, limit: int = QUEUE_PAGE
) -> QueuePage:
    """The queue oldest first, keyset-paginated on pair id."""
    stmt = pair_rows().where(in_queue(project.id))
    if after is not None:
        stmt = stmt.where(Pair.id > after)
    found = list(db.execute(stmt.order_by(Pair.id).limit(limit + 1)))
    more = len(found) > limit
    rows = rows_for(db, found[:limit])
    return QueuePage(rows, rows[-1].pair.id if more and rows else None)


def _row(db: Session, pair: Pair) -> Adjudication | None:
    return db.scalar(select(Adjudication).where(Adjudication.pair_id == pair.id))


def _not_gold(pair: Pair) -> None:
    if pair.kind == PairKind.gold:
        raise ReviewError(
            "A gold pair is decided by its known answer; change the answer under Quality."
        )


def send_to_review(db: Session, pair: Pair, actor_id: int, reason: str = "") -> Adjudication:
    """Put a pair in the review queue (again a no-op while it waits there)."""
    _not_gold(pair)
    if len(reason) > NOTE_MAX:
        raise ReviewError(f"The reason is longer than {NOTE_MAX} characters.", "reason")
    row = _row(db, pair)
    if row is not None and row.status == ReviewStatus.decided:
        raise ReviewError(
            "This pair is already adjudicated; a reviewer can change the decision.", None
        )
    if row is None:
        row = Adjudication(
            project_id=pair.project_id,
            pair_id=pair.id,
            status=ReviewStatus.pending,
            reason=reason.strip(),
            note="",
            requested_by_id=actor_id,
        )
        db.add(row)
        db.flush()
        audit(db, "pair.sent_to_review", actor_id, f"pair:{pair.id}", reason=row.reason)
    return row


def adjudicate(db: Session, pair: Pair, choice: str, note: str, actor_id: int) -> Adjudication:
    """Set the pair's final label; a second decision replaces the first (both audited)."""
    _not_gold(pair)
    if choice not in CHOICES:
        raise ReviewError(f"The label must be one of {', '.join(CHOICES)}.", "choice")
    note = note.strip()
    if not note:
        raise ReviewError("Say in a note why this is the final label.", "note")
    if len(note) > NOTE_MAX:
        raise ReviewError(f"The note is longer than {NOTE_MAX} characters.", "note")
    row = _row(db, pair)
    before: dict[str, Any] | None = None
    if row is None:
        row = Adjudication(project_id=pair.project_id, pair_id=pair.id, reason="")
        db.add(row)
    elif row.status == ReviewStatus.decided:
        before = {"choice": row.choice, "note": row.note, "by": row.decided_by_id}
    row.status = ReviewStatus.decided
    row.choice = choice
    row.note = note
    row.decided_by_id = actor_id
    row.decided_at = utcnow()
    db.flush()
    audit(
        db,
        "pair.adjudicated",
        actor_id,
        f"pair:{pair.id}",
        project=pair.project_id,
        choice=choice,
        note=note,
        before=before,
    )
    return row
