"""Prompt list: keyset pages, text and tag search, filters, per-page counts; edit; deactivate."""

from __future__ import annotations

from sqlalchemy import select

from app.models import Comparison, Pair
from app.prompts.service import PromptFilter, list_prompts
from tests import factories as f


def test_pages_search_filters_and_counts(db, project, make_user) -> None:
    user = make_user("evaluator")
    made = [
        f.make_prompt(
            db,
            project,
            f"Question {i} about {'sorting' if i % 3 == 0 else 'cats'} 50%_off",
            tags=["code"] if i % 2 else ["chat", "codes"],
            priority=i % 4,
        )
        for i in range(25)
    ]
    made[3].active = False
    labelled = f.make_pair(db, project, prompt=made[-1])
    f.compare(db, labelled, user, "a")
    f.make_pair(db, project, prompt=made[-1])

    first = list_prompts(db, project.id, PromptFilter(), before=None, limit=10)
    assert [r.prompt.id for r in first.rows] == [p.id for p in reversed(made)][:10]
    assert (first.rows[0].pairs, first.rows[0].labels) == (2, 1)
    assert (first.rows[1].pairs, first.rows[1].labels) == (0, 0)
    seen = [r.prompt.id for r in first.rows]
    cursor = first.next_before
    while cursor is not None:
        page = list_prompts(db, project.id, PromptFilter(), before=cursor, limit=10)
        seen += [r.prompt.id for r in page.rows]
        cursor = page.next_before
    assert sorted(seen) == sorted(p.id for p in made) and len(seen) == 25

    def ids(**kw) -> set[int]:
        return {
            r.prompt.id
            for r in list_prompts(db, project.id, PromptFilter(**kw), before=None, limit=200).rows
        }

    assert ids(q="SORTING") == {p.id for i, p in enumerate(made) if i % 3 == 0}
    assert ids(q="50%_") == {p.id for p in made}  # LIKE wildcards are matched literally
    assert ids(q="5_%") == set()
    assert ids(tag="code") == {p.id for i, p in enumerate(made) if i % 2}  # not "codes"
    assert ids(active=False) == {made[3].id}
    assert ids(priority_min=3) == {p.id for i, p in enumerate(made) if i % 4 == 3}


def test_edit_and_deactivate_through_pages_and_api(
    client, logged_in, db, project, make_user
) -> None:
    _, csrf = logged_in("admin")
    worker = make_user("evaluator")
    p = f.make_prompt(db, project, "to retire")
    done = f.make_pair(db, project, prompt=p, status="complete")
    f.compare(db, done, worker, "b")
    open_pair = f.make_pair(db, project, prompt=p)
    other = f.make_pair(db, project)
    db.commit()
    r = client.post(
        f"/admin/prompts/{p.id}",
        data={"csrf_token": csrf, "tags": "a, b, a", "priority": "7"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(f"/api/v1/prompts/{p.id}/deactivate", headers={"X-CSRF-Token": csrf})
    assert r.json() == {"retired_pairs": 1}
    db.expire_all()
    assert p.tags == ["a", "b"] and p.priority == 7 and p.active is False
    assert db.get(Pair, open_pair.id).status == "retired"
    assert db.get(Pair, done.id).status == "complete" and db.get(Pair, other.id).status == "open"
    assert db.scalar(select(Comparison).where(Comparison.pair_id == done.id)) is not None
    page = client.get(f"/admin/prompts?project={project.id}&active=0")
    assert "to retire" in page.text and "Activate" in page.text
    r = client.get(f"/api/v1/prompts?project={project.id}&tag=a")
    assert [x["id"] for x in r.json()["items"]] == [p.id]
    r = client.patch(
        f"/api/v1/prompts/{p.id}", json={"tags": ["x" * 60]}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 422
    r = client.patch(
        f"/api/v1/prompts/{p.id}", json={"priority": 1}, headers={"X-CSRF-Token": csrf}
    )
    assert r.json()["priority"] == 1 and (r.json()["pairs"], r.json()["labels"]) == (2, 1)
