"""An evaluator labels three pairs and skips one using only the keyboard, in Chromium."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from app.auth.service import create_user
from app.db import transaction
from app.labeling import service
from app.models import Assignment, Comparison, Completion, Pair
from app.projects.service import add_member
from tests.browser.conftest import PASSWORD, LiveServer, log_in
from tests.factories import make_pair, make_project

pytestmark = pytest.mark.browser


def _wait_for_next(page, previous: str | None) -> str:
    # Also wait for htmx to settle: during its settle step it re-applies the new fragment's
    # attributes, so a key pressed in those milliseconds (open the skip box) could be undone.
    page.wait_for_function(
        "prev => { const f = document.getElementById('label-form');"
        " const next = f ? f.dataset.assignment !== prev"
        " : !!document.getElementById('empty-queue');"
        " const busy = '.htmx-settling, .htmx-swapping, .htmx-request';"
        " return next && !document.querySelector(busy); }",
        arg=previous,
    )
    form = page.query_selector("#label-form")
    return form.get_attribute("data-assignment") if form else ""


def test_keyboard_only_labelling(page, live_server: LiveServer, monkeypatch) -> None:
    # Sides alternate a, b, a, b so that the second pair is shown swapped.
    sides = itertools.cycle(["a", "b"])
    monkeypatch.setattr(service, "pick_left_side", lambda: next(sides))
    with transaction(live_server.sessionmaker) as db:
        project = make_project(db, name="keyboard project")
        pair_ids = [
            make_pair(db, project, text_a=f"**Answer A{i}**", text_b=f"Answer B{i}").id
            for i in range(4)
        ]
        user = create_user(db, live_server.settings, "keys", PASSWORD, {"evaluator"})
        add_member(db, project, user)
        user_id = user.id
    errors: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    log_in(page, live_server, "keys")
    page.wait_for_selector("text=Welcome, keys")
    page.goto(live_server.url + "/label")
    assignment = _wait_for_next(page, None)
    assert page.is_visible("text=Keyboard")

    # Intended judgements in completion terms: a better (clearly), a better (much), tie.
    for wanted, strength_key in (("a", "w"), ("a", "e"), ("tie", None)):
        left_text = page.inner_text("#response-left")
        a_on_left = "Answer A" in left_text
        if wanted == "tie":
            page.keyboard.press("t")
        else:
            page.keyboard.press("1" if a_on_left == (wanted == "a") else "ArrowRight")
            page.keyboard.press(strength_key)
        page.keyboard.press("Enter")
        assignment = _wait_for_next(page, assignment)
        assert page.is_visible("text=Saved.")

    page.keyboard.press("s")
    page.wait_for_selector("#skip-reason", state="visible")
    page.keyboard.press("Enter")
    _wait_for_next(page, assignment)
    page.wait_for_selector("#empty-queue")
    assert page.inner_text("#count-total") == "3"

    with transaction(live_server.sessionmaker) as db:
        rows = db.scalars(
            select(Comparison).where(Comparison.user_id == user_id).order_by(Comparison.id)
        ).all()
        assert len(rows) == 3
        sides_shown = [db.get_one(Assignment, r.assignment_id).left_side for r in rows]
        assert sides_shown == ["a", "b", "a"]  # the second pair was shown swapped
        for row, wanted in zip(rows, ("a", "a", "tie"), strict=True):
            assert row.choice == wanted
            if wanted == "a":
                pair = db.get_one(Pair, row.pair_id)
                chosen = db.get_one(Completion, pair.completion_a_id)
                assert chosen.text.startswith("**Answer A")
            assert row.decision_ms is not None and row.decision_ms > 0
        assert [r.strength for r in rows] == ["clear", "much", None]
        skipped = db.scalars(
            select(Assignment).where(Assignment.user_id == user_id, Assignment.status == "skipped")
        ).all()
        assert len(skipped) == 1 and skipped[0].pair_id in pair_ids
        assert skipped[0].skip_reason
    assert [e for e in errors if "favicon.ico" not in e] == []
