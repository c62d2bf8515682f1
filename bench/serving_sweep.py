"""Serving sweep (`bench/serving.py sweep`): saturation and steady load on Postgres.

Seeds a warm buffer of pairs into its own schema (`--schema`), starts the server on a
loopback port, then:

1. saturation: open-loop arrivals at increasing request rates until p99 passes
   `--slo-ms`; the first such rate is the saturation point (the server is given time
   to work off its backlog between steps);
2. steady load: N evaluators, each labelling every `--interval` s on average
   (exponential think time), for `--duration` s; p50/p99 of next-pair and submit.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.serving_setup import (
    LOOPBACK,
    ROOT,
    free_port,
    is_postgres,
    seed_postgres,
    serve_command,
    server_env,
    start,
    stop,
)


def sequential(base: str, token: str, n: int = 30) -> dict[str, float]:
    """Unloaded latency: the framework alone, plus token auth, plus the labelling work."""
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, list[float]] = {
        "GET /healthz (no auth)": [], "GET /api/v1/me (auth)": [],
        "GET /api/v1/pairs/next": [], "POST /api/v1/comparisons": [],
    }  # fmt: skip
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for _ in range(n):
            for name, path in (
                ("GET /healthz (no auth)", "/healthz"),
                ("GET /api/v1/me (auth)", "/api/v1/me"),
            ):
                t0 = time.perf_counter()
                client.get(path)
                out[name].append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            pair = client.get("/api/v1/pairs/next").json()["pair"]
            out["GET /api/v1/pairs/next"].append((time.perf_counter() - t0) * 1000)
            body = {"assignment_id": pair["assignment_id"], "choice": "tie"}
            t0 = time.perf_counter()
            client.post("/api/v1/comparisons", json=body)
            out["POST /api/v1/comparisons"].append((time.perf_counter() - t0) * 1000)
    return {name: pct(values, 0.5) for name, values in out.items()}


def drain(base: str, limit_s: float = 180.0) -> None:
    """Wait until the server has worked off any backlog (health answers within 200 ms)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            httpx.get(f"{base}/healthz", timeout=5)
            if time.perf_counter() - t0 < 0.2:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)


@dataclass
class Samples:
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    errors: int = 0
    empty: int = 0

    def all(self) -> list[float]:
        return self.next_ms + self.submit_ms


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_label(client: httpx.AsyncClient, token: str, samples: Samples, think: float) -> None:
    """Ask for the pair, look at it for `think` seconds, submit; latencies per request."""
    try:
        await _label(client, token, samples, think)
    except httpx.TransportError:
        samples.errors += 1


async def _label(client: httpx.AsyncClient, token: str, samples: Samples, think: float) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    t0 = time.perf_counter()
    r = await client.get("/api/v1/pairs/next", headers=headers)
    samples.next_ms.append((time.perf_counter() - t0) * 1000)
    if r.status_code != 200:
        samples.errors += 1
        return
    pair = r.json()["pair"]
    if pair is None:
        samples.empty += 1
        return
    if think:
        await asyncio.sleep(think)
    body = {
        "assignment_id": pair["assignment_id"],
        "choice": random.choice(["left", "right", "tie", "both_bad"]),
        "idempotency_key": pair["idempotency_key"],
        "decision_ms": int(think * 1000),
    }
    t0 = time.perf_counter()
    r = await client.post("/api/v1/comparisons", json=body, headers=headers)
    samples.submit_ms.append((time.perf_counter() - t0) * 1000)
    if r.status_code not in (200, 201):
        samples.errors += 1


async def steady(base: str, tokens: list[str], interval: float, duration: float) -> Samples:
    samples = Samples()
    end = time.monotonic() + duration
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=15) as client:

        async def evaluator(token: str) -> None:
            await asyncio.sleep(random.uniform(0, interval))  # spread the start
            while time.monotonic() < end:
                think = min(random.expovariate(1 / interval), max(0.0, end - time.monotonic()))
                await one_label(client, token, samples, think)

        await asyncio.gather(*(evaluator(t) for t in tokens))
    return samples


async def open_loop(base: str, tokens: list[str], rate: float, seconds: float) -> Samples:
    """Label cycles (next + submit, two requests) arriving as a Poisson process at `rate` req/s."""
    samples = Samples()
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=15) as client:
        tasks = []
        end = time.monotonic() + seconds
        free = list(tokens)
        random.shuffle(free)

        async def cycle(token: str) -> None:
            try:
                await one_label(client, token, samples, 0.0)
            finally:
                free.append(token)

        while time.monotonic() < end:
            await asyncio.sleep(random.expovariate(rate / 2))
            if free:  # an evaluator labels one pair at a time
                tasks.append(asyncio.create_task(cycle(free.pop())))
        await asyncio.gather(*tasks)
    return samples


def row(name: str, s: Samples, seconds: float) -> str:
    done = len(s.all())
    cells = [
        f"{done / seconds:.1f}",
        *(f"{pct(v, q):.1f}" for v, q in ((s.next_ms, 0.5), (s.next_ms, 0.99))),
        *(f"{pct(v, q):.1f}" for v, q in ((s.submit_ms, 0.5), (s.submit_ms, 0.99))),
        f"{pct(s.all(), 0.99):.1f}",
        str(s.errors),
        str(s.empty),
    ]
    return f"| {name} | " + " | ".join(cells) + " |"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--schema", default="pairwise_bench_serving")
    p.add_argument("--evaluators", type=int, default=1000)
    p.add_argument("--interval", type=float, default=15.0, help="mean seconds per label")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of steady load")
    p.add_argument("--pairs", type=int, default=25000)
    p.add_argument("--workers", type=int, default=2, help="server worker processes")
    p.add_argument("--rates", default="100,200,300,400,600,800,1200", help="req/s steps")
    p.add_argument("--step-seconds", type=float, default=8.0)
    p.add_argument("--slo-ms", type=float, default=100.0)
    p.add_argument("--warmup-rate", type=float, default=4.0, help="req/s of the warm-up step")


def run(args: argparse.Namespace) -> int:
    if not is_postgres(args.database_url):
        raise SystemExit("sweep: --database-url (or BENCH_DATABASE_URL) must be a Postgres URL")
    t0 = time.monotonic()
    seeded = seed_postgres(args.database_url, args.schema, args.pairs, args.evaluators)
    tokens = seeded.tokens
    print(
        f"seeded {args.pairs} pairs and {len(tokens)} evaluators in {time.monotonic() - t0:.1f} s"
    )
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = server_env(seeded.url, ROOT, data_dir, args.workers)
        server = start(serve_command(port), ROOT, env, port, Path(data_dir) / "server.log")
        base = f"http://{LOOPBACK}:{port}"
        try:
            header = (
                "| phase | req/s | next p50 | next p99 | submit p50 | submit p99 | all p99"
                " | errors | empty |\n|---|---|---|---|---|---|---|---|---|"
            )
            # Warm-up (not reported): connection pools, statement caches, first imports.
            asyncio.run(open_loop(base, tokens, args.warmup_rate, args.step_seconds))
            drain(base)
            print("sequential baseline, one request at a time (p50 ms):")
            for name, value in sequential(base, tokens[-1]).items():
                print(f"  {name:<28} {value:7.1f}")
            print("\nsaturation (open loop, next+submit cycles; latencies in ms)")
            print(header)
            saturation = None
            for rate in (float(r) for r in args.rates.split(",")):
                s = asyncio.run(open_loop(base, tokens, rate, args.step_seconds))
                print(row(f"offered {rate:g} req/s", s, args.step_seconds), flush=True)
                drain(base)
                if pct(s.all(), 0.99) > args.slo_ms:
                    saturation = rate
                    break
            if saturation is None:
                print(
                    f"p99 stayed under {args.slo_ms:g} ms up to {args.rates.split(',')[-1]} req/s"
                )
            else:
                print(f"saturation: p99 passed {args.slo_ms:g} ms at {saturation:g} req/s offered")
            print(f"\nsteady: {args.evaluators} evaluators, one label per {args.interval:g} s")
            s = asyncio.run(steady(base, tokens, args.interval, args.duration))
            print(header)
            print(row(f"steady {args.evaluators} evaluators", s, args.duration), flush=True)
        finally:
            stop(server)
    return 0
