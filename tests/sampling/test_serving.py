"""Promoted versions reach a vLLM-like server without a restart (app.domain.serving).

The stand-in (tests/sampling/vllm_stand_in.py) serves version 0's full weights, loads LoRA
adapters at run time and refuses any completion for a model it does not hold, as vLLM does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.domain import versions
from app.domain.project_settings import update_settings
from app.domain.serving import Serving, ServingError, served_name
from app.domain.store import ModelStore
from app.models import Completion, Pair, PolicyVersion, Project
from app.sampling.backend import VersionRef
from app.sampling.worker import Sampler
from app.settings import Settings, settings_problems
from tests.factories import make_prompt
from tests.factories.sampling import sampler_settings
from tests.sampling.vllm_stand_in import StandInVLLM, running


def uri(project: Project, number: int) -> str:
    return ModelStore.policy_uri(project.id, number)


def full_weights(store: ModelStore, at: str) -> None:
    folder = store.path(at)
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")


def lora_adapter(store: ModelStore, at: str, base: str) -> None:
    folder = store.path(at)
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    (folder / "adapter_model.safetensors").write_bytes(b"adapter")
    (folder / "pairwise.json").write_text(json.dumps({"adapter_of": base}))


def new_version(db: Session, project: Project, number: int) -> PolicyVersion:
    version = PolicyVersion(
        project_id=project.id,
        number=number,
        checkpoint_uri=uri(project, number),
        base_model="tiny",
        status="candidate",
    )
    db.add(version)
    db.flush()
    return version


def promote(db: Session, settings: Settings, project: Project, number: int) -> PolicyVersion:
    version = versions.promote(db, settings, new_version(db, project, number), None)
    db.commit()
    return version


def h2h_models(db: Session, version: PolicyVersion) -> set[tuple[str, str]]:
    """(model of side a, model of side b) of the version's head-to-head pairs."""
    found = set()
    for pair in db.scalars(
        select(Pair).where(Pair.policy_version_id == version.id, Pair.kind == "head_to_head")
    ):
        a, b = db.get(Completion, pair.completion_a_id), db.get(Completion, pair.completion_b_id)
        assert a is not None and b is not None
        found.add((a.text.split()[0], b.text.split()[0]))
    return found


@pytest.fixture
def vllm(project: Project) -> Iterator[StandInVLLM]:
    with running(StandInVLLM([uri(project, 0)])) as server:
        yield server


def test_promoted_adapters_are_loaded_before_the_sampler_asks_and_dropped_when_unneeded(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    vllm: StandInVLLM,
    tmp_path: Path,
) -> None:
    settings = sampler_settings(
        tmp_path,
        sampler_backend="openai",
        openai_base_url=vllm.url,
        openai_api="completions",
        pair_buffer=2,
        pair_low_water=1,
    )
    store = ModelStore(settings.resolved_model_dir)
    project.head_to_head_share = 0.5
    make_prompt(db, project, "One?")
    make_prompt(db, project, "Two?")
    full_weights(store, uri(project, 0))
    for n in (1, 2, 3):
        lora_adapter(store, uri(project, n), base=uri(project, 0))
    v0 = new_version(db, project, 0)
    versions.promote(db, settings, v0, None)
    promote(db, settings, project, 1)
    sampler = Sampler(session_factory, settings)
    assert sampler.step() > 0, sampler.last_error
    assert set(vllm.adapters) == {uri(project, 1)}

    # Promotion: v2's adapter is loaded before the first completion names it.
    v2 = promote(db, settings, project, 2)
    mark = len(vllm.log)
    assert sampler.step() > 0, sampler.last_error
    loaded_at = vllm.first("load", uri(project, 2))
    asks = vllm.asked(uri(project, 2))
    assert mark < loaded_at < asks[0]
    assert sampler.last_error is None
    # Head to head: requests name both versions, and every one succeeded.
    assert h2h_models(db, v2) == {
        (uri(project, 2), uri(project, 0)),
        (uri(project, 2), uri(project, 1)),
    }
    assert vllm.asked(uri(project, 1))[-1] > loaded_at
    assert set(vllm.adapters) == {uri(project, 1), uri(project, 2)}

    # v3: its opponents are v0 and v2, so v1 is no longer needed and is unloaded.
    v3 = promote(db, settings, project, 3)
    mark = len(vllm.log)
    assert sampler.step() > 0, sampler.last_error
    assert vllm.first("unload", uri(project, 1)) > mark
    assert set(vllm.adapters) == {uri(project, 2), uri(project, 3)}
    assert {b for _, b in h2h_models(db, v3)} == {uri(project, 0), uri(project, 2)}
    assert sampler.last_error is None

    # Head-to-head pairs turned off: only the active version stays loaded.
    project.head_to_head_share = 0.0
    db.commit()
    sampler.step()
    assert set(vllm.adapters) == {uri(project, 3)}
    sampler.close()


def test_a_version_on_trial_is_loaded_for_its_pairs_against_the_active_one(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    vllm: StandInVLLM,
    tmp_path: Path,
) -> None:
    settings = sampler_settings(
        tmp_path,
        sampler_backend="openai",
        openai_base_url=vllm.url,
        pair_buffer=2,
        pair_low_water=1,
    )
    store = ModelStore(settings.resolved_model_dir)
    project.head_to_head_share = 0.0
    update_settings(project, promotion="human_trial", trial_share=0.5)
    make_prompt(db, project, "One?")
    full_weights(store, uri(project, 0))
    lora_adapter(store, uri(project, 1), base=uri(project, 0))
    versions.promote(db, settings, new_version(db, project, 0), None)
    v1 = new_version(db, project, 1)
    v1.parent_id = versions.active_version(db, project.id).id  # type: ignore[union-attr]
    versions.start_trial(db, v1, reason="gates passed")
    db.commit()

    sampler = Sampler(session_factory, settings)
    assert sampler.step() > 0, sampler.last_error
    assert vllm.first("load", uri(project, 1)) < vllm.asked(uri(project, 1))[0]
    assert h2h_models(db, v1) == {(uri(project, 1), uri(project, 0))}

    versions.reject(db, v1, reason="evaluators preferred v0")
    db.commit()
    sampler.step()
    assert vllm.adapters == {}  # the rejected version is no longer needed
    sampler.close()


def test_a_full_weight_version_without_a_server_is_refused_until_one_is_named(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    vllm: StandInVLLM,
    tmp_path: Path,
) -> None:
    settings = sampler_settings(
        tmp_path,
        sampler_backend="openai",
        openai_base_url=vllm.url,
        pair_buffer=2,
        pair_low_water=1,
    )
    store = ModelStore(settings.resolved_model_dir)
    make_prompt(db, project, "One?")
    full_weights(store, uri(project, 0))
    full_weights(store, uri(project, 1))  # trained without LoRA: full weights
    versions.promote(db, settings, new_version(db, project, 0), None)
    v1 = promote(db, settings, project, 1)

    sampler = Sampler(session_factory, settings)
    assert sampler.step() == 0
    error = sampler.projects_status[str(project.id)]["last_error"]  # kept per project
    assert error is not None
    assert f"v1 ({uri(project, 1)}) has full weights" in error
    assert "no server is configured for it" in error
    assert f"OPENAI_VERSION_SERVERS as {uri(project, 1)}=<url>" in error
    assert vllm.asked(uri(project, 1)) == []  # refused before any request could fail
    sampler.close()

    # A server started for v1 and named in the setting serves it; v0's server is not asked.
    with running(StandInVLLM([uri(project, 1)])) as own:
        named = sampler_settings(
            tmp_path,
            sampler_backend="openai",
            openai_base_url=vllm.url,
            openai_version_servers=f"{uri(project, 1)}={own.url}",
            pair_buffer=2,
            pair_low_water=1,
        )
        sampler = Sampler(session_factory, named)
        assert sampler.step() >= 2, sampler.last_error
        assert own.asked(uri(project, 1)) and vllm.asked(uri(project, 1)) == []
        assert db.scalar(select(Pair.id).where(Pair.policy_version_id == v1.id)) is not None
        sampler.close()


def test_an_adapter_whose_base_is_not_served_and_a_server_without_runtime_lora(
    project: Project, vllm: StandInVLLM, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, sampler_backend="openai", openai_base_url=vllm.url)
    store = ModelStore(settings.resolved_model_dir)
    full_weights(store, uri(project, 4))
    lora_adapter(store, uri(project, 5), base=uri(project, 4))
    serving = Serving(settings, store)
    v5 = VersionRef(55, project.id, 5, uri(project, 5))
    with pytest.raises(ServingError, match=f"LoRA adapter on {uri(project, 4)}, which .* does not"):
        serving.sync(project.id, [v5])
    assert vllm.adapters == {}

    lora_adapter(store, uri(project, 6), base=uri(project, 0))
    vllm.app.router.routes = [r for r in vllm.app.router.routes if "lora" not in r.path]
    with pytest.raises(ServingError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"):
        serving.sync(project.id, [VersionRef(66, project.id, 6, uri(project, 6))])
    serving.close()


def test_a_server_without_a_model_list_gets_an_error_naming_the_setting(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    vllm: StandInVLLM,
    tmp_path: Path,
) -> None:
    """OPENAI_MANAGE_ADAPTERS is on by default; a plain server (no /v1/models) is told apart."""
    vllm.app.router.routes = [r for r in vllm.app.router.routes if r.path != "/v1/models"]
    store = ModelStore(tmp_path / "models")
    make_prompt(db, project, "One?")
    full_weights(store, uri(project, 0))
    versions.promote(db, sampler_settings(tmp_path), new_version(db, project, 0), None)
    db.commit()
    common = {"sampler_backend": "openai", "openai_base_url": vllm.url, "pair_buffer": 2}
    sampler = Sampler(session_factory, sampler_settings(tmp_path, pair_low_water=1, **common))
    assert sampler.step() == 0
    error = sampler.projects_status[str(project.id)]["last_error"]
    assert error is not None and "HTTP 404" in error
    assert "set OPENAI_MANAGE_ADAPTERS=false" in error
    assert vllm.asked(uri(project, 0)) == []
    sampler.close()

    # With the setting off the same server is simply asked for the version by its name.
    plain = sampler_settings(tmp_path, pair_low_water=1, openai_manage_adapters=False, **common)
    sampler = Sampler(session_factory, plain)
    assert sampler.step() >= 2, sampler.projects_status
    assert vllm.asked(uri(project, 0))
    sampler.close()


def test_names_and_the_version_servers_setting(tmp_path: Path) -> None:
    assert served_name(VersionRef(9, 3, 2, "projects/3/policy/v2")) == "projects/3/policy/v2"
    good = Settings(  # type: ignore[call-arg]
        _env_file=None, openai_version_servers=" projects/1/policy/v3 = http://gpu-3:8000/v1/ ,"
    )
    assert good.version_servers == {"projects/1/policy/v3": "http://gpu-3:8000/v1"}
    with pytest.raises(ValidationError) as bad:
        Settings(_env_file=None, openai_version_servers="projects/1/policy/v3")  # type: ignore[call-arg]
    assert settings_problems(bad.value) == [
        "OPENAI_VERSION_SERVERS: must be comma-separated name=http(s)://url pairs, "
        "got 'projects/1/policy/v3'"
    ]
