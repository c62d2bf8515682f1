"""An uploaded file, read within the size limit, and a prompt file imported from it — the
one path the admin page and the API share (the gold import reads uploads the same way)."""

from __future__ import annotations

from fastapi import UploadFile
from sqlalchemy.orm import Session

from app.models import Project
from app.prompts.importer import ImportFileError, Parsed, parse_bytes
from app.prompts.service import ImportSummary, import_prompts
from app.settings import Settings


async def read_upload(upload: UploadFile, settings: Settings) -> bytes:
    """The uploaded bytes, refused past IMPORT_MAX_MB without reading further."""
    limit = settings.import_max_mb * 1024 * 1024
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ImportFileError(f"the file is larger than {settings.import_max_mb} MB")
    if not data:
        raise ImportFileError("the file is empty")
    return data


async def import_prompt_upload(
    db: Session,
    settings: Settings,
    project: Project,
    upload: UploadFile,
    *,
    skip_bad: bool,
    actor_id: int,
) -> tuple[ImportSummary, Parsed]:
    """Read, parse and import an uploaded prompt file; ImportFileError when it is unreadable."""
    data = await read_upload(upload, settings)
    parsed = parse_bytes(upload.filename or "upload", data, settings.prompt_max_chars)
    summary = import_prompts(db, project, parsed, skip_bad=skip_bad, actor_id=actor_id)
    return summary, parsed
