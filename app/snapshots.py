"""Admin figures computed from many rows, kept per project with their time ("as of").

One mechanism for every page whose figures read all of a project's comparisons: the quality
page and the dashboard (agreement, annotator quality), the leaderboard and the Loop page
(Bradley–Terry with bootstrap intervals). An `Aggregate` names a *source* query — a token
that changes when the rows behind the figures change (the label count, the head-to-head
votes) — and the costly computation. `Snapshots.get`:

- the first view of a project computes the figures in the request and stores them
  (table `aggregate_snapshots`, so every web process shares them);
- afterwards the stored figures are served with their time. Each view checks only the
  project's newest comparison id (one index entry); when it moved and the figures are at
  least AGGREGATES_REFRESH_SECONDS old, a refresh is queued for a background thread of this
  process and the request shows the previous figures meanwhile. The refresh asks the
  aggregate's source and recomputes only when that moved too (a leaderboard's bootstrap
  runs once per batch of new head-to-head votes, not after every live label). One process
  at a time refreshes a snapshot (a lease on its row).

With AGGREGATES_BACKGROUND off, the request that finds them out of date recomputes them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.models import AggregateSnapshot, Comparison, Project, utcnow
from app.settings import Settings

T = TypeVar("T")
INVALIDATED = ""  # the source of figures known to be out of date: refreshed on the next view
LEASE = timedelta(minutes=10)  # longer than any refresh; a crashed refresher's runs out
log = logging.getLogger("pairwise.snapshots")


class Aggregate(Generic[T]):
    """A kind of figures: its name, its type (stored as JSON), its source token, its sum."""

    def __init__(
        self,
        kind: str,
        type_: Any,
        source: Callable[[Session, Project, Settings], str],
        compute: Callable[[Session, Project, Settings], T],
    ) -> None:
        self.kind = kind
        self.adapter: TypeAdapter[T] = TypeAdapter(type_)
        self.source = source
        self.compute = compute

    def dump(self, value: T) -> Any:
        return self.adapter.dump_python(value, mode="json")

    def load(self, payload: Any) -> T:
        return self.adapter.validate_python(payload)


@dataclass(frozen=True)
class Figures(Generic[T]):
    value: T
    as_of: datetime  # when they were computed
    current: bool  # computed from the rows as they are now


Key = tuple[int, str]


class Snapshots:
    """The stored figures of one web process: read, refreshed, and kept parsed in memory."""

    def __init__(self, settings: Settings, factory: Callable[[], sessionmaker[Session]]) -> None:
        self.settings = settings
        self._factory = factory  # read when a refresh runs (tests swap the app's sessionmaker)
        self._lock = threading.Lock()
        self._parsed: dict[Key, tuple[datetime, Any]] = {}
        self._pending: dict[Key, Aggregate[Any]] = {}
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._running = 0

    def get(self, db: Session, aggregate: Aggregate[T], project: Project) -> Figures[T]:
        """The project's figures of this kind: stored ones (a refresh queued when they are
        out of date), or computed now when there are none yet."""
        key = (project.id, aggregate.kind)
        row = db.execute(
            select(AggregateSnapshot.source, AggregateSnapshot.computed_at).where(
                AggregateSnapshot.project_id == project.id,
                AggregateSnapshot.kind == aggregate.kind,
            )
        ).first()
        if row is None:
            return self._compute_in(db, aggregate, project, insert=True)
        current = row.source.partition("|")[0] == newest_label(db, project.id)
        age = (utcnow() - row.computed_at).total_seconds()
        due = row.source == INVALIDATED or age >= self.settings.aggregates_refresh_seconds
        if not current and due:
            if not self.settings.aggregates_background:
                return self._bring_up_to_date(db, aggregate, project, row.source)
            self.request_refresh(aggregate, project.id)
        return Figures(self._value(db, aggregate, key, row.computed_at), row.computed_at, current)

    def as_of(self, db: Session, aggregate: Aggregate[Any], project_id: int) -> datetime | None:
        """When the stored figures were computed (None: never), without reading them."""
        return db.scalar(
            select(AggregateSnapshot.computed_at).where(
                AggregateSnapshot.project_id == project_id,
                AggregateSnapshot.kind == aggregate.kind,
            )
        )

    def _value(self, db: Session, aggregate: Aggregate[T], key: Key, at: datetime) -> T:
        with self._lock:
            kept = self._parsed.get(key)
        if kept is not None and kept[0] == at:
            value: T = kept[1]
            return value
        payload = db.scalar(
            select(AggregateSnapshot.payload).where(
                AggregateSnapshot.project_id == key[0], AggregateSnapshot.kind == key[1]
            )
        )
        value = aggregate.load(payload)
        self._keep(key, at, value)
        return value

    def _keep(self, key: Key, at: datetime, value: Any) -> None:
        with self._lock:
            self._parsed[key] = (at, value)

    def _compute_in(
        self, db: Session, aggregate: Aggregate[T], project: Project, *, insert: bool
    ) -> Figures[T]:
        """Compute in the caller's transaction and store (committed with it)."""
        # The sources first: labels that arrive during the sum make the figures stale again.
        source = f"{newest_label(db, project.id)}|{aggregate.source(db, project, self.settings)}"
        value, at = aggregate.compute(db, project, self.settings), utcnow()
        fields = {
            "source": source,
            "computed_at": at,
            "payload": aggregate.dump(value),
            "refreshing_until": None,
        }
        if insert:
            try:
                with db.begin_nested():  # another request may store the first ones meanwhile
                    db.add(AggregateSnapshot(project_id=project.id, kind=aggregate.kind, **fields))
            except IntegrityError:
                insert = False
        if not insert:
            db.execute(
                update(AggregateSnapshot).where(*_row(project.id, aggregate)).values(**fields)
            )
        self._keep((project.id, aggregate.kind), at, value)
        return Figures(value, at, True)

    def _bring_up_to_date(
        self, db: Session, aggregate: Aggregate[T], project: Project, stored: str
    ) -> Figures[T]:
        """New labels arrived: recompute when the aggregate's own source moved too (for the
        leaderboard: a head-to-head vote), else only note the labels as seen."""
        newest = newest_label(db, project.id)
        exact = aggregate.source(db, project, self.settings)
        if stored == INVALIDATED or stored.partition("|")[2] != exact:
            return self._compute_in(db, aggregate, project, insert=False)
        db.execute(
            update(AggregateSnapshot)
            .where(*_row(project.id, aggregate))
            .values(source=f"{newest}|{exact}", refreshing_until=None)
        )
        at = db.scalar(select(AggregateSnapshot.computed_at).where(*_row(project.id, aggregate)))
        assert at is not None
        return Figures(self._value(db, aggregate, (project.id, aggregate.kind), at), at, True)

    # Refreshing off the request path.

    def request_refresh(self, aggregate: Aggregate[Any], project_id: int) -> None:
        """Queue a refresh of these figures for the background thread (once per key)."""
        with self._lock:
            self._pending[(project_id, aggregate.kind)] = aggregate
        self._ensure_worker()
        self._wake.set()

    def pending(self) -> list[Key]:
        with self._lock:
            return list(self._pending)

    def idle(self) -> bool:
        """Nothing queued and no refresh running in this process."""
        with self._lock:
            return not self._pending and not self._running

    def run_pending(self) -> int:
        """Refresh every queued snapshot now, in this thread; how many were refreshed."""
        done = 0
        while True:
            with self._lock:
                if not self._pending:
                    return done
                key = next(iter(self._pending))
                aggregate = self._pending.pop(key)
                self._running += 1
            try:
                done += self.refresh(aggregate, key[0])
            except Exception:  # noqa: BLE001 - a failed refresh leaves the previous figures
                log.exception("refreshing %s of project %s failed", key[1], key[0])
            finally:
                with self._lock:
                    self._running -= 1

    def refresh(self, aggregate: Aggregate[Any], project_id: int) -> bool:
        """Bring one snapshot up to date unless another process holds its lease."""
        factory = self._factory()
        now = utcnow()
        with transaction(factory) as db:
            stored = db.scalar(
                update(AggregateSnapshot)
                .where(
                    *_row(project_id, aggregate),
                    or_(
                        AggregateSnapshot.refreshing_until.is_(None),
                        AggregateSnapshot.refreshing_until < now,
                    ),
                )
                .values(refreshing_until=now + LEASE)
                .returning(AggregateSnapshot.source)
            )
        if stored is None:
            return False
        try:
            with transaction(factory) as db:
                project = db.get(Project, project_id)
                if project is not None:
                    self._bring_up_to_date(db, aggregate, project, stored)
        except BaseException:
            with transaction(factory) as db:
                db.execute(
                    update(AggregateSnapshot)
                    .where(*_row(project_id, aggregate))
                    .values(refreshing_until=None)
                )
            raise
        return project is not None

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is not None or self._closed:
                return
            self._worker = threading.Thread(
                target=self._run, name="pairwise-snapshots", daemon=True
            )
        self._worker.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self.run_pending()
            if self._closed:
                return

    def close(self, wait: float | None = None) -> None:
        """Stop the background thread once the queued refreshes are done (`wait`: seconds to
        wait for that; at shutdown nobody waits, the thread is a daemon)."""
        self._closed = True
        self._wake.set()
        if wait is not None and self._worker is not None:
            self._worker.join(wait)


def newest_label(db: Session, project_id: int) -> str:
    """The project's newest comparison id and newest supersession (a change of mind or an
    undo): the cheap check every view makes (two indexes' last entries); only when it moved
    is the aggregate's own source asked."""
    in_project = Comparison.project_id == project_id
    newest = db.scalar(select(func.max(Comparison.id)).where(in_project))
    withdrawn = db.scalar(select(func.max(Comparison.superseded_at)).where(in_project))
    return f"{newest}:{withdrawn.isoformat() if withdrawn else ''}"


def _row(project_id: int, aggregate: Aggregate[Any]) -> tuple[ColumnElement[bool], ...]:
    return (AggregateSnapshot.project_id == project_id, AggregateSnapshot.kind == aggregate.kind)


def invalidate(db: Session, project_id: int, kind: str) -> None:
    """Mark the kept figures out of date (in the caller's transaction): a change their source
    does not show, such as a pair made gold."""
    db.execute(
        update(AggregateSnapshot)
        .where(AggregateSnapshot.project_id == project_id, AggregateSnapshot.kind == kind)
        .values(source=INVALIDATED)
    )


def invalidate_everywhere(db: Session, kind: str) -> None:
    """Mark every project's kept figures of this kind out of date: a change all of them read,
    such as an annotator's cohort tags."""
    db.execute(
        update(AggregateSnapshot).where(AggregateSnapshot.kind == kind).values(source=INVALIDATED)
    )


def snapshots_of(state: Any) -> Snapshots:
    """The app's Snapshots (`app.state`)."""
    found: Snapshots = state.snapshots
    return found


def install(app: Any) -> None:
    """Give the app its Snapshots, closed at shutdown."""
    app.state.snapshots = Snapshots(app.state.settings, lambda: app.state.sessionmaker)
    app.state.shutdown_hooks.append(lambda a: a.state.snapshots.close())
