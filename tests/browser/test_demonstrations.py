"""An evaluator edits the better answer into the one they want, sees what changed, then
labels the pair; a reviewer accepts the demonstration and the SFT export holds it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.auth.service import create_user
from app.db import transaction
from app.labeling import service
from app.models import Comparison, Demonstration, Pair
from app.projects.service import add_member
from tests.browser.conftest import PASSWORD, LiveServer, log_in
from tests.factories import make_pair, make_project

pytestmark = pytest.mark.browser

BETTER = "Paris is the capital of France."
WORSE = "I think it may be Lyon <b>maybe</b>."


def test_evaluator_edits_the_better_answer_into_a_demonstration(
    page, browser, live_server: LiveServer, monkeypatch
) -> None:
    monkeypatch.setattr(service, "pick_left_side", lambda: "b")  # A (left) is completion b
    with transaction(live_server.sessionmaker) as db:
        project = make_project(db, name="demo project")
        pair = make_pair(db, project, text_a=BETTER, text_b=WORSE)
        pair_id, better_id = pair.id, pair.completion_a_id
        user = create_user(db, live_server.settings, "writer", PASSWORD, {"evaluator"})
        reviewer = create_user(db, live_server.settings, "checker", PASSWORD, {"reviewer"})
        add_member(db, project, user)
        add_member(db, project, reviewer)
        user_id, project_id = user.id, project.id
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    log_in(page, live_server, "writer")
    page.wait_for_selector("text=Welcome, writer")
    page.goto(live_server.url + "/label")
    page.wait_for_selector("#label-form")
    assert "Paris" in page.inner_text("#response-right")  # the better answer is B

    page.click("#demonstration-open summary")
    page.click("#demo-start-right")  # edit response B, the better one
    box = page.locator("#demonstration-text")
    box.wait_for()
    assert box.input_value() == BETTER
    box.fill("Paris is the capital and largest city of France.")
    page.click("#demonstration-save")
    page.wait_for_selector("#demonstration-saved")
    assert page.inner_text("#demonstration-diff ins").strip() == "and largest city"
    assert page.locator("#demonstration-diff del").count() == 0  # nothing was removed
    # The label form beside it is untouched: the pair is still labelled as usual.
    page.keyboard.press("2")
    page.keyboard.press("w")
    page.click("#submit-label")
    page.wait_for_selector("text=Saved.")

    with transaction(live_server.sessionmaker) as db:
        demo = db.scalars(select(Demonstration).where(Demonstration.user_id == user_id)).one()
        assert demo.text == "Paris is the capital and largest city of France."
        assert demo.pair_id == pair_id and demo.source_completion_id == better_id
        assert demo.status == "pending"
        assert db.get_one(Pair, pair_id).prompt_id == demo.prompt_id
        comparison = db.scalars(select(Comparison).where(Comparison.user_id == user_id)).one()
        assert comparison.choice == "a"
        demo_id = demo.id

    # A reviewer accepts it in the data tools.
    other = browser.new_context().new_page()
    log_in(other, live_server, "checker")
    other.wait_for_selector("text=Welcome, checker")
    other.goto(f"{live_server.url}/review/demonstrations?project={project_id}")
    card = other.locator(f"#demonstration-{demo_id}")
    assert "largest city" in card.locator(".diff ins").inner_text()
    other.click(f"#accept-{demo_id}")
    other.wait_for_selector("#no-demonstrations")
    with transaction(live_server.sessionmaker) as db:
        assert db.get_one(Demonstration, demo_id).status == "accepted"
    other.context.close()
    assert errors == []


def test_sft_export_is_trl_messages(live_server: LiveServer) -> None:
    from app.export.service import ExportOptions, iter_lines
    from app.models import Project

    with transaction(live_server.sessionmaker) as db:
        project = db.scalars(select(Project).where(Project.name == "demo project")).one()
        lines = list(iter_lines(db, project, ExportOptions(kind="sft"), "s" * 32))
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 1
    turns = rows[0]["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert turns[-1]["content"] == "Paris is the capital and largest city of France."
