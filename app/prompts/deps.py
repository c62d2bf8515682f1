"""The prompt a request names, shared by the admin pages and the API (admins see every one)."""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy.orm import Session

from app.models import Prompt


def get_prompt(db: Session, prompt_id: int) -> Prompt:
    prompt = db.get(Prompt, prompt_id)
    if prompt is None:
        raise HTTPException(404, "No such prompt.")
    return prompt
