"""Sessions end after the idle and the absolute timeout."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import UserSession


def _age(db: Session, **fields) -> None:  # type: ignore[no-untyped-def]
    record = db.scalars(select(UserSession)).one()
    for name, delta in fields.items():
        setattr(record, name, getattr(record, name) - delta)
    db.commit()


def test_idle_timeout_ends_session(client: TestClient, logged_in, db: Session, settings) -> None:
    logged_in("evaluator")
    assert client.get("/", follow_redirects=False).status_code == 200
    _age(db, last_seen_at=timedelta(minutes=settings.session_idle_minutes + 1))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_absolute_timeout_ends_session(client: TestClient, logged_in, db: Session) -> None:
    logged_in("evaluator")
    _age(db, expires_at=timedelta(days=2))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_mass_assignment_of_roles_through_token_form_is_ignored(
    client: TestClient, logged_in, db: Session
) -> None:
    user, csrf = logged_in("evaluator")
    client.post(
        "/account/tokens", data={"name": "t", "csrf_token": csrf, "roles": "admin", "id": "1"}
    )
    db.expire_all()
    from app.models import User

    assert db.get(User, user.id).roles == {"evaluator"}
