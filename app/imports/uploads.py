"""An uploaded (or named) preference file read and validated — what the page, API and CLI share."""

from __future__ import annotations

from pathlib import Path

from fastapi import UploadFile

from app.imports.records import ParsedPreferences, collect
from app.prompts.importer import read_path_rows, read_rows
from app.prompts.uploads import read_upload
from app.settings import Settings


async def parse_upload(upload: UploadFile, settings: Settings) -> ParsedPreferences:
    """ImportFileError when the file as a whole is unreadable."""
    data = await read_upload(upload, settings)
    unit, rows = read_rows(upload.filename or "upload", data)
    return collect(unit, rows, settings.prompt_max_chars)


def parse_file(path: Path, settings: Settings) -> ParsedPreferences:
    unit, rows = read_path_rows(path)
    return collect(unit, rows, settings.prompt_max_chars)
