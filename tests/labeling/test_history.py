"""An evaluator's own history: change a label within the project's window, undo the last one.

A change stores a new comparison superseding the old one; the trainer's preference rows, the
TRL export and the run snapshot then see only the latest judgement.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from app.domain.preferences import Selection, preference_rows
from app.domain.project_settings import update_settings
from app.export.service import ExportOptions, iter_lines
from app.models import AuditEvent, Comparison, Pair, utcnow
from tests.factories import compare, make_pair, make_prompt
from trainer.data import snapshot


def _headers(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


def _history(client, csrf) -> list[dict]:
    r = client.get("/api/v1/me/comparisons", headers=_headers(csrf))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _change(client, csrf, comparison_id: int, **body):
    return client.post(
        f"/api/v1/me/comparisons/{comparison_id}/change", json=body, headers=_headers(csrf)
    )


def _undo(client, csrf):
    return client.post("/api/v1/me/comparisons/undo", headers=_headers(csrf))


def _trl_chosen(db, project) -> list[str]:
    text = "".join(iter_lines(db, project, ExportOptions(kind="trl"), "s" * 40))
    return [json.loads(line)["chosen"] for line in text.splitlines()]


def test_a_change_within_the_window_supersedes_and_training_sees_only_the_latest(
    client, db, project, logged_in
) -> None:
    user, csrf = logged_in("evaluator")
    pair = make_pair(db, project, text_a="the first answer", text_b="the second answer")
    old = compare(db, pair, user, "a", left="a")
    db.commit()
    [item] = _history(client, csrf)
    assert item["id"] == old.id and item["choice"] == "left" and item["stored_choice"] == "a"
    assert item["changeable_until"] is not None and item["prompt"]

    r = _change(client, csrf, old.id, choice="right", strength="much", rationale=" B is right ")
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["stored_choice"] == "b" and new["supersedes_id"] == old.id
    assert new["strength"] == "much" and new["rationale"] == "B is right"

    db.expire_all()
    assert db.get(Comparison, old.id).superseded_at is not None  # kept, never edited away
    assert db.get(Comparison, old.id).choice == "a"
    assert db.get(Pair, pair.id).labels_received == 1  # still one label on the pair
    assert [i["id"] for i in _history(client, csrf)] == [new["id"]]
    rows = list(preference_rows(db, project, Selection()))
    assert [(r.chosen, r.rejected) for r in rows] == [("the second answer", "the first answer")]
    assert _trl_chosen(db, project) == ["the second answer"]
    snap = snapshot(db, project.id, new["id"], min_comparisons=1)
    assert [r.chosen for r in snap.rows] == ["the second answer"]
    assert db.scalar(
        select(func.count()).where(
            AuditEvent.action == "comparison.changed", AuditEvent.target == f"comparison:{old.id}"
        )
    )


def test_a_superseded_label_cannot_be_changed_again(client, db, project, logged_in) -> None:
    user, csrf = logged_in("evaluator")
    old = compare(db, make_pair(db, project), user, "a")
    db.commit()
    assert _change(client, csrf, old.id, choice="tie").status_code == 201
    again = _change(client, csrf, old.id, choice="right")
    assert again.status_code == 409
    assert "already changed" in again.json()["detail"]


def test_after_the_window_a_label_is_final(client, db, project, logged_in) -> None:
    user, csrf = logged_in("evaluator")
    old = compare(db, make_pair(db, project), user, "a", at=utcnow() - timedelta(minutes=11))
    db.commit()
    [item] = _history(client, csrf)
    assert item["changeable_until"] is None
    r = _change(client, csrf, old.id, choice="right")
    assert r.status_code == 409 and "10 minutes" in r.json()["detail"]
    assert _undo(client, csrf).status_code == 409
    db.expire_all()
    assert db.get(Comparison, old.id).superseded_at is None
    assert db.scalar(select(func.count()).select_from(Comparison)) == 1


def test_a_project_without_a_window_keeps_labels_final(client, db, project, logged_in) -> None:
    user, csrf = logged_in("evaluator")
    update_settings(project, label_change_window_minutes=0)
    old = compare(db, make_pair(db, project), user, "a")
    db.commit()
    r = _change(client, csrf, old.id, choice="right")
    assert r.status_code == 409 and "final" in r.json()["detail"]


def test_someone_elses_label_is_not_theirs_to_change(
    client, db, project, logged_in, make_user
) -> None:
    other = make_user("evaluator")
    theirs = compare(db, make_pair(db, project), other, "a")
    db.commit()
    _, csrf = logged_in("evaluator")
    assert _history(client, csrf) == []
    assert _change(client, csrf, theirs.id, choice="right").status_code == 404
    assert _undo(client, csrf).status_code == 404
    db.expire_all()
    assert db.get(Comparison, theirs.id).superseded_at is None


def test_a_bad_change_is_refused_and_changes_nothing(client, db, project, logged_in) -> None:
    user, csrf = logged_in("evaluator")
    old = compare(db, make_pair(db, project), user, "a")
    db.commit()
    assert _change(client, csrf, old.id, choice="tie", strength="much").status_code == 422
    assert _change(client, csrf, old.id, choice="left", flags=["no such flag"]).status_code == 422
    db.expire_all()
    assert db.get(Comparison, old.id).superseded_at is None


def test_undo_gives_the_same_pair_back_and_it_can_be_labelled_again(
    client, db, project, logged_in
) -> None:
    _, csrf = logged_in("evaluator")
    first, _second = make_pair(db, project), make_pair(db, project)
    db.commit()
    leased = client.get("/api/v1/pairs/next", headers=_headers(csrf)).json()["pair"]
    assert leased["pair_id"] == first.id
    body = {"assignment_id": leased["assignment_id"], "choice": "left", "strength": "clear"}
    saved = client.post("/api/v1/comparisons?next=true", json=body, headers=_headers(csrf))
    assert saved.status_code == 201 and saved.json()["next"]["pair"]["pair_id"] != first.id
    db.expire_all()
    assert db.get(Pair, first.id).status == "complete"

    r = _undo(client, csrf)
    assert r.status_code == 200, r.text
    assert r.json()["undone"] == saved.json()["id"]
    back = r.json()["pair"]
    assert back["pair_id"] == first.id and back["left"] == leased["left"]
    again = client.get("/api/v1/pairs/next", headers=_headers(csrf)).json()["pair"]
    assert again["assignment_id"] == leased["assignment_id"]
    db.expire_all()
    pair = db.get(Pair, first.id)
    assert (pair.status, pair.labels_received) == ("open", 0)
    assert _history(client, csrf) == []
    assert db.scalar(select(func.count()).where(AuditEvent.action == "comparison.undone")) == 1

    relabel = client.post(
        "/api/v1/comparisons", json={**body, "choice": "right"}, headers=_headers(csrf)
    )
    assert relabel.status_code == 201 and relabel.json()["replayed"] is False
    assert [i["choice"] for i in _history(client, csrf)] == ["right"]
    db.expire_all()
    assert db.get(Pair, first.id).labels_received == 1


def test_undo_with_no_label_says_so(client, db, project, logged_in) -> None:
    _, csrf = logged_in("evaluator")
    r = _undo(client, csrf)
    assert r.status_code == 404 and "no label to undo" in r.json()["detail"]


def test_history_pages_by_keyset(client, db, project, logged_in) -> None:
    user, csrf = logged_in("evaluator")
    made = [compare(db, make_pair(db, project), user, "a").id for _ in range(3)]
    db.commit()
    page = client.get("/api/v1/me/comparisons?limit=2", headers=_headers(csrf)).json()
    assert [i["id"] for i in page["items"]] == made[::-1][:2]
    rest = client.get(
        f"/api/v1/me/comparisons?limit=2&before={page['next_before']}", headers=_headers(csrf)
    ).json()
    assert [i["id"] for i in rest["items"]] == [made[0]] and rest["next_before"] is None


def test_the_window_is_a_project_setting(client, db, project, logged_in) -> None:
    _, csrf = logged_in("admin")
    [shown] = client.get("/api/v1/projects", headers=_headers(csrf)).json()
    assert shown["label_change_window_minutes"] == 10
    url = f"/api/v1/projects/{project.id}"
    bad = client.put(
        url, json={"name": project.name, "label_change_window_minutes": -1}, headers=_headers(csrf)
    )
    assert bad.status_code == 422
    ok = client.put(
        url, json={"name": project.name, "label_change_window_minutes": 30}, headers=_headers(csrf)
    )
    assert ok.status_code == 200 and ok.json()["label_change_window_minutes"] == 30
    page = client.get(f"/admin/projects/{project.id}")
    assert 'id="label-change-window" value="30"' in page.text


def test_the_history_page_changes_a_label_and_the_labelling_page_undoes_one(
    client, db, project, logged_in
) -> None:
    user, csrf = logged_in("evaluator")
    pair = make_pair(db, project, prompt=make_prompt(db, project, "Which <b>one</b> is best?"))
    old = compare(db, pair, user, "a", left="a")
    db.commit()
    page = client.get(f"/label/history?project={project.id}")
    assert page.status_code == 200
    assert "Which &lt;b&gt;one&lt;/b&gt; is best?" in page.text and "A is better" in page.text
    r = client.post(
        f"/label/history/{old.id}/change",
        data={"csrf_token": csrf, "choice": "tie"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/label/history?project={project.id}")
    assert "Tie" in page.text and "changed" in page.text
    refused = client.post(
        f"/label/history/{old.id}/change", data={"csrf_token": csrf, "choice": "right"}
    )
    assert refused.status_code == 409 and "already changed" in refused.text

    assert 'id="undo-last"' in client.get(f"/label?project={project.id}").text
    no_token = client.post("/label/undo", data={"project": project.id})
    assert no_token.status_code == 403
    undone = client.post(
        "/label/undo",
        data={"csrf_token": csrf, "project": project.id},
        headers={"HX-Request": "true"},
    )
    assert undone.status_code == 200 and "withdrawn" in undone.text
    assert 'id="undo-last"' not in undone.text  # nothing left to undo
