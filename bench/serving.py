"""Serving benchmark: the label path side by side with its floor and a baseline, in one run.

For each database (`--databases sqlite,postgres`; Postgres from `--database-url`, SQLite in
a temporary file) it seeds one project of open pairs and evaluators with API tokens, then
measures, with closed-loop clients labelling as fast as they can for `--seconds`:

- floor: the same lease + submission as bare SQL (bench/serving_floor.py): what the
  database itself costs;
- baseline: the server of `--baseline-ref` (default HEAD~1), checked out into a temporary
  git worktree and run with the same Python environment on the same seeded database;
- ours: this working tree's server, started with `pairwise serve`.

Each client is its own evaluator on its own kept-alive connection. A label is one
`POST /api/v1/comparisons?next=true` (the response carries the next lease); a server without
that parameter gets `GET /api/v1/pairs/next` + `POST /api/v1/comparisons`, and the table
says so. The database is reset to the seeded state before every run and checked after it:
`stored` is the comparisons in the database, `dup` the assignments beyond a pair's overlap
plus repeated (pair, user) comparisons — 0 for a correct server.

`bench/serving.py sweep …` runs the older saturation sweep and steady load (Postgres).

Usage:
    .venv/bin/python bench/serving.py --database-url postgresql://postgres@127.0.0.1:5432/DB
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import serving_sweep  # noqa: E402
from bench.serving_floor import make_floor  # noqa: E402
from bench.serving_setup import (  # noqa: E402
    LOOPBACK,
    Seeded,
    free_port,
    plain_url,
    reset,
    seed_postgres,
    seed_sqlite,
    serve_command,
    server_env,
    start,
    stop,
    stored,
)

CHOICES = ("left", "right", "tie", "both_bad")
SUBMIT = "/api/v1/comparisons"


@dataclass
class Run:
    labels: int = 0
    ms: list[float] = field(default_factory=list)  # per label
    errors: int = 0
    empty: int = 0  # a client found no pair left (seed more pairs)
    seconds: float = 0.0

    def merge(self, other: Run) -> None:
        self.labels += other.labels
        self.ms += other.ms
        self.errors += other.errors
        self.empty += other.empty

    @property
    def rate(self) -> float:
        return self.labels / self.seconds if self.seconds else 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def closed_loop(clients: int, seconds: float, client: Callable[[int, float], Run]) -> Run:
    """`clients` threads each running `client(i, deadline)`; merged counts and latencies."""
    results: list[Run] = [Run() for _ in range(clients)]
    ready = threading.Barrier(clients + 1)
    start_at: list[float] = []

    def body(i: int) -> None:
        ready.wait()
        results[i] = client(i, start_at[0] + seconds)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start_at.append(time.monotonic())
    ready.wait()
    for t in threads:
        t.join()
    total = Run(seconds=time.monotonic() - start_at[0])
    for r in results:
        total.merge(r)
    return total


# --- HTTP clients ------------------------------------------------------------------------


class Api:
    """One evaluator on one kept-alive HTTP/1.1 connection (http.client: little client CPU)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                response = self.conn.getresponse()
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # the server closed a kept-alive connection; open a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def submission(pair: dict) -> dict:
    return {
        "assignment_id": pair["assignment_id"],
        "choice": random.choice(CHOICES),  # noqa: S311
        "idempotency_key": pair["idempotency_key"],
    }


def http_client(port: int, tokens: list[str], one_trip: bool) -> Callable[[int, float], Run]:
    def client(i: int, deadline: float) -> Run:
        run = Run()
        api = Api(port, tokens[i])
        try:
            pair = api.call("GET", "/api/v1/pairs/next")[1].get("pair")
            while pair is not None and time.monotonic() < deadline:
                t0 = time.perf_counter()
                if one_trip:
                    status, body = api.call("POST", f"{SUBMIT}?next=true", submission(pair))
                    following = (body.get("next") or {}).get("pair")
                else:
                    status, body = api.call("POST", SUBMIT, submission(pair))
                    following = api.call("GET", "/api/v1/pairs/next")[1].get("pair")
                elapsed = (time.perf_counter() - t0) * 1000
                if status in (200, 201):
                    run.labels += 1
                    run.ms.append(elapsed)
                    pair = following
                else:
                    run.errors += 1
                    pair = api.call("GET", "/api/v1/pairs/next")[1].get("pair")
            if pair is None:
                run.empty += 1
        finally:
            api.close()
        return run

    return client


def floor_client(seeded: Seeded) -> Callable[[int, float], Run]:
    url = seeded.url

    def client(i: int, deadline: float) -> Run:
        run = Run()
        floor = make_floor(url, seeded.user_ids[i], seeded.project_id)
        try:
            floor.lease = floor.take()
            while floor.lease is not None and time.monotonic() < deadline:
                t0 = time.perf_counter()
                floor.label()  # submit the held lease, take the next
                run.ms.append((time.perf_counter() - t0) * 1000)
                run.labels += 1
            if floor.lease is None:
                run.empty += 1
        finally:
            floor.close()
        return run

    return client


def takes_next(port: int) -> bool:
    """Whether the server's POST /api/v1/comparisons has the `next` parameter."""
    api = Api(port, "-")
    try:
        spec = api.call("GET", "/openapi.json")[1]
    finally:
        api.close()
    post = spec.get("paths", {}).get("/api/v1/comparisons", {}).get("post", {})
    return any(p.get("name") == "next" for p in post.get("parameters", []))


# --- servers -----------------------------------------------------------------------------


def git(*args: str) -> str:
    cmd = ["git", *args]
    return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


def describe_tree() -> str:
    """This tree's commit, and whether tracked files differ from it ('' outside git)."""
    try:
        dirty = " + changes" if git("status", "--porcelain", "--untracked-files=no") else ""
        return git("rev-parse", "--short", "HEAD") + dirty
    except (OSError, subprocess.CalledProcessError):
        return "(not a git checkout)"


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """`ref` in a temporary detached worktree, removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="pairwise-baseline-"))
    tree = parent / "tree"
    git("worktree", "add", "--detach", str(tree), ref)
    try:
        yield tree
    finally:
        subprocess.run(  # noqa: S603
            ["git", "worktree", "remove", "--force", str(tree)],  # noqa: S607
            cwd=ROOT, capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(parent, ignore_errors=True)


@dataclass
class Server:
    name: str
    port: int
    processes: str
    one_trip: bool


@contextmanager
def running(name: str, tree: Path, url: str, workers: int) -> Iterator[Server]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        log = Path(data_dir) / "server.log"
        proc = start(serve_command(port), tree, server_env(url, tree, data_dir, workers), port, log)
        try:
            said = re.search(r"\((\d+) process", log.read_text())  # what `pairwise serve` said
            processes = said.group(1) if said else "?"
            yield Server(name, port, processes, takes_next(port))
        finally:
            stop(proc)


# --- the comparison ----------------------------------------------------------------------


@dataclass
class Row:
    database: str
    system: str
    clients: int
    trips: str
    run: Run
    stored: int
    duplicates: int
    floor_rate: float = 0.0

    def cells(self) -> list[str]:
        rate = self.run.rate
        cost = f"{self.floor_rate / rate:.1f}×" if self.floor_rate and rate else "–"
        return [
            self.database, self.system, str(self.clients), self.trips,
            f"{self.run.rate:.1f}", f"{pct(self.run.ms, 0.5):.1f}", f"{pct(self.run.ms, 0.99):.1f}",
            cost, str(self.stored), str(self.duplicates), str(self.run.errors),
            str(self.run.empty),
        ]  # fmt: skip


HEADER = (
    "| database | server | clients | round trips per label | labels/s | p50 ms | p99 ms"
    " | cost × floor | stored | dup | errors | ran dry |"
)


def print_row(row: Row) -> None:
    print("| " + " | ".join(row.cells()) + " |", flush=True)


def measure(
    seeded: Seeded, clients: list[int], seconds: float, warmup: float,
    client_for: Callable[[], Callable[[int, float], Run]],
) -> list[tuple[int, Run, int, int]]:  # fmt: skip
    """A warm-up (not reported), then one run per client count; reset before each."""
    out = []
    if warmup:
        closed_loop(max(clients), warmup, client_for())
    for n in clients:
        reset(seeded.url)
        run = closed_loop(n, seconds, client_for())
        after = stored(seeded.url)
        out.append((n, run, after.comparisons, after.duplicates))
    reset(seeded.url)
    return out


def compare(args: argparse.Namespace) -> list[Row]:
    clients = [int(c) for c in args.clients.split(",")]
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if unknown := set(databases) - {"sqlite", "postgres"}:
        raise SystemExit(f"--databases: unknown {', '.join(sorted(unknown))} (sqlite, postgres)")
    if "postgres" in databases and not args.database_url:
        raise SystemExit("--databases has postgres: give --database-url (or BENCH_DATABASE_URL)")
    servers = [(ROOT, f"ours {describe_tree()}")]
    ref = args.baseline_ref.strip()
    rows: list[Row] = []
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|")
    with tempfile.TemporaryDirectory() as work, checkout(ref) if ref else _none() as base:
        if base is not None:
            servers.insert(0, (base, f"baseline {git('rev-parse', '--short', ref)}"))
        for database in databases:
            if database == "postgres":
                seeded = seed_postgres(args.database_url, args.schema, args.pairs, max(clients))
            else:
                seeded = seed_sqlite(Path(work) / "bench.db", args.pairs, max(clients))
            rows += one_database(args, database, seeded, clients, servers)
    return rows


def one_database(
    args: argparse.Namespace, database: str, seeded: Seeded, clients: list[int],
    servers: list[tuple[Path, str]],
) -> list[Row]:  # fmt: skip
    label = "Postgres" if database == "postgres" else "SQLite"
    floor: dict[int, float] = {}
    rows: list[Row] = []

    def emit(system: str, trips: str, results: list[tuple[int, Run, int, int]]) -> None:
        for n, run, count, dup in results:
            if not floor.get(n):
                floor[n] = run.rate  # the floor's rows come first
            rows.append(Row(label, system, n, trips, run, count, dup, floor[n]))
            print_row(rows[-1])
            if count != run.labels:
                print(f"  ^ {run.labels} labels answered as stored, {count} in the database")

    results = measure(seeded, clients, args.seconds, args.warmup, lambda: floor_client(seeded))
    emit("floor (bare SQL)", "– (2 transactions)", results)
    for tree, name in servers:
        with running(name, tree, seeded.url, args.workers) as server:
            trips = "1 (submit?next=true)" if server.one_trip else "2 (next, submit)"
            port, one_trip = server.port, server.one_trip
            results = measure(
                seeded, clients, args.seconds, args.warmup,
                lambda: http_client(port, seeded.tokens, one_trip),  # noqa: B023 - used at once
            )  # fmt: skip
            emit(f"{name}, {server.processes} proc", trips, results)
    if database == "postgres" and args.profile:
        profile(seeded, Path(args.profile), args.seconds, args.warmup)
    return rows


@contextmanager
def _none() -> Iterator[None]:
    yield None


def profile(seeded: Seeded, out: Path, seconds: float, warmup: float) -> None:
    """pyinstrument on our server (one process, handlers on the loop's thread), one client."""
    port = free_port()
    cmd = [sys.executable, str(ROOT / "bench" / "serving_profiled.py"), *serve_command(port)[3:]]
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**server_env(seeded.url, ROOT, data_dir, 1), "PROFILE_OUT": str(out.resolve())}
        proc = start(cmd, ROOT, env, port, Path(data_dir) / "server.log")
        try:
            one_trip = takes_next(port)
            closed_loop(1, warmup, http_client(port, seeded.tokens, one_trip))
            reset(seeded.url)
            proc.send_signal(signal.SIGUSR1)
            run = closed_loop(1, seconds, http_client(port, seeded.tokens, one_trip))
            proc.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 60
            while not out.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stop(proc)
    reset(seeded.url)
    print(f"\nprofile of our server, 1 client, {run.rate:.1f} labels/s under the profiler: {out}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sweep"]:
        p = argparse.ArgumentParser(prog="serving.py sweep", description=serving_sweep.__doc__)
        p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
        serving_sweep.add_arguments(p)
        return serving_sweep.run(p.parse_args(argv[1:]))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""),
                   help="Postgres (a schema of its own is created)")  # fmt: skip
    p.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both")
    p.add_argument("--schema", default="pairwise_bench_serving")
    p.add_argument("--clients", default="1,8", help="closed-loop client counts")
    p.add_argument("--seconds", type=float, default=10.0, help="per configuration")
    p.add_argument("--warmup", type=float, default=2.0, help="unreported seconds per server")
    p.add_argument("--pairs", type=int, default=10000, help="open pairs (enough for a run)")
    p.add_argument("--workers", type=int, default=0, help="server processes; 0: the CLI's default")
    p.add_argument("--baseline-ref", default="HEAD~1", help="git ref of the baseline; '' for none")
    p.add_argument("--profile", default="", help="write a pyinstrument profile (Postgres) here")
    args = p.parse_args(argv)
    if args.database_url:
        args.database_url = plain_url(args.database_url)
    compare(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
