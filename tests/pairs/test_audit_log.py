"""The audit log page and API: every event, filtered by actor, kind, object and time,
newest first in keyset pages; admins only; details escaped."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.domain.audit import audit
from app.models import AuditEvent, User


def seed(db: Session, alice: User, bob: User) -> None:
    db.execute(delete(AuditEvent))
    old = AuditEvent(
        actor_id=bob.id, action="pair.gold", target="pair:3", details={},
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    db.add(old)
    audit(db, "pair.gold", alice.id, "pair:1", answer="a")
    audit(db, "pair.adjudicated", bob.id, "pair:2", note="<script>x</script>")
    audit(db, "user.created", alice.id, "user:7")
    audit(db, "pair.sent_to_review", alice.id, "pair:12")
    db.commit()


def actions(client: TestClient, **params: object) -> list[str]:
    r = client.get("/api/v1/audit", params=params)
    assert r.status_code == 200, r.text
    return [(e["action"], e["target"]) for e in r.json()["items"]]  # type: ignore[misc]


def test_filters_and_pages(client: TestClient, db: Session, make_user, logged_in) -> None:
    alice, bob = make_user("admin", username="alice"), make_user("reviewer", username="bob")
    admin, _ = logged_in("admin")
    seed(db, alice, bob)
    assert actions(client, actor="bob") == [("pair.adjudicated", "pair:2"), ("pair.gold", "pair:3")]
    assert [t for _, t in actions(client, kind="pair.gold")] == ["pair:1", "pair:3"]
    assert len(actions(client, kind="pair")) == 4  # the whole family
    assert actions(client, object="pair:1") == [("pair.gold", "pair:1")]  # not pair:12
    assert {t for _, t in actions(client, object="user")} == {"user:7"}
    assert [t for _, t in actions(client, until="2026-01-01")] == ["pair:3"]
    assert "pair:3" not in [t for _, t in actions(client, since="2026-01-01")]
    everything = actions(client, limit=200)
    seen, before = [], None
    while True:
        body = client.get("/api/v1/audit", params={"limit": 2, "before": before}).json()
        seen += [(e["action"], e["target"]) for e in body["items"]]
        before = body["next_before"]
        if before is None:
            break
    assert seen == everything and len(seen) == 5
    r = client.get("/api/v1/audit", params={"actor": "nobody"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "actor"


def test_page_escapes_and_links(client: TestClient, db: Session, make_user, logged_in) -> None:
    alice, bob = make_user("admin", username="alice"), make_user("reviewer", username="bob")
    logged_in("admin")
    seed(db, alice, bob)
    page = client.get("/admin/audit", params={"kind": "pair", "actor": ""})
    assert page.status_code == 200
    assert "<script>x</script>" not in page.text and "&lt;script&gt;" in page.text
    assert '<a href="/admin/data/pairs/2">pair:2</a>' in page.text
    assert "user.created" not in page.text
    assert page.text.count('class="audit-event"') == 4


def test_admins_only(client: TestClient, logged_in) -> None:
    for role in ("evaluator", "ml", "reviewer"):
        _, csrf = logged_in(role)
        assert client.get("/admin/audit").status_code == 403
        assert client.get("/api/v1/audit").status_code == 403
        client.post("/logout", data={"csrf_token": csrf})
