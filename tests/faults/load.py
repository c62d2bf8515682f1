"""Evaluators labelling through the real API while something fails, and what the server stored.

Each client does what a careful script does (see app/simulate/runner.py): ask for the next
pair, submit a judgement with the pair's idempotency key, and on a connection error or a 5xx
send the very same submission again until the server acknowledges it. Every request and its
outcome is kept so that tests can say how the failures looked to a client.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.auth.service import create_api_token
from app.models import Comparison, Pair, Project
from tests.factories import make_evaluator, make_pairs, make_project


@dataclass(frozen=True)
class Outcome:
    """One request as a client saw it: a status code or the exception, and how long it took."""

    started: float
    seconds: float
    path: str
    status: int | None
    error: str | None = None
    body: str = ""


@dataclass
class Ledger:
    sent: dict[int, dict[str, Any]] = field(default_factory=dict)  # assignment id → body
    acked: dict[int, int] = field(default_factory=dict)  # assignment id → comparison id
    keys: dict[int, str] = field(default_factory=dict)  # assignment id → stored key
    outcomes: list[Outcome] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    resent: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def failures(self, since: float = 0.0, until: float = float("inf")) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if since <= o.started <= until and (o.status is None or o.status >= 500)
        ]


@dataclass(frozen=True)
class Evaluator:
    user_id: int
    token: str


def seed_labelling(engine: Engine, evaluators: int, pairs: int) -> tuple[int, list[Evaluator]]:
    """A project with `pairs` open pairs (overlap 1) and evaluators with API tokens."""
    with Session(engine) as db:
        project = make_project(db, overlap=1)
        make_pairs(db, project, pairs)
        people = []
        for _ in range(evaluators):
            user = make_evaluator(db, project)
            secret, _ = create_api_token(db, user, "faults")
            people.append(Evaluator(user.id, secret))
        db.commit()
        return project.id, people


class Client:
    def __init__(
        self, url: str, who: Evaluator, project_id: int, ledger: Ledger, timeout: float
    ) -> None:
        self.who = who
        self.project_id = project_id
        self.ledger = ledger
        self.rng = random.Random(who.user_id)  # noqa: S311 - choices, not secrets
        self.http = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {who.token}"}, timeout=timeout
        )

    async def _request(self, method: str, path: str, **kw: Any) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self.ledger.outcomes.append(
                Outcome(started, time.monotonic() - started, path, None, type(exc).__name__)
            )
            return None
        self.ledger.outcomes.append(
            Outcome(
                started,
                time.monotonic() - started,
                path,
                response.status_code,
                body=response.text[:300] if response.status_code >= 400 else "",
            )
        )
        return response

    async def until_answered(
        self, method: str, path: str, deadline: float, retry_delay: float, **kw: Any
    ) -> httpx.Response | None:
        """Send the same request until it gets a non-5xx answer (or the deadline passes)."""
        while time.monotonic() < deadline and not self.ledger.stop.is_set():
            response = await self._request(method, path, **kw)
            if response is not None and response.status_code < 500:
                return response
            if method == "POST":
                self.ledger.resent += 1
            await asyncio.sleep(retry_delay)
        return None

    async def label(self, count: int, deadline: float, retry_delay: float) -> None:
        try:
            for _ in range(count):
                if not await self._one(deadline, retry_delay):
                    return
        finally:
            await self.http.aclose()

    async def _one(self, deadline: float, retry_delay: float) -> bool:
        params = {"project_id": self.project_id}
        response = await self.until_answered(
            "GET", "/api/v1/pairs/next", deadline, retry_delay, params=params
        )
        if response is None or response.status_code != 200:
            self._unexpected("next", response)
            return False
        pair = response.json().get("pair")
        if pair is None:
            return False  # nothing left to label
        body = {
            "assignment_id": pair["assignment_id"],
            "choice": self.rng.choice(["left", "right", "tie"]),
            "idempotency_key": pair["idempotency_key"],
            "decision_ms": self.rng.randint(500, 5000),
        }
        self.ledger.sent[pair["assignment_id"]] = body
        response = await self.until_answered(
            "POST", "/api/v1/comparisons", deadline, retry_delay, json=body
        )
        if response is None or response.status_code not in (200, 201):
            self._unexpected("submit", response)
            return False
        data = response.json()
        self.ledger.acked[pair["assignment_id"]] = data["id"]
        self.ledger.keys[pair["assignment_id"]] = f"u{self.who.user_id}:{pair['idempotency_key']}"
        return True

    def _unexpected(self, what: str, response: httpx.Response | None) -> None:
        if response is None:
            self.ledger.unexpected.append(f"{what}: no answer before the deadline")
        else:
            self.ledger.unexpected.append(f"{what}: {response.status_code} {response.text[:200]}")


async def run_clients(
    url: str,
    project_id: int,
    people: list[Evaluator],
    ledger: Ledger,
    *,
    labels_each: int,
    seconds: float,
    timeout: float = 10.0,
    retry_delay: float = 0.2,
) -> None:
    deadline = time.monotonic() + seconds
    clients = [Client(url, who, project_id, ledger, timeout) for who in people]
    await asyncio.gather(*(c.label(labels_each, deadline, retry_delay) for c in clients))


class Load:
    """`run_clients` in a thread of its own; leaving the `with` block stops the clients."""

    def __init__(self, url: str, project_id: int, people: list[Evaluator], **options: Any) -> None:
        self.ledger = Ledger()
        self.thread = threading.Thread(
            target=lambda: asyncio.run(
                run_clients(url, project_id, people, self.ledger, **options)
            ),
            daemon=True,
        )

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ledger.stop.set()
        self.thread.join(timeout=15)

    def finished(self, within: float) -> bool:
        self.thread.join(timeout=within)
        return not self.thread.is_alive()


def assert_stored_exactly_once(engine: Engine, project_id: int, ledger: Ledger) -> None:
    """Every acknowledged submission is stored once, as acknowledged; nothing else is stored."""
    with Session(engine) as db:
        rows = db.execute(
            select(Comparison.id, Comparison.assignment_id, Comparison.idempotency_key).where(
                Comparison.project_id == project_id
            )
        ).all()
        per_assignment = Counter(r.assignment_id for r in rows)
        twice = [a for a, n in per_assignment.items() if n > 1]
        assert not twice, f"assignments stored more than once: {twice[:10]}"
        stored = {r.assignment_id: r for r in rows}
        never_sent = set(stored) - set(ledger.sent)
        assert not never_sent, f"comparisons no client sent: {sorted(never_sent)[:10]}"
        lost = set(ledger.acked) - set(stored)
        assert not lost, f"acknowledged but not stored: {sorted(lost)[:10]}"
        for assignment_id, comparison_id in ledger.acked.items():
            row = stored[assignment_id]
            assert row.id == comparison_id, (assignment_id, row.id, comparison_id)
            assert row.idempotency_key == ledger.keys[assignment_id]
        # The label counts moved with the comparisons (same transaction), never twice.
        counted = dict(
            db.execute(
                select(Comparison.pair_id, func.count())
                .where(Comparison.project_id == project_id)
                .group_by(Comparison.pair_id)
            ).all()
        )
        for pair in db.scalars(select(Pair).where(Pair.project_id == project_id)):
            assert pair.labels_received == counted.get(pair.id, 0), pair.id
        assert db.get(Project, project_id) is not None
