"""An evaluator's own history: their recent labels, a change of mind, and undo of the last one.

A comparison is never edited in place. A change stores a new comparison that supersedes the
old one (`supersedes_id` on the new row, `superseded_at` on the old); an undo supersedes the
last label with none and leases its pair back to the evaluator, sides as before, so the
labelling page shows it again. Both are allowed only within the project's
`label_change_window_minutes` of the label (0: never), counted from the first judgement on
the lease, so changing a label again does not stretch its window. Ranking tasks are not
changed here: their ranking row stands for the whole task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, exists, func, select, update
from sqlalchemy.orm import Session

from app.domain.audit import audit
from app.domain.project_settings import settings_of
from app.labeling.schemas import ChangeIn
from app.labeling.service import LabelingError, Lease, NotFound, load_lease
from app.labeling.submission import check_flags, stored_choice
from app.models import Assignment, Comparison, Pair, Project, Prompt, RankingItem, User, utcnow
from app.projects.service import get_visible_project, visible_projects
from app.settings import Settings

HISTORY_PAGE = 50


class ChangeRefused(LabelingError):
    """The label can no longer be changed or undone (window over, superseded, a ranking)."""


@dataclass
class HistoryItem:
    comparison: Comparison
    prompt: str
    left_side: str
    changeable_until: datetime | None  # None: the window is over (or the project has none)


@dataclass
class HistoryPage:
    items: list[HistoryItem]
    next_before: int | None  # keyset cursor: the id to continue below


def _window(project: Project) -> timedelta:
    return timedelta(minutes=settings_of(project).label_change_window_minutes)


def _first_judged(db: Session, assignment_ids: set[int]) -> dict[int, datetime]:
    """When each lease was first judged: its earliest comparison since it was last shown (an
    undo shows the pair afresh, so the label after it has a window of its own)."""
    if not assignment_ids:
        return {}
    since = func.coalesce(Assignment.shown_at, Assignment.created_at)
    rows = db.execute(
        select(Comparison.assignment_id, func.min(Comparison.created_at))
        .join(Assignment, Assignment.id == Comparison.assignment_id)
        .where(Comparison.assignment_id.in_(assignment_ids), Comparison.created_at >= since)
        .group_by(Comparison.assignment_id)
    ).all()
    return {int(aid): at for aid, at in rows}


def _first(db: Session, comparison: Comparison) -> datetime:
    aid = comparison.assignment_id
    return _first_judged(db, {aid}).get(aid, comparison.created_at)


def _until(project: Project, first: datetime, now: datetime) -> datetime | None:
    window = _window(project)
    if not window or first + window <= now:
        return None
    return first + window


def my_comparisons(
    db: Session,
    user: User,
    *,
    project_id: int | None = None,
    before: int | None = None,
    limit: int = HISTORY_PAGE,
) -> HistoryPage:
    """The caller's live labels in projects they can see, newest first (keyset pages)."""
    projects = {p.id: p for p in visible_projects(db, user)}
    if project_id is not None:
        if project_id not in projects:
            raise NotFound("No such project.")
        projects = {project_id: projects[project_id]}
    stmt = (
        select(Comparison, Prompt.text, Assignment.left_side)
        .join(Pair, Pair.id == Comparison.pair_id)
        .join(Prompt, Prompt.id == Pair.prompt_id)
        .join(Assignment, Assignment.id == Comparison.assignment_id)
        .where(
            Comparison.user_id == user.id,
            Comparison.live,
            Comparison.project_id.in_(list(projects)),
        )
        .order_by(Comparison.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(Comparison.id < before)
    rows = db.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    first = _first_judged(db, {c.assignment_id for c, _, _ in rows})
    now = utcnow()
    items = [
        HistoryItem(
            c,
            text,
            side,
            _until(projects[c.project_id], first.get(c.assignment_id, c.created_at), now),
        )
        for c, text, side in rows
    ]
    return HistoryPage(items, rows[-1][0].id if more and rows else None)


def item_of(db: Session, comparison: Comparison, project: Project) -> HistoryItem:
    """One label as the history shows it."""
    text, side = db.execute(
        select(Prompt.text, Assignment.left_side)
        .join(Pair, Pair.prompt_id == Prompt.id)
        .join(Assignment, Assignment.pair_id == Pair.id)
        .where(Pair.id == comparison.pair_id, Assignment.id == comparison.assignment_id)
    ).one()
    return HistoryItem(comparison, text, side, _until(project, _first(db, comparison), utcnow()))


def owned_label(db: Session, user: User, comparison_id: int) -> tuple[Comparison, Project]:
    """The caller's comparison, locked, in a project they may still label; else NotFound
    (someone else's counts as none)."""
    comparison = db.scalar(
        select(Comparison)
        .where(Comparison.id == comparison_id, Comparison.user_id == user.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    project = get_visible_project(db, user, comparison.project_id) if comparison else None
    if comparison is None or project is None:
        raise NotFound(f"No label {comparison_id} of yours.")
    return comparison, project


def _check_changeable(db: Session, comparison: Comparison, project: Project) -> None:
    if not comparison.live:
        raise ChangeRefused(
            "That label was already changed or undone; change its latest version instead."
        )
    if db.scalar(select(exists().where(RankingItem.pair_id == comparison.pair_id))):
        raise ChangeRefused("A ranking cannot be changed once it is given.")
    if _until(project, _first(db, comparison), utcnow()) is None:
        minutes = settings_of(project).label_change_window_minutes
        if not minutes:
            raise ChangeRefused("Labels in this project are final once given.")
        raise ChangeRefused(f"Labels can be changed for {minutes} minutes; this one is final.")


def change(db: Session, user: User, comparison_id: int, data: ChangeIn) -> HistoryItem:
    """Record a change of mind: a new comparison that supersedes the caller's label."""
    old, project = owned_label(db, user, comparison_id)
    _check_changeable(db, old, project)
    assignment = db.get_one(Assignment, old.assignment_id)
    flags = check_flags(data.flags, project)
    now = utcnow()
    # Superseded first: the live-row unique indexes allow one live label per pair and user.
    old.superseded_at = now
    db.flush()
    new = Comparison(
        project_id=old.project_id,
        pair_id=old.pair_id,
        user_id=user.id,
        assignment_id=old.assignment_id,
        choice=stored_choice(data.choice, assignment.left_side),
        strength=data.strength if data.choice in ("left", "right") else None,
        rationale=data.rationale,
        flags=flags,
        # The time to decide stays the first judgement's: a change is not a new decision.
        decision_ms=old.decision_ms,
        client_decision_ms=old.client_decision_ms,
        idempotency_key=f"u{user.id}:change-{old.id}",
        guidelines_version=project.guidelines_version,
        is_gold=old.is_gold,
        supersedes_id=old.id,
    )
    db.add(new)
    db.flush()
    audit(
        db,
        "comparison.changed",
        user.id,
        f"comparison:{old.id}",
        new_comparison=new.id,
        pair=old.pair_id,
        old_choice=old.choice,
        new_choice=new.choice,
    )
    return item_of(db, new, project)


def _newest_live(db: Session, user: User, project_ids: list[int]) -> int | None:
    return db.scalar(
        select(Comparison.id)
        .where(
            Comparison.user_id == user.id,
            Comparison.live,
            Comparison.project_id.in_(project_ids),
        )
        .order_by(Comparison.id.desc())
        .limit(1)
    )


def can_undo(db: Session, user: User, project: Project) -> bool:
    """Whether the caller's newest label in the project may still be undone (the page's
    undo button)."""
    if not settings_of(project).label_change_window_minutes:
        return False
    newest = _newest_live(db, user, [project.id])
    if newest is None:
        return False
    comparison = db.get_one(Comparison, newest)
    return _until(project, _first(db, comparison), utcnow()) is not None


@dataclass
class Undone:
    comparison: Comparison
    lease: Lease


def undo_last(db: Session, settings: Settings, user: User, project_id: int | None = None) -> Undone:
    """Withdraw the caller's newest label (in one project, or any they can see) and lease its
    pair back to them, sides as before."""
    ids = [p.id for p in visible_projects(db, user)]
    if project_id is not None:
        ids = [i for i in ids if i == project_id]
    newest = _newest_live(db, user, ids)
    if newest is None:
        raise NotFound("You have no label to undo.")
    comparison, project = owned_label(db, user, newest)
    _check_changeable(db, comparison, project)
    pair = db.get_one(Pair, comparison.pair_id)
    if pair.status not in ("open", "complete"):
        raise ChangeRefused("That pair was retired, so its label stands.")
    now = utcnow()
    comparison.superseded_at = now
    assignment = db.get_one(Assignment, comparison.assignment_id)
    assignment.status = "leased"
    assignment.expires_at = now + timedelta(minutes=settings.lease_minutes)
    assignment.shown_at = now
    # One UPDATE, as in submission: a concurrent label on an overlapped pair keeps its count.
    db.execute(
        update(Pair)
        .where(Pair.id == pair.id)
        .values(
            labels_received=case((Pair.labels_received > 0, Pair.labels_received - 1), else_=0),
            status=case((Pair.status == "complete", "open"), else_=Pair.status),
        )
        .execution_options(synchronize_session=False)
    )
    db.flush()
    db.refresh(pair)
    audit(db, "comparison.undone", user.id, f"comparison:{comparison.id}", pair=pair.id)
    return Undone(comparison, load_lease(db, assignment))
