"""`/system` and `GET /api/v1/system`: workers alive, active version, buffer, speed, errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.models import Project, WorkerHeartbeat, utcnow
from app.sampling.backend import SampleRequest
from app.sampling.worker import Sampler
from tests.factories import make_prompt, make_version
from tests.factories.sampling import FakeBackend, sampler_settings


class Broken(FakeBackend):
    def generate(self, requests: list[SampleRequest]):  # type: ignore[no-untyped-def]
        raise RuntimeError("out of memory on the sampler")


def test_system_shows_sampler_status_to_admins_and_ml(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    logged_in,
    tmp_path: Path,
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=4, pair_low_water=2)
    make_version(db, project, 0, "unused")
    make_version(db, project, 1, "unused")  # v0 archived: v1 meets it head to head
    project.head_to_head_share = 0.5
    make_prompt(db, project, "Hello?")
    db.add(
        WorkerHeartbeat(
            id="sampler-gone", kind="sampler", seen_at=utcnow() - timedelta(hours=1), status={}
        )
    )
    db.commit()
    fake = FakeBackend(lambda r, i: f"answer {r.seed}")
    sampler = Sampler(session_factory, settings, backend_factory=lambda: fake, worker_id="s-1")
    sampler.step()

    logged_in("ml")
    data = client.get("/api/v1/system").json()
    [row] = [p for p in data["projects"] if p["id"] == project.id]
    assert row["active_version"] == 1
    assert row["buffer_depth"] == 4 and row["pair_buffer"] == 4
    assert row["head_to_head_depth"] == 4
    assert row["samplers_alive"] == 1 and row["tokens_per_s"] > 0
    workers = {w["id"]: w for w in data["workers"]}
    assert workers["s-1"]["alive"] and workers["s-1"]["pairs_made"] == 8
    assert not workers["sampler-gone"]["alive"] and workers["sampler-gone"]["age_seconds"] > 3000

    page = client.get("/system")
    assert page.status_code == 200
    assert "<html" in page.text and "v1" in page.text and "4 / 4" in page.text
    assert "+ 4 head to head" in page.text
    fragment = client.get("/system", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'id="system-status"' in fragment.text
    assert "not responding" in fragment.text


def test_sampler_errors_are_shown(
    client: TestClient,
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    logged_in,
    tmp_path: Path,
) -> None:
    settings = sampler_settings(tmp_path)
    make_version(db, project, 0, "unused")
    make_version(db, project, 1, "unused")  # v0 archived: v1 meets it head to head
    project.head_to_head_share = 0.5
    make_prompt(db, project, "Hello?")
    db.commit()
    broken = Broken(lambda r, i: "")
    Sampler(session_factory, settings, backend_factory=lambda: broken, worker_id="s-2").step()

    logged_in("admin")
    data = client.get("/api/v1/system").json()
    [row] = [p for p in data["projects"] if p["id"] == project.id]
    assert "out of memory on the sampler" in row["last_error"]
    assert "out of memory on the sampler" in client.get("/system").text


def test_evaluators_cannot_see_the_system_page(client: TestClient, logged_in) -> None:
    logged_in("evaluator")
    assert client.get("/system").status_code == 403
    assert client.get("/api/v1/system").status_code == 403
