"""An evaluator labels a pair, presses `u` and gets the same pair back; the history page
shows what they chose, in Chromium."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.service import create_user
from app.db import transaction
from app.models import Comparison
from app.projects.service import add_member
from tests.browser.conftest import PASSWORD, LiveServer, log_in
from tests.browser.test_labeling import _wait_for_next
from tests.factories import make_pair, make_project

pytestmark = pytest.mark.browser


def test_undo_by_key_brings_the_pair_back_and_history_shows_the_label(
    page, live_server: LiveServer
) -> None:
    with transaction(live_server.sessionmaker) as db:
        project = make_project(db, name="history project")
        for i in range(2):
            make_pair(db, project, text_a=f"History answer A{i}", text_b=f"History answer B{i}")
        user = create_user(db, live_server.settings, "history", PASSWORD, {"evaluator"})
        add_member(db, project, user)
        project_id, user_id = project.id, user.id
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    log_in(page, live_server, "history")
    page.wait_for_selector("text=Welcome, history")
    page.goto(f"{live_server.url}/label?project={project_id}")
    first = _wait_for_next(page, None)
    first_left = page.inner_text("#response-left")
    page.keyboard.press("1")
    page.keyboard.press("w")
    page.keyboard.press("Enter")
    second = _wait_for_next(page, first)
    assert page.is_visible("text=Saved.") and page.is_visible("#undo-last")

    page.keyboard.press("u")
    back = _wait_for_next(page, second)
    assert back == first
    assert page.inner_text("#response-left") == first_left
    assert page.is_visible("text=Your last label was withdrawn")
    with transaction(live_server.sessionmaker) as db:
        live = db.scalars(
            select(Comparison).where(Comparison.user_id == user_id, Comparison.live)
        ).all()
        assert live == []

    # Label it again (B this time) and find it on the history page.
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    _wait_for_next(page, first)
    page.click("#history-link")
    page.wait_for_selector("#history")
    row = page.inner_text("#history tbody tr")
    assert "B is better" in row and "Change" in row
    assert errors == []
