"""The admin dashboard's figures for one project: read-only aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from app.annotators.stats import utc_day
from app.dashboard.quality import Flagged, OverallAgreement, summary
from app.models import Assignment, Comparison, Pair, PolicyVersion, Project, User
from app.models.labeling import PAIR_KINDS
from app.quality import figures as quality_figures
from app.sampling.service import head_to_head_buffer
from app.settings import Settings
from app.snapshots import Figures

DAYS = 30
ACTIVE_MINUTES = 15


@dataclass(frozen=True)
class QueueRow:
    kind: str
    open_pairs: int
    labels_needed: int


@dataclass(frozen=True)
class BufferRow:
    version: int
    live: int
    live_target: int
    head_to_head: int
    head_to_head_target: int


@dataclass(frozen=True)
class Dashboard:
    days: list[tuple[date, int]]
    queue: list[QueueRow]
    buffers: list[BufferRow]
    active_evaluators: list[tuple[int, str]]
    agreement: OverallAgreement
    flagged: list[Flagged]
    quality_at: datetime  # when agreement and flags were computed
    quality_current: bool  # False: labels arrived since, a refresh is under way

    @property
    def labels_in_window(self) -> int:
        return sum(n for _, n in self.days)


def labels_per_day(
    db: Session, project_id: int, now: datetime, days: int = DAYS
) -> list[tuple[date, int]]:
    """Labels on each of the last `days` UTC days up to today, days without any included."""
    since = now.astimezone(UTC).date() - timedelta(days=days - 1)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    day = utc_day(Comparison.created_at, db.get_bind().dialect.name).label("day")
    rows = db.execute(
        select(day, func.count())
        .where(
            Comparison.project_id == project_id,
            Comparison.live,
            Comparison.created_at >= start,
        )
        .group_by(day)
    ).all()
    found = {d if isinstance(d, date) else date.fromisoformat(d): int(n) for d, n in rows}
    return [(since + timedelta(k), found.get(since + timedelta(k), 0)) for k in range(days)]


def _open_pairs(db: Session, project_id: int) -> list[tuple[int, str, int, int]]:
    """(version id, kind, open pairs, labels still needed) of the project's open pairs."""
    rows = db.execute(
        select(
            Pair.policy_version_id,
            Pair.kind,
            func.count(),
            func.sum(Pair.labels_required - Pair.labels_received),
        )
        .where(Pair.project_id == project_id, Pair.status == "open")
        .group_by(Pair.policy_version_id, Pair.kind)
    ).all()
    return [(v, k, int(n), max(int(need or 0), 0)) for v, k, n, need in rows]


def queue_depth(open_pairs: list[tuple[int, str, int, int]]) -> list[QueueRow]:
    """Open pairs waiting for labels, by kind (every kind listed, zeros included)."""
    pairs = dict.fromkeys(PAIR_KINDS, 0)
    needed = dict.fromkeys(PAIR_KINDS, 0)
    for _, kind, n, need in open_pairs:
        pairs[kind] += n
        needed[kind] += need
    return [QueueRow(k, pairs[k], needed[k]) for k in PAIR_KINDS]


def buffers(
    db: Session, project: Project, open_pairs: list[tuple[int, str, int, int]], settings: Settings
) -> list[BufferRow]:
    """Per active version: its open live and head-to-head pairs against the sampler's aim."""
    versions = db.execute(
        select(PolicyVersion.id, PolicyVersion.number)
        .where(PolicyVersion.project_id == project.id, PolicyVersion.status == "active")
        .order_by(PolicyVersion.number.desc())
    ).all()
    depth = {(v, k): n for v, k, n, _ in open_pairs}
    h2h_target = head_to_head_buffer(project.head_to_head_share, settings)
    return [
        BufferRow(
            number,
            depth.get((vid, "live"), 0),
            settings.pair_buffer,
            depth.get((vid, "head_to_head"), 0),
            h2h_target,
        )
        for vid, number in versions
    ]


def active_evaluators(db: Session, project_id: int, now: datetime) -> list[tuple[int, str]]:
    """People holding a live lease on the project's pairs or who labelled in the last minutes."""
    leasing = (
        select(Assignment.user_id)
        .join(Pair, Pair.id == Assignment.pair_id)
        .where(
            Pair.project_id == project_id,
            Assignment.status == "leased",
            Assignment.expires_at > now,
        )
    )
    labelling = select(Comparison.user_id).where(
        Comparison.project_id == project_id,
        Comparison.created_at >= now - timedelta(minutes=ACTIVE_MINUTES),
    )
    ids = union(leasing, labelling).subquery()
    rows = db.execute(
        select(User.id, User.username).where(User.id.in_(select(ids.c[0]))).order_by(User.username)
    ).all()
    return [(uid, name) for uid, name in rows]


def dashboard(
    db: Session,
    project: Project,
    settings: Settings,
    now: datetime,
    quality: Figures[quality_figures.QualityFigures] | None = None,
) -> Dashboard:
    """Every figure of the dashboard for `project` as of `now`; `quality`, when given, is the
    kept quality figures (with their time), else they are computed now."""
    open_pairs = _open_pairs(db, project.id)
    if quality is None:
        quality = Figures(quality_figures.compute(db, project, settings), now, True)
    agreement, flagged = summary(db, quality.value)
    return Dashboard(
        days=labels_per_day(db, project.id, now),
        queue=queue_depth(open_pairs),
        buffers=buffers(db, project, open_pairs, settings),
        active_evaluators=active_evaluators(db, project.id, now),
        agreement=agreement,
        flagged=flagged,
        quality_at=quality.as_of,
        quality_current=quality.current,
    )
