"""Assignment: which pair an evaluator sees next, its lease, heartbeat and skip.

A pair is offered to an evaluator when it is open, the evaluator has never been
assigned it, and its live leases plus labels received stay below labels_required
(the overlap). On Postgres candidates are locked with `FOR UPDATE SKIP LOCKED`, so
concurrent requests take different rows; the lease count is then re-read in a fresh
statement under the row lock (the one that loads the lease's content), because the
candidate query's snapshot may predate a lease committed by the transaction that held
the lock. On SQLite every transaction
takes the write lock up front (BEGIN IMMEDIATE), which serialises the same steps.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, exists, func, select
from sqlalchemy.orm import Session, aliased

from app.models import (
    Assignment,
    Comparison,
    Completion,
    Pair,
    Project,
    Prompt,
    RankingItem,
    User,
    utcnow,
)
from app.projects.service import visible_to
from app.settings import Settings

LIVE_KINDS = ("live", "head_to_head")
# One row per try: a lock is held until commit, and locking spare rows would hide them
# from concurrent requests (SKIP LOCKED) that could have used them.
CANDIDATES = 1
MAX_TRIES = 20


class LabelingError(Exception):
    """Base of the errors a labelling route turns into a response."""


class NotFound(LabelingError):
    """No such assignment for this caller (someone else's counts as none)."""


class LeaseExpired(LabelingError):
    """The lease ran out (or was skipped/released): nothing was stored."""


@dataclass
class Lease:
    assignment: Assignment
    pair: Pair
    prompt: Prompt
    left: Completion
    right: Completion
    # A ranking task's completions in the order this lease shows them (empty for a pair).
    items: list[Completion] = field(default_factory=list)

    @property
    def idempotency_key(self) -> str:
        return default_key(self.assignment.id)


def default_key(assignment_id: int) -> str:
    """The idempotency key the server suggests for an assignment (stable across reloads)."""
    return f"assignment-{assignment_id}"


def pick_left_side() -> str:
    """Which completion goes on the left: random per assignment (tests may replace this)."""
    return random.choice(("a", "b"))  # noqa: S311 - presentation order, not security


def _live(now: datetime | BindParameter[Any]) -> ColumnElement[bool]:
    return (Assignment.status == "leased") & (Assignment.expires_at > now)


# Whether a pair row is a ranking task (it has RankingItem rows), as a column of the query that
# loads the pair: a plain pair then needs no look-up of ranking items.
IS_RANKING_TASK = exists().where(RankingItem.pair_id == Pair.id).label("is_ranking_task")

# Built once: every lease shown runs them, and building a select (fresh aliases above all)
# costs more than running it.
_COMPLETION_A, _COMPLETION_B = aliased(Completion), aliased(Completion)
_LEASE_CONTENT = (
    select(Pair, Prompt, _COMPLETION_A, _COMPLETION_B, IS_RANKING_TASK)
    .join(Prompt, Prompt.id == Pair.prompt_id)
    .join(_COMPLETION_A, _COMPLETION_A.id == Pair.completion_a_id)
    .join(_COMPLETION_B, _COMPLETION_B.id == Pair.completion_b_id)
    .where(Pair.id == bindparam("pair_id"))
)
# The same, with the pair's live leases counted in the statement's own (fresh) snapshot.
_LEASE_CONTENT_AND_LEASES = _LEASE_CONTENT.add_columns(
    select(func.count())
    .select_from(Assignment)
    .where(Assignment.pair_id == Pair.id, _live(bindparam("now")))
    .scalar_subquery()
    .label("live_leases")
)
_RANKING_ITEMS = (
    select(Completion)
    .join(RankingItem, RankingItem.completion_id == Completion.id)
    .where(RankingItem.pair_id == bindparam("pair_id"))
    .order_by(RankingItem.position)
)


def _lease(db: Session, assignment: Assignment, content: Sequence[Any]) -> Lease:
    """A lease from a row of `_LEASE_CONTENT` (or of `_LEASE_CONTENT_AND_LEASES`)."""
    pair, prompt, a, b, is_ranking_task = content[:5]
    left, right = (a, b) if assignment.left_side == "a" else (b, a)
    items = list(db.scalars(_RANKING_ITEMS, {"pair_id": pair.id})) if is_ranking_task else []
    # Shown in an order of the lease's own (the same on every reload), never sampling order.
    random.Random(assignment.id).shuffle(items)  # noqa: S311 - presentation order
    return Lease(assignment, pair, prompt, left, right, items)


def load_lease(db: Session, assignment: Assignment) -> Lease:
    """Everything the page shows for one assignment, sides resolved (one query for a pair,
    two for a ranking task)."""
    return _lease(db, assignment, db.execute(_LEASE_CONTENT, {"pair_id": assignment.pair_id}).one())


_CALLERS_LEASES = (
    select(Assignment, Pair.status, Pair.project_id)
    .join(Pair, Pair.id == Assignment.pair_id)
    .where(Assignment.user_id == bindparam("user_id"), Assignment.status == "leased")
    # An undo gives an earlier pair back with a fresh `shown_at`: it comes first.
    .order_by(Assignment.shown_at.desc().nulls_last(), Assignment.id.desc())
)


def current_lease(db: Session, user: User, project: Project, now: datetime) -> Lease | None:
    """The caller's live lease in this project, if any (a reload shows the same pair).

    Also the lazy expiry: the caller's own leases that ran out are marked expired here
    (only the caller's rows, so concurrent requests never wait on each other).
    """
    rows = db.execute(_CALLERS_LEASES, {"user_id": user.id}).all()
    found = None
    for assignment, pair_status, project_id in rows:
        if assignment.expires_at <= now:
            assignment.status = "expired"
        elif pair_status != "open":
            assignment.status = "released"  # the pair was retired under the lease
        elif project_id == project.id and found is None:
            found = assignment
    if db.dirty:
        db.flush()
    return load_lease(db, found) if found is not None else None


@functools.cache
def _candidate_query(*, gold: bool, by_margin: bool) -> Select[Pair]:
    """The queue's query for one kind of draw, built once (parameters: user_id, project_id,
    now)."""
    seen = exists().where(Assignment.pair_id == Pair.id, Assignment.user_id == bindparam("user_id"))
    stmt = select(Pair).where(
        Pair.project_id == bindparam("project_id"), Pair.status == "open", ~seen
    )
    if gold:
        stmt = stmt.where(Pair.kind == "gold")
    else:
        leases = (
            select(func.count())
            .select_from(Assignment)
            .where(Assignment.pair_id == Pair.id, _live(bindparam("now")))
            .scalar_subquery()
        )
        stmt = stmt.where(
            Pair.kind.in_(LIVE_KINDS), Pair.labels_received + leases < Pair.labels_required
        )
    if by_margin:
        stmt = stmt.where(Pair.reward_margin.is_not(None))
        stmt = stmt.order_by(func.abs(Pair.reward_margin), Pair.id)
    else:
        stmt = stmt.order_by(Pair.id)
    stmt = stmt.limit(CANDIDATES)
    stmt = stmt.with_for_update(of=Pair, skip_locked=True)
    return stmt.execution_options(populate_existing=True)


def _candidates(
    db: Session, user: User, project: Project, now: datetime, *, gold: bool, by_margin: bool
) -> list[Pair]:
    params = {"user_id": user.id, "project_id": project.id, "now": now}
    return list(db.scalars(_candidate_query(gold=gold, by_margin=by_margin), params))


def _content_if_still_needed(db: Session, pair: Pair, now: datetime) -> Sequence[Any] | None:
    """A locked candidate's lease content, or None when its leases have filled it since the
    candidate query's snapshot (the re-count rides on the statement that loads the content)."""
    # Gold: every evaluator sees each gold pair once, no overlap limit. SQLite: the write lock
    # taken at BEGIN kept the candidate query current.
    if pair.kind == "gold" or db.get_bind().dialect.name != "postgresql":
        return db.execute(_LEASE_CONTENT, {"pair_id": pair.id}).one()
    content = db.execute(_LEASE_CONTENT_AND_LEASES, {"pair_id": pair.id, "now": now}).one()
    return content if pair.labels_received + content.live_leases < pair.labels_required else None


def _lease_from(
    db: Session, settings: Settings, user: User, project: Project, *, gold: bool, by_margin: bool
) -> Lease | None:
    # Each try reads a fresh snapshot; a try fails only when every row it locked was filled
    # by a transaction that committed after the snapshot, so the next try sees that.
    for _ in range(MAX_TRIES):
        now = utcnow()
        candidates = _candidates(db, user, project, now, gold=gold, by_margin=by_margin)
        for pair in candidates:
            content = _content_if_still_needed(db, pair, now)
            if content is None:
                continue
            assignment = Assignment(
                pair_id=pair.id,
                user_id=user.id,
                status="leased",
                left_side=pick_left_side(),
                expires_at=now + timedelta(minutes=settings.lease_minutes),
                shown_at=now,
            )
            db.add(assignment)
            db.flush()
            return _lease(db, assignment, content)
        if not candidates:
            return None
    return None


def next_pair(
    db: Session,
    settings: Settings,
    user: User,
    project: Project,
    *,
    rng: random.Random | None = None,
) -> Lease | None:
    """The caller's live lease, else a new lease on a pair that needs their label, else None."""
    rng = rng or random.Random()  # noqa: S311
    lease = current_lease(db, user, project, utcnow())
    if lease is not None:
        return lease
    by_margin = rng.random() < settings.active_selection_share
    if project.gold_rate > 0 and rng.random() < project.gold_rate:
        lease = _lease_from(db, settings, user, project, gold=True, by_margin=False)
        if lease is not None:
            return lease
    if by_margin:  # pairs without a margin yet are the fallback, oldest first
        lease = _lease_from(db, settings, user, project, gold=False, by_margin=True)
        if lease is not None:
            return lease
    return _lease_from(db, settings, user, project, gold=False, by_margin=False)


@dataclass
class Owned:
    """The caller's assignment with its pair and project, as `owned` found them."""

    assignment: Assignment
    pair: Pair
    project: Project
    is_ranking_task: bool


def owned(db: Session, user: User, assignment_id: int, *, lock: bool) -> Owned:
    """The caller's assignment in a project they may still label (locked for update when
    asked), with its pair and project, in one query; else NotFound: ownership alone is not
    enough once membership has ended."""
    stmt = (
        select(Assignment, Pair, Project, IS_RANKING_TASK)
        .join(Pair, Pair.id == Assignment.pair_id)
        .join(Project, Project.id == Pair.project_id)
        .where(Assignment.id == assignment_id, Assignment.user_id == user.id, visible_to(user))
    )
    if lock:
        stmt = stmt.with_for_update(of=Assignment)
    row = db.execute(stmt.execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(f"No assignment {assignment_id} for you.")
    return Owned(*row)


def owned_assignment(db: Session, user: User, assignment_id: int, *, lock: bool) -> Assignment:
    """The assignment of `owned`."""
    return owned(db, user, assignment_id, lock=lock).assignment


def heartbeat(db: Session, settings: Settings, user: User, assignment_id: int) -> Assignment:
    """Extend a live lease while its page is open; an expired one stays expired."""
    assignment = owned_assignment(db, user, assignment_id, lock=True)
    now = utcnow()
    if assignment.status != "leased" or assignment.expires_at <= now:
        raise LeaseExpired("This pair's lease has ended; load the next pair.")
    assignment.expires_at = now + timedelta(minutes=settings.lease_minutes)
    db.flush()
    return assignment


def skip(db: Session, user: User, assignment_id: int, reason: str) -> Assignment:
    """Give a pair back with a reason; others may get it, this evaluator never again."""
    assignment = owned_assignment(db, user, assignment_id, lock=True)
    if assignment.status == "skipped":
        return assignment  # a repeated skip is a no-op
    if assignment.status != "leased" or assignment.expires_at <= utcnow():
        raise LeaseExpired("This pair's lease has already ended; nothing to skip.")
    assignment.status = "skipped"
    assignment.skip_reason = reason
    db.flush()
    return assignment


@dataclass
class Counters:
    """An evaluator's own figures. Gold figures cover labels given before today only.

    Shown right after each label, a per-label gold figure would tell the evaluator which
    pair was gold; counted up to the start of the day, it changes only between days and
    says nothing about any one pair.
    """

    today: int
    total: int
    skipped: int
    gold_total: int
    gold_correct: int

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_total if self.gold_total else None


def counters(db: Session, user: User, project: Project) -> Counters:
    """The evaluator's own figures in a project: labels today and in all, gold to yesterday."""
    mine = (Comparison.user_id == user.id) & (Comparison.project_id == project.id) & Comparison.live
    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    total = db.scalar(select(func.count()).where(mine)) or 0
    today = db.scalar(select(func.count()).where(mine, Comparison.created_at >= start)) or 0
    skipped = (
        db.scalar(
            select(func.count())
            .select_from(Assignment)
            .join(Pair, Pair.id == Assignment.pair_id)
            .where(
                Assignment.user_id == user.id,
                Pair.project_id == project.id,
                Assignment.status == "skipped",
            )
        )
        or 0
    )
    gold = db.execute(
        select(func.count(), func.count().filter(Comparison.choice == Pair.gold_choice))
        .select_from(Comparison)
        .join(Pair, Pair.id == Comparison.pair_id)
        .where(
            mine,
            Comparison.is_gold,
            Pair.gold_choice.is_not(None),
            Comparison.created_at < start,
        )
    ).one()
    return Counters(today, total, skipped, int(gold[0]), int(gold[1]))
