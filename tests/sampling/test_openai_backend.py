"""The openai backend against a small OpenAI-compatible stand-in server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models import Completion, Pair, Project
from app.sampling.backend import SampleRequest, VersionRef
from app.sampling.openai_backend import OpenAIBackend, OpenAIError
from app.sampling.worker import Sampler
from tests.factories import make_prompt, make_version
from tests.factories.sampling import open_pairs, sampler_settings


class StandIn:
    """Answers /v1/chat/completions and /v1/completions; can fail the first N requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.fail_first = 0
        self.status = 200
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stand_in.lock:
                    stand_in.requests.append((self.path, dict(self.headers), body))
                    failing = stand_in.fail_first > 0
                    stand_in.fail_first -= 1
                if failing:
                    self._send(503, {"error": "warming up"})
                elif stand_in.status != 200:
                    self._send(stand_in.status, {"error": {"message": "model not found"}})
                elif self.path == "/v1/chat/completions":
                    text = f"reply to {body['messages'][-1]['content']} with seed {body['seed']}"
                    self._send(200, _answer({"message": {"role": "assistant", "content": text}}))
                elif self.path == "/v1/completions":
                    text = f"continuation of {body['prompt']} with seed {body['seed']}"
                    # A prompt ending in "…" stands for an answer the token limit cut off.
                    finish = "length" if body["prompt"].endswith("…") else "stop"
                    self._send(200, _answer({"text": text, "finish_reason": finish}))
                else:
                    self._send(404, {"error": "no such path"})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


def _answer(choice: dict[str, Any]) -> dict[str, Any]:
    return {
        "choices": [{"index": 0, "finish_reason": "stop", **choice}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7},
    }


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_sampler_fills_the_buffer_through_the_chat_endpoint(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    stand_in: StandIn,
    tmp_path: Path,
) -> None:
    settings = sampler_settings(
        tmp_path,
        sampler_backend="openai",
        openai_base_url=stand_in.url,
        openai_api_key="sk-test",
        openai_manage_adapters=False,  # a server that serves fixed names (no /v1/models here)
        pair_buffer=3,
        pair_low_water=3,
    )
    version = make_version(db, project, 0, f"projects/{project.id}/policy/v0")
    make_prompt(db, project, "What is 2+2?")
    make_prompt(
        db,
        project,
        "chat",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Name a colour."},
        ],
    )
    db.commit()
    stand_in.fail_first = 1  # the first request is retried after a 503
    sampler = Sampler(session_factory, settings)
    assert sampler.step() == 3
    assert open_pairs(db, project.id, version.id) == 3

    paths = {path for path, _, _ in stand_in.requests}
    assert paths == {"/v1/chat/completions"}
    _, headers, body = stand_in.requests[-1]
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == f"projects/{project.id}/policy/v0"  # default: the checkpoint URI
    bodies = [b for _, _, b in stand_in.requests]
    plain = [b for b in bodies if b["messages"] == [{"role": "user", "content": "What is 2+2?"}]]
    assert plain, "a plain-text prompt is sent as one user turn"
    assert any(b["messages"][0] == {"role": "system", "content": "Be brief."} for b in bodies)
    assert len(stand_in.requests) == 1 + 2 * 4  # one retried, two sequences per prompt

    pair = db.scalars(select(Pair).where(Pair.project_id == project.id)).first()
    assert pair is not None
    a = db.get(Completion, pair.completion_a_id)
    assert a is not None and a.text.startswith("reply to ")
    assert a.completion_tokens == 7 and a.sampling["seed"] == int(a.text.rsplit(" ", 1)[1])
    assert a.finish_reason == "stop" and not a.cut_off


def test_completions_endpoint_and_a_refusal_becomes_a_clear_error(
    stand_in: StandIn, tmp_path: Path
) -> None:
    settings = sampler_settings(
        tmp_path,
        sampler_backend="openai",
        openai_base_url=stand_in.url,
        openai_api="completions",
        openai_model="served-policy",
        openai_max_retries=2,
    )
    backend = OpenAIBackend(settings, backoff_seconds=0.01)
    backend.load(VersionRef(1, 1, 0, "projects/1/policy/v0"))
    out = backend.generate([SampleRequest(1, "Once upon a time", None, 42)])
    assert out[0].text == "continuation of Once upon a time with seed 42"
    assert out[0].finish_reason == "stop"
    cut = backend.generate([SampleRequest(1, "It was a dark night…", None, 42)])
    assert cut[0].finish_reason == "length"
    assert stand_in.requests[-1][2]["model"] == "served-policy"
    assert "Authorization" not in stand_in.requests[-1][1]

    stand_in.status = 404
    with pytest.raises(OpenAIError, match="HTTP 404"):
        backend.generate([SampleRequest(1, "x", None, 1)])

    stand_in.status, stand_in.fail_first = 200, 10
    with pytest.raises(OpenAIError, match="failed 3 times"):
        backend.generate([SampleRequest(1, "x", None, 1)])
    backend.close()


def test_missing_base_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OpenAIError, match="OPENAI_BASE_URL"):
        OpenAIBackend(sampler_settings(tmp_path, sampler_backend="openai"))
