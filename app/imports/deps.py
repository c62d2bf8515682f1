"""Look-up of an import batch the caller may see (404 otherwise)."""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy.orm import Session

from app.deps import Principal
from app.models import PreferenceImport
from app.projects.deps import chosen_project


def get_batch(db: Session, principal: Principal, batch_id: int) -> PreferenceImport:
    batch = db.get(PreferenceImport, batch_id)
    if batch is None:
        raise HTTPException(404, "No such import.")
    chosen_project(db, principal, batch.project_id)  # 404 unless the caller sees its project
    return batch
