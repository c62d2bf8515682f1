"""Engine and session factory; the request (or job) is the transaction."""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.settings import SettingsError

_ON_COMMIT = "pairwise_on_commit"
# How long a SQLite writer waits for its turn: in this process's queue, and in SQLite's own
# busy handler for writers of other processes.
SQLITE_WAIT_SECONDS = 30.0


def on_commit(db: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once `db`'s transaction has committed; dropped if it rolls back.

    For effects outside the database (metrics) that must not count work that was undone.
    """
    db.info.setdefault(_ON_COMMIT, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    for callback in session.info.pop(_ON_COMMIT, []):
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_on_commit(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine or raise SettingsError with one line naming what is wrong."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError(f"DATABASE_URL is not a valid database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise SettingsError(
            f"DATABASE_URL uses {backend!r}; Pairwise supports sqlite and postgresql"
        )
    if backend == "sqlite":
        kwargs.setdefault(
            "connect_args", {"check_same_thread": False, "timeout": SQLITE_WAIT_SECONDS}
        )
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    try:
        engine = create_engine(parsed, **kwargs)
    except NoSuchModuleError:
        raise SettingsError(f"DATABASE_URL driver is not installed: {parsed.drivername}") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        _serialise_sqlite_writers(engine)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself so every transaction takes the write lock up
    # front (BEGIN IMMEDIATE): no deadlock between two readers upgrading to writers.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_WAIT_SECONDS * 1000)}")
    cursor.close()


class FairLock:
    """A lock handed to its waiters in arrival order, releasable from any thread.

    SQLite lets one writer in at a time; a connection that finds the lock taken sleeps in
    SQLite's busy handler in growing steps (up to 100 ms), so under load some requests wait
    many steps while later ones get in. Within one process the writers queue here instead,
    and each is woken the moment the previous one is done.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait(timeout)
        with self._mutex:
            if turn.is_set():  # handed over, possibly just as the wait timed out
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().set()  # the lock passes straight to the next in line
            else:
                self._held = False


_HOLDS_WRITE_TURN = "pairwise_write_turn"


def _serialise_sqlite_writers(engine: Engine) -> None:
    """Every transaction begins with BEGIN IMMEDIATE (the write lock up front, so two readers
    never deadlock upgrading to writers), after its turn in this process's FairLock; the turn
    ends when the connection goes back to the pool, after its COMMIT or ROLLBACK."""
    turns = FairLock()

    def begin(conn: Any) -> None:
        if not conn.info.get(_HOLDS_WRITE_TURN):
            if not turns.acquire(SQLITE_WAIT_SECONDS):
                raise OperationalError(
                    "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                )
            conn.info[_HOLDS_WRITE_TURN] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _end_turn(conn.info)
            raise

    def _end_turn(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_WRITE_TURN, False):
            turns.release()

    def checkin(_dbapi_conn: Any, record: Any) -> None:
        _end_turn(record.info)

    event.listen(engine, "begin", begin)
    event.listen(engine.pool, "checkin", checkin)
    event.listen(engine.pool, "invalidate", lambda _c, record, _e: _end_turn(record.info))


def check_connection(engine: Engine) -> None:
    """Raise SettingsError with a one-line reason if the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one clear line
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise SettingsError(
            f"cannot reach the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{reason}"
        ) from None


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work for jobs and the CLI: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
