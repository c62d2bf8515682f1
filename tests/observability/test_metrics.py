"""/metrics: request series by route template, the METRICS_TOKEN guard, database gauges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from app.main import create_app
from app.models import (
    Assignment,
    Comparison,
    PolicyVersion,
    Project,
    TrainingRun,
    User,
    WorkerHeartbeat,
)
from app.settings import Settings
from tests.factories import completion_pair, make_prompt


def sample(text: str, metric: str, /, **labels: str) -> float | None:
    """The value of the one sample called `metric` whose labels include `labels`."""
    found = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == metric and labels.items() <= s.labels.items()
    ]
    assert len(found) <= 1, (metric, labels, found)
    return found[0] if found else None


def scrape(client: TestClient, **headers: str) -> str:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def test_request_is_counted_by_route_template(app, client: TestClient) -> None:
    nested = APIRouter(prefix="/things")

    @nested.get("/{thing_id}")
    def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    outer = APIRouter(prefix="/api/v1/probe")
    outer.include_router(nested)
    app.include_router(outer)
    route = "/api/v1/probe/things/{thing_id}"

    before = sample(scrape(client), "pairwise_http_requests_total", route=route, status="200")
    assert client.get("/api/v1/probe/things/41").status_code == 200
    assert client.get("/api/v1/probe/things/42").status_code == 200
    assert client.get("/api/v1/probe/things/x").status_code == 422
    text = scrape(client)

    assert (
        sample(text, "pairwise_http_requests_total", route=route, status="200") == (before or 0) + 2
    )
    assert sample(text, "pairwise_http_requests_total", route=route, status="422") is not None
    assert 'route="/api/v1/probe/things/41"' not in text  # raw paths never become labels
    count = sample(text, "pairwise_http_request_duration_seconds_count", route=route)
    assert count is not None and count >= 3


def test_unknown_paths_share_one_label(client: TestClient) -> None:
    client.get("/no/such/page-1")
    client.get("/no/such/page-2")
    text = scrape(client)
    assert "page-1" not in text and "page-2" not in text
    assert sample(text, "pairwise_http_requests_total", route="unmatched", status="404")


def test_metrics_token_is_required_when_set(
    settings: Settings, engine, session_factory: sessionmaker[Session]
) -> None:
    guarded = create_app(settings.model_copy(update={"metrics_token": "s3cret-token"}), engine)
    guarded.state.sessionmaker = session_factory
    with TestClient(guarded) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
            r = client.get("/metrics", headers=headers)
            assert r.status_code == 401, headers
            assert "pairwise_" not in r.text
            assert r.headers["www-authenticate"] == "Bearer"
        text = scrape(client, Authorization="Bearer s3cret-token")
        assert sample(text, "pairwise_metrics_database_up") == 1


def test_metrics_are_open_without_a_token(client: TestClient) -> None:
    assert sample(scrape(client), "pairwise_metrics_database_up") == 1


@pytest.fixture
def loop_rows(db: Session, project: Project, make_user: Callable[..., User]):
    """A version with three open pairs and one complete one, as the sampler would leave it."""
    version = PolicyVersion(
        project_id=project.id, number=3, checkpoint_uri="projects/1/policy/v3", base_model="t"
    )
    version.status = "active"
    db.add(version)
    db.flush()
    pairs = []
    for i in range(4):
        prompt = make_prompt(db, project, f"p{i}")
        status = "complete" if i == 3 else "open"
        pairs.append(completion_pair(db, project, prompt, version, "a", "b", status=status))
    db.flush()
    db.commit()
    return project, pairs, make_user("evaluator")


def test_gauges_follow_the_database(client: TestClient, db: Session, loop_rows) -> None:
    project, pairs, user = loop_rows
    text = scrape(client)
    labels = {"project": project.name}
    assert sample(text, "pairwise_pairs_open", version="3", kind="live", **labels) == 3
    assert sample(text, "pairwise_active_policy_version", **labels) == 3
    assert sample(text, "pairwise_comparisons_total", **labels) == 0
    assert sample(text, "pairwise_training_runs", status="queued", **labels) == 0

    # An evaluator labels a pair; two runs are queued and one is training.
    lease = Assignment(pair_id=pairs[0].id, user_id=user.id, expires_at=datetime.now(UTC))
    db.add(lease)
    db.flush()
    db.add(
        Comparison(
            project_id=project.id,
            pair_id=pairs[0].id,
            user_id=user.id,
            assignment_id=lease.id,
            choice="a",
            idempotency_key="k1",
        )
    )
    pairs[0].status = "complete"
    db.add_all([TrainingRun(project_id=project.id), TrainingRun(project_id=project.id)])
    running = TrainingRun(
        project_id=project.id,
        status="running",
        stage="reward",
        progress=0.25,
        metrics={"step": 7, "loss": 0.5, "note": "text is skipped", "done": True},
    )
    db.add(running)
    db.add(
        WorkerHeartbeat(
            id="sampler-a",
            kind="sampler",
            seen_at=datetime.now(UTC) - timedelta(seconds=30),
            status={"tokens_per_s": 88.5, "backend": "openai"},
        )
    )
    db.commit()

    text = scrape(client)
    assert sample(text, "pairwise_pairs_open", version="3", kind="live", **labels) == 2
    assert sample(text, "pairwise_comparisons_total", **labels) == 1
    assert sample(text, "pairwise_training_runs", status="queued", **labels) == 2
    assert sample(text, "pairwise_training_runs", status="running", **labels) == 1
    run = {"run": str(running.id), **labels}
    assert sample(text, "pairwise_training_run_progress", stage="reward", **run) == 0.25
    assert sample(text, "pairwise_training_run_metric", name="step", **run) == 7
    assert sample(text, "pairwise_training_run_metric", name="loss", **run) == 0.5
    assert sample(text, "pairwise_training_run_metric", name="note", **run) is None
    assert sample(text, "pairwise_training_run_metric", name="done", **run) is None
    age = sample(text, "pairwise_worker_heartbeat_age_seconds", worker="sampler-a")
    assert age is not None and 29 <= age < 600
    assert sample(text, "pairwise_worker_status", worker="sampler-a", name="tokens_per_s") == 88.5


def test_labels_submitted_counter_is_exposed(client: TestClient) -> None:
    from app.observability.metrics import LABELS_SUBMITTED

    before = sample(scrape(client), "pairwise_labels_submitted_total")
    LABELS_SUBMITTED.inc()
    assert sample(scrape(client), "pairwise_labels_submitted_total") == (before or 0) + 1


def test_scrape_survives_a_database_outage(settings: Settings, tmp_path) -> None:
    from sqlalchemy import create_engine

    unreachable = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    broken = create_app(settings, unreachable)
    with TestClient(broken) as client:
        before = sample(
            scrape(client), "pairwise_http_requests_total", route="/healthz", status="503"
        )
        assert client.get("/healthz").status_code == 503
        text = scrape(client)
    assert sample(text, "pairwise_metrics_database_up") == 0
    after = sample(text, "pairwise_http_requests_total", route="/healthz", status="503")
    assert after == (before or 0) + 1
    unreachable.dispose()
