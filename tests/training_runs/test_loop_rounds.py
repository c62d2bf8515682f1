"""Two rounds of the whole loop with tiny models, every human step through the HTTP API.

Sampler → simulated evaluators (real HTTP, concise rule) → training run requested by ML
staff over the API → worker trains, registers and promotes → the sampler serves the new
version, now also head to head against the earlier ones → leaderboard with intervals.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from app import cli
from app.auth.service import create_api_token, create_user
from app.db import make_sessionmaker, transaction
from app.main import create_app
from app.models import Comparison, Completion, Pair, PolicyVersion, User
from app.projects.service import add_member, ensure_default_project
from app.sampling.worker import Sampler
from app.settings import Settings
from app.simulate.server import serve_in_thread
from tests.factories import make_prompt
from tests.factories.training import version_zero
from trainer.worker import Worker

QUESTIONS = [
    "What is the capital of France?",
    "Name a primary colour.",
    "How many legs does a spider have?",
    "What do bees make?",
    "Which planet is known as the red planet?",
    "What is frozen water called?",
    "Say hello in Spanish.",
    "What is two plus two?",
]


def simulate(url: str, seed: int) -> None:
    args = ["simulate", "--rule", "concise", "--url", url, "--evaluators", "3"]
    assert cli.main([*args, "--skip-rate", "0", "--idle-timeout", "1", "--seed", str(seed)]) == 0


def h2h_labels(factory: sessionmaker[Session]) -> list[tuple[int, int]]:
    """(version of completion a, version of completion b) of each head-to-head label."""
    ca, cb = aliased(Completion), aliased(Completion)
    with transaction(factory) as db:
        rows = db.execute(
            select(ca.policy_version_id, cb.policy_version_id)
            .select_from(Comparison)
            .join(Pair, Pair.id == Comparison.pair_id)
            .join(ca, ca.id == Pair.completion_a_id)
            .join(cb, cb.id == Pair.completion_b_id)
            .where(Pair.kind == "head_to_head")
        ).all()
    return [(a, b) for a, b in rows]


def test_two_rounds_of_the_loop_through_the_http_api(
    committed_engine: Engine,
    settings: Settings,
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings.model_copy(
        update={
            "pair_buffer": 12,
            "pair_low_water": 6,
            "sample_batch_size": 8,
            "max_new_tokens": 8,
            "sampler_dtype": "float32",
            "active_selection_share": 0.5,
            # The run's override names the tiny reward base, as an admin allow-lists a local model.
            "training_model_allowlist": str(tiny_reward_dir),
            # `pairwise simulate` opens the database itself: the same one.
            "database_url": committed_engine.url.render_as_string(hide_password=False),
        }
    )
    monkeypatch.setattr("app.settings.get_settings", lambda: settings)
    factory = make_sessionmaker(committed_engine)
    with transaction(factory) as db:
        project = ensure_default_project(db, "tiny")
        project.head_to_head_share = 0.5
        project_id = project.id
        version_zero(db, project, settings.resolved_model_dir, tiny_policy_dir)
        for text in QUESTIONS:
            make_prompt(db, project, text)
        staff = create_user(db, settings, "ml", "correct horse battery", {"ml"})
        add_member(db, project, staff)
        token, _ = create_api_token(db, staff, "loop test")
    sampler = Sampler(factory, settings)
    run_body = {
        "project_id": project_id,
        "recipe": "tiny",
        "include_simulated": True,
        # Random tiny models barely move: open the reward-gain gate so each round promotes.
        "overrides": {"reward.base_model": str(tiny_reward_dir), "gates.min_reward_gain": -1e9},
    }

    with serve_in_thread(create_app(settings, committed_engine)) as url:
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        for round_number in (1, 2):
            assert sampler.step() > 0
            labels_before = len(h2h_labels(factory))
            simulate(url, seed=round_number)
            with transaction(factory) as db:
                open_left = db.scalar(
                    select(func.count()).where(Pair.status == "open", Pair.project_id == project_id)
                )
                assert open_left == 0  # the simulated evaluators labelled everything served

            r = api.post("/api/v1/training-runs", json=run_body)
            assert r.status_code == 201, r.text
            run_id = r.json()["id"]
            assert Worker(settings, factory).serve(once=True) == 1
            run = api.get(f"/api/v1/training-runs/{run_id}").json()
            assert run["status"] == "succeeded", run.get("error")

            versions = {
                v["number"]: v["status"]
                for v in api.get(
                    "/api/v1/policy-versions", params={"project_id": project_id}
                ).json()
            }
            assert versions[round_number] == "active"
            assert [n for n, s in versions.items() if s == "active"] == [round_number]

            new_h2h = h2h_labels(factory)[labels_before:]
            if round_number == 1:
                assert new_h2h == []  # only version 0 existed: nothing to meet yet
            else:
                assert len(new_h2h) > 0  # v1 met v0 head to head, and was judged

        # Round 3's sampler: v2 against v0 and v1 (the previous version).
        sampler.step()
        with transaction(factory) as db:
            number = {v.id: v.number for v in db.scalars(select(PolicyVersion))}
            cb = aliased(Completion)
            rivals = set(
                db.scalars(
                    select(cb.policy_version_id)
                    .join(Pair, Pair.completion_b_id == cb.id)
                    .where(Pair.kind == "head_to_head", Pair.status == "open")
                )
            )
            assert {number[v] for v in rivals} == {0, 1}
            simulated = db.scalar(select(func.count()).where(User.simulated.is_(True)))
            assert simulated == 3
            labelled = db.scalar(select(func.count()).select_from(Comparison))
            assert labelled is not None and labelled >= 2 * settings.pair_buffer

        board = api.get(
            f"/api/v1/projects/{project_id}/leaderboard", params={"evaluators": "simulated"}
        ).json()
        api.close()
    judged = len(h2h_labels(factory))
    assert board["comparisons"] + board["both_bad_excluded"] == judged > 0
    rated = {v["number"]: v for v in board["versions"]}
    assert board["reference_number"] == 0 and rated[0]["rating"] == 0
    v1 = rated[1]
    assert v1["comparisons"] == board["comparisons"] > 0
    assert v1["rating_low"] < v1["rating_high"]  # a real bootstrap interval
    assert v1["rating_low"] <= v1["rating"] <= v1["rating_high"]
    assert v1["vs_reference"]["low"] <= v1["vs_reference"]["rate"] <= v1["vs_reference"]["high"]
    assert rated[2]["rating"] is None  # v2 has not been judged yet
    sampler.close()
