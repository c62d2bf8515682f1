"""The playground and anonymous battles, end to end through the routes with tiny models."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import create_api_token, create_user
from app.models import PlaygroundMatch, PolicyVersion, Project, User
from app.projects.service import add_member
from tests.playground.conftest import events

MATCH_URL = re.compile(r"/(playground|battle)/matches/(\d+)$")
NAMES = re.compile(r"\bv[12]\b")  # a version's name as pages show it


def start(client: TestClient, csrf: str, url: str, data: dict) -> int:
    r = client.post(url, data=data, headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    found = MATCH_URL.search(r.headers["location"])
    assert found, r.headers["location"]
    return int(found.group(2))


def stream(client: TestClient, csrf: str, url: str) -> list[tuple[str, dict]]:
    with client.stream("POST", url, headers={"X-CSRF-Token": csrf}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    return events(body)


def board(client: TestClient, db: Session, project: Project, source: str) -> dict:
    """The project's leaderboard through the API, as a member of ML staff reads it."""
    ml = db.scalar(select(User).where(User.username == "board-reader"))
    if ml is None:
        ml = create_user(db, client.app.state.settings, "board-reader", "x" * 12, {"ml"})
        add_member(db, project, ml)
    secret, _ = create_api_token(db, ml, "board")
    db.commit()
    r = client.get(
        f"/api/v1/projects/{project.id}/leaderboard",
        params={"source": source},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_two_versions_answer_one_prompt_streamed_and_the_vote_is_kept_apart(
    client: TestClient,
    db: Session,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    add_version: Callable[..., PolicyVersion],
) -> None:
    v1, v2 = add_version(1), add_version(2, "active")
    user, csrf = logged_in("ml")
    match_id = start(
        client,
        csrf,
        f"/playground/matches?project={project.id}",
        {"prompt": "Say <b>hello</b>", "version_a_id": v1.id, "version_b_id": v2.id},
    )
    page = client.get(f"/playground/matches/{match_id}")
    assert page.status_code == 200
    assert "Say &lt;b&gt;hello&lt;/b&gt;" in page.text  # the prompt as untrusted text
    assert 'id="name-a">v1<' in page.text and 'id="name-b">v2<' in page.text  # named

    got = stream(client, csrf, f"/playground/matches/{match_id}/stream")
    names = [name for name, _ in got]
    assert names[-1] == "end"
    done = {data["side"]: data for name, data in got if name == "done"}
    assert set(done) == {"a", "b"}
    deltas = {data["side"] for name, data in got if name == "delta"}
    assert deltas == {"a", "b"}, "both answers arrive in pieces before they are done"
    # Each side's pieces come before its `done`.
    for side in "ab":
        last_delta = max(i for i, (n, d) in enumerate(got) if n == "delta" and d["side"] == side)
        side_done = next(i for i, (n, d) in enumerate(got) if n == "done" and d["side"] == side)
        assert last_delta < side_done

    db.expire_all()
    match = db.get(PlaygroundMatch, match_id)
    assert match is not None and match.text_a is not None and match.text_b is not None
    # A second stream generates nothing new: the stored answers come back as they are.
    again = stream(client, csrf, f"/playground/matches/{match_id}/stream")
    assert [n for n, _ in again] == ["done", "done", "end"]

    r = client.post(
        f"/playground/matches/{match_id}/vote",
        data={"choice": "b"},
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        f"/playground/matches/{match_id}/vote",
        data={"choice": "a"},
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 409, "a match takes one vote"

    named = board(client, db, project, "playground")
    assert named["comparisons"] == 1
    by_number = {v["number"]: v for v in named["versions"]}
    assert by_number[2]["win_probability"] > 0.5
    assert board(client, db, project, "blind")["comparisons"] == 0
    page = client.get(f"/training/leaderboard?project_id={project.id}")
    assert 'id="playground-board"' in page.text and "1 votes between versions" in page.text


def test_a_battle_hides_the_names_until_the_vote_and_counts_as_blind(
    client: TestClient,
    db: Session,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    add_version: Callable[..., PolicyVersion],
) -> None:
    add_version(1)
    add_version(2, "active")
    _, csrf = logged_in("evaluator")
    match_id = start(client, csrf, f"/battle/matches?project={project.id}", {"prompt": "Hi?"})
    page = client.get(f"/battle/matches/{match_id}")
    assert page.status_code == 200
    shown = page.text.replace(csrf, "")  # a random token may spell "v1"
    assert 'id="name-a"' not in shown and not NAMES.search(shown)

    got = stream(client, csrf, f"/battle/matches/{match_id}/stream")
    assert {d["side"] for n, d in got if n == "done"} == {"a", "b"}
    # Nothing but the answers themselves (random text from the tiny model) may name a side.
    told = [{k: v for k, v in d.items() if k not in ("text", "html")} for _, d in got]
    assert not NAMES.search(str(told))

    r = client.post(
        f"/battle/matches/{match_id}/vote",
        data={"choice": "a"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert r.status_code == 200
    assert 'id="revealed-a">v' in r.text and 'id="revealed-b">v' in r.text

    blind = board(client, db, project, "blind")
    assert blind["comparisons"] == 1
    assert sum(v["comparisons"] for v in blind["versions"]) == 2
    assert board(client, db, project, "playground")["comparisons"] == 0


def test_a_battle_needs_two_versions(
    client: TestClient,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    add_version: Callable[..., PolicyVersion],
) -> None:
    add_version(1, "active")
    _, csrf = logged_in("evaluator")
    r = client.post(
        f"/battle/matches?project={project.id}", data={"prompt": "Hi?"},
        headers={"X-CSRF-Token": csrf},
    )  # fmt: skip
    assert r.status_code == 422
    assert "needs two versions" in r.text


def test_roles_and_owners(
    client: TestClient,
    db: Session,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    make_user: Callable[..., User],
    add_version: Callable[..., PolicyVersion],
) -> None:
    v1, v2 = add_version(1), add_version(2, "active")
    owner = make_user("evaluator", "ml")
    match = PlaygroundMatch(
        project_id=project.id,
        user_id=owner.id,
        source="battle",
        prompt_text="theirs",
        version_a_id=v1.id,
        version_b_id=v2.id,
    )
    db.add(match)
    db.commit()

    _, csrf = logged_in("evaluator")
    assert client.get(f"/playground?project={project.id}").status_code == 403
    r = client.post(
        f"/playground/matches?project={project.id}",
        data={"prompt": "x", "version_a_id": v1.id, "version_b_id": v2.id},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    # Someone else's battle: not found, not streamed, not voted on.
    assert client.get(f"/battle/matches/{match.id}").status_code == 404
    assert (
        client.post(
            f"/battle/matches/{match.id}/stream", headers={"X-CSRF-Token": csrf}
        ).status_code
        == 404
    )
    r = client.post(
        f"/battle/matches/{match.id}/vote", data={"choice": "a"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 404
    # Without the CSRF token a vote is refused.
    assert client.post(f"/battle/matches/{match.id}/vote", data={"choice": "a"}).status_code == 403

    client.cookies.clear()
    _, csrf = logged_in("ml")
    assert client.get(f"/battle?project={project.id}").status_code == 403
    assert client.get(f"/playground?project={project.id}").status_code == 200
    db.expire_all()
    assert db.get(PlaygroundMatch, match.id).choice is None
