"""Holding prompts out for evaluation: at import (a field, or the project's share), in bulk
on the prompt list, through the API, and the project setting itself."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.domain.project_settings import settings_of, update_settings
from app.models import Pair, Project, Prompt
from app.projects.manage import ProjectFields, create_project
from app.prompts.importer import parse_bytes
from app.prompts.service import held_out_by_share, import_prompts
from tests import factories as f

LIMIT = 500


def _jsonl(*objs: object) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


def _held(db, project: Project) -> dict[str, bool]:
    rows = db.execute(select(Prompt.text, Prompt.held_out).where(Prompt.project_id == project.id))
    return dict(rows.all())


def test_held_out_field_in_jsonl_and_csv(db, project) -> None:
    data = _jsonl(
        {"prompt": "eval one", "held_out": True},
        {"prompt": "train one", "held_out": False},
        {"prompt": "not said"},
    )
    summary = import_prompts(
        db, project, parse_bytes("p.jsonl", data, LIMIT), skip_bad=False, actor_id=None
    )
    assert summary.added == 3 and summary.held_out == 1
    csv = b"prompt,held_out\ncsv yes,yes\ncsv TRUE,TRUE\ncsv 1,1\ncsv no,no\ncsv empty,\n"
    summary = import_prompts(
        db, project, parse_bytes("p.csv", csv, LIMIT), skip_bad=False, actor_id=None
    )
    assert summary.held_out == 3
    assert _held(db, project) == {
        "eval one": True,
        "train one": False,
        "not said": False,
        "csv yes": True,
        "csv TRUE": True,
        "csv 1": True,
        "csv no": False,
        "csv empty": False,
    }


@pytest.mark.parametrize("value", ["maybe", 2, [True]])
def test_a_bad_held_out_value_names_the_line_and_imports_nothing(db, project, value) -> None:
    data = _jsonl({"prompt": "fine"}, {"prompt": "bad", "held_out": value})
    parsed = parse_bytes("p.jsonl", data, LIMIT)
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, f"`held_out` must be true or false, not {str(value)!r}")
    ]
    summary = import_prompts(db, project, parsed, skip_bad=False, actor_id=None)
    assert not summary.imported and db.scalar(select(func.count()).select_from(Prompt)) == 0


def test_the_projects_share_holds_out_new_prompts_and_a_field_wins(db, project, make_user) -> None:
    update_settings(project, held_out_share=0.25)
    texts = [f"Everyday question number {i}?" for i in range(400)]
    records = [{"prompt": t} for t in texts] + [
        {"prompt": "always trained", "held_out": False},
        {"prompt": "always measured", "held_out": True},
    ]
    summary = import_prompts(
        db, project, parse_bytes("p.jsonl", _jsonl(*records), LIMIT), skip_bad=False, actor_id=None
    )
    held = _held(db, project)
    share = sum(held[t] for t in texts) / len(texts)
    assert 0.18 < share < 0.32, share
    assert held["always trained"] is False and held["always measured"] is True
    assert summary.held_out == sum(held.values())
    # The same prompt gets the same answer in any file, order or project.
    other = create_project(db, ProjectFields(name="other"), make_user("admin"))
    update_settings(other, held_out_share=0.25)
    again = [{"prompt": t} for t in reversed(texts[:50])]
    import_prompts(
        db, other, parse_bytes("q.jsonl", _jsonl(*again), LIMIT), skip_bad=False, actor_id=None
    )
    assert {t: v for t, v in _held(db, other).items()} == {t: held[t] for t in texts[:50]}
    # Share 0 (the default) holds nothing out.
    assert not any(held_out_by_share(f"{i:064x}", 0.0) for i in range(0, 2**32, 2**28))


def test_bulk_hold_out_and_return_on_the_prompt_list(client, logged_in, db, project) -> None:
    _, csrf = logged_in("admin")
    a, b, c = (f.make_prompt(db, project, f"bulk {n}") for n in "abc")
    open_a = f.make_pair(db, project, prompt=a)
    open_c = f.make_pair(db, project, prompt=c)
    db.commit()
    page = client.get(f"/admin/prompts?project={project.id}").text
    assert 'form="bulk-held-out"' in page and f'value="{a.id}"' in page
    r = client.post(
        "/admin/prompts/held-out",
        data={
            "csrf_token": csrf,
            "project": project.id,
            "held_out": "true",
            "prompt_ids": [a.id, b.id],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    assert (a.held_out, b.held_out, c.held_out) == (True, True, False)
    assert db.get(Pair, open_a.id).status == "retired" and db.get(Pair, open_c.id).status == "open"
    listed = client.get(f"/admin/prompts?project={project.id}&held_out=1").text
    assert "bulk a" in listed and "bulk b" in listed and "bulk c" not in listed
    assert 'class="badge held-out"' in listed
    # Nothing ticked, or an id from elsewhere: a clear error and nothing changes.
    for ids in ([], [b.id, 999_999]):
        r = client.post(
            "/admin/prompts/held-out",
            data={
                "csrf_token": csrf,
                "project": project.id,
                "held_out": "false",
                "prompt_ids": ids,
            },
        )
        assert r.status_code == 422
        assert ("Select at least one" if not ids else "No prompt #999999") in r.text
    db.expire_all()
    assert b.held_out is True
    r = client.post(
        "/admin/prompts/held-out",
        data={"csrf_token": csrf, "project": project.id, "held_out": "false", "prompt_ids": [b.id]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    assert b.held_out is False


def test_only_admins_hold_prompts_out_and_only_with_the_csrf_token(
    client, logged_in, db, project
) -> None:
    p = f.make_prompt(db, project, "guarded")
    db.commit()
    _, csrf = logged_in("evaluator", "ml")
    form = {"csrf_token": csrf, "project": project.id, "held_out": "true", "prompt_ids": [p.id]}
    assert client.post("/admin/prompts/held-out", data=form).status_code == 403
    body = {"prompt_ids": [p.id], "held_out": True}
    assert (
        client.post(
            "/api/v1/prompts/held-out", json=body, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 403
    )
    _, csrf = logged_in("admin")
    form["csrf_token"] = "wrong"
    assert client.post("/admin/prompts/held-out", data=form).status_code == 403
    db.expire_all()
    assert p.held_out is False


def test_hold_out_through_the_api(client, logged_in, db, project) -> None:
    _, csrf = logged_in("admin")
    h = {"X-CSRF-Token": csrf}
    p, q = f.make_prompt(db, project, "api one"), f.make_prompt(db, project, "api two")
    f.make_pair(db, project, prompt=p)
    db.commit()
    r = client.post(
        "/api/v1/prompts/held-out", json={"prompt_ids": [p.id], "held_out": True}, headers=h
    )
    assert r.status_code == 200 and r.json() == {"changed": 1, "retired_pairs": 1}
    items = client.get(f"/api/v1/prompts?project={project.id}&held_out=true").json()["items"]
    assert [(x["id"], x["held_out"]) for x in items] == [(p.id, True)]
    r = client.patch(f"/api/v1/prompts/{q.id}", json={"held_out": True}, headers=h)
    assert r.status_code == 200 and r.json()["held_out"] is True
    r = client.post(
        "/api/v1/prompts/held-out", json={"prompt_ids": [424242], "held_out": True}, headers=h
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "prompt_ids"
    r = client.post(
        "/api/v1/prompts/held-out", json={"prompt_ids": [], "held_out": True}, headers=h
    )
    assert r.status_code == 422
    upload = client.post(
        "/api/v1/prompts/import",
        headers=h,
        files={
            "file": (
                "p.jsonl",
                _jsonl({"prompt": "uploaded", "held_out": True}),
                "application/octet-stream",
            )
        },
    )
    assert upload.status_code == 200 and upload.json()["held_out"] == 1


def test_held_out_share_is_a_project_setting_on_the_page_and_the_api(
    client, logged_in, db, project
) -> None:
    _, csrf = logged_in("admin")
    form = {"csrf_token": csrf, "name": project.name, "overlap": "1", "held_out_share": "0.1"}
    r = client.post(f"/admin/projects/{project.id}", data=form, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert settings_of(db.get(Project, project.id)).held_out_share == 0.1
    page = client.get(f"/admin/projects/{project.id}").text
    assert 'name="held_out_share" id="held-out-share" value="0.1"' in page
    assert 'id="held-out-share">10 %<' in client.get(f"/admin/prompts?project={project.id}").text
    bad = client.post(f"/admin/projects/{project.id}", data={**form, "held_out_share": "0.9"})
    assert bad.status_code == 422 and "Held-out share must be between 0 and 0.5" in bad.text
    h = {"X-CSRF-Token": csrf}
    body = {"name": project.name, "held_out_share": 0.2}
    r = client.put(f"/api/v1/projects/{project.id}", json=body, headers=h)
    assert r.status_code == 200 and r.json()["held_out_share"] == 0.2
    r = client.put(f"/api/v1/projects/{project.id}", json={"name": project.name}, headers=h)
    assert r.json()["held_out_share"] == 0.2  # left out: unchanged
    r = client.put(
        f"/api/v1/projects/{project.id}", json={**body, "held_out_share": -0.1}, headers=h
    )
    assert r.status_code == 422


def test_ranking_size_is_set_on_the_project_page_and_the_api(
    client, logged_in, db, project
) -> None:
    _, csrf = logged_in("admin")
    form = {"csrf_token": csrf, "name": project.name, "overlap": "1", "ranking_k": "4"}
    r = client.post(f"/admin/projects/{project.id}", data=form, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert settings_of(db.get(Project, project.id)).ranking_k == 4
    assert (
        '<option value="4" selected>rankings of 4 answers'
        in client.get(f"/admin/projects/{project.id}").text
    )
    bad = client.post(f"/admin/projects/{project.id}", data={**form, "ranking_k": "2"})
    assert bad.status_code == 422 and "ranking_k" in bad.text
    db.expire_all()
    assert settings_of(db.get(Project, project.id)).ranking_k == 4  # unchanged
    h = {"X-CSRF-Token": csrf}
    r = client.put(f"/api/v1/projects/{project.id}", json={"name": project.name}, headers=h)
    assert r.status_code == 200 and r.json()["ranking_k"] == 4  # left out: unchanged
    body = {"name": project.name, "ranking_k": 0}
    r = client.put(f"/api/v1/projects/{project.id}", json=body, headers=h)
    assert r.status_code == 200 and r.json()["ranking_k"] is None  # back to pairs


def test_rankings_by_prompt_tag_are_set_on_the_project_page_and_the_api(
    client, logged_in, db, project
) -> None:
    _, csrf = logged_in("admin")
    form = {
        "csrf_token": csrf,
        "name": project.name,
        "overlap": "1",
        "ranking_by_tag": "creative = 4\ncode = 3\n",
    }
    r = client.post(f"/admin/projects/{project.id}", data=form, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    stored = settings_of(db.get(Project, project.id))
    assert stored.ranking_by_tag == {"creative": 4, "code": 3}
    assert stored.answers_per_task(["code", "creative"]) == 4
    assert stored.answers_per_task(["other"]) == 2
    assert "creative = 4" in client.get(f"/admin/projects/{project.id}").text
    bad = client.post(f"/admin/projects/{project.id}", data={**form, "ranking_by_tag": "x = 9"})
    assert bad.status_code == 422 and "Rankings by tag, line 1" in bad.text
    h = {"X-CSRF-Token": csrf}
    r = client.put(f"/api/v1/projects/{project.id}", json={"name": project.name}, headers=h)
    assert r.status_code == 200 and r.json()["ranking_by_tag"] == {"creative": 4, "code": 3}
    body = {"name": project.name, "ranking_by_tag": {"math": 6}}
    r = client.put(f"/api/v1/projects/{project.id}", json=body, headers=h)
    assert r.status_code == 200 and r.json()["ranking_by_tag"] == {"math": 6}
    body = {"name": project.name, "ranking_by_tag": {"math": 2}}
    r = client.put(f"/api/v1/projects/{project.id}", json=body, headers=h)
    assert r.status_code == 422
