"""The floor: a label's lease and submission as bare SQL, i.e. what the database itself costs.

Mirrors what the server does for one label (app/labeling/service.py, submission.py) with
the fewest statements that keep its guarantees, on a connection of its own per client:

- lease, one transaction: one statement picks the oldest open pair the evaluator has not
  seen whose labels plus live leases are below its overlap, locks it (`FOR UPDATE SKIP
  LOCKED` on Postgres; SQLite's write lock from BEGIN IMMEDIATE) and inserts the
  assignment; a second reads the pair's prompt and completions and, on Postgres, re-counts
  the live leases under the row lock (the pick's snapshot may predate a lease committed by
  the transaction that held the lock; READ COMMITTED gives the second statement a fresh
  one). A pair found full is given back and the pick repeated.
- submission, one transaction: the assignment leased → submitted (only the caller's, only
  while live), the pair's count and status, the comparison row (one statement with CTEs on
  Postgres, three on SQLite, which cannot put an UPDATE in a CTE).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

LEASE_MINUTES = 20
CHOICES = ("a", "b", "tie", "both_bad")

_PICK = """
INSERT INTO assignments (pair_id, user_id, status, left_side, expires_at, shown_at, created_at)
SELECT p.id, {user}, 'leased', {side}, {expires}, {now}, {now}
FROM pairs p
WHERE p.project_id = {project} AND p.status = 'open' AND p.kind IN ('live', 'head_to_head')
  AND NOT EXISTS (SELECT 1 FROM assignments s WHERE s.pair_id = p.id AND s.user_id = {user})
  AND p.labels_received + (
    SELECT count(*) FROM assignments l
    WHERE l.pair_id = p.id AND l.status = 'leased' AND l.expires_at > {now}
  ) < p.labels_required
ORDER BY p.id LIMIT 1 {lock}
RETURNING id, pair_id
"""

_LOAD = """
SELECT p.labels_received + (
    SELECT count(*) FROM assignments l
    WHERE l.pair_id = p.id AND l.status = 'leased' AND l.expires_at > {now}
  ) <= p.labels_required,
  pr.text, ca.text, cb.text
FROM pairs p
JOIN prompts pr ON pr.id = p.prompt_id
JOIN completions ca ON ca.id = p.completion_a_id
JOIN completions cb ON cb.id = p.completion_b_id
WHERE p.id = {pair}
"""

_PAIR_DONE = """
UPDATE pairs SET labels_received = labels_received + 1,
  status = CASE WHEN kind <> 'gold' AND labels_received + 1 >= labels_required
           THEN 'complete' ELSE status END
"""

_SUBMIT_PG = f"""
WITH a AS (
  UPDATE assignments SET status = 'submitted'
  WHERE id = %(assignment)s AND user_id = %(user)s AND status = 'leased' AND expires_at > %(now)s
  RETURNING id, pair_id
), p AS (
  {_PAIR_DONE} FROM a WHERE pairs.id = a.pair_id
  RETURNING pairs.id, pairs.project_id, pairs.kind
)
INSERT INTO comparisons (project_id, pair_id, user_id, assignment_id, choice, rationale, flags,
  idempotency_key, guidelines_version, is_gold, created_at)
SELECT p.project_id, p.id, %(user)s, a.id, %(choice)s, '', '[]', %(key)s,
  pj.guidelines_version, p.kind = 'gold', %(now)s
FROM a JOIN p ON p.id = a.pair_id JOIN projects pj ON pj.id = p.project_id
RETURNING id
"""


class Floor:
    """One client's connection; `label()` leases a pair and submits a judgement for it."""

    def __init__(self, user_id: int, project_id: int) -> None:
        self.user = user_id
        self.project = project_id
        self.lease: tuple[int, int] | None = None  # (assignment id, pair id)

    def label(self) -> bool:
        """Submit the held lease (if any) and take the next; False when no pair is left."""
        if self.lease is not None:
            self.submit(*self.lease)
        self.lease = self.take()
        return self.lease is not None

    def take(self) -> tuple[int, int] | None:
        raise NotImplementedError

    def submit(self, assignment_id: int, pair_id: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class PostgresFloor(Floor):
    def __init__(self, url: str, user_id: int, project_id: int) -> None:
        super().__init__(user_id, project_id)
        self.conn = psycopg.connect(url, autocommit=True)  # transaction() is BEGIN..COMMIT
        ph = {"user": "%(user)s", "side": "%(side)s", "expires": "%(expires)s", "now": "%(now)s",
              "project": "%(project)s", "pair": "%(pair)s"}  # fmt: skip
        self.pick = _PICK.format(lock="FOR UPDATE OF p SKIP LOCKED", **ph)
        self.load = _LOAD.format(**ph)

    def take(self) -> tuple[int, int] | None:
        while True:
            now = datetime.now(UTC)
            params = {"user": self.user, "project": self.project, "now": now,
                      "side": random.choice("ab"),  # noqa: S311
                      "expires": now + timedelta(minutes=LEASE_MINUTES)}  # fmt: skip
            with self.conn.transaction(), self.conn.cursor() as cur:
                row = cur.execute(self.pick, params).fetchone()
                if row is None:
                    return None
                params["pair"] = row[1]
                fits = cur.execute(self.load, params).fetchone()
                if fits is not None and fits[0]:
                    return int(row[0]), int(row[1])
                raise psycopg.Rollback  # filled by a lease committed after our snapshot: again

    def submit(self, assignment_id: int, pair_id: int) -> None:
        params = {"assignment": assignment_id, "user": self.user, "now": datetime.now(UTC),
                  "choice": random.choice(CHOICES),  # noqa: S311
                  "key": f"u{self.user}:assignment-{assignment_id}"}  # fmt: skip
        with self.conn.transaction(), self.conn.cursor() as cur:
            if cur.execute(_SUBMIT_PG, params).fetchone() is None:
                raise RuntimeError(f"assignment {assignment_id} was not live at submit")

    def close(self) -> None:
        self.conn.close()


def _sqlite_time(value: datetime) -> str:
    """The text SQLAlchemy stores for a UTC datetime on SQLite (so comparisons agree)."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


class SqliteFloor(Floor):
    # SQLite takes one writer at a time; like the server's FairLock, the clients of one
    # process queue here instead of sleeping in SQLite's busy handler.
    turn = threading.Lock()

    def __init__(self, path: str, user_id: int, project_id: int) -> None:
        super().__init__(user_id, project_id)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=30000")
        ph = {k: f":{k}" for k in ("user", "side", "expires", "now", "project", "pair")}
        self.pick = _PICK.format(lock="", **ph)
        self.load = _LOAD.format(**ph)

    def _write(self, work: Callable[[sqlite3.Cursor], Any]) -> Any:
        with self.turn:
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                result = work(cur)
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
            return result

    def take(self) -> tuple[int, int] | None:
        def work(cur: sqlite3.Cursor) -> tuple[int, int] | None:
            now = datetime.now(UTC)
            params = {"user": self.user, "project": self.project, "now": _sqlite_time(now),
                      "side": random.choice("ab"),  # noqa: S311
                      "expires": _sqlite_time(now + timedelta(minutes=LEASE_MINUTES))}  # fmt: skip
            row = cur.execute(self.pick, params).fetchone()
            if row is None:
                return None
            params["pair"] = row[1]
            cur.execute(self.load, params).fetchone()  # the write lock kept the pick current
            return int(row[0]), int(row[1])

        result: tuple[int, int] | None = self._write(work)
        return result

    def submit(self, assignment_id: int, pair_id: int) -> None:
        def work(cur: sqlite3.Cursor) -> None:
            now = _sqlite_time(datetime.now(UTC))
            got = cur.execute(
                "UPDATE assignments SET status = 'submitted' WHERE id = ? AND user_id = ?"
                " AND status = 'leased' AND expires_at > ? RETURNING pair_id",
                (assignment_id, self.user, now),
            ).fetchone()
            if got is None:
                raise RuntimeError(f"assignment {assignment_id} was not live at submit")
            project, kind, version = cur.execute(
                f"{_PAIR_DONE} WHERE id = ? RETURNING project_id, kind,"
                " (SELECT guidelines_version FROM projects WHERE projects.id = pairs.project_id)",
                (pair_id,),
            ).fetchone()
            cur.execute(
                "INSERT INTO comparisons (project_id, pair_id, user_id, assignment_id, choice,"
                " rationale, flags, idempotency_key, guidelines_version, is_gold, created_at)"
                " VALUES (?, ?, ?, ?, ?, '', '[]', ?, ?, ?, ?)",
                (project, pair_id, self.user, assignment_id, random.choice(CHOICES),  # noqa: S311
                 f"u{self.user}:assignment-{assignment_id}", version, kind == "gold", now),
            )  # fmt: skip

        self._write(work)

    def close(self) -> None:
        self.conn.close()


def make_floor(url: str, user_id: int, project_id: int) -> Floor:
    if url.startswith("sqlite:///"):
        return SqliteFloor(url[len("sqlite:///") :], user_id, project_id)
    return PostgresFloor(url, user_id, project_id)


def timed_label(floor: Floor) -> tuple[bool, float]:
    t0 = time.perf_counter()
    ok = floor.label()
    return ok, (time.perf_counter() - t0) * 1000
