"""The playground on vLLM: a version the sampler does not serve is loaded before it is asked
for, nothing the sampler needs is unloaded, and the sampler keeps it loaded for a while."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.domain import versions
from app.domain.store import ModelStore
from app.models import PlaygroundMatch, PolicyVersion, Project, User
from app.sampling.backend import VersionRef
from app.sampling.service import versions_to_serve
from app.settings import Settings
from tests.playground.test_playground import start, stream
from tests.sampling.test_serving import full_weights, lora_adapter, uri
from tests.sampling.vllm_stand_in import StandInVLLM, running


@pytest.fixture
def vllm(project: Project) -> Iterator[StandInVLLM]:
    with running(StandInVLLM([uri(project, 0)])) as server:
        yield server


@pytest.fixture
def served(client: TestClient, vllm: StandInVLLM) -> Settings:
    """The app's settings pointed at the stand-in, as the vLLM compose profile sets them."""
    settings: Settings = client.app.state.settings.model_copy(
        update={"sampler_backend": "openai", "openai_base_url": vllm.url, "openai_api": "chat"}
    )
    client.app.state.settings = settings
    return settings


def version(db: Session, project: Project, number: int, status: str) -> PolicyVersion:
    row = PolicyVersion(
        project_id=project.id,
        number=number,
        checkpoint_uri=uri(project, number),
        base_model="tiny",
        status=status,
    )
    db.add(row)
    db.commit()
    return row


def side_events(got: list[tuple[str, dict]], side: str) -> list[tuple[str, dict]]:
    return [(n, d) for n, d in got if d.get("side") == side]


def test_an_old_version_is_loaded_for_the_playground_and_the_active_one_stays(
    client: TestClient,
    db: Session,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    vllm: StandInVLLM,
    served: Settings,
) -> None:
    store = ModelStore(served.resolved_model_dir)
    full_weights(store, uri(project, 0))
    for n in (1, 2):
        lora_adapter(store, uri(project, n), base=uri(project, 0))
    version(db, project, 0, "archived")
    v1 = version(db, project, 1, "archived")
    v2 = version(db, project, 2, "active")
    vllm.adapters[uri(project, 2)] = str(store.path(uri(project, 2)))  # the sampler's doing

    _, csrf = logged_in("ml")
    match_id = start(
        client,
        csrf,
        f"/playground/matches?project={project.id}",
        {"prompt": "Hi", "version_a_id": v1.id, "version_b_id": v2.id},
    )
    got = stream(client, csrf, f"/playground/matches/{match_id}/stream")

    assert [n for n, _ in got if n == "error"] == [], got
    assert vllm.first("load", uri(project, 1)) < min(vllm.asked(uri(project, 1)))
    assert not [entry for entry in vllm.log if entry[0] == "unload"]
    assert set(vllm.adapters) == {uri(project, 1), uri(project, 2)}
    db.expire_all()
    match = db.get(PlaygroundMatch, match_id)
    assert match is not None
    assert (match.text_a or "").startswith(uri(project, 1))
    assert (match.text_b or "").startswith(uri(project, 2))

    # The sampler keeps v1 served beside its own versions while the match is recent...
    active = VersionRef.of(v2)
    assert VersionRef.of(v1) in versions_to_serve(db, project, active, served)
    # ...and lets it go once PLAYGROUND_SERVE_MINUTES have passed (or with 0).
    match.created_at -= timedelta(minutes=served.playground_serve_minutes + 1)
    db.commit()
    assert VersionRef.of(v1) not in versions_to_serve(db, project, active, served)
    assert versions.played_since(db, project.id, match.created_at) == [v1, v2]


def test_a_full_weight_version_without_a_server_says_what_to_configure(
    client: TestClient,
    db: Session,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    vllm: StandInVLLM,
    served: Settings,
) -> None:
    store = ModelStore(served.resolved_model_dir)
    full_weights(store, uri(project, 0))
    full_weights(store, uri(project, 3))
    v0 = version(db, project, 0, "archived")
    v3 = version(db, project, 3, "active")

    _, csrf = logged_in("admin")
    match_id = start(
        client,
        csrf,
        f"/playground/matches?project={project.id}",
        {"prompt": "Hi", "version_a_id": v0.id, "version_b_id": v3.id},
    )
    got = stream(client, csrf, f"/playground/matches/{match_id}/stream")

    assert [n for n, _ in side_events(got, "a")] == ["delta", "delta", "delta", "done"]
    errors = [d["message"] for n, d in side_events(got, "b") if n == "error"]
    assert len(errors) == 1, got
    assert "v3 could not answer" in errors[0] and "has full weights" in errors[0]
    assert "OPENAI_VERSION_SERVERS" in errors[0]
    assert vllm.asked(uri(project, 3)) == [], "nothing is asked of a server that lacks it"
