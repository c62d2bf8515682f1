"""Simulated evaluators labelling concurrently through the real HTTP API (asyncio + httpx).

Each evaluator does what the labelling page does: ask for its next pair, think, then
submit a judgement with the pair's idempotency key, or now and then skip it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from app.simulate.noise import Mind
from app.simulate.rules import Rule

SKIP_REASON = "Other"
MAX_CONSECUTIVE_ERRORS = 10


@dataclass(frozen=True)
class SimulationConfig:
    url: str
    project_id: int
    labels: int | None = None  # total across evaluators; None: until the queue stays empty
    noise: float = 0.0
    think_time: float = 0.0  # mean seconds per decision
    skip_rate: float = 0.02
    idle_timeout: float = 10.0  # stop when no pair came for this long
    poll: float = 1.0
    seed: int = 0
    request_timeout: float = 30.0


@dataclass
class Summary:
    evaluators: int
    labels: int = 0
    skips: int = 0
    errors: int = 0
    replays: int = 0
    flipped: int = 0
    elapsed: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    error_messages: Counter[str] = field(default_factory=Counter)

    def percentile(self, endpoint: str | None, q: float) -> float:
        """Latency percentile in ms, for one endpoint or all requests."""
        values = (
            self.latencies.get(endpoint, [])
            if endpoint
            else [v for vs in self.latencies.values() for v in vs]
        )
        return float(np.percentile(values, q)) * 1000 if values else float("nan")

    def as_text(self) -> str:
        rate = self.labels / self.elapsed if self.elapsed else 0.0
        lines = [
            f"evaluators {self.evaluators}  labels {self.labels}  skips {self.skips}  "
            f"errors {self.errors}  replays {self.replays}  noise flips {self.flipped}  "
            f"elapsed {self.elapsed:.1f} s  ({rate:.1f} labels/s)",
            f"{'request':<24}{'n':>7}{'p50 ms':>10}{'p99 ms':>10}",
        ]
        for endpoint in [*sorted(self.latencies), None]:
            n = (
                len(self.latencies[endpoint])
                if endpoint
                else sum(map(len, self.latencies.values()))
            )
            p50, p99 = self.percentile(endpoint, 50), self.percentile(endpoint, 99)
            lines.append(f"{endpoint or 'all':<24}{n:>7}{p50:>10.1f}{p99:>10.1f}")
        lines += [f"error ×{n}: {message}" for message, n in self.error_messages.most_common(5)]
        return "\n".join(lines)


class Budget:
    """Labels still to hand out; a slot is reserved before a pair is fetched."""

    def __init__(self, total: int | None) -> None:
        self.left = total

    def reserve(self) -> bool:
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True

    def release(self) -> None:
        if self.left is not None:
            self.left += 1


class Evaluator:
    """One simulated person with their own connection, hidden rule and random stream."""

    def __init__(
        self,
        token: str,
        rule: Rule,
        config: SimulationConfig,
        index: int,
        summary: Summary,
        budget: Budget,
        judging: ThreadPoolExecutor,
    ) -> None:
        self.config = config
        self.rng = random.Random(config.seed * 1_000_003 + index)  # noqa: S311
        self.mind = Mind(rule, config.noise, self.rng)
        self.summary = summary
        self.budget = budget
        self.judging = judging
        self.consecutive_errors = 0
        self.pending: dict[str, Any] | None = None  # the lease a submission's answer carried
        self.client = httpx.AsyncClient(
            base_url=config.url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=config.request_timeout,
        )

    async def _call(self, name: str, method: str, path: str, **kw: Any) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            response = await self.client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self._error(f"{name}: {type(exc).__name__}: {exc}")
            return None
        self.summary.latencies[name].append(time.perf_counter() - start)
        return response

    def _error(self, message: str) -> None:
        self.summary.errors += 1
        self.summary.error_messages[message[:200]] += 1
        self.consecutive_errors += 1

    async def run(self) -> None:
        idle_since: float | None = None
        try:
            while self.consecutive_errors < MAX_CONSECUTIVE_ERRORS:
                # A pair handed over with the last submission already holds its reservation.
                if self.pending is None and not self.budget.reserve():
                    return
                labelled = await self._one()
                if labelled is None:  # queue empty
                    self.budget.release()
                    now = time.monotonic()
                    idle_since = idle_since or now
                    if now - idle_since >= self.config.idle_timeout:
                        return
                    await asyncio.sleep(min(self.config.poll, self.config.idle_timeout))
                    continue
                idle_since = None
                if not labelled:
                    self.budget.release()
        finally:
            self.summary.flipped += self.mind.flipped
            await self.client.aclose()

    async def _one(self) -> bool | None:
        """One pair: True if a new label was stored, False if not, None if none was offered."""
        pair, self.pending = self.pending, None
        if pair is None:
            response = await self._call(
                "GET /pairs/next",
                "GET",
                "/api/v1/pairs/next",
                params={"project_id": self.config.project_id},
            )
            if response is None or response.status_code != 200:
                if response is not None:
                    self._error(f"GET /pairs/next: {response.status_code} {response.text[:120]}")
                await asyncio.sleep(self.config.poll)
                return False
            pair = response.json().get("pair")
            if pair is None:
                return None
        think = self.config.think_time * self.rng.uniform(0.5, 1.5)
        started = time.perf_counter()
        if self.rng.random() < self.config.skip_rate:
            await asyncio.sleep(think)
            return await self._skip(pair)
        loop = asyncio.get_running_loop()
        # The rule may run a model; keep it off the event loop, one call at a time.
        choice, strength = await loop.run_in_executor(
            self.judging, self.mind.decide, pair["prompt"]["text"], pair["left"], pair["right"]
        )
        await asyncio.sleep(max(0.0, think - (time.perf_counter() - started)))
        body = {
            "assignment_id": pair["assignment_id"],
            "choice": choice,
            "strength": strength,
            "decision_ms": int((time.perf_counter() - started) * 1000),
            "idempotency_key": pair["idempotency_key"],
        }
        # One round trip per label: the answer carries the next lease, when another label
        # may still be made (its budget slot is reserved now, released if none comes).
        wants_next = self.budget.reserve()
        response = await self._call(
            "POST /comparisons",
            "POST",
            "/api/v1/comparisons",
            json=body,
            params={"next": "true"} if wants_next else None,
        )
        if wants_next:
            if response is not None and response.is_success:
                self.pending = (response.json().get("next") or {}).get("pair")
            if self.pending is None:
                self.budget.release()
        if response is None:
            return False
        if response.status_code == 201:
            self.summary.labels += 1
            self.consecutive_errors = 0
            return True
        if response.status_code == 200:
            self.summary.replays += 1
            return False
        self._error(f"POST /comparisons: {response.status_code} {response.text[:120]}")
        return False

    async def _skip(self, pair: dict[str, Any]) -> bool:
        path = f"/api/v1/assignments/{pair['assignment_id']}/skip"
        response = await self._call("POST /skip", "POST", path, json={"reason": SKIP_REASON})
        if response is not None and response.status_code == 200:
            self.summary.skips += 1
            self.consecutive_errors = 0
        elif response is not None:
            self._error(f"POST /skip: {response.status_code} {response.text[:120]}")
        return False


async def simulate(tokens: list[str], rule: Rule, config: SimulationConfig) -> Summary:
    """Run one evaluator per token until the label budget is spent or the queue stays empty."""
    summary = Summary(evaluators=len(tokens))
    budget = Budget(config.labels)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge") as judging:
        evaluators = [
            Evaluator(token, rule, config, k, summary, budget, judging)
            for k, token in enumerate(tokens)
        ]
        await asyncio.gather(*(e.run() for e in evaluators))
    summary.elapsed = time.perf_counter() - start
    return summary


def run_simulation(tokens: list[str], rule: Rule, config: SimulationConfig) -> Summary:
    """Blocking wrapper around `simulate` for the CLI and the benchmark."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(simulate(tokens, rule, config))
    # Called where this thread already runs an event loop (a notebook, Playwright's sync
    # API): asyncio.run refuses that, so the simulation gets a thread of its own.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulate") as pool:
        return pool.submit(asyncio.run, simulate(tokens, rule, config)).result()
