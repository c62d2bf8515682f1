"""Agreement against hand-computed values, gold pairs, exclusions; projects and guidelines."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.annotators.stats import annotator_stats
from app.domain import versions
from app.models import GuidelineVersion, Pair, PolicyVersion, Project
from app.projects import manage
from app.quality import service
from app.quality.agreement import cohen_kappa, krippendorff_alpha, project_agreement
from tests import factories as f

R1 = ["a", "a", "b", "b", "a"]
R2 = ["a", "b", "b", "b", "a"]


def test_kappa_and_alpha_match_hand_computation() -> None:
    # po = 4/5; pe = .6*.4 + .4*.6 = .48; kappa = (.8 - .48) / .52
    assert cohen_kappa(R1, R2) == pytest.approx(0.32 / 0.52)
    # Coincidences: o_aa = o_bb = 4, o_ab = o_ba = 1; n = 10; Do = 2/10; De = 2*5*5/(10*9)
    units = [{1: x, 2: y} for x, y in zip(R1, R2, strict=True)]
    assert krippendorff_alpha(units) == pytest.approx(1 - 0.2 / (50 / 90))
    assert krippendorff_alpha([{1: "a", 2: "a"}]) is None


def test_project_agreement_from_labels(db, project, make_user) -> None:
    u1, u2 = make_user("evaluator"), make_user("evaluator")
    for x, y in zip(R1, R2, strict=True):
        pr = f.make_pair(db, project, labels_required=2)
        f.compare(db, pr, u1, x)
        f.compare(db, pr, u2, y)
    f.compare(db, f.make_pair(db, project), u1, "a")  # not overlapped
    a = project_agreement(db, project.id)
    assert a.overlapped_pairs == 5 and a.annotators == 2
    assert a.pairwise_agreement == pytest.approx(0.8)
    assert a.kappas[0].shared == 5 and a.kappas[0].kappa == pytest.approx(0.32 / 0.52)
    assert a.alpha == pytest.approx(0.64)


def test_gold_mark_import_and_accuracy(db, project, make_user, settings) -> None:
    admin, user = make_user("admin"), make_user("evaluator")
    live = f.make_pair(db, project)
    service.mark_gold(db, live, "b", admin.id)
    assert live.kind == "gold" and live.gold_choice == "b"
    with pytest.raises(service.QualityError):
        service.mark_gold(db, live, "left", admin.id)

    assert (
        db.scalar(select(PolicyVersion).where(PolicyVersion.project_id == project.id)) is not None
    )
    lines = [
        {"prompt": "2+2?", "response_a": "4", "response_b": "5", "answer": "a"},
        {
            "messages": [{"role": "user", "content": "hi"}],
            "response_a": "yo",
            "response_b": "hello",
            "answer": "b",
        },
        {"prompt": "same", "response_a": "x", "response_b": "x", "answer": "a"},
        {"prompt": "q", "response_a": "x", "response_b": "y", "answer": "maybe"},
    ]
    data = "\n".join(json.dumps(x) for x in lines).encode()
    bad = service.import_gold(db, project, data, 1000, admin.id)
    assert [(p.line, p.reason.split(" ")[0]) for p in bad.problems] == [
        (3, "`response_a`"),
        (4, "`answer`"),
    ]
    good = service.import_gold(
        db, project, "\n".join(json.dumps(x) for x in lines[:2]).encode(), 1000, admin.id
    )
    assert good.added == 2 and not good.problems
    gold = db.scalars(select(Pair).where(Pair.project_id == project.id, Pair.kind == "gold")).all()
    assert sorted(p.gold_choice for p in gold) == ["a", "b", "b"]
    for p, choice in zip(gold, ["b", "a", "a"], strict=True):
        f.compare(db, p, user, choice)
    s = annotator_stats(db, project.id, user.id, settings)
    expected = sum(c == p.gold_choice for p, c in zip(gold, ["b", "a", "a"], strict=True))
    assert s.gold_total == 3 and s.gold_accuracy == pytest.approx(expected / 3)


def test_version_zero_created_only_when_none(db, settings, make_user) -> None:
    admin = make_user("admin")
    empty = manage.create_project(db, manage.ProjectFields(name="fresh"), admin)
    v0 = versions.current_or_zero(db, empty)
    assert v0.number == 0 and v0.checkpoint_uri == f"projects/{empty.id}/policy/v0"
    assert versions.current_or_zero(db, empty).id == v0.id


def test_exclusion_and_overlap_by_tag(client, logged_in, db, project, make_user) -> None:
    admin, csrf = logged_in("admin")
    worker = make_user("evaluator")
    r = client.put(
        f"/api/v1/quality/exclusions?project={project.id}",
        json={"user_id": worker.id, "excluded": True},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.json() == {"excluded_annotators": [worker.id]}
    r = client.post(
        f"/admin/projects/{project.id}",
        data={
            "csrf_token": csrf,
            "name": project.name,
            "overlap": "2",
            "gold_rate": "0.1",
            "flags": "unsafe, rude",
            "overlap_by_tag": "code = 3\nmath=2",
            "base_policy_model": "tiny",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    p = db.get(Project, project.id)
    assert p.settings["overlap_by_tag"] == {"code": 3, "math": 2}
    assert (
        p.settings["excluded_annotators"] == [worker.id]
        and p.overlap == 2
        and p.flags == ["unsafe", "rude"]
    )
    r = client.post(
        f"/admin/projects/{project.id}",
        data={"csrf_token": csrf, "name": project.name, "overlap_by_tag": "code: three"},
    )
    assert r.status_code == 422 and "line 1" in r.text


def test_guidelines_versioned_and_visible_to_members(
    client, logged_in, db, project, make_user
) -> None:
    admin, csrf = logged_in("admin")
    before = project.guidelines_version
    client.post(
        f"/admin/projects/{project.id}/guidelines",
        data={"csrf_token": csrf, "guidelines": "# Rules\nBe **fair**."},
    )
    client.post(
        f"/admin/projects/{project.id}/guidelines",
        data={"csrf_token": csrf, "guidelines": "# Rules\nBe **fair**."},
    )
    client.post(
        f"/admin/projects/{project.id}/guidelines",
        data={"csrf_token": csrf, "guidelines": "<script>x</script>v3"},
    )
    db.expire_all()
    assert db.get(Project, project.id).guidelines_version == before + 2
    versions = db.scalars(
        select(GuidelineVersion.version).where(GuidelineVersion.project_id == project.id)
    ).all()
    assert sorted(versions) == [before, before + 1, before + 2]
    client.cookies.clear()
    from tests.conftest import login

    evaluator = make_user("evaluator")
    login(client, evaluator.username)
    page = client.get("/guidelines")
    assert page.status_code == 200 and f"version {before + 2}" in page.text
    assert "<script>x</script>" not in page.text
    outsider = make_user("evaluator", member=False)
    client.cookies.clear()
    login(client, outsider.username)
    assert project.name not in client.get("/guidelines").text


def test_projects_api(client, logged_in, db) -> None:
    _, csrf = logged_in("admin")
    h = {"X-CSRF-Token": csrf}
    r = client.post(
        "/api/v1/projects",
        json={"name": "code", "overlap": 3, "overlap_by_tag": {"hard": 5}},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["overlap_by_tag"] == {"hard": 5}
    pid = r.json()["id"]
    assert client.post("/api/v1/projects", json={"name": "code"}, headers=h).status_code == 422
    r = client.put(
        f"/api/v1/projects/{pid}/guidelines",
        json={"guidelines": "Prefer *correct* code."},
        headers=h,
    )
    assert r.json()["guidelines_version"] == 2
    r = client.put(
        f"/api/v1/projects/{pid}", json={"name": "code", "overlap_by_tag": {"x": 99}}, headers=h
    )
    assert r.status_code == 422


def test_head_to_head_share_is_set_on_the_project_page(client, logged_in, db, project) -> None:
    admin, csrf = logged_in("admin")
    form = {"csrf_token": csrf, "name": project.name, "base_policy_model": "tiny"}
    r = client.post(
        f"/admin/projects/{project.id}",
        data={**form, "head_to_head_share": "0.25"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Project, project.id).head_to_head_share == 0.25
    assert (
        'name="head_to_head_share" value="0.25"' in client.get(f"/admin/projects/{project.id}").text
    )
    # A form without the field leaves it alone; out of range is refused with a reason.
    assert client.post(f"/admin/projects/{project.id}", data=form).status_code == 200
    r = client.post(f"/admin/projects/{project.id}", data={**form, "head_to_head_share": "0.9"})
    assert r.status_code == 422 and "Head-to-head share must be between 0 and 0.5" in r.text
    db.expire_all()
    assert db.get(Project, project.id).head_to_head_share == 0.25


def test_length_bias_is_shown_per_annotator_beside_the_others(
    client, logged_in, db, project, make_user
) -> None:
    keen, fair = make_user("evaluator"), make_user("evaluator")
    for k in range(30):
        pr = f.make_pair(
            db, project, text_a="short", text_b="a much longer answer " * 3, labels_required=2
        )
        f.compare(db, pr, keen, "b")  # always the longer
        f.compare(db, pr, fair, "a" if k % 2 else "b")  # half and half
    db.commit()
    logged_in("admin")
    page = client.get(f"/admin/quality?project={project.id}")
    assert page.status_code == 200
    cell = page.text.split(f'id="length-bias-{keen.id}">', 1)[1].split("</td>", 1)[0]
    assert cell.startswith("100% · 50% (")
    other = page.text.split(f'id="length-bias-{fair.id}">', 1)[1].split("</td>", 1)[0]
    assert other.startswith("50% · 100%")
    assert "length bias: longer 100% vs others 50%" in page.text


def test_the_quality_page_shows_cohort_figures_with_intervals_and_a_test(
    client, logged_in, db, project, make_user
) -> None:

    de = [make_user("evaluator") for _ in range(2)]
    en = [make_user("evaluator") for _ in range(2)]
    for k in range(20):
        pr = f.make_pair(
            db, project, text_a="short", text_b="a much longer answer " * 3, labels_required=4
        )
        for u in de:
            f.compare(db, pr, u, "b")  # the German cohort always picks the longer
        for u in en:
            f.compare(db, pr, u, "a" if k % 2 else "b")
    v0, v1 = f.make_version(db, project, 0), f.make_version(db, project, 1, status="archived")
    for u in de + en:
        f.judgements(db, project, u, v1, v0, "aab")  # v1 (newer) as a: 2 of 3
    db.commit()
    admin, csrf = logged_in("admin")
    assert (
        client.post(
            "/admin/quality/cohorts",
            data={"user_id": de[0].id, "dimension": "language", "value": "de"},
        ).status_code
        == 403
    )
    for u, value in [(de[0], "de"), (de[1], "de"), (en[0], "en"), (en[1], "en")]:
        r = client.post(
            "/admin/quality/cohorts",
            data={
                "csrf_token": csrf,
                "user_id": u.id,
                "dimension": "Language",
                "value": value,
                "project": project.id,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
    page = client.get(f"/admin/annotators/{de[0].id}?project={project.id}")
    assert "language = de" in page.text

    page = client.get(f"/admin/quality?project={project.id}")
    assert page.status_code == 200
    table = page.text.split('id="cohorts-language"', 1)[1].split("</table>", 1)[0]
    de_row = table.split('data-cohort="de"', 1)[1].split("</tr>", 1)[0]
    en_row = table.split('data-cohort="en"', 1)[1].split("</tr>", 1)[0]
    assert "100% <span" in de_row and "n=40" in de_row  # longer picks, with interval
    assert "(91–100%" in de_row
    assert "50% <span" in en_row
    newer = en_row.split('class="newer">', 1)[1].split("</td>", 1)[0]
    assert newer.startswith("67%") and "n=6" in newer
    longer_p = float(table.split('class="longer-p">', 1)[1].split("<", 1)[0])
    assert longer_p < 0.001  # the cohorts differ
    within = de_row.split('class="within">', 1)[1].split("</td>", 1)[0]
    assert within.startswith("100%")  # the two German annotators always agree
    assert (
        'class="cohort-point"' in page.text
        and "Longer response preferred, by language" in page.text
    )

    client.post(
        "/admin/quality/cohorts",
        data={
            "csrf_token": csrf,
            "user_id": en[1].id,
            "dimension": "language",
            "value": "",
            "project": project.id,
        },
    )
    page = client.get(f"/admin/quality?project={project.id}")
    en_row = page.text.split('data-cohort="en"', 1)[1].split("</tr>", 1)[0]
    assert "<td>1</td>" in en_row  # one annotator left in the cohort


def test_the_quality_page_draws_the_kappa_heatmap_and_the_accuracy_scatter(
    client, logged_in, db, project, make_user
) -> None:
    import xml.etree.ElementTree as ET

    svg_ns = "{http://www.w3.org/2000/svg}"
    people = [make_user("evaluator") for _ in range(3)]
    votes = [R1 + ["a"], R2 + ["b"], ["b", "a", "b", "a", "a", "a"]]
    for k in range(6):
        pr = f.make_pair(db, project, labels_required=3)
        for u, v in zip(people, votes, strict=True):
            f.compare(db, pr, u, v[k])
    for k in range(4):  # gold pairs: the first two annotators right on all, the third on half
        pr = f.make_pair(db, project, kind="gold", gold_choice="a", labels_required=3)
        for u, choice in zip(people, ["a", "a", "a" if k % 2 else "b"], strict=True):
            f.compare(db, pr, u, choice)
    loner = make_user("evaluator")
    f.compare(db, f.make_pair(db, project), loner, "a")  # no overlap: no agreement, not drawn
    db.commit()
    kappas = project_agreement(db, project.id).kappas
    assert len(kappas) == 3
    logged_in("admin")
    page = client.get(f"/admin/quality?project={project.id}")
    assert page.status_code == 200

    def svg_in(div: str) -> ET.Element:
        markup = page.text.split(f'<div id="{div}">', 1)[1].split("</svg>", 1)[0] + "</svg>"
        return ET.fromstring(markup.replace("<svg ", f'<svg xmlns="{svg_ns[1:-1]}" ', 1))

    heat = svg_in("kappa-heatmap")
    cells = [g for g in heat.iter(f"{svg_ns}g") if g.get("class") == "heat-cell"]
    assert len(cells) == 3  # one per pair of annotators
    by_pair = {frozenset((c.get("data-user-a"), c.get("data-user-b"))): c for c in cells}
    for kappa in kappas:
        cell = by_pair[frozenset((kappa.user_a, kappa.user_b))]
        assert cell.find(f"{svg_ns}title").text == (  # type: ignore[union-attr]
            f"{kappa.user_a} · {kappa.user_b}: κ = {kappa.kappa:.3f} on {kappa.shared} shared pairs"
        )
        assert cell.find(f"{svg_ns}text").text == f"{kappa.kappa:.2f}"  # type: ignore[union-attr]
    labels = {t.text for t in heat.iter(f"{svg_ns}text") if t.get("class") == "tick"}
    assert {u.username for u in people} <= labels

    scatter = svg_in("accuracy-scatter")
    links = {a.get("href"): a for a in scatter.iter(f"{svg_ns}a")}
    assert set(links) == {f"/admin/annotators/{u.id}?project={project.id}" for u in people}
    third = links[f"/admin/annotators/{people[2].id}?project={project.id}"]
    assert third.find(f"{svg_ns}title").text.startswith(  # type: ignore[union-attr]
        f"{people[2].username}: gold accuracy 50% (2 of 4), agreement"
    )
    assert "1 annotator(s) without both" in page.text
    assert "<title>Quality · Pairwise</title>" in page.text
