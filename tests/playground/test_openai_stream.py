"""The openai backend's stream, and an external model (PLAYGROUND_MODELS) in the playground."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import PlaygroundMatch, PolicyVersion, Project, User
from app.playground import engines
from app.sampling.backend import Sample, SampleRequest
from app.sampling.openai_backend import OpenAIBackend, OpenAIError
from app.settings import PlaygroundModel
from tests.factories.sampling import sampler_settings
from tests.playground.test_playground import board, start, stream

PIECES = ["Hello", " there", ", <script>x</script>", " friend."]


def sse_server(asked: list[dict]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        asked.append(
            {"url": str(request.url), "auth": request.headers.get("authorization"), **body}
        )
        if body["model"] == "missing":
            return httpx.Response(404, json={"error": "no such model"})
        chunks = [{"choices": [{"delta": {"content": p}, "finish_reason": None}]} for p in PIECES]
        chunks.append({"choices": [{"delta": {}, "finish_reason": "length"}]})
        chunks.append({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}})
        text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})

    return httpx.MockTransport(handle)


def test_the_openai_backend_streams_pieces_then_the_sample(tmp_path: Path) -> None:
    settings = sampler_settings(tmp_path, sampler_backend="openai", openai_base_url="http://x/v1")
    backend = OpenAIBackend(settings)
    asked: list[dict] = []
    backend.client = httpx.Client(transport=sse_server(asked))
    backend.settings = settings.model_copy(update={"openai_model": "m"})
    out = list(backend.stream(SampleRequest(1, "Hi", None, seed=7)))
    assert out[:-1] == PIECES
    sample = out[-1]
    assert isinstance(sample, Sample)
    assert sample.text == "".join(PIECES)
    assert (sample.finish_reason, sample.completion_tokens, sample.seed) == ("length", 4, 7)
    assert asked[0]["stream"] is True and asked[0]["url"] == "http://x/v1/chat/completions"

    backend.settings = settings.model_copy(update={"openai_model": "missing"})
    with pytest.raises(OpenAIError, match="404"):
        list(backend.stream(SampleRequest(1, "Hi", None, seed=7)))


def test_a_version_against_an_external_model(
    client: TestClient,
    db: Session,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    add_version: Callable[..., PolicyVersion],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[dict] = []
    real = engines.external_backend

    def pointed(settings, model):  # type: ignore[no-untyped-def]
        backend = real(settings, model)
        backend.client = httpx.Client(
            transport=sse_server(asked), headers={"Authorization": f"Bearer {model.api_key}"}
        )
        return backend

    monkeypatch.setattr(engines, "external_backend", pointed)
    external = PlaygroundModel(name="big", base_url="http://big/v1", model="big-1", api_key="k")
    client.app.state.settings = client.app.state.settings.model_copy(
        update={"playground_models": [external]}
    )
    v1 = add_version(1, "active")
    _, csrf = logged_in("admin")
    form = client.get(f"/playground?project={project.id}")
    assert '<option value="big">big</option>' in form.text
    match_id = start(
        client,
        csrf,
        f"/playground/matches?project={project.id}",
        {"prompt": "Hi", "version_a_id": v1.id, "model_b": "big"},
    )
    got = stream(client, csrf, f"/playground/matches/{match_id}/stream")
    b = [d for n, d in got if d.get("side") == "b"]
    assert [d["text"] for d in b[:-1]] == PIECES
    assert b[-1]["cut_off"] is True
    assert "<script>" not in b[-1]["html"] and "&lt;script&gt;" in b[-1]["html"]
    assert asked[0]["model"] == "big-1" and asked[0]["auth"] == "Bearer k"
    assert asked[0]["messages"][-1] == {"role": "user", "content": "Hi"}
    db.expire_all()
    assert db.get(PlaygroundMatch, match_id).text_b == "".join(PIECES)

    r = client.post(
        f"/playground/matches/{match_id}/vote", data={"choice": "a"},
        headers={"X-CSRF-Token": csrf}, follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    named = board(client, db, project, "playground")
    assert [(t["number"], t["model"], t["wins"], t["losses"]) for t in named["external"]] == [
        (1, "big", 1, 0)
    ]
    assert board(client, db, project, "blind")["comparisons"] == 0
