"""The /label page: rendering, htmx submit and skip, validation, empty queue, project selector."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.models import Assignment, Comparison, Completion, utcnow
from app.projects.service import add_member
from tests.factories import make_pair, make_project, make_prompt

HX = {"HX-Request": "true"}


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


def test_page_shows_prompt_turns_and_sanitised_responses(client, db, project, logged_in) -> None:
    prompt = make_prompt(
        db,
        project,
        text="chat",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say **hi**"},
        ],
    )
    make_pair(
        db,
        project,
        prompt=prompt,
        text_a="<script>alert(1)</script> **bold**",
        text_b="[x](javascript:alert(1)) plain",
    )
    project.guidelines = "# Prefer *honest* answers"
    db.commit()
    logged_in("evaluator")
    page = client.get("/label")
    assert page.status_code == 200
    html = page.text
    assert 'class="role">system' in html and "<strong>hi</strong>" in html
    assert "<strong>bold</strong>" in html
    assert "<script>alert" not in html and 'href="javascript' not in html
    assert "<em>honest</em>" in html
    assert 'src="/static/labeling.js"' in html and "style=" not in html
    for flag in project.flags:
        assert f'value="{flag}"' in html


def test_htmx_submit_swaps_in_the_next_pair(client, db, project, logged_in) -> None:
    make_pair(db, project, text_a="first a", text_b="first b")
    make_pair(db, project, text_a="second a", text_b="second b")
    db.commit()
    _, csrf = logged_in("evaluator")
    html = client.get("/label").text
    aid = _field(html, "assignment_id")
    form = {
        "csrf_token": csrf,
        "assignment_id": aid,
        "choice": "left",
        "strength": "slight",
        "idempotency_key": _field(html, "idempotency_key"),
        "decision_ms": "2500",
        "flags": ["unsafe"],
    }
    r = client.post("/label/submit", data=form, headers=HX)
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="labeling"')  # the fragment alone
    assert "Saved." in r.text and "second a" in r.text
    # A double-click (same form again) stores nothing more.
    again = client.post("/label/submit", data=form, headers=HX)
    assert again.status_code == 200
    assert db.scalar(select(func.count()).select_from(Comparison)) == 1
    stored = db.scalar(select(Comparison))
    assert (stored.client_decision_ms, stored.flags, stored.strength) == (
        2500,
        ["unsafe"],
        "slight",
    )
    assert stored.decision_ms is not None and stored.decision_ms >= 0  # the server's own


def test_plain_post_redirects_so_reload_cannot_resubmit(client, db, project, logged_in) -> None:
    make_pair(db, project)
    db.commit()
    _, csrf = logged_in("evaluator")
    aid = _field(client.get("/label").text, "assignment_id")
    r = client.post(
        "/label/submit",
        data={"csrf_token": csrf, "assignment_id": aid, "choice": "tie"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/label?project=")


def test_page_validation_errors_keep_the_pair(client, db, project, logged_in) -> None:
    make_pair(db, project)
    db.commit()
    _, csrf = logged_in("evaluator")
    aid = _field(client.get("/label").text, "assignment_id")
    r = client.post(
        "/label/submit",
        data={
            "csrf_token": csrf,
            "assignment_id": aid,
            "choice": "tie",
            "strength": "much",
            "rationale": "keep me",
        },
        headers=HX,
    )
    assert r.status_code == 200
    assert "strength" in r.text and "applies only" in r.text
    assert f'value="{aid}"' in r.text and "keep me" in r.text
    missing = client.post("/label/submit", data={"csrf_token": csrf, "assignment_id": aid})
    assert missing.status_code == 422 and "pick A better" in missing.text
    assert db.scalar(select(func.count()).select_from(Comparison)) == 0


def test_skip_from_the_page(client, db, project, logged_in) -> None:
    make_pair(db, project, text_a="only pair")
    db.commit()
    _, csrf = logged_in("evaluator")
    aid = _field(client.get("/label").text, "assignment_id")
    r = client.post(
        "/label/skip",
        data={
            "csrf_token": csrf,
            "assignment_id": aid,
            "reason": "The prompt is unclear or broken",
        },
        headers=HX,
    )
    assert r.status_code == 200 and "Skipped." in r.text
    assert "Nothing to label right now" in r.text
    assert db.get(Assignment, int(aid)).status == "skipped"


def test_empty_queue_polls(client, db, project, logged_in) -> None:
    logged_in("evaluator")
    html = client.get("/label").text
    assert "Nothing to label right now" in html
    assert 'hx-trigger="every 5s"' in html and f'hx-get="/label?project={project.id}"' in html
    fragment = client.get(f"/label?project={project.id}", headers=HX)
    assert fragment.text.lstrip().startswith('<div id="labeling"')


def test_project_selector_lists_member_projects_only(client, db, project, logged_in) -> None:
    mine = make_project(db, name="code assistant")
    hidden = make_project(db, name="secret project")
    make_pair(db, mine, text_a="code answer")
    db.commit()
    user, _ = logged_in("evaluator")
    add_member(db, mine, user)
    db.commit()
    html = client.get(f"/label?project={mine.id}").text
    assert 'id="project-select"' in html and "code assistant" in html
    assert "secret project" not in html and "code answer" in html
    assert client.get(f"/label?project={hidden.id}").status_code == 404


def _counters(html: str) -> str:
    match = re.search(r'<p class="counters muted" id="counters">(.*?)</p>', html, re.S)
    assert match
    return re.sub(r"\s+", " ", match.group(1))


def _submit(client, csrf: str, html: str, choice: str) -> str:
    form = {
        "csrf_token": csrf,
        "assignment_id": _field(html, "assignment_id"),
        "choice": choice,
        "idempotency_key": _field(html, "idempotency_key"),
    }
    r = client.post("/label/submit", data=form, headers=HX)
    assert r.status_code == 200 and "Saved." in r.text
    return r.text


def _side_of(html: str, marker: str) -> str:
    """The screen side ("left"/"right") whose response shows `marker`."""
    left = html.split('id="response-left"')[1].split("</div>")[0]
    return "left" if marker in left else "right"


def test_gold_counter_does_not_change_on_the_label_that_answered_a_gold_pair(
    client, db, project, logged_in
) -> None:
    user, csrf = logged_in("evaluator")
    for n in (1, 2):
        make_pair(
            db, project, kind="gold", gold_choice="a", text_a=f"g{n} is-a", text_b=f"g{n} is-b"
        )
    make_pair(db, project, text_a="live a", text_b="live b")
    project.gold_rate = 1.0
    db.commit()
    html = client.get("/label").text
    assert "is-a" in html and "gold accuracy" not in _counters(html)
    # Answer the first gold pair correctly; today's gold answers are not counted.
    html = _submit(client, csrf, html, _side_of(html, "is-a"))
    assert "gold accuracy" not in _counters(html)
    # A day later that answer shows, in aggregate.
    for comparison in db.scalars(select(Comparison).where(Comparison.user_id == user.id)):
        comparison.created_at = utcnow() - timedelta(days=1)
    db.commit()
    html = client.get("/label").text
    assert "is-a" in html  # the second gold pair is up
    assert 'id="gold-accuracy">100%</strong> (1/1)' in _counters(html)
    # Answering it wrongly changes nothing the evaluator sees about gold pairs.
    after = _counters(_submit(client, csrf, html, _side_of(html, "is-b")))
    assert 'id="gold-accuracy">100%</strong> (1/1)' in after
    assert 'id="count-total">2<' in after


def test_a_response_cut_off_by_the_token_limit_is_marked(client, db, project, logged_in) -> None:
    pair = make_pair(db, project, text_a="This is because of", text_b="A whole answer.")
    db.get(Completion, pair.completion_a_id).finish_reason = "length"
    db.get(Completion, pair.completion_b_id).finish_reason = "stop"
    db.commit()
    logged_in("evaluator")
    html = client.get("/label").text
    side = _side_of(html, "This is because of")
    other = "right" if side == "left" else "left"
    assert f'id="cut-off-{side}"' in html and f'id="cut-off-{other}"' not in html
    section = html.split(f'id="response-{side}"')[1].split("</section>")[0]
    assert "Cut off" in section
