"""The sampler's database side: buffer depth, prompt choice, pair insertion, heartbeats.

Generation happens outside any transaction; `insert_pairs` is the one short write
transaction per batch, and it re-counts the buffer under a lock so that several samplers
never overfill it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, aliased

from app.domain import rankings, versions
from app.domain.project_settings import loop_settings_of, settings_of
from app.models import (
    Completion,
    Pair,
    PolicyVersion,
    Project,
    Prompt,
    WorkerHeartbeat,
    utcnow,
)
from app.sampling.backend import Sample, VersionRef
from app.settings import Settings


@dataclass(frozen=True)
class PromptSnapshot:
    id: int
    text: str
    messages: list[dict[str, Any]] | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class PairCandidate:
    """Two samples for one prompt; `b` comes from `opponent` in a head-to-head pair. A ranking
    task's further samples are `extra` (K - 2 of them)."""

    prompt: PromptSnapshot
    a: Sample
    b: Sample
    opponent: VersionRef | None = None
    margin: float | None = None  # reward(a) - reward(b) by the project's newest reward model
    extra: tuple[Sample, ...] = ()

    @property
    def usable(self) -> bool:
        """False for an empty response or two identical ones (nothing to compare)."""
        texts = [s.text.strip() for s in (self.a, self.b, *self.extra)]
        return all(texts) and len(set(texts)) == len(texts)


def buffer_depth(db: Session, project_id: int, version_id: int, kind: str = "live") -> int:
    """Open pairs of this kind and version: what evaluators can be given right now."""
    count = db.scalar(
        select(func.count(Pair.id)).where(
            Pair.project_id == project_id,
            Pair.status == "open",
            Pair.kind == kind,
            Pair.policy_version_id == version_id,
        )
    )
    return int(count or 0)


def head_to_head_buffer(share: float, settings: Settings) -> int:
    """Open head-to-head pairs to keep beside PAIR_BUFFER live ones, so that `share` of
    all open pairs pit the active version against an earlier one (0 turns them off)."""
    if share <= 0:
        return 0
    share = min(share, 0.5)
    return max(1, math.ceil(settings.pair_buffer * share / (1 - share)))


def opponents(db: Session, active: VersionRef) -> list[VersionRef]:
    """Earlier versions the active one meets head to head: version 0 and the version
    that was live before it (the most recently promoted other one), when they exist."""
    earlier = list(
        db.scalars(
            select(PolicyVersion)
            .where(
                PolicyVersion.project_id == active.project_id,
                PolicyVersion.id != active.id,
                PolicyVersion.status == "archived",
            )
            .order_by(PolicyVersion.number)
        )
    )
    chosen: list[PolicyVersion] = [v for v in earlier if v.number == 0]
    promoted = [v for v in earlier if v.promoted_at is not None and v.number != 0]
    if promoted:
        chosen.append(max(promoted, key=lambda v: (v.promoted_at, v.number)))
    return [VersionRef.of(v) for v in chosen]


def versions_to_serve(
    db: Session, project: Project, active: VersionRef, settings: Settings
) -> list[VersionRef]:
    """Every version to keep served: the active one, its opponents while head-to-head pairs
    are on, the version on trial against it while the trial share is on, and the versions the
    playground answered with in the last PLAYGROUND_SERVE_MINUTES."""
    on = head_to_head_buffer(project.head_to_head_share, settings) > 0
    needed = [active, *(opponents(db, active) if on else [])]
    challenger = on_trial(db, active)
    if challenger is not None and head_to_head_buffer(
        loop_settings_of(project).trial_share, settings
    ):
        needed.append(challenger)
    if settings.playground_serve_minutes:
        since = utcnow() - timedelta(minutes=settings.playground_serve_minutes)
        needed += [VersionRef.of(v) for v in versions.played_since(db, project.id, since)]
    return needed


def on_trial(db: Session, active: VersionRef) -> VersionRef | None:
    """The version on trial against the active one (a child of it), if any."""
    row = versions.trial_version(db, active.project_id)
    return VersionRef.of(row) if row is not None and row.parent_id == active.id else None


def pairs_wanted(depth: int, settings: Settings) -> int:
    """How many pairs to make now: refill to PAIR_BUFFER once below PAIR_LOW_WATER (or empty)."""
    if depth >= settings.pair_buffer:
        return 0
    if depth < settings.pair_low_water or depth == 0:
        return settings.pair_buffer - depth
    return 0


def pick_prompts(db: Session, project_id: int, count: int) -> list[PromptSnapshot]:
    """`count` prompts: active, not held out, highest priority first, least sampled first.

    With fewer eligible prompts than `count`, prompts repeat (their samples differ by seed).
    """
    rows = list(
        db.scalars(
            select(Prompt)
            .where(
                Prompt.project_id == project_id,
                Prompt.active.is_(True),
                Prompt.held_out.is_(False),
            )
            .order_by(Prompt.priority.desc(), Prompt.times_sampled, Prompt.id)
            .limit(count)
        )
    )
    snapshots = [PromptSnapshot(p.id, p.text, p.messages, tuple(p.tags or ())) for p in rows]
    return [snapshots[i % len(snapshots)] for i in range(count)] if snapshots else []


def labels_required(project: Project, tags: tuple[str, ...]) -> int:
    """Project overlap, raised by any per-tag override in the project's `overlap_by_tag`."""
    overrides = settings_of(project).overlap_by_tag
    return max([project.overlap or 1, *(overrides[t] for t in tags if t in overrides)])


def insert_pairs(
    db: Session,
    version: VersionRef,
    candidates: list[PairCandidate],
    buffer: int,
    kind: str = "live",
    status: str = "active",
) -> int:
    """Insert usable candidates up to the buffer, under a lock on the project; returns count.

    Head-to-head pairs (`kind="head_to_head"`) belong to the active version (promotion
    retires them with its live pairs); their completion b is the opponent's. Trial pairs
    are head-to-head pairs that belong to the version on trial (`status="trial"`), their
    completion b the active version's.
    """
    # Postgres: the row lock serialises samplers of this project until commit. SQLite:
    # the transaction already holds the database write lock (BEGIN IMMEDIATE).
    project = db.scalars(
        select(Project)
        .where(Project.id == version.project_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    now = db.scalar(select(PolicyVersion.status).where(PolicyVersion.id == version.id))
    if now != status:
        return 0  # promoted (or decided) while we generated: these samples are stale
    room = buffer - buffer_depth(db, project.id, version.id, kind)
    if room <= 0:
        return 0
    prompt_ids = {c.prompt.id for c in candidates}
    seen = _existing_pairs(db, version.id, prompt_ids)
    # Held out or deactivated while we generated: such a prompt gets no pair.
    eligible = set(
        db.scalars(
            select(Prompt.id).where(
                Prompt.id.in_(prompt_ids), Prompt.active.is_(True), Prompt.held_out.is_(False)
            )
        )
    )
    chosen: list[PairCandidate] = []
    for c in candidates:
        key = (c.prompt.id, frozenset((c.a.text.strip(), c.b.text.strip())))
        if c.usable and key not in seen and c.prompt.id in eligible:
            seen.add(key)
            chosen.append(c)
        if len(chosen) == room:
            break
    for c in chosen:
        a = _completion(c.prompt.id, version.id, c.a)
        b = _completion(c.prompt.id, (c.opponent or version).id, c.b)
        extra = [_completion(c.prompt.id, version.id, s) for s in c.extra]
        db.add_all([a, b, *extra])
        db.flush()
        pair = Pair(
            project_id=project.id,
            prompt_id=c.prompt.id,
            completion_a_id=a.id,
            completion_b_id=b.id,
            policy_version_id=version.id,
            kind=kind,
            status="open",
            labels_required=labels_required(project, c.prompt.tags),
            reward_margin=c.margin,
        )
        db.add(pair)
        if extra:
            db.flush()
            rankings.add_items(db, pair, [a, b, *extra])
    # Every sampled prompt counts, kept or not: a prompt whose pairs keep being dropped
    # must not stay "least sampled" and crowd out the others.
    for prompt_id, n in Counter(c.prompt.id for c in candidates).items():
        db.execute(
            update(Prompt)
            .where(Prompt.id == prompt_id)
            .values(times_sampled=Prompt.times_sampled + n)
        )
    db.flush()
    return len(chosen)


def _completion(prompt_id: int, version_id: int, sample: Sample) -> Completion:
    return Completion(
        prompt_id=prompt_id,
        policy_version_id=version_id,
        text=sample.text,
        sampling={**sample.params, "seed": sample.seed},
        prompt_tokens=sample.prompt_tokens,
        completion_tokens=sample.completion_tokens,
        finish_reason=sample.finish_reason,
    )


def _existing_pairs(
    db: Session, version_id: int, prompt_ids: set[int]
) -> set[tuple[int, frozenset[str]]]:
    ca, cb = aliased(Completion), aliased(Completion)
    rows = db.execute(
        select(Pair.prompt_id, ca.text, cb.text)
        .join(ca, ca.id == Pair.completion_a_id)
        .join(cb, cb.id == Pair.completion_b_id)
        .where(Pair.policy_version_id == version_id, Pair.prompt_id.in_(prompt_ids))
    )
    return {(pid, frozenset((a.strip(), b.strip()))) for pid, a, b in rows}


@dataclass(frozen=True)
class UnscoredPair:
    id: int
    prompt: PromptSnapshot
    text_a: str
    text_b: str


def unscored_open_pairs(db: Session, project_id: int, limit: int) -> list[UnscoredPair]:
    """Open live pairs that have no reward margin yet (made before the reward model)."""
    ca, cb = aliased(Completion), aliased(Completion)
    rows = db.execute(
        select(Pair.id, Prompt.id, Prompt.text, Prompt.messages, ca.text, cb.text)
        .join(Prompt, Prompt.id == Pair.prompt_id)
        .join(ca, ca.id == Pair.completion_a_id)
        .join(cb, cb.id == Pair.completion_b_id)
        .where(
            Pair.project_id == project_id,
            Pair.status == "open",
            Pair.kind == "live",
            Pair.reward_margin.is_(None),
        )
        .order_by(Pair.id)
        .limit(limit)
    )
    return [
        UnscoredPair(pair_id, PromptSnapshot(prompt_id, text, messages, ()), a, b)
        for pair_id, prompt_id, text, messages, a, b in rows
    ]


def set_margins(db: Session, margins: dict[int, float]) -> None:
    """Store reward margins of pairs that still have none (a concurrent scorer may have won)."""
    for pair_id, margin in margins.items():
        db.execute(
            update(Pair)
            .where(Pair.id == pair_id, Pair.reward_margin.is_(None))
            .values(reward_margin=margin)
        )


def beat(db: Session, worker_id: str, kind: str, status: dict[str, Any]) -> None:
    """Upsert this worker's heartbeat row (one row per worker; only it writes the row)."""
    row = db.get(WorkerHeartbeat, worker_id)
    if row is None:
        db.add(WorkerHeartbeat(id=worker_id, kind=kind, seen_at=utcnow(), status=status))
    else:
        row.seen_at = utcnow()
        row.status = status
    db.flush()


def forget_worker(db: Session, worker_id: str) -> None:
    """Remove a worker's heartbeat on a clean stop."""
    db.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == worker_id))
