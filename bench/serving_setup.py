"""What the serving benchmarks share: the seeded database, its reset and checks, the server.

One seeded project of open pairs (overlap 1) and evaluators with API tokens, on Postgres in
a schema of its own (dropped and recreated; nothing else in the database is touched) or in
a SQLite file. Between runs `reset` puts every pair back to open with no assignments or
comparisons, so each configuration starts from the same state; `duplicates` counts, from
the database, what a correct server never does.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy import Engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.auth.service import create_api_token  # noqa: E402
from app.db import make_engine, make_sessionmaker, normalise_url, transaction  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import (  # noqa: E402
    Completion,
    Pair,
    PolicyVersion,
    Project,
    ProjectMember,
    Prompt,
    User,
    UserRole,
)

LOOPBACK = "127.0.0.1"
# About the peer comparison's sizes: ~120-character prompts, ~300-character answers.
PROMPT_TEXT = "Question {i}: in a few sentences, why does the sky look blue at noon, red at dusk?"
ANSWER_TEXT = "A plausible answer, a few sentences of **Markdown** and about fifty words. " * 4


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres://"))


def schema_url(url: str, schema: str) -> str:
    """`url` (a plain postgresql:// URL) with `schema` first on the search path."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@dataclass
class Seeded:
    url: str  # what the server and the floor connect to (schema on the search path)
    project_id: int
    user_ids: list[int]
    tokens: list[str]


def seed_postgres(url: str, schema: str, pairs: int, evaluators: int) -> Seeded:
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return _seed(schema_url(plain_url(url), schema), pairs, evaluators)


def seed_sqlite(path: Path, pairs: int, evaluators: int) -> Seeded:
    path.unlink(missing_ok=True)
    return _seed(f"sqlite:///{path}", pairs, evaluators)


def plain_url(url: str) -> str:
    """A postgresql:// URL as psycopg and the server's DATABASE_URL both accept it."""
    return normalise_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


def _seed(url: str, pairs: int, evaluators: int) -> Seeded:
    engine = make_engine(url)
    upgrade(engine)
    tokens: list[str] = []
    user_ids: list[int] = []
    with transaction(make_sessionmaker(engine)) as db:
        project = Project(name="bench", overlap=1)
        db.add(project)
        db.flush()
        version = PolicyVersion(
            project_id=project.id, number=0, checkpoint_uri="v0", base_model="x", status="active"
        )
        db.add(version)
        db.flush()
        prompts = [
            {
                "project_id": project.id,
                "text": PROMPT_TEXT.format(i=i),
                "content_hash": hashlib.sha256(f"q{i}".encode()).hexdigest(),
            }
            for i in range(500)
        ]
        prompt_ids = list(db.scalars(insert(Prompt).returning(Prompt.id), prompts))
        rows = [
            {"prompt_id": prompt_ids[i % len(prompt_ids)], "policy_version_id": version.id,
             "text": f"{ANSWER_TEXT} ({i})"}
            for i in range(2 * pairs)
        ]  # fmt: skip
        completion_ids = list(db.scalars(insert(Completion).returning(Completion.id), rows))
        db.execute(
            insert(Pair),
            [
                {
                    "project_id": project.id,
                    "prompt_id": prompt_ids[i % len(prompt_ids)],
                    "completion_a_id": completion_ids[2 * i],
                    "completion_b_id": completion_ids[2 * i + 1],
                    "policy_version_id": version.id,
                    "labels_required": 1,
                }
                for i in range(pairs)
            ],
        )
        for i in range(evaluators):
            user = User(username=f"sim{i:05d}", password_hash="!", simulated=True)
            user.role_rows.append(UserRole(role="evaluator"))
            db.add(user)
            db.flush()
            db.add(ProjectMember(project_id=project.id, user_id=user.id))
            tokens.append(create_api_token(db, user, "bench")[0])
            user_ids.append(user.id)
        project_id = project.id
    analyse(engine)
    engine.dispose()
    return Seeded(url, project_id, user_ids, tokens)


def analyse(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))


def reset(url: str) -> None:
    """Every pair open again, no assignments or comparisons: the state right after seeding."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE comparisons, assignments CASCADE"))
        else:
            conn.execute(text("DELETE FROM comparisons"))
            conn.execute(text("DELETE FROM assignments"))
        conn.execute(
            text(
                "UPDATE pairs SET status = 'open', labels_received = 0"
                " WHERE status <> 'open' OR labels_received <> 0"
            )
        )
    analyse(engine)
    engine.dispose()


@dataclass
class Stored:
    comparisons: int
    duplicates: int  # assignments beyond a pair's labels_required + repeated (pair, user) labels


def stored(url: str) -> Stored:
    engine = make_engine(url)
    with engine.connect() as conn:
        comparisons = conn.scalar(text("SELECT count(*) FROM comparisons")) or 0
        over_assigned = conn.scalar(
            text(
                "SELECT coalesce(sum(n - labels_required), 0) FROM ("
                " SELECT p.labels_required, count(a.id) AS n FROM pairs p"
                " JOIN assignments a ON a.pair_id = p.id AND a.status IN ('leased', 'submitted')"
                " WHERE p.kind <> 'gold' GROUP BY p.id, p.labels_required"
                " HAVING count(a.id) > p.labels_required) AS t"
            )
        )
        same_user = conn.scalar(
            text(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM comparisons"
                " GROUP BY pair_id, user_id HAVING count(*) > 1) AS t"
            )
        )
    engine.dispose()
    return Stored(int(comparisons), int(over_assigned or 0) + int(same_user or 0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def server_env(url: str, tree: Path, data_dir: str, workers: int) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),  # the tree's own code, not whatever is installed
        "DATABASE_URL": url,
        "DATA_DIR": data_dir,
        "SECRET_KEY": "b" * 48,
        "SAMPLER_ENABLED": "false",
        "PAIRWISE_ENV": "development",
    }
    if workers:
        env["WEB_WORKERS"] = str(workers)
    else:
        env.pop("WEB_WORKERS", None)  # the CLI's own default
    return env


def start(
    cmd: list[str], tree: Path, env: dict[str, str], port: int, log: Path
) -> subprocess.Popen[bytes]:
    """Start a server command in its own process group; return once /healthz answers."""
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603
            cmd, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); its output:\n{log.read_text()}")
        try:
            if httpx.get(f"http://{LOOPBACK}:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"server did not come up within 90 s; its output:\n{log.read_text()}")


def serve_command(port: int) -> list[str]:
    """`pairwise serve` on a loopback port (the workers come from WEB_WORKERS)."""
    return [
        sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())",
        "serve", "--host", LOOPBACK, "--port", str(port),
    ]  # fmt: skip


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop the server and its worker processes (its process group)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
