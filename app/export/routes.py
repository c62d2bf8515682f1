"""Export page and downloads (page and API): streamed, with server-generated file names."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from app.deps import Admin, DbDep, SettingsDep
from app.domain.preferences import excluded_annotators
from app.export.parquet import stream_parquet
from app.export.service import ExportOptions, filename, stream
from app.models import Project
from app.projects.deps import ChosenProjectDep
from app.projects.service import visible_projects
from app.settings import Settings
from app.web import render

router = APIRouter(tags=["export"])


def options(
    format: Literal["trl", "raw", "sft"] = "trl",
    file_format: Literal["jsonl", "csv", "parquet"] = "jsonl",
    since: Annotated[str, Query(max_length=10, description="YYYY-MM-DD")] = "",
    until: Annotated[str, Query(max_length=10, description="YYYY-MM-DD, inclusive.")] = "",
    tag: Annotated[str, Query(max_length=50)] = "",
    exclude_ties: bool = False,
    include_excluded: bool = False,
    aggregate: bool = True,
    pseudonymise: bool = False,
    include_imported: Annotated[
        bool, Query(description="TRL and raw: add the rows of imported preference files")
    ] = False,
) -> ExportOptions:
    def at(field: str, value: str, shift: int = 0) -> datetime | None:
        # An empty date input (the page's form) means no bound.
        if not value:
            return None
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise HTTPException(422, [{"field": field, "message": "use YYYY-MM-DD"}]) from exc
        return datetime.combine(day + timedelta(days=shift), time(), UTC)

    return ExportOptions(
        kind=format,
        file_format=file_format,
        since=at("since", since),
        until=at("until", until, 1),
        tag=tag,
        exclude_ties=exclude_ties,
        exclude_excluded=not include_excluded,
        aggregate=aggregate,
        pseudonymise=pseudonymise,
        include_imported=include_imported,
    )


def download(
    request: Request, project: Project, opts: ExportOptions, settings: Settings
) -> Response:
    factory, secret = request.app.state.sessionmaker, settings.resolved_secret_key()
    if opts.file_format == "parquet":  # never sft (ExportOptions refuses it)
        media, body = (
            "application/vnd.apache.parquet",
            stream_parquet(factory, project.id, opts, secret),
        )
    else:
        media = (
            "text/csv" if opts.kind == "raw" and opts.file_format == "csv" else "application/jsonl"
        )
        body = stream(factory, project.id, opts, secret)
    headers = {"Content-Disposition": f'attachment; filename="{filename(project, opts)}"'}
    return StreamingResponse(body, media_type=media, headers=headers)


Options = Annotated[ExportOptions, Depends(options)]


@router.get("/admin/export", include_in_schema=False)
def export_page(request: Request, db: DbDep, principal: Admin, proj: ChosenProjectDep) -> Response:
    ctx = {
        "project": proj,
        "projects": visible_projects(db, principal.user),
        "excluded": len(excluded_annotators(proj)),
    }
    return render(request, "admin/export.html", ctx)


api_router = APIRouter(prefix="/export", tags=["export"])


EXPORT_TYPES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The export file, streamed",
        "content": {
            t: {} for t in ("application/jsonl", "text/csv", "application/vnd.apache.parquet")
        },
    }
}


@api_router.get("", response_class=Response, responses=EXPORT_TYPES)
def api_export(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    opts: Options,
    project: ChosenProjectDep,
) -> Response:
    """`format=trl`: TRL preference JSONL (`prompt`, `chosen`, `rejected`; chat prompts as
    message lists), majority per pair unless `aggregate=false`. `format=raw`: one row per
    comparison (JSONL or `file_format=csv`). `format=sft`: the demonstrations as TRL
    conversational rows (`messages`: the prompt's turns, then the answer; JSONL). Streamed."""
    return download(request, project, opts, settings)


# The export page's download form: the same handler (page errors render as pages).
router.add_api_route("/admin/export/download", api_export, methods=["GET"], include_in_schema=False)
