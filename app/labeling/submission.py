"""Submission: a judgement, its lease and the pair's label count change in one transaction.

A ranking task's judgement (`RankIn`) goes the same way: its comparison holds the a-versus-b
vote the ranking implies, and the ranking itself is stored beside it.

Idempotent per assignment: the assignment row is locked first (FOR UPDATE on Postgres;
SQLite's BEGIN IMMEDIATE), so concurrent retries queue behind the first one and then find
its comparison and return it; the unique constraints are the last line of defence. Keys are
stored per user (`u<id>:<key>`) so one evaluator can never use up another's key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from app.db import on_commit
from app.domain import rankings
from app.labeling.schemas import RankIn, SubmitIn
from app.labeling.service import LeaseExpired, Owned, default_key, owned
from app.models import Comparison, Pair, Project, Ranking, RankingItem, User, utcnow
from app.observability.metrics import LABELS_SUBMITTED

MAX_DECISION_MS = 86_400_000


class InvalidSubmission(Exception):
    """A value the schema cannot check alone (e.g. a flag the project does not offer)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class KeyConflict(Exception):
    """The idempotency key was already used for a different assignment."""

    field = "idempotency_key"


@dataclass
class Submitted:
    comparison: Comparison
    replayed: bool
    project: Project  # the comparison's, as the submission loaded it (for the next lease)

    @property
    def client_key(self) -> str:
        return self.comparison.idempotency_key.split(":", 1)[1]


def stored_choice(screen_choice: str, left_side: str) -> str:
    """Screen terms (left/right) → completion terms (a/b) through the side shown on the left."""
    if screen_choice == "left":
        return left_side
    if screen_choice == "right":
        return "b" if left_side == "a" else "a"
    return screen_choice


def screen_choice(stored: str, left_side: str) -> str:
    """The inverse of `stored_choice`."""
    if stored in ("tie", "both_bad"):
        return stored
    return "left" if stored == left_side else "right"


def check_flags(flags: list[str], project: Project) -> list[str]:
    """The flags without repeats; InvalidSubmission names one the project does not offer."""
    offered = list(project.flags or [])
    unknown = [f for f in flags if f not in offered]
    if unknown:
        raise InvalidSubmission(
            "flags", f"unknown flag {unknown[0]!r}; this project offers: {', '.join(offered)}"
        )
    return list(dict.fromkeys(flags))


def _ranked(
    db: Session, lease: Owned, data: SubmitIn | RankIn
) -> tuple[str | None, list[list[int]] | None]:
    """The stored a/b choice a ranking implies and its tiers (None, None for a pair's form);
    refuses a pair's form on a ranking task and a ranking on a pair."""
    if not isinstance(data, RankIn):
        if lease.is_ranking_task:
            raise InvalidSubmission("ranking", "this task asks for a ranking of its responses")
        return None, None
    pair = lease.pair
    task = list(db.scalars(select(RankingItem.completion_id).where(RankingItem.pair_id == pair.id)))
    if not task:
        raise InvalidSubmission("ranking", "this task is a pair: choose the better response")
    try:
        tiers = rankings.check_tiers(rankings.parse_tiers(data.ranking), task)
    except rankings.InvalidRanking as exc:
        raise InvalidSubmission("ranking", str(exc)) from None
    choice = rankings.vote(rankings.rank_of(tiers), pair.completion_a_id, pair.completion_b_id)
    return choice, tiers


# Judgements under this key or of this assignment, built once (every label runs it). Live rows
# only: after an undo the same lease (and its suggested key) labels afresh.
_STORED = select(Comparison).where(
    (Comparison.idempotency_key == bindparam("key"))
    | (Comparison.assignment_id == bindparam("assignment_id")),
    Comparison.live,
)


def submit(db: Session, user: User, data: SubmitIn | RankIn) -> Submitted:
    """Store a judgement (a pair's choice or a ranking) for the caller's live lease, or return
    the one already stored."""
    key = f"u{user.id}:{data.idempotency_key or default_key(data.assignment_id)}"
    # The row lock queues concurrent retries of one assignment behind the first.
    lease = owned(db, user, data.assignment_id, lock=True)
    assignment, pair, project = lease.assignment, lease.pair, lease.project
    stored = db.scalars(_STORED, {"key": key, "assignment_id": assignment.id}).all()
    for row in stored:
        if row.assignment_id == assignment.id:  # a retry, under this key or another one
            return Submitted(row, replayed=True, project=project)
    if stored:
        raise KeyConflict(
            f"idempotency_key was already used for assignment {stored[0].assignment_id}"
        )
    now = utcnow()
    if assignment.status != "leased" or assignment.expires_at <= now:
        if assignment.status == "leased":
            assignment.status = "expired"
            db.flush()
        raise LeaseExpired(
            "Your time on that pair ran out, so the judgement was not saved. Here is a new pair."
        )
    flags = check_flags(data.flags, project)
    ranked_choice, tiers = _ranked(db, lease, data)
    if isinstance(data, SubmitIn):
        choice = stored_choice(data.choice, assignment.left_side)
        strength = data.strength if data.choice in ("left", "right") else None
    else:
        choice, strength = ranked_choice or "tie", None
    # The server's clock decides the speed figures: a client could claim any time it likes.
    decision_ms = None
    if assignment.shown_at is not None:
        decision_ms = int((now - assignment.shown_at).total_seconds() * 1000)
    comparison = Comparison(
        project_id=pair.project_id,
        pair_id=pair.id,
        user_id=user.id,
        assignment_id=assignment.id,
        choice=choice,
        strength=strength,
        rationale=data.rationale,
        flags=flags,
        decision_ms=min(max(decision_ms, 0), MAX_DECISION_MS) if decision_ms is not None else None,
        client_decision_ms=data.decision_ms,
        idempotency_key=key,
        guidelines_version=project.guidelines_version,
        is_gold=pair.kind == "gold",
    )
    db.add(comparison)
    if tiers is not None:
        db.flush()
        db.add(
            Ranking(
                project_id=pair.project_id,
                pair_id=pair.id,
                user_id=user.id,
                comparison_id=comparison.id,
                tiers=tiers,
            )
        )
    # New rows only (an idempotent replay returned earlier), and only once they are stored.
    on_commit(db, LABELS_SUBMITTED.inc)
    assignment.status = "submitted"
    # One UPDATE, so concurrent submissions on an overlapped pair cannot lose a count.
    done = (Pair.kind != "gold") & (Pair.labels_received + 1 >= Pair.labels_required)
    db.execute(
        update(Pair)
        .where(Pair.id == pair.id)
        .values(
            labels_received=Pair.labels_received + 1,
            status=case((done, "complete"), else_=Pair.status),
        )
        .execution_options(synchronize_session=False)
    )
    db.flush()
    return Submitted(comparison, replayed=False, project=project)
