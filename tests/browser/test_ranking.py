"""An evaluator ranks four answers in Chromium, by keyboard and by dragging, with a tie."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.service import create_user
from app.db import transaction
from app.domain.preferences import Selection, preference_rows
from app.models import Completion, Project, Ranking
from app.projects.service import add_member
from tests.browser.conftest import PASSWORD, LiveServer, log_in
from tests.factories import make_project, make_prompt, make_version, ranking_task

pytestmark = pytest.mark.browser

TEXTS = ["Answer one", "Answer two", "Answer three", "Answer four"]


def _order(page) -> list[str]:
    """The responses' texts top to bottom, as the evaluator sees them."""
    return page.eval_on_selector_all(
        "#ranking-list .rank-item .response", "els => els.map(e => e.innerText.trim())"
    )


def _wait_for_next(page, previous: str) -> None:
    page.wait_for_function(
        "prev => { const f = document.getElementById('label-form');"
        " const next = f ? f.dataset.assignment !== prev"
        " : !!document.getElementById('empty-queue');"
        " const busy = '.htmx-settling, .htmx-swapping, .htmx-request';"
        " return next && !document.querySelector(busy); }",
        arg=previous,
    )


def _letter_of(page, text: str) -> str:
    return page.eval_on_selector_all(
        "#ranking-list .rank-item",
        "(els, t) => els.find(e => e.querySelector('.response').innerText.trim() === t)"
        ".dataset.letter",
        text,
    )


def _key_of(page, text: str) -> str:
    """The number key that selects the response with this text (A is 1, B is 2, ...)."""
    return str("ABCDEF".index(_letter_of(page, text)) + 1)


def _stored(live_server: LiveServer, project_id: int) -> list[list[str]]:
    with transaction(live_server.sessionmaker) as db:
        tiers = db.scalars(
            select(Ranking.tiers).where(Ranking.project_id == project_id).order_by(Ranking.id)
        ).first()
        text = {c.id: c.text for c in db.scalars(select(Completion))}
        return [[text[c] for c in tier] for tier in tiers or []]


def test_rank_four_answers_by_keyboard_and_by_drag(page, live_server: LiveServer) -> None:
    with transaction(live_server.sessionmaker) as db:
        project = make_project(db, name="ranking project")
        version = make_version(db, project)
        for n in range(2):
            ranking_task(db, project, make_prompt(db, project, f"Question {n}?"), version, TEXTS)
        user = create_user(db, live_server.settings, "ranker", PASSWORD, {"evaluator"})
        add_member(db, project, user)
        project_id = project.id
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    log_in(page, live_server, "ranker")
    page.wait_for_selector("text=Welcome, ranker")
    page.goto(f"{live_server.url}/label?project={project_id}")
    page.wait_for_selector("#ranking-list")
    assignment = page.get_attribute("#label-form", "data-assignment") or ""

    # Keyboard: pick each answer by its number and move it to its place, best first;
    # then tie "Answer three" with "Answer two" above it.
    for place, text in enumerate(TEXTS):
        page.keyboard.press(_key_of(page, text))
        for _ in range(_order(page).index(text) - place):
            page.keyboard.press("ArrowUp")
    assert _order(page) == TEXTS
    page.keyboard.press(_key_of(page, "Answer three"))
    page.keyboard.press("=")
    assert page.inner_text(".rank-item.tied .response").strip() == "Answer three"
    page.keyboard.press("Enter")
    _wait_for_next(page, assignment)
    assert page.is_visible("text=Saved.")
    first = _stored(live_server, project_id)
    assert first == [["Answer one"], ["Answer two", "Answer three"], ["Answer four"]]

    # Drag: the mouse puts the answers in reverse order, one drop at a time.
    assignment = page.get_attribute("#label-form", "data-assignment") or ""
    for place, text in enumerate(reversed(TEXTS)):
        current = _order(page)
        if current.index(text) != place:
            source = page.locator(f"#rank-{_letter_of(page, text)}")
            target = page.locator(f"#rank-{_letter_of(page, current[place])}")
            source.drag_to(target)
            page.wait_for_function(
                "([t, p]) => Array.from(document.querySelectorAll('#ranking-list .response'))"
                ".map(e => e.innerText.trim())[p] === t",
                arg=[text, place],
            )
    assert _order(page) == list(reversed(TEXTS))
    page.click("#submit-label")
    _wait_for_next(page, assignment)
    page.wait_for_selector("#empty-queue")
    assert not errors, errors

    with transaction(live_server.sessionmaker) as db:
        project = db.get_one(Project, project_id)
        rows = list(preference_rows(db, project, Selection()))
    # Five from the keyboard ranking (its tie teaches nothing), six from the dragged one.
    assert len(rows) == 11
    assert ("Answer four", "Answer one") in {(r.chosen, r.rejected) for r in rows}
