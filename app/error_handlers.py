"""Every error the app answers, in one place: a problem body (RFC 9457) for the API, the
error page (or a login redirect) for the browser.

Domain errors are mapped to a status here once (`DOMAIN_ERRORS`), so routes let them
propagate instead of translating each by hand.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.annotators.cohorts import CohortError
from app.api.errors import ApiProblem, FieldError, problem_response
from app.auditlog.service import AuditFilterError
from app.deps import LoginRequired, SecondFactorRequired
from app.domain.jobs import JobError
from app.domain.project_settings import ProjectSettingsError
from app.domain.versions import PromotionError
from app.export.service import ExportOptionsError
from app.imports.service import ImportNotRevertable
from app.labeling.history import ChangeRefused
from app.labeling.service import LeaseExpired, NotFound
from app.labeling.submission import InvalidSubmission, KeyConflict
from app.pairs.review import ReviewError
from app.pairs.service import BrowseError
from app.playground.service import MatchConflict, MatchNotFound, PlaygroundError
from app.projects.manage import ProjectError
from app.prompts.importer import ImportFileError
from app.prompts.service import PromptSelectionError
from app.quality.service import QualityError
from app.training.service import RunConflict, TrainingInputError
from app.web import render

log = logging.getLogger("pairwise.db")
DATABASE_DOWN = (
    "The database is unavailable right now; nothing was saved. Try again in a few seconds."
)

# Domain error → HTTP status; the most specific class first. The message is the detail;
# an error with a `field` names it in `errors`.
DOMAIN_ERRORS: tuple[tuple[type[Exception], int], ...] = (
    (RunConflict, 409),
    (KeyConflict, 409),
    (PromotionError, 409),
    (JobError, 409),
    (ImportNotRevertable, 409),
    (LeaseExpired, 409),
    (ChangeRefused, 409),
    (NotFound, 404),
    (MatchConflict, 409),
    (MatchNotFound, 404),
    (PlaygroundError, 422),
    (TrainingInputError, 422),
    (InvalidSubmission, 422),
    (ImportFileError, 422),
    (PromptSelectionError, 422),
    (ProjectError, 422),
    (ProjectSettingsError, 422),
    (QualityError, 422),
    (BrowseError, 422),
    (ReviewError, 422),
    (AuditFilterError, 422),
    (ExportOptionsError, 422),
    (CohortError, 422),
)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


def _page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def domain_status(exc: Exception) -> int:
    return next(status for kind, status in DOMAIN_ERRORS if isinstance(exc, kind))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if wants_json(request):
            return problem_response(
                401, "Authentication required.", headers={"WWW-Authenticate": "Bearer"}
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(SecondFactorRequired)
    async def second_factor_required(request: Request, _exc: SecondFactorRequired) -> Response:
        if wants_json(request):
            return problem_response(
                403, "Your roles need a second factor: enrol one at /account/totp first."
            )
        if request.headers.get("hx-request") == "true":
            return Response(status_code=403, headers={"HX-Redirect": "/account/totp"})
        return RedirectResponse("/account/totp", status_code=303)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's and Starlette's own (400s)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        errors: list[FieldError] = []
        detail = exc.detail
        if isinstance(detail, list):  # [{"field", "message"}, ...]
            errors = [FieldError.model_validate(e) for e in detail]
            detail = ""
        if wants_json(request):
            return problem_response(exc.status_code, str(detail), errors, exc.headers)
        message = str(detail) or "; ".join(f"{e.field}: {e.message}" for e in errors)
        return _page(request, exc.status_code, message)

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> Response:
        if wants_json(request):
            return problem_response(exc.status, exc.detail, exc.errors)
        return _page(request, exc.status, exc.detail)

    async def domain_error(request: Request, exc: Exception) -> Response:
        status = domain_status(exc)
        detail = str(getattr(exc, "message", "") or exc)
        field = getattr(exc, "field", None)
        if wants_json(request):
            errors = [FieldError(field=field, message=detail)] if field else []
            return problem_response(status, detail, errors)
        return _page(request, status, detail)

    for kind, _status in DOMAIN_ERRORS:
        app.add_exception_handler(kind, domain_error)

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        # Postgres restarting or unreachable, or the pool exhausted: a clear 503 the client
        # can retry, instead of a bare 500 after which the server drops the connection.
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
        log.warning("database unavailable: %s", reason[0] if reason else type(exc).__name__)
        headers = {"Retry-After": "5"}
        if wants_json(request):
            return problem_response(503, DATABASE_DOWN, headers=headers)
        response = _page(request, 503, DATABASE_DOWN)
        response.headers.update(headers)
        return response

    for error in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(error, database_unavailable)

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, _exc: Exception) -> Response:
        # A number past the database's integer range (an id of 2**63, found by schemathesis):
        # the request is wrong, not the server. The session has already rolled back.
        return await http_error(
            request, HTTPException(422, "A number in the request is out of range.")
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            FieldError(field=".".join(str(p) for p in e["loc"][1:]) or "body", message=e["msg"])
            for e in exc.errors()
        ]
        message = "; ".join(f"{e.field}: {e.message}" for e in errors)
        if wants_json(request):
            return problem_response(422, f"The request is not valid: {message}", errors)
        return _page(request, 422, message)
