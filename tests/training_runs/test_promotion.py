"""Promotion and rollback: one active version, old open pairs retired (or kept), audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import versions as service
from app.models import AuditEvent, PolicyVersion, Project, User
from app.settings import Settings
from tests.factories import completion_pair, make_prompt
from tests.factories.training import version_zero


def test_promote_then_roll_back(
    db: Session,
    settings: Settings,
    project: Project,
    tmp_path: Path,
    tiny_policy_dir: Path,
    make_user: Callable[..., User],
) -> None:
    ml = make_user("ml")
    v0 = version_zero(db, project, tmp_path, tiny_policy_dir)
    open_pair = completion_pair(db, project, make_prompt(db, project, "Hi"), v0, "a", "b")
    v1 = service.register_candidate(db, project.id, 11, 1, "projects/1/policy/v1", "tiny", {})
    assert v1.parent_id == v0.id and v1.status == "candidate"

    service.promote(db, settings, v1, ml.id)
    assert (v0.status, v1.status) == ("archived", "active") and v1.promoted_at is not None
    db.refresh(open_pair)
    assert open_pair.status == "retired"
    assert service.rollback_targets(db, project.id) == [v0]

    service.promote(db, settings, v0, ml.id)  # rollback = promoting an earlier version
    assert (v0.status, v1.status) == ("active", "archived")
    actives = db.scalars(
        select(PolicyVersion).where(
            PolicyVersion.project_id == project.id, PolicyVersion.status == "active"
        )
    ).all()
    assert actives == [v0]
    actions = db.scalars(
        select(AuditEvent.action).where(AuditEvent.actor_id == ml.id).order_by(AuditEvent.id)
    ).all()
    assert actions == ["policy.promoted", "policy.rollback"]

    with pytest.raises(service.PromotionError, match="already active"):
        service.promote(db, settings, v0, ml.id)


def test_open_pairs_kept_when_configured(
    db: Session, settings: Settings, project: Project, tmp_path: Path, tiny_policy_dir: Path
) -> None:
    keep = settings.model_copy(update={"retire_old_pairs_on_promote": False})
    v0 = version_zero(db, project, tmp_path, tiny_policy_dir)
    pair = completion_pair(db, project, make_prompt(db, project, "Hi"), v0, "a", "b")
    v1 = service.register_candidate(db, project.id, 12, 1, "projects/1/policy/v1", "tiny", {})
    service.promote(db, keep, v1, None)
    db.refresh(pair)
    assert pair.status == "open"
