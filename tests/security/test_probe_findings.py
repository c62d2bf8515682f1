"""The second security round's confirmed findings (issue 19), one section each.

Each test reproduced its finding on the code before the fix; docs/security.md's enforcement
map names the test that covers each finding.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.annotators.service import deactivate_annotator
from app.auth.service import create_api_token, set_roles
from app.models import Assignment, Comparison, Project, ProjectMember, User, utcnow
from app.projects.manage import remove_member
from tests.conftest import login
from tests.labeling.factories import make_pairs

# ---- 1. A person who loses the right to label keeps no lease and gets no new one ----------


def _bearer(db: Session, user: User) -> dict[str, str]:
    secret, _ = create_api_token(db, user, "script")
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def _status(db: Session, assignment_id: int) -> str:
    return db.scalar(select(Assignment.status).where(Assignment.id == assignment_id)) or ""


def _assignments(db: Session, user: User) -> int:
    return db.scalar(select(func.count()).where(Assignment.user_id == user.id)) or 0


LOSS: dict[str, tuple[Callable[[Session, Project, User, User], object], int]] = {
    # how access is lost → the status the evaluator's API calls get afterwards
    "removed from the project": (lambda db, p, u, a: remove_member(db, p, u.id, a.id), 404),
    "deactivated": (lambda db, p, u, a: deactivate_annotator(db, u, a.id), 401),
    "evaluator role dropped": (lambda db, p, u, a: set_roles(db, u, {"ml"}, a.id), 403),
}


@pytest.mark.parametrize("how", list(LOSS))
def test_losing_access_ends_the_lease_at_once(
    client: TestClient, db: Session, project: Project, make_user, how: str
) -> None:
    make_pairs(db, project, 3)
    evaluator, admin = make_user("evaluator"), make_user("admin")
    auth = _bearer(db, evaluator)
    leased = client.get("/api/v1/pairs/next", headers=auth).json()["pair"]
    aid = leased["assignment_id"]

    lose, status = LOSS[how]
    lose(db, project, evaluator, admin)
    db.commit()

    assert _status(db, aid) == "released", "the pair stayed leased"
    beat = client.post(f"/api/v1/assignments/{aid}/heartbeat", headers=auth)
    assert beat.status_code == status
    body = {"assignment_id": aid, "choice": "tie"}
    submitted = client.post("/api/v1/comparisons?next=true", json=body, headers=auth)
    assert submitted.status_code == status
    skipped = client.post(
        f"/api/v1/assignments/{aid}/skip", json={"reason": "unclear"}, headers=auth
    )
    assert skipped.status_code == status
    assert db.scalar(select(func.count()).select_from(Comparison)) == 0
    assert _assignments(db, evaluator) == 1, "a new pair was leased after access was lost"


def test_every_labelling_call_checks_membership(
    client: TestClient, db: Session, project: Project, make_user
) -> None:
    """Even with the lease still in hand (the membership row gone some other way), the
    heartbeat, the submission, the expired-lease reply and the page refuse."""
    make_pairs(db, project, 3)
    evaluator = make_user("evaluator")
    auth = _bearer(db, evaluator)
    aid = client.get("/api/v1/pairs/next", headers=auth).json()["pair"]["assignment_id"]
    db.execute(delete(ProjectMember).where(ProjectMember.user_id == evaluator.id))
    db.commit()

    assert client.post(f"/api/v1/assignments/{aid}/heartbeat", headers=auth).status_code == 404
    body = {"assignment_id": aid, "choice": "tie"}
    assert client.post("/api/v1/comparisons", json=body, headers=auth).status_code == 404
    # The expired-lease reply used to lease the next pair of the assignment's project.
    db.get(Assignment, aid).expires_at = utcnow() - timedelta(minutes=1)
    db.commit()
    expired = client.post("/api/v1/comparisons", json=body, headers=auth)
    assert expired.status_code == 404 and "next" not in expired.json()

    csrf = login(client, evaluator.username)
    form = {"csrf_token": csrf, "assignment_id": str(aid)}
    assert client.post("/label/skip", data={**form, "reason": "unclear"}).status_code == 404
    assert client.post("/label/submit", data={**form, "choice": "tie"}).status_code == 404
    assert client.get(f"/label?project={project.id}").status_code == 404
    assert db.scalar(select(func.count()).select_from(Comparison)) == 0
    assert _assignments(db, evaluator) == 1
