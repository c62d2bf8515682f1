"""Prompt list latency: the admin page and API at 1,000 vs 100,000 prompts, one run.

    .venv/bin/python bench/prompts.py [--database-url URL] [--big 100000] [--repeat 20]

Default database: a temporary SQLite file. With a Postgres URL the database is wiped first.
Prints a Markdown table of median and p95 milliseconds per request (through the ASGI app,
so it includes auth, queries and template rendering).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.auth.service import create_user  # noqa: E402
from app.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Project, Prompt  # noqa: E402
from app.prompts.importer import content_hash  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests import factories  # noqa: E402

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "sort",
    "merge",
    "graph",
    "tree",
    "python",
    "rust",
    "sql",
    "cache",
    "queue",
]
TAGS = ["code", "math", "chat", "safety", "writing"]


def seed(factory, name: str, n: int, labelled: int) -> int:  # type: ignore[no-untyped-def]
    with transaction(factory) as db:
        project = Project(name=name, settings={})
        db.add(project)
        db.flush()
        rows = []
        for i in range(n):
            body = f"Prompt {i}: explain {WORDS[i % len(WORDS)]} and {WORDS[(i * 7) % len(WORDS)]}."
            rows.append(
                {
                    "project_id": project.id,
                    "text": body,
                    "content_hash": content_hash(body, None),
                    "tags": [TAGS[i % len(TAGS)]],
                    "priority": i % 3,
                    "active": i % 10 != 0,
                }
            )
            if len(rows) == 5000:
                db.execute(insert(Prompt), rows)
                rows = []
        if rows:
            db.execute(insert(Prompt), rows)
        # Pairs and labels on the newest prompts, so the first page has counts to compute.
        users = [
            create_user(
                db, Settings(secret_key="b" * 40), f"{name}-u{k}", "bench password", {"evaluator"}
            )  # type: ignore[call-arg]
            for k in range(2)
        ]
        newest = db.scalars(
            text("SELECT id FROM prompts WHERE project_id = :p ORDER BY id DESC LIMIT :n"),
            {"p": project.id, "n": labelled},
        ).all()
        for pid in newest:
            pair = factories.make_pair(db, project, prompt=db.get(Prompt, pid))
            for user in users:
                factories.compare(db, pair, user, "a")
        return project.id


def timed(client: TestClient, url: str, repeat: int) -> tuple[float, float]:
    client.get(url)  # warm caches and the template
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(url)
        samples.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-prompts-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    factory = make_sessionmaker(engine)
    t0 = time.perf_counter()
    small = seed(factory, "small", args.small, 50)
    big = seed(factory, "big", args.big, 50)
    seeded_s = time.perf_counter() - t0
    if engine.dialect.name == "postgresql":
        # What autovacuum would do soon after a bulk import: without statistics the planner
        # takes the 100,000-prompt project for a small one and skips the trigram index.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    settings = Settings(  # type: ignore[call-arg]
        pairwise_env="test",
        data_dir=tmp,
        secret_key="b" * 48,
        database_url=url,
        sampler_enabled=False,  # no model loading in the background while timing
    )
    with transaction(factory) as db:
        create_user(db, settings, "bench-admin", "bench password", {"admin"})
    app = create_app(settings, engine)
    with TestClient(app) as client:
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        client.post(
            "/login",
            data={"username": "bench-admin", "password": "bench password", "csrf_token": token},
        )
        with transaction(factory) as db:
            deep = db.scalar(
                text("SELECT MIN(id) + 500 FROM prompts WHERE project_id = :p"), {"p": big}
            )
        cases = [
            ("first page (page)", "/admin/prompts?project={p}"),
            ("first page (API)", "/api/v1/prompts?project={p}"),
            ("text search 'graph'", "/api/v1/prompts?project={p}&q=graph"),
            ("tag 'safety'", "/api/v1/prompts?project={p}&tag=safety"),
            ("inactive, priority ≥ 2", "/api/v1/prompts?project={p}&active=false&priority_min=2"),
            ("rare search", "/api/v1/prompts?project={p}&q=Prompt%2012345:"),
        ]
        print(
            f"backend: {engine.dialect.name}; "
            f"seeded {args.small + args.big} prompts in {seeded_s:.1f}s"
        )
        print()
        print(
            f"| request | {args.small:,} prompts median / p95 ms "
            f"| {args.big:,} prompts median / p95 ms |"
        )
        print("| --- | --- | --- |")
        for label, pattern in cases:
            a = timed(client, pattern.format(p=small), args.repeat)
            b = timed(client, pattern.format(p=big), args.repeat)
            print(f"| {label} | {a[0]:.1f} / {a[1]:.1f} | {b[0]:.1f} / {b[1]:.1f} |")
        b = timed(client, f"/api/v1/prompts?project={big}&before={deep}", args.repeat)
        print(f"| keyset page near the end | – | {b[0]:.1f} / {b[1]:.1f} |")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
