"""Request ids: echoed or generated, and stamped on one JSON log line per request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from app.models import User
from app.observability.logs import configure_logging
from app.settings import Settings
from tests.conftest import login


@pytest.fixture
def log_lines(settings: Settings) -> Iterator[Callable[[], list[dict]]]:
    root = logging.getLogger()
    saved_level = root.level
    stream = io.StringIO()
    handler = configure_logging(settings.model_copy(update={"log_format": "json"}), stream)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(saved_level)


def request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "pairwise.request"]


def test_request_id_is_echoed_and_logged(client: TestClient, log_lines) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert r.headers["x-request-id"] == "lb-7f3a.42"
    [line] = request_lines(log_lines())
    assert line["request_id"] == "lb-7f3a.42"
    assert line["method"] == "GET" and line["route"] == "/healthz" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] is None and line["level"] == "INFO" and "time" in line


def test_missing_or_unsafe_request_id_is_replaced(client: TestClient, log_lines) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz", headers={"X-Request-ID": "bad id\twith {json}"}).headers[
        "x-request-id"
    ]
    assert len(first) == 32 and len(second) == 32 and first != second
    assert [line["request_id"] for line in request_lines(log_lines())] == [first, second]


def test_user_id_and_route_template_are_logged(
    client: TestClient, make_user: Callable[..., User], log_lines
) -> None:
    user = make_user("evaluator")
    login(client, user.username)
    r = client.get("/api/v1/me")
    assert r.status_code == 200
    line = request_lines(log_lines())[-1]
    assert line["route"] == "/api/v1/me"
    assert line["user_id"] == user.id
    assert line["request_id"] == r.headers["x-request-id"]


def test_other_log_lines_carry_the_request_id(app, client: TestClient, log_lines) -> None:
    @app.get("/probe-log", include_in_schema=False)
    def probe() -> dict[str, str]:
        logging.getLogger("pairwise.probe").warning("inside the route")
        return {}

    client.get("/probe-log", headers={"X-Request-ID": "abc123"})
    [inner] = [line for line in log_lines() if line["logger"] == "pairwise.probe"]
    assert inner["request_id"] == "abc123" and inner["message"] == "inside the route"


def test_text_format_is_one_readable_line(settings: Settings) -> None:
    stream = io.StringIO()
    saved_level = logging.getLogger().level
    handler = configure_logging(settings, stream)
    try:
        logging.getLogger("pairwise.x").warning("hello")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(saved_level)
    assert stream.getvalue().rstrip().endswith("WARNING pairwise.x [-] hello")


def test_serve_sets_up_logging_and_graceful_shutdown(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from app import cli

    configured = settings.model_copy(update={"log_format": "json", "shutdown_grace_seconds": 7})
    calls: list[dict] = []
    monkeypatch.setattr("app.settings.get_settings", lambda: configured)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    root = logging.getLogger()
    saved_level = root.level
    try:
        assert cli.main(["serve", "--port", "8123"]) == 0
        ours = [h for h in root.handlers if h.get_name() == "pairwise"]
        assert len(ours) == 1 and ours[0].formatter.__class__.__name__ == "JsonFormatter"
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "pairwise"]:
            root.removeHandler(handler)
        root.setLevel(saved_level)
    [kw] = calls
    assert kw["port"] == 8123 and kw["timeout_graceful_shutdown"] == 7
    # uvicorn must neither replace our handlers nor write a second access log.
    assert kw["log_config"] is None and kw["access_log"] is False
