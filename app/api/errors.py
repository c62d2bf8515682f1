"""The API's one error body: RFC 9457 problem details, declared once for the OpenAPI schema.

Every JSON error answer is `application/problem+json` with `type`, `title`, `status` and
`detail` (always a sentence); a request with bad fields adds `errors`, one entry per field.
Routes raise (`ApiProblem`, `HTTPException` or a domain error mapped in app/api/handlers.py);
they never build error bodies themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; `errors` names each bad field of a 422."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] = []


class ApiProblem(Exception):
    """Raise to answer with a problem body: `ApiProblem(422, "...", field="project_id")`."""

    def __init__(
        self, status: int, detail: str, *, field: str | None = None,
        errors: Iterable[FieldError] = (),
    ) -> None:  # fmt: skip
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        if field is not None:
            self.errors.insert(0, FieldError(field=field, message=detail))


def field_errors(pairs: Iterable[tuple[str, str]]) -> list[FieldError]:
    return [FieldError(field=f, message=m) for f, m in pairs]


def problem_response(
    status: int,
    detail: str,
    errors: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """The problem body; `extra` adds members (RFC 9457 extensions, e.g. `next`)."""
    listed = list(errors)
    if not detail and listed:
        detail = "; ".join(f"{e.field}: {e.message}" for e in listed)
    body = Problem(
        title=HTTPStatus(status).phrase, status=status, detail=detail, errors=listed
    ).model_dump(exclude_defaults=False)
    if not listed:
        del body["errors"]
    body.update(extra or {})
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def _error(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# Every API route can answer these; routes add their own (409 and so on) where they can.
API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The body could not be parsed (not JSON, bad encoding, broken multipart)"),
    401: _error("No valid session or API token"),
    403: _error("The caller's roles do not allow this"),
    404: _error("No such object, or not one the caller may see"),
    422: _error("The request is not valid; `errors` names each bad field"),
    429: _error("This API token made too many requests this minute; retry after `Retry-After`"),
}

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _error("The object's state does not allow this now (lease ended, run finished)")
}
