"""Imports fetch nothing, exports name their own files, only safetensors weights are loaded.

The CVE classes: SSRF through import URLs (CVE-2023-47116), path traversal in export
(CVE-2025-25295), unpickling model files (CVE-2025-5173).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import create_api_token
from app.domain.store import ModelStore, StoreError
from app.models import Project, Prompt
from app.sampling.backend import VersionRef
from app.sampling.transformers_backend import TransformersBackend
from tests.factories import make_pair, make_project
from tests.factories.sampling import sampler_settings
from trainer.policy import load_policy


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server recording every path asked of it (nothing should ask)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"root:x:0:0:fetched")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


@pytest.fixture
def admin_api(client: TestClient, db: Session, make_user) -> TestClient:
    secret, _ = create_api_token(db, make_user("admin"), "import")
    db.commit()
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


def test_prompt_import_fetches_no_url_and_reads_no_path(
    admin_api: TestClient, db: Session, project: Project, listener: tuple[str, list[str]]
) -> None:
    url, hits = listener
    records = [
        {"prompt": "file:///etc/passwd"},
        {"prompt": f"{url}/prompt"},
        {"prompt": "see attached", "url": f"{url}/field", "image": "file:///etc/passwd"},
        {"messages": [{"role": "user", "content": f"![x]({url}/img) [y](file:///etc/shadow)"}]},
        {"prompt": "/etc/passwd", "tags": ["../../etc"]},
    ]
    body = "\n".join(json.dumps(r) for r in records).encode()
    r = admin_api.post(
        "/api/v1/prompts/import",
        files={"file": ("../../../etc/passwd.jsonl", body, "application/jsonl")},
        data={"project": str(project.id)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["added"] == len(records)
    texts = list(db.scalars(select(Prompt.text).where(Prompt.project_id == project.id)))
    assert "file:///etc/passwd" in texts and f"{url}/prompt" in texts and "/etc/passwd" in texts
    assert not any("root:" in t for t in texts)
    assert "root:" not in admin_api.get(f"/api/v1/prompts?project={project.id}").text
    assert hits == []


def test_gold_import_fetches_no_url(
    admin_api: TestClient, db: Session, project: Project, listener: tuple[str, list[str]]
) -> None:
    url, hits = listener
    pair = make_pair(db, project)
    db.commit()
    line = json.dumps({"pair_id": pair.id, "answer": "a", "source": f"{url}/gold"})
    r = admin_api.post(
        "/api/v1/quality/gold/import",
        files={"file": (f"{url}/gold.jsonl", line.encode(), "application/jsonl")},
        data={"project": str(project.id)},
    )
    assert r.status_code in (200, 422), r.text
    assert hits == []


DISPOSITION = re.compile(
    r'^attachment; filename="pairwise-project\d+-(raw|trl)-\d{8}T\d{6}Z\.(csv|jsonl|parquet)"$'
)


@pytest.mark.parametrize(
    "query",
    ["format=raw&file_format=csv", "format=trl", "format=raw&file_format=parquet"],
)
def test_export_file_name_is_generated_by_the_server(
    admin_api: TestClient, db: Session, query: str
) -> None:
    evil = make_project(db, name='../../etc/cron.d/x"; filename=evil.sh')
    make_pair(db, evil, text_a="../../a", text_b="b")
    db.commit()
    for path in ("/api/v1/export", "/admin/export/download"):
        r = admin_api.get(f"{path}?project={evil.id}&{query}")
        assert r.status_code == 200, r.text
        disposition = r.headers["content-disposition"]
        assert DISPOSITION.match(disposition), disposition
        assert ".." not in disposition and "evil" not in disposition


class _Payload:
    """A pickle that creates a folder when loaded: proof that a file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.marker),)


@pytest.fixture
def poisoned(tmp_path: Path, tiny_policy_dir: Path) -> tuple[ModelStore, Path, Path]:
    """A valid tiny checkpoint with a live pickle dropped next to its safetensors."""
    store = ModelStore(tmp_path / "models")
    folder = store.path("projects/1/policy/v0")
    shutil.copytree(tiny_policy_dir, folder)
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_Payload(marker))
    pickle.loads(payload)  # the payload is live: loading it runs code
    assert marker.exists()
    marker.rmdir()
    (folder / "pytorch_model.bin").write_bytes(payload)
    return store, folder, marker


def test_a_pickle_in_a_checkpoint_is_refused_everywhere_a_model_is_loaded(
    tmp_path: Path, poisoned: tuple[ModelStore, Path, Path]
) -> None:
    store, folder, marker = poisoned
    backend = TransformersBackend(sampler_settings(tmp_path), store)
    version = VersionRef(id=1, project_id=1, number=0, checkpoint_uri="projects/1/policy/v0")
    with pytest.raises(StoreError, match="refusing pickled weights"):
        backend.load(version)
    with pytest.raises(StoreError, match="refusing pickled weights"):
        load_policy(folder)
    assert not marker.exists()

    (folder / "pytorch_model.bin").unlink()
    backend.load(version)  # the same folder loads once the pickle is gone
    backend.close()
