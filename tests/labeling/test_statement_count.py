"""Round trips on the API label path: a bound on the SQL statements of one request, so a change
that adds a query to submit-and-next or next-pair fails here (each one is a wait on the
database for every label)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, event

from app.auth.service import create_api_token
from app.settings import Settings
from tests.factories import make_pairs

# Savepoints are how the test's sessions join the outer transaction; a served request has
# BEGIN and COMMIT in their place.
_TEST_SCAFFOLDING = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
# Before these bounds the same requests ran 19 and 11 (12 naming the project) on Postgres.
SUBMIT_WITH_NEXT_MAX = 11
NEXT_PAIR_MAX = 8


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The costliest draw: active selection asked for, and no pair has a margin yet, so the
    # queue is read twice.
    return settings.model_copy(update={"active_selection_share": 1.0})


@contextmanager
def counted(connection: Connection) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(_TEST_SCAFFOLDING):
            statements.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", count)


def listing(statements: list[str]) -> str:
    return f"{len(statements)} statements:\n" + "\n---\n".join(statements)


def _evaluator_token(db, make_user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    user = make_user("evaluator")
    secret, _ = create_api_token(db, user, "script")
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_submit_with_next_stays_within_its_statements(
    client, db, connection, project, make_user
) -> None:
    make_pairs(db, project, 3)
    db.commit()
    headers = _evaluator_token(db, make_user)
    first = client.get("/api/v1/pairs/next", headers=headers).json()["pair"]
    body = {"assignment_id": first["assignment_id"], "choice": "left", "strength": "clear"}
    with counted(connection) as statements:
        r = client.post("/api/v1/comparisons?next=true", json=body, headers=headers)
    assert r.status_code == 201, r.text
    following = r.json()["next"]["pair"]
    assert following is not None and following["pair_id"] != first["pair_id"]
    assert len(statements) <= SUBMIT_WITH_NEXT_MAX, listing(statements)


@pytest.mark.parametrize("named", [False, True], ids=["first-project", "project_id"])
def test_next_pair_stays_within_its_statements(
    client, db, connection, project, make_user, named
) -> None:
    make_pairs(db, project, 2)
    db.commit()
    headers = _evaluator_token(db, make_user)
    params = {"project_id": project.id} if named else {}
    with counted(connection) as statements:
        r = client.get("/api/v1/pairs/next", params=params, headers=headers)
    assert r.status_code == 200 and r.json()["pair"] is not None, r.text
    assert len(statements) <= NEXT_PAIR_MAX, listing(statements)
