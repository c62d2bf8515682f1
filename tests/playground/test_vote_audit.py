"""Every playground and battle vote leaves an audit event: who, which match, which versions."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, PlaygroundMatch, PolicyVersion, Project, User


def answered(db: Session, project: Project, user: User, source: str, **sides: object) -> int:
    """A match of `user` whose two answers are in, waiting for its vote."""
    match = PlaygroundMatch(
        project_id=project.id,
        user_id=user.id,
        source=source,
        prompt_text="Which is better?",
        text_a="one answer",
        text_b="another answer",
        **sides,
    )
    db.add(match)
    db.commit()
    return match.id


def vote_events(db: Session, match_id: int) -> list[AuditEvent]:
    db.expire_all()
    stmt = select(AuditEvent).where(AuditEvent.target == f"playground_match:{match_id}")
    return list(db.scalars(stmt))


def test_a_playground_vote_is_audited_with_its_versions(
    client: TestClient,
    db: Session,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    add_version: Callable[..., PolicyVersion],
) -> None:
    v1, v2 = add_version(1), add_version(2, "active")
    user, csrf = logged_in("ml")
    match_id = answered(db, project, user, "playground", version_a_id=v1.id, model_b="gpt-x")
    assert vote_events(db, match_id) == []

    r = client.post(
        f"/playground/matches/{match_id}/vote",
        data={"choice": "b"},
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    [event] = vote_events(db, match_id)
    assert event.action == "playground.voted" and event.actor_id == user.id
    assert event.details["match"] == match_id and event.details["choice"] == "b"
    assert event.details["version_a"] == 1 and event.details["version_a_id"] == v1.id
    assert event.details["version_b"] is None and event.details["model_b"] == "gpt-x"
    assert v2.id not in event.details.values()

    # A refused second vote writes nothing more.
    r = client.post(
        f"/playground/matches/{match_id}/vote",
        data={"choice": "a"},
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 409
    assert len(vote_events(db, match_id)) == 1


def test_a_battle_vote_is_audited_with_both_versions(
    client: TestClient,
    db: Session,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    add_version: Callable[..., PolicyVersion],
) -> None:
    v1, v2 = add_version(1), add_version(2, "active")
    user, csrf = logged_in("evaluator")
    match_id = answered(db, project, user, "battle", version_a_id=v2.id, version_b_id=v1.id)

    r = client.post(
        f"/battle/matches/{match_id}/vote",
        data={"choice": "tie"},
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    [event] = vote_events(db, match_id)
    assert event.action == "battle.voted" and event.actor_id == user.id
    assert event.details["project"] == project.id and event.details["choice"] == "tie"
    assert (event.details["version_a"], event.details["version_b"]) == (2, 1)
