"""Policy versions through the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.api.errors import CONFLICT
from app.deps import DbDep, MLStaff, SettingsDep
from app.domain import versions as lifecycle
from app.policies.routes import visible_version
from app.training.service import resolve_project

router = APIRouter(prefix="/policy-versions", tags=["policy versions"])


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    number: int
    parent_id: int | None
    status: str
    base_model: str
    checkpoint_uri: str
    training_run_id: int | None
    metrics: dict[str, Any]
    created_at: datetime
    promoted_at: datetime | None


@router.get("", response_model=list[VersionOut])
def list_versions(db: DbDep, principal: MLStaff, project_id: int | None = None) -> list[VersionOut]:
    project = resolve_project(db, principal.user, project_id)
    return [VersionOut.model_validate(v) for v in lifecycle.list_versions(db, project.id)]


@router.post("/{version_id}/promote", response_model=VersionOut, responses=CONFLICT)
def promote(version_id: int, db: DbDep, settings: SettingsDep, principal: MLStaff) -> VersionOut:
    """Make this version active (a rollback when it is an earlier one)."""
    version = visible_version(db, principal, version_id)
    lifecycle.promote(db, settings, version, principal.user.id)
    return VersionOut.model_validate(version)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=lifecycle.MAX_NOTE, description="Why, for the record.")


@router.post("/{version_id}/reject", response_model=VersionOut, responses=CONFLICT)
def reject(
    version_id: int, db: DbDep, principal: MLStaff, body: RejectIn | None = None
) -> VersionOut:
    """End this version's human trial by hand: it is rejected; the active version serves on."""
    version = visible_version(db, principal, version_id)
    lifecycle.reject_trial(db, version, principal.user.id, note=body.note if body else "")
    return VersionOut.model_validate(version)
