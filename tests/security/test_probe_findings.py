"""The second security round's confirmed findings (issue 19), one section each.

Each test reproduced its finding on the code before the fix; docs/security.md's enforcement
map names the test that covers each finding.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.annotators.service import (
    accept_link,
    deactivate_annotator,
    invite,
    reactivate,
    reset_link,
)
from app.auth.service import AccountError, create_api_token, create_user, set_roles, sha256
from app.auth.usernames import normalize_username
from app.body_limit import MAX_BODY_BYTES
from app.models import (
    Assignment,
    AuditEvent,
    Comparison,
    Invitation,
    Project,
    ProjectMember,
    User,
    utcnow,
)
from app.projects.manage import remove_member
from app.sampling.backend import Sample, SampleRequest
from app.sampling.worker import Sampler
from tests.conftest import CSRF_RE, PASSWORD, login
from tests.factories import compare, make_pairs, make_project, make_prompt, make_version
from tests.factories.sampling import FakeBackend, sampler_settings

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


# ---- 2. Only upload routes take large bodies, and only from authenticated admins ----------

BIG = MAX_BODY_BYTES + 512 * 1024


def _multipart(name: str = "prompts.jsonl") -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, b"x" * BIG, "application/octet-stream")}


@pytest.mark.parametrize("path", ["/api/v1/comparisons", "/api/v1/prompts/import"])
def test_anonymous_multipart_body_gets_the_small_cap(client: TestClient, path: str) -> None:
    """Declaring multipart used to raise the cap to the upload limit on any route, before
    authentication: the server read the whole body and then answered 401."""
    r = client.post(path, files=_multipart())
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


def test_only_an_admin_may_send_a_large_upload(
    client: TestClient, db: Session, project: Project, make_user
) -> None:
    evaluator = _bearer(db, make_user("evaluator", "ml"))
    r = client.post("/api/v1/prompts/import", files=_multipart(), headers=evaluator)
    assert r.status_code == 413
    admin = _bearer(db, make_user("admin"))
    r = client.post("/api/v1/prompts/import", files=_multipart(), headers=admin)
    assert r.status_code == 422, r.text  # read in full, then refused as a bad file
    r = client.post("/api/v1/comparisons", files=_multipart(), headers=admin)
    assert r.status_code == 413, "a non-upload route took a large body"


def test_a_streamed_upload_without_length_is_capped_as_it_arrives(
    client: TestClient, db: Session, project: Project, make_user
) -> None:
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jsonl"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(BIG // 65536 + 1):
            yield b"x" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    kind = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    evaluator = _bearer(db, make_user("evaluator"))
    for headers in ({}, evaluator):
        r = client.post("/api/v1/prompts/import", content=chunks(), headers={**kind, **headers})
        assert r.status_code == 413, r.text


def test_an_admin_session_may_upload_a_large_file_from_the_page(
    client: TestClient, db: Session, project: Project, logged_in
) -> None:
    _, csrf = logged_in("admin")
    r = client.post("/admin/prompts/import", data={"csrf_token": csrf}, files=_multipart())
    assert r.status_code != 413 and "prompts.jsonl" in r.text, r.text[:300]


# ---- 3. One normal form of a username for the login, its throttle and account creation ----


def _login_status(client: TestClient, username: str, password: str) -> int:
    token = CSRF_RE.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    data = {"username": username, "password": password, "csrf_token": token}
    return client.post("/login", data=data, follow_redirects=False).status_code


def test_login_limit_is_not_bypassed_by_spelling_the_name_differently(
    client: TestClient, make_user, settings
) -> None:
    name = make_user("evaluator").username
    for _ in range(settings.login_attempts_per_account):
        assert _login_status(client, name, "wrong password") == 401
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in name)
    for variant in (name, f" {name}", f"{name}\t", f"{name} ", name.upper(), fullwidth):
        assert _login_status(client, variant, PASSWORD) == 429, repr(variant)


def test_names_are_stored_and_found_in_normal_form(
    client: TestClient, db: Session, settings, project: Project
) -> None:
    user = create_user(db, settings, "  Ｍixed.Case ", PASSWORD, {"evaluator"})
    db.commit()
    assert user.username == normalize_username("mixed.case") == "mixed.case"
    with pytest.raises(AccountError, match="taken"):
        create_user(db, settings, "MIXED.case", PASSWORD, {"evaluator"})
    assert _login_status(client, "Mixed.CASE\n", PASSWORD) == 303


# ---- 4. API tokens end with a password change, a reset, and deactivation ------------------

NEW_PASSWORD = "another long passphrase"


def _change_password(client: TestClient, db: Session, settings, user: User) -> None:
    csrf = login(client, user.username)
    form = {"csrf_token": csrf, "current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/account/password", data=form, follow_redirects=False).status_code == 303


def _reset(client: TestClient, db: Session, settings, user: User) -> None:
    token = reset_link(db, settings, user, None)
    db.commit()
    form = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    r = client.post(f"/invite/{token}", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text


def _deactivate_and_reactivate(client: TestClient, db: Session, settings, user: User) -> None:
    deactivate_annotator(db, user, None)
    db.commit()
    reactivate(db, user, None)
    db.commit()


@pytest.mark.parametrize("event", [_change_password, _reset, _deactivate_and_reactivate])
def test_api_tokens_do_not_survive(
    client: TestClient, db: Session, settings, make_user, event: Callable[..., None]
) -> None:
    user = make_user("evaluator")
    auth = _bearer(db, user)
    assert client.get("/api/v1/pairs/next", headers=auth).status_code == 200
    event(client, db, settings, user)
    client.cookies.clear()
    r = client.get("/api/v1/pairs/next", headers=auth)
    assert r.status_code == 401, f"the token outlived {event.__name__}"


# ---- 5. Issuing or using a reset or invitation link revokes the person's other links ------


def _usable(client: TestClient, token: str) -> bool:
    return client.get(f"/invite/{token}").status_code == 200


def test_a_newer_reset_link_revokes_the_older_and_using_one_revokes_the_rest(
    client: TestClient, db: Session, settings, make_user
) -> None:
    user = make_user("evaluator")
    first = reset_link(db, settings, user, None)
    second = reset_link(db, settings, user, None)
    db.commit()
    assert not _usable(client, first) and _usable(client, second)
    form = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert client.post(f"/invite/{first}", data=form).status_code == 410
    assert _login_status(client, user.username, PASSWORD) == 303, "the old link changed it"

    # Using a link ends any other still outstanding (here one stored before this rule).
    token = reset_link(db, settings, user, None)
    legacy = "legacy-link-token"
    db.add(
        Invitation(
            token_hash=sha256(legacy),
            kind="reset",
            username=user.username,
            user_id=user.id,
            expires_at=utcnow() + timedelta(hours=1),
        )
    )
    db.commit()
    assert _usable(client, legacy)
    accept_link(db, settings, token, NEW_PASSWORD)
    db.commit()
    assert not _usable(client, legacy)


def test_a_newer_invitation_revokes_the_older_one(
    client: TestClient, db: Session, settings, project: Project
) -> None:
    old = invite(db, settings, "newcomer", {"evaluator"}, project, None)
    new = invite(db, settings, " Newcomer", {"evaluator", "admin"}, project, None)
    db.commit()
    assert not _usable(client, old) and _usable(client, new)


# ---- 6. CSV exports neutralise cells a spreadsheet would run as a formula -----------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_csv_export_cells_never_start_a_formula(
    client: TestClient, db: Session, project: Project, logged_in, make_user
) -> None:
    logged_in("admin")
    user = make_user("evaluator")
    pairs = make_pairs(db, project, len(FORMULAS))
    for pair, text in zip(pairs, FORMULAS, strict=True):
        compare(db, pair, user, "a").rationale = text
    project.flags = [*project.flags, "=cmd|' /C calc'!A0"]
    compare(db, make_pairs(db, project, 1)[0], user, "b", flags=[project.flags[-1]])
    db.commit()
    r = client.get(f"/admin/export/download?project={project.id}&format=raw&file_format=csv")
    assert r.status_code == 200
    table = list(csv.DictReader(io.StringIO(r.text, newline="")))
    cells = [row["rationale"] for row in table if row["rationale"]] + [table[-1]["flags"]]
    assert sorted(cells) == sorted(["'" + t for t in FORMULAS] + ["'=cmd|' /C calc'!A0"])
    assert all(row["decision_ms"].isdigit() for row in table)  # numbers stay numbers


# ---- 7. /system shows a project's sampler errors only to its members ----------------------


class SecretProjectFails(FakeBackend):
    def generate(self, requests: list[SampleRequest]) -> list[Sample]:
        if any("secret" in r.text for r in requests):
            raise RuntimeError("zq7-private: out of memory on the secret prompt")
        return super().generate(requests)


def test_system_shows_sampler_errors_only_to_the_projects_members(
    client: TestClient,
    db: Session,
    session_factory,
    project: Project,
    make_user,
    tmp_path,
) -> None:
    other = make_project(db)
    for p, text in ((project, "Hello?"), (other, "A secret question?")):
        make_version(db, p, 0, "unused")
        make_prompt(db, p, text)
    db.commit()
    backend = SecretProjectFails(lambda r, i: f"answer {r.seed}")
    settings = sampler_settings(tmp_path)
    Sampler(session_factory, settings, backend_factory=lambda: backend, worker_id="s-7").step()

    ml = client.get("/api/v1/system", headers=_bearer(db, make_user("ml")))
    assert ml.status_code == 200 and "zq7-private" not in ml.text
    assert other.id not in [p["id"] for p in ml.json()["projects"]]
    admin = client.get("/api/v1/system", headers=_bearer(db, make_user("admin")))
    rows = {p["id"]: p for p in admin.json()["projects"]}
    assert "zq7-private" in rows[other.id]["last_error"] and rows[project.id]["last_error"] is None


# ---- 8. Nobody changes their own roles; every role change is audited ----------------------


def test_an_admin_cannot_change_its_own_roles(
    client: TestClient, db: Session, project: Project, logged_in, make_user
) -> None:
    admin, csrf = logged_in("admin", "evaluator")
    page = client.get(f"/admin/annotators/{admin.id}")
    assert "Only another admin can change your own roles" in page.text
    for roles in (["admin", "evaluator", "ml"], ["evaluator"]):
        form = {"csrf_token": csrf, "roles": roles}
        r = client.post(f"/admin/annotators/{admin.id}/roles", data=form)
        assert r.status_code == 422 and "your own roles" in r.text
    db.expire_all()
    assert db.get_one(User, admin.id).roles == {"admin", "evaluator"}

    other = make_user("evaluator")
    form = {"csrf_token": csrf, "roles": ["evaluator", "ml"]}
    r = client.post(f"/admin/annotators/{other.id}/roles", data=form, follow_redirects=False)
    assert r.status_code == 303
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "roles.changed")).one()
    assert (event.actor_id, event.target) == (admin.id, f"user:{other.id}")
    assert (event.details["before"], event.details["after"]) == (["evaluator"], ["evaluator", "ml"])


# ---- 9. The speed figures use the server's lease-to-submit time, not the client's claim ---


def test_a_claimed_slow_decision_does_not_hide_fast_labelling(
    client: TestClient, db: Session, project: Project, make_user
) -> None:
    make_pairs(db, project, 6)
    evaluator = make_user("evaluator")
    auth = _bearer(db, evaluator)
    pair = client.get("/api/v1/pairs/next", headers=auth).json()["pair"]
    answers = []
    for _ in range(6):
        body = {"assignment_id": pair["assignment_id"], "choice": "tie", "decision_ms": 60_000}
        r = client.post("/api/v1/comparisons?next=true", json=body, headers=auth)
        assert r.status_code == 201, r.text
        answers.append(r.json())
        pair = answers[-1]["next"]["pair"]

    admin = _bearer(db, make_user("admin"))
    stats = client.get(f"/api/v1/annotators/{evaluator.id}/stats", headers=admin).json()
    assert stats["median_seconds"] < 60
    assert any(flag.startswith("fast") for flag in stats["trust_flags"]), stats["trust_flags"]
    # The claim is kept beside the server's measure.
    assert all(a["client_decision_ms"] == 60_000 > a["decision_ms"] for a in answers)
