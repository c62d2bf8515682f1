"""Admin pages and export at scale, each against a small baseline in the same run.

    .venv/bin/python bench/admin.py --database-url URL [--repeat 5] [--skip-export]
        [--only "data browser"]

Seeds (the database's public schema is wiped first):
- `baseline`: 1,000 prompts, 1,000 pairs, 2,000 comparisons;
- `medium`: 10,000 prompts and pairs, 20,000 comparisons (export only);
- `big`: 100,000 prompts and pairs, 200,000 comparisons;
each pair labelled by two of 40 evaluators over the last 60 days (2 % gold pairs, one
evaluator who always picks the left side, one who decides in about a second), plus 500 open
pairs and a few live leases; and head-to-head votes between five policy versions (each newer
version against its parent and against v0, two votes per pair): 100 in `baseline`, 10,000 in
`big`. Then prints two Markdown tables:

1. median / p95 ms of the annotator list, one annotator's figures page, the quality page, the
   dashboard, the leaderboard (page and API) and the Loop page, through the whole ASGI app
   (session auth, queries, template), baseline vs big, with the first view's time; the rows
   "after new labels" / "after a new vote" add one label before each timed request; then
   the data browser (app/pairs): its list page and API, a keyset page, filters (split,
   unanimous, gold, one annotator, last week's votes, prompt text, rationale, oldest first)
   and one pair's page and API;
2. export throughput (rows/s) and peak resident memory of the export process (its own
   subprocess, as `pairwise export` writes a file) for TRL preference and raw rows, JSONL
   and Parquet, medium vs big.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.auth.service import create_user  # noqa: E402
from app.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import (  # noqa: E402
    Assignment,
    Comparison,
    Completion,
    Pair,
    PolicyVersion,
    Project,
    ProjectMember,
    Prompt,
    User,
    UserRole,
)
from app.settings import Settings  # noqa: E402

CHUNK = 10_000
EVALUATORS = 40
OPEN_PAIRS = 500
DAYS = 60
SIZES = {"baseline": (1_000, 1_000), "medium": (10_000, 10_000), "big": (100_000, 100_000)}
HEAD_TO_HEAD_VOTES = {"baseline": 100, "medium": 0, "big": 10_000}
VERSIONS = 5  # v0 … v4, each newer one pitted against its parent and against v0


def chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


def insert_ids(db: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for part in chunks(rows):
        stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
        ids.extend(db.scalars(stmt, part))
    return ids


def evaluators(db: Session) -> list[int]:
    ids = []
    for k in range(EVALUATORS):
        user = User(username=f"eval{k:02d}", password_hash="!unusable")
        user.role_rows.append(UserRole(role="evaluator"))
        db.add(user)
        db.flush()
        ids.append(user.id)
    return ids


def seed(db: Session, name: str, users: list[int], rng: random.Random, now: datetime) -> int:
    """One project of SIZES[name]: every pair but OPEN_PAIRS labelled twice."""
    n_prompts, n_pairs = SIZES[name]
    project = Project(name=name, overlap=2, settings={})
    db.add(project)
    db.flush()
    db.execute(insert(ProjectMember), [{"project_id": project.id, "user_id": u} for u in users])
    version = PolicyVersion(
        project_id=project.id, number=0, checkpoint_uri="v0", base_model="x", status="active"
    )
    db.add(version)
    db.flush()
    prompt_ids = insert_ids(
        db,
        Prompt,
        [
            {
                "project_id": project.id,
                "text": f"Prompt {i} of {name}: explain a topic in a few sentences.",
                "content_hash": hashlib.sha256(f"{name}{i}".encode()).hexdigest(),
                "tags": ["code" if i % 3 else "chat"],
            }
            for i in range(n_prompts)
        ],
    )
    body = "A plausible answer of a few sentences, with some **Markdown** in it. " * 4
    completion_ids = insert_ids(
        db,
        Completion,
        [
            {"prompt_id": prompt_ids[(i // 2) % n_prompts], "policy_version_id": version.id,
             "text": f"{body}({i})"}
            for i in range(2 * n_pairs)
        ],
    )  # fmt: skip
    labelled = n_pairs - OPEN_PAIRS
    pairs = [
        {
            "project_id": project.id,
            "prompt_id": prompt_ids[i % n_prompts],
            "completion_a_id": completion_ids[2 * i],
            "completion_b_id": completion_ids[2 * i + 1],
            "policy_version_id": version.id,
            "kind": "gold" if i % 50 == 0 else "live",
            "gold_choice": "a" if i % 50 == 0 else None,
            "status": "complete" if i < labelled else "open",
            "labels_required": 2,
            "labels_received": 2 if i < labelled else 0,
        }
        for i in range(n_pairs)
    ]
    pair_ids = insert_ids(db, Pair, pairs)
    assignments, choices = [], []
    for i in range(labelled):
        truth = "a" if i % 50 == 0 or rng.random() < 0.55 else "b"
        first = rng.randrange(EVALUATORS)
        for k, u in enumerate((first, (first + 1 + rng.randrange(EVALUATORS - 1)) % EVALUATORS)):
            left = rng.choice("ab")
            if u == 0:
                choice = left  # always the left side: position bias
            else:
                r = rng.random()
                other = "b" if truth == "a" else "a"
                choice = (
                    truth if r < 0.8 else other if r < 0.93 else rng.choice(["tie", "both_bad"])
                )
            at = now - timedelta(seconds=rng.uniform(60, DAYS * 86400))
            ms = int(rng.lognormvariate(9.2, 0.5)) if u != 1 else rng.randrange(600, 1500)
            assignments.append(
                {"pair_id": pair_ids[i], "user_id": users[u], "status": "submitted",
                 "left_side": left, "expires_at": at, "shown_at": at, "created_at": at}
            )  # fmt: skip
            choices.append((i, u, choice, ms, at, k))
    assignment_ids = insert_ids(db, Assignment, assignments)
    comparisons = [
        {
            "project_id": project.id,
            "pair_id": pair_ids[i],
            "user_id": users[u],
            "assignment_id": assignment_ids[j],
            "choice": choice,
            "strength": "clear" if choice in ("a", "b") else None,
            "rationale": "",
            "flags": [],
            "decision_ms": ms,
            "idempotency_key": f"{name}-{i}-{k}",
            "is_gold": i % 50 == 0,
            "created_at": at,
        }
        for j, (i, u, choice, ms, at, k) in enumerate(choices)
    ]
    for part in chunks(comparisons):
        db.execute(insert(Comparison), part)
    head_to_head(db, project.id, version.id, prompt_ids, users, rng, now,
                 HEAD_TO_HEAD_VOTES[name])  # fmt: skip
    # A few people at work right now: live leases on open pairs.
    db.execute(
        insert(Assignment),
        [
            {"pair_id": pair_ids[labelled + k], "user_id": users[k], "status": "leased",
             "left_side": "a", "expires_at": now + timedelta(minutes=10)}
            for k in range(5)
        ],
    )  # fmt: skip
    return project.id


def head_to_head(
    db: Session,
    project_id: int,
    v0: int,
    prompt_ids: list[int],
    users: list[int],
    rng: random.Random,
    now: datetime,
    votes: int,
) -> None:
    """`votes` head-to-head votes (two per pair): each newer version against its parent and
    v0, the newer one winning 60 % of the time."""
    if not votes:
        return
    ids = [v0]
    for number in range(1, VERSIONS):
        version = PolicyVersion(
            project_id=project_id, number=number, parent_id=ids[-1], checkpoint_uri=f"v{number}",
            base_model="x", status="active" if number == VERSIONS - 1 else "archived",
        )  # fmt: skip
        db.add(version)
        db.flush()
        ids.append(version.id)
    matches = [(ids[k], ids[k - 1]) for k in range(1, VERSIONS)]
    matches += [(ids[k], v0) for k in range(2, VERSIONS)]
    n_pairs = votes // 2
    specs = [(matches[i % len(matches)], prompt_ids[i % len(prompt_ids)]) for i in range(n_pairs)]
    completion_ids = insert_ids(
        db,
        Completion,
        [
            {"prompt_id": prompt, "policy_version_id": version, "text": f"Head to head {i}{side}"}
            for i, ((newer, older), prompt) in enumerate(specs)
            for side, version in (("a", newer), ("b", older))
        ],
    )
    pair_ids = insert_ids(
        db,
        Pair,
        [
            {"project_id": project_id, "prompt_id": prompt,
             "completion_a_id": completion_ids[2 * i], "completion_b_id": completion_ids[2 * i + 1],
             "policy_version_id": older, "kind": "head_to_head", "status": "complete",
             "labels_required": 2, "labels_received": 2}
            for i, ((_, older), prompt) in enumerate(specs)
        ],
    )  # fmt: skip
    labels = []
    for i, pair_id in enumerate(pair_ids):
        first = rng.randrange(EVALUATORS)
        for u in (first, (first + 1 + rng.randrange(EVALUATORS - 1)) % EVALUATORS):
            at = now - timedelta(seconds=rng.uniform(60, DAYS * 86400))
            labels.append((i, pair_id, users[u], at, "a" if rng.random() < 0.6 else "b"))
    assignment_ids = insert_ids(
        db,
        Assignment,
        [
            {"pair_id": pair_id, "user_id": user, "status": "submitted", "left_side": "a",
             "expires_at": at, "shown_at": at, "created_at": at}
            for _, pair_id, user, at, _ in labels
        ],
    )  # fmt: skip
    rows = [
        {"project_id": project_id, "pair_id": pair_id, "user_id": user,
         "assignment_id": assignment_ids[j], "choice": choice, "strength": "clear",
         "rationale": "", "flags": [], "decision_ms": 5000,
         "idempotency_key": f"h2h-{project_id}-{j}", "is_gold": False, "created_at": at}
        for j, (_, pair_id, user, at, choice) in enumerate(labels)
    ]  # fmt: skip
    for part in chunks(rows):
        db.execute(insert(Comparison), part)


class NewLabels:
    """Adds one label before a timed request, as an evaluator would between two page views:
    on an open live pair (`kind="live"`) or on a head-to-head pair (`"head_to_head"`), by an
    evaluator who has not labelled that pair yet."""

    def __init__(self, engine: Engine, project_id: int, kind: str, users: list[int]) -> None:
        self.engine, self.project_id, self.kind, self.users = engine, project_id, kind, users
        with engine.connect() as conn:
            pairs = select(Pair.id).where(Pair.project_id == project_id, Pair.kind == kind)
            if kind == "live":
                pairs = pairs.where(Pair.status == "open")
            self.pairs = list(conn.scalars(pairs.order_by(Pair.id).limit(200)))
        self.next = 0

    def __call__(self) -> None:
        with transaction(make_sessionmaker(self.engine)) as db:
            while True:
                pair_id = self.pairs[self.next % len(self.pairs)]
                user = self.users[(self.next // len(self.pairs)) % len(self.users)]
                self.next += 1
                taken = db.scalar(
                    select(Comparison.id).where(
                        Comparison.pair_id == pair_id, Comparison.user_id == user
                    )
                )
                if taken is None:
                    break
            assignment = Assignment(
                pair_id=pair_id, user_id=user, status="submitted", left_side="a",
                expires_at=datetime.now(UTC),
            )  # fmt: skip
            db.add(assignment)
            db.flush()
            db.add(
                Comparison(
                    project_id=self.project_id, pair_id=pair_id, user_id=user,
                    assignment_id=assignment.id, choice="a", strength="clear",
                    idempotency_key=f"bench-new-{pair_id}-{user}", decision_ms=4000,
                )
            )  # fmt: skip


def timed(
    client: TestClient, url: str, repeat: int, before: Callable[[], None] = lambda: None
) -> tuple[float, float, float]:
    """(median, p95, first view) ms; the first view also warms caches and the template."""
    t0 = time.perf_counter()
    r = client.get(url)
    first = (time.perf_counter() - t0) * 1000
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    samples = []
    for _ in range(repeat):
        before()
        t0 = time.perf_counter()
        r = client.get(url)
        samples.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    samples.sort()
    return statistics.median(samples), samples[max(0, round(len(samples) * 0.95) - 1)], first


def settle(app: Any) -> None:
    """Wait for the background refreshes a row queued, so the next row is timed without them."""
    snapshots = getattr(app.state, "snapshots", None)
    while snapshots is not None and not snapshots.idle():
        time.sleep(0.05)


def browser_subs(engine: Engine, project_id: int, client: TestClient) -> dict[str, Any]:
    """What the data browser's cases name: a labelled pair, the second page's cursor, a week."""
    with engine.connect() as conn:
        pair = conn.scalar(
            select(Pair.id)
            .where(Pair.project_id == project_id, Pair.labels_received == 2)
            .order_by(Pair.id)
            .limit(1)
        )
    first = client.get(f"/api/v1/pairs?project={project_id}&limit=50")
    assert first.status_code == 200, first.text[:300]
    week = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S")
    return {"p": project_id, "pair": pair, "after": first.json()["next"], "since": week}


def pages(
    url: str,
    projects: dict[str, int],
    annotator: int,
    users: list[int],
    repeat: int,
    tmp: Path,
    only: list[str] | None = None,
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        pairwise_env="test",
        data_dir=tmp,
        secret_key="b" * 48,
        database_url=url,
        sampler_enabled=False,
        # Where the code keeps admin figures (app/snapshots.py): every request that finds them
        # out of date queues a refresh (the deployment's default waits a minute between two).
        aggregates_refresh_seconds=0,
    )
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as db:
        if db.scalar(select(User.id).where(User.username == "bench-admin")) is None:
            admin = create_user(db, settings, "bench-admin", "bench password", {"admin", "ml"})
            rows = [{"project_id": p, "user_id": admin.id} for p in projects.values()]
            db.execute(insert(ProjectMember), rows)
        if inspect(engine).has_table("aggregate_snapshots"):
            db.execute(text("DELETE FROM aggregate_snapshots"))  # the first view computes them
    app = create_app(settings, engine)

    def forget_quality() -> None:  # the code before app/snapshots.py kept them a minute
        if hasattr(app.state, "dashboard_quality"):
            app.state.dashboard_quality.clear()

    def then(*steps: Callable[[], None]) -> Callable[[], None]:
        return lambda: [step() for step in steps] and None

    with TestClient(app) as client:
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        client.post(
            "/login",
            data={"username": "bench-admin", "password": "bench password", "csrf_token": token},
        )
        labels = {
            (name, kind): NewLabels(engine, pid, kind, users)
            for name, pid in projects.items()
            if name != "medium"
            for kind in ("live", "head_to_head")
        }
        cases = [
            ("annotator list `/admin/annotators`", "/admin/annotators?project={p}", None),
            ("annotator page `/admin/annotators/{id}`",
             f"/admin/annotators/{annotator}?project={{p}}", None),
            ("quality page `/admin/quality` (agreement, every annotator's figures)",
             "/admin/quality?project={p}", None),
            ("quality page, after new labels", "/admin/quality?project={p}", "live"),
            ("dashboard `/admin/dashboard`", "/admin/dashboard?project={p}", None),
            ("dashboard, cold (after new labels; before: agreement and flags recomputed)",
             "/admin/dashboard?project={p}", "live+forget"),
            ("leaderboard page `/training/leaderboard`",
             "/training/leaderboard?project_id={p}", None),
            ("leaderboard API `/api/v1/projects/{id}/leaderboard`",
             "/api/v1/projects/{p}/leaderboard", None),
            ("leaderboard API, after a new head-to-head vote",
             "/api/v1/projects/{p}/leaderboard", "head_to_head"),
            ("Loop page `/projects/{id}/loop`", "/projects/{p}/loop", None),
            # The data browser (app/pairs): the list, its filters, a later page, one pair.
            ("data browser `/admin/data` (newest pairs)", "/admin/data?project={p}", None),
            ("data browser API `/api/v1/pairs`", "/api/v1/pairs?project={p}", None),
            ("data browser, second page (keyset cursor)",
             "/admin/data?project={p}&after={after}", None),
            ("data browser, split pairs", "/admin/data?project={p}&agreement=split", None),
            ("data browser, split pairs (API)", "/api/v1/pairs?project={p}&agreement=split",
             None),
            ("data browser, unanimous pairs", "/admin/data?project={p}&agreement=unanimous",
             None),
            ("data browser, gold pairs", "/admin/data?project={p}&kind=gold", None),
            ("data browser, one annotator's pairs", "/admin/data?project={p}&annotator=eval05",
             None),
            ("data browser, votes in the last week", "/admin/data?project={p}&since={since}",
             None),
            ("data browser, prompt text", "/admin/data?project={p}&q=Prompt+4242", None),
            ("data browser, has a rationale", "/admin/data?project={p}&has_rationale=true",
             None),
            ("data browser, oldest first", "/admin/data?project={p}&sort=oldest", None),
            ("data browser, one pair `/admin/data/pairs/{id}`", "/admin/data/pairs/{pair}",
             None),
            ("data browser API, one pair `/api/v1/pairs/{id}`", "/api/v1/pairs/{pair}", None),
        ]  # fmt: skip
        if only:
            cases = [c for c in cases if any(word in c[0] for word in only)]
        subs = {name: browser_subs(engine, projects[name], client) for name in ("baseline", "big")}
        print(
            "| request | 1,100 comparisons, 100 head-to-head: median / p95 (first view) ms "
            "| 209,000 comparisons, 10,000 head-to-head: median / p95 (first view) ms |"
        )
        print("| --- | --- | --- |")
        for label, pattern, adds in cases:
            cells = []
            for name in ("baseline", "big"):
                before: Callable[[], None] = lambda: None  # noqa: E731
                if adds == "live+forget":
                    before = then(labels[(name, "live")], forget_quality)
                elif adds:
                    before = labels[(name, adds)]
                m, p95, first = timed(client, pattern.format(**subs[name]), repeat, before)
                cells.append(f"{m:,.1f} / {p95:,.1f} ({first:,.0f})")
                settle(app)
            print(f"| {label} | {' | '.join(cells)} |", flush=True)
    engine.dispose()


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def export_child(url: str, project: str, kind: str, file_format: str, out: Path) -> None:
    """Runs in its own process: one export to a file, as `pairwise export` does."""
    from app.export.parquet import write_parquet
    from app.export.service import ExportOptions, iter_lines

    factory = make_sessionmaker(make_engine(url))
    opts = ExportOptions(kind=kind, file_format=file_format)  # type: ignore[arg-type]
    start_mb = rss_mb()
    peak = [start_mb]
    done = threading.Event()

    def sample() -> None:  # the import of the app already set the process's high-water mark
        while not done.wait(0.02):
            peak[0] = max(peak[0], rss_mb())

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    with transaction(factory) as db:
        proj = db.scalars(select(Project).where(Project.name == project)).one()
        if file_format == "parquet":
            with out.open("wb") as f:
                rows = write_parquet(db, proj, opts, "s" * 40, f)
        else:
            rows = 0
            with out.open("w", encoding="utf-8") as f:
                for line in iter_lines(db, proj, opts, "s" * 40):
                    f.write(line)
                    rows += 1
    seconds = time.perf_counter() - t0
    done.set()
    peak[0] = max(peak[0], rss_mb())
    print(json.dumps({"rows": rows, "seconds": seconds, "start_mb": start_mb,
                      "peak_mb": peak[0], "bytes": out.stat().st_size}))  # fmt: skip


def exports(url: str, tmp: Path) -> None:
    print("| export | rows | rows/s | file MB | RSS before → peak during export, MiB |")
    print("| --- | --- | --- | --- | --- |")
    for kind, label in (("trl", "preference (TRL)"), ("raw", "raw")):
        for file_format in ("jsonl", "parquet"):
            for project in ("medium", "big"):
                out = tmp / f"{project}-{kind}.{file_format}"
                proc = subprocess.run(
                    [sys.executable, __file__, "--database-url", url, "--export-child",
                     project, kind, file_format, str(out)],
                    capture_output=True, text=True, check=True,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )  # fmt: skip
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                out.unlink()
                print(
                    f"| {label}, {file_format}, {project} | {r['rows']:,} "
                    f"| {r['rows'] / r['seconds']:,.0f} | {r['bytes'] / 2**20:.1f} "
                    f"| {r['start_mb']:.0f} → {r['peak_mb']:.0f} |",
                    flush=True,
                )


def seed_all(engine: Engine) -> tuple[dict[str, int], list[int]]:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    rng = random.Random(7)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with transaction(make_sessionmaker(engine)) as db:
        users = evaluators(db)
        projects = {name: seed(db, name, users, rng, now) for name in SIZES}
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load
    print(f"backend: {engine.dialect.name}; seeded in {time.perf_counter() - t0:.0f}s\n")
    return projects, users


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--no-seed", action="store_true", help="reuse the data of a last run")
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="time only the page rows whose label holds TEXT (repeatable): `data browser`",
    )
    parser.add_argument("--export-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        project, kind, file_format, out = args.export_child
        export_child(args.database_url, project, kind, file_format, Path(out))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-admin-"))
    engine = make_engine(args.database_url)
    if args.no_seed:
        with transaction(make_sessionmaker(engine)) as db:
            projects = {name: pid for name, pid in db.execute(select(Project.name, Project.id))}
            users = list(
                db.scalars(
                    select(User.id).where(User.username.like("eval%")).order_by(User.username)
                )
            )
    else:
        projects, users = seed_all(engine)
    engine.dispose()
    if not args.skip_pages:
        pages(args.database_url, projects, users[5], users, args.repeat, tmp, args.only)
        print()
    if not args.skip_export:
        exports(args.database_url, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
