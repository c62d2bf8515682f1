"""The API's error bodies, declared once so the OpenAPI schema says what clients get."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class FieldError(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """`detail` is a sentence, or one entry per bad field (422)."""

    detail: str | list[FieldError]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


# Every API route can answer these; routes add their own (409 and so on) where they can.
API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The body could not be parsed (not JSON, bad encoding, broken multipart)"),
    401: _error("No valid session or API token"),
    403: _error("The caller's roles do not allow this"),
    404: _error("No such object, or not one the caller may see"),
    422: _error("The request is not valid; `detail` names each bad field"),
    429: _error("This API token made too many requests this minute; retry after `Retry-After`"),
}

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _error("The object's state does not allow this now (lease ended, run finished)")
}
