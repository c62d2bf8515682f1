"""Demonstrations through the web app: who may write and review them, escaping, rewriting,
and how reviews and the recipe option reach the training rows."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.domain.demonstrations import DemonstrationSelection, demonstration_rows
from app.domain.preferences import demonstration_preference_rows
from app.models import Assignment, Demonstration, Prompt
from app.vocabulary import DemonstrationStatus
from tests.factories import demonstration, make_evaluator, make_pair, make_project

HX = {"HX-Request": "true"}


def _assignment(client) -> int:
    html = client.get("/label").text
    match = re.search(r'name="assignment_id" value="(\d+)"', html)
    assert match
    return int(match.group(1))


def test_write_rewrite_and_diff_is_escaped(client, db, project, logged_in) -> None:
    make_pair(db, project, text_a="<script>alert(1)</script> old words", text_b="other")
    db.commit()
    user, csrf = logged_in("evaluator")
    assignment_id = _assignment(client)
    left = db.get_one(Assignment, assignment_id).left_side
    start = "left" if left == "a" else "right"
    editor = client.get(f"/label/demonstration?assignment_id={assignment_id}&start={start}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; old words</textarea>" in editor.text
    form = {"csrf_token": csrf, "assignment_id": assignment_id, "start": start}
    saved = client.post(
        "/label/demonstration", data={**form, "text": "<script>x</script> new words"}, headers=HX
    )
    assert saved.status_code == 200 and "demonstration-saved" in saved.text
    assert "<script>" not in saved.text
    assert "<del>&lt;script&gt;alert(1)&lt;/script&gt; old </del>" in saved.text
    # Writing again replaces the answer (one per prompt and annotator) and re-opens review.
    demo = db.scalars(select(Demonstration).where(Demonstration.user_id == user.id)).one()
    demo.status = DemonstrationStatus.accepted
    db.commit()
    client.post("/label/demonstration", data={**form, "text": "Third try."}, headers=HX)
    db.expire_all()
    rows = db.scalars(select(Demonstration).where(Demonstration.user_id == user.id)).all()
    assert [(r.text, r.status) for r in rows] == [("Third try.", "pending")]
    empty = client.post("/label/demonstration", data={**form, "text": "  "}, headers=HX)
    assert "Write the answer you would want." in empty.text


def test_no_demonstration_on_someone_elses_assignment(client, db, project, logged_in) -> None:
    make_pair(db, project)
    db.commit()
    _, csrf = logged_in("evaluator")
    assignment_id = _assignment(client)
    client.cookies.clear()
    _, csrf = logged_in("evaluator")
    r = client.post(
        "/label/demonstration",
        data={"csrf_token": csrf, "assignment_id": assignment_id, "text": "mine now"},
    )
    assert r.status_code == 404
    assert client.get(f"/label/demonstration?assignment_id={assignment_id}").status_code == 404
    assert db.scalar(select(Demonstration.id)) is None


def test_review_needs_the_reviewer_role_and_the_project(client, db, project, logged_in) -> None:
    pair = make_pair(db, project)
    author = make_evaluator(db, project)
    demo = demonstration(
        db,
        db.get_one(Prompt, pair.prompt_id),
        author.id,
        "An answer. <script>x()</script>",
        pair=pair,
    )
    other = make_project(db)
    foreign = make_pair(db, other)
    hidden = demonstration(db, db.get_one(Prompt, foreign.prompt_id), author.id, "Hidden.")
    db.commit()
    _, csrf = logged_in("evaluator")
    assert client.get("/review/demonstrations").status_code == 403
    client.cookies.clear()
    reviewer, csrf = logged_in("reviewer")
    from app.projects.service import add_member

    add_member(db, project, db.merge(reviewer))
    db.commit()
    page = client.get(f"/review/demonstrations?project={project.id}")
    assert "An answer." in page.text and "Hidden." not in page.text
    assert "<script>x()" not in page.text and "&lt;script&gt;x()" in page.text
    r = client.post(
        f"/review/demonstrations/{hidden.id}", data={"csrf_token": csrf, "decision": "accepted"}
    )
    assert r.status_code == 404
    r = client.post(
        f"/review/demonstrations/{demo.id}",
        data={"csrf_token": csrf, "decision": "rejected", "note": "off topic"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    assert db.get_one(Demonstration, demo.id).status == "rejected"


def test_reviews_and_the_preferred_option_decide_the_rows(db, project) -> None:
    author = make_evaluator(db, project)
    pairs = [make_pair(db, project, text_a=f"a{i}", text_b=f"b{i}") for i in range(3)]
    prompts = [db.get_one(Prompt, p.prompt_id) for p in pairs]
    demonstration(db, prompts[0], author.id, "Written.", pair=pairs[0], status="accepted")
    demonstration(db, prompts[1], author.id, "b1", pair=pairs[1])  # response B unchanged
    demonstration(db, prompts[2], author.id, "Bad.", pair=pairs[2], status="rejected")
    db.flush()
    rows = list(demonstration_rows(db, project, DemonstrationSelection()))
    assert [r.completion for r in rows] == ["Written.", "b1"]
    assert rows[0].messages()[-1] == {"role": "assistant", "content": "Written."}
    accepted = DemonstrationSelection(accepted_only=True)
    assert [r.completion for r in demonstration_rows(db, project, accepted)] == ["Written."]
    preferred = list(demonstration_preference_rows(db, project, DemonstrationSelection()))
    assert [(r.chosen, r.rejected) for r in preferred] == [
        ("Written.", "a0"),
        ("Written.", "b0"),
        ("b1", "a1"),  # not over itself
    ]
    author.active = False
    db.flush()
    assert list(demonstration_rows(db, project, DemonstrationSelection())) == []


def test_api_writes_on_a_prompt_and_on_a_pair_and_reviews(client, db, project, logged_in):
    pair = make_pair(db, project, text_a="first", text_b="second")
    hidden = make_pair(db, make_project(db))
    db.commit()
    _, csrf = logged_in("evaluator")
    headers = {"X-CSRF-Token": csrf}
    r = client.post(
        f"/api/v1/prompts/{pair.prompt_id}/demonstration", json={"text": "Mine."}, headers=headers
    )
    assert r.status_code == 200 and r.json()["pair_id"] is None and r.json()["status"] == "pending"
    other = client.post(
        f"/api/v1/prompts/{hidden.prompt_id}/demonstration", json={"text": "x"}, headers=headers
    )
    assert other.status_code == 404
    assignment_id = _assignment(client)
    r = client.post(
        f"/api/v1/assignments/{assignment_id}/demonstration",
        json={"text": "Edited.", "start": "left"},
        headers=headers,
    )
    body = r.json()
    assert r.status_code == 200 and body["pair_id"] == pair.id and body["source_completion_id"]
    # Same prompt, same annotator: the pair's answer replaced the one written on the prompt.
    assert db.scalars(select(Demonstration.id)).all() == [body["id"]]
    bad = client.post(
        f"/api/v1/prompts/{pair.prompt_id}/demonstration", json={"text": " "}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "text"
    assert (
        client.post(
            f"/api/v1/demonstrations/{body['id']}/review",
            json={"decision": "accepted"},
            headers=headers,
        ).status_code
        == 403
    )
