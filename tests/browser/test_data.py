"""In Chromium: an admin filters the data browser to split pairs, opens one and adjudicates
it; marks a pair gold from its page; retires a filtered selection."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import transaction
from app.models import Adjudication, Pair, Project, User
from tests import factories
from tests.browser.conftest import LiveServer, log_in

pytestmark = pytest.mark.browser


def seed(server: LiveServer) -> dict[str, int]:
    server.add_user("curator", "admin")
    for name in ("ann1", "ann2"):
        server.add_user(name, "evaluator")
    with transaction(server.sessionmaker) as db:
        project = db.scalar(select(Project).order_by(Project.id))
        u1, u2 = (db.scalar(select(User).where(User.username == n)) for n in ("ann1", "ann2"))
        split = factories.make_pair(
            db,
            project,
            prompt=factories.make_prompt(db, project, "Capital of <b>France</b>?"),
            text_a="Paris",
            text_b="Lyon",
            labels_required=2,
            status="complete",
        )
        factories.compare(db, split, u1, "a")
        factories.compare(db, split, u2, "b", left="b")
        db.flush()
        agreed = factories.make_pair(
            db, project, prompt=factories.make_prompt(db, project, "Two plus two?")
        )
        factories.compare(db, agreed, u1, "a")
        stale = [
            factories.make_pair(
                db, project, prompt=factories.make_prompt(db, project, f"Stale prompt {i}")
            )
            for i in range(3)
        ]
        db.flush()
        return {"split": split.id, "agreed": agreed.id, "stale": stale[0].id}


def test_filter_split_open_and_adjudicate(page, live_server: LiveServer) -> None:
    ids = seed(live_server)
    log_in(page, live_server, "curator")
    page.wait_for_selector("text=Welcome, curator")
    page.goto(live_server.url + "/admin/data")
    page.select_option("select[name=agreement]", "split")
    page.click("#apply-filters")
    page.wait_for_url("**agreement=split**")
    rows = page.locator("#pairs-table tbody tr")
    assert rows.count() == 1
    assert "Capital of <b>France</b>?" in rows.first.inner_text()  # shown as text
    page.click(f"#pair-{ids['split']} a.pair-link")
    page.wait_for_selector("#votes-table")
    assert page.locator("#votes-table tr.vote").count() == 2
    page.click("#adjudicate-link")
    page.wait_for_selector("#votes-side-by-side")
    page.check("#adjudicate-form input[value=a]")
    page.fill("#adjudicate-form textarea[name=note]", "Paris is the capital")
    page.click("#adjudicate-submit")
    page.wait_for_selector("#decided-notice")
    assert page.inner_text("#queue-depth") == "0"
    with transaction(live_server.sessionmaker) as db:
        row = db.scalar(select(Adjudication).where(Adjudication.pair_id == ids["split"]))
        assert (row.choice, row.note) == ("a", "Paris is the capital")
    page.goto(live_server.url + "/admin/data?agreement=adjudicated")
    assert page.locator("#pairs-table tbody tr").count() == 1

    # Mark gold from the pair page.
    page.goto(f"{live_server.url}/admin/data/pairs/{ids['agreed']}")
    page.select_option("#gold-form select[name=answer]", "a")
    page.click("#mark-gold")
    page.wait_for_selector("#gold-answer")
    assert page.inner_text("#gold-answer") == "a"

    # Retire a filtered selection.
    page.goto(live_server.url + "/admin/data")
    page.fill("#pair-filters input[name=q]", "stale prompt")
    page.click("#apply-filters")
    page.wait_for_url("**q=stale**")
    assert page.locator("#pairs-table tbody tr").count() == 3
    page.click("#retire-selection")
    page.wait_for_selector("#retired-notice")
    assert "Retired 3 pair(s)" in page.inner_text("#retired-notice")
    with transaction(live_server.sessionmaker) as db:
        statuses = db.scalars(select(Pair.status).where(Pair.id >= ids["stale"])).all()
        assert set(statuses) == {"retired"}
        assert db.get(Pair, ids["split"]).status == "complete"
