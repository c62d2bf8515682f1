"""The playground in Chromium: both answers stream into their panes, then the vote."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.auth.service import create_user
from app.db import transaction
from app.domain.store import ModelStore
from app.models import PlaygroundMatch, Project
from app.projects.service import add_member
from tests import factories as f
from tests.browser.conftest import PASSWORD, LiveServer, log_in

pytestmark = pytest.mark.browser


def test_two_versions_stream_side_by_side_and_take_a_vote(
    page, live_server: LiveServer, tiny_policy_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore(live_server.settings.resolved_model_dir)
    with transaction(live_server.sessionmaker) as db:
        project = Project(name="playground-browser")
        db.add(project)
        db.flush()
        staff = create_user(db, live_server.settings, "pg-staff", PASSWORD, {"ml"})
        add_member(db, project, staff)
        for n in (1, 2):
            version = f.make_version(db, project, n, status="archived")
            shutil.copytree(tiny_policy_dir, store.path(version.checkpoint_uri))
        project_id = project.id

    errors: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None
    )
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    log_in(page, live_server, "pg-staff")
    page.wait_for_url(live_server.url + "/")
    page.goto(f"{live_server.url}/playground?project={project_id}")
    page.fill("#prompt", "Tell me <img src=x onerror=alert(1)> a story")
    page.click("#start-match")
    page.wait_for_selector("#match[data-done=true]", timeout=60_000)
    assert page.locator("#match .streaming").count() == 0
    assert page.locator("#name-a").inner_text() and page.locator("#name-b").inner_text()
    assert page.locator("img").count() == 0  # the prompt is text, not markup
    page.click("#vote-b")
    page.wait_for_selector("#vote-result")
    assert "B is better" in page.locator("#vote-result").inner_text()
    # The only 404 allowed is the browser's own favicon request (there is none).
    assert [e for e in errors if "favicon.ico" not in e] == []
    assert [url for url in missing if not url.endswith("/favicon.ico")] == []
    with transaction(live_server.sessionmaker) as db:
        match = db.query(PlaygroundMatch).filter_by(project_id=project_id).one()
        assert match.choice == "b" and match.text_a is not None and match.text_b is not None
