"""Reads worker heartbeats and per-project sampling state for the system page."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import versions
from app.models import User, WorkerHeartbeat, utcnow
from app.projects.service import visible_projects
from app.sampling import service as sampling
from app.settings import Settings
from app.system.schemas import ProjectSamplingOut, SystemOut, WorkerOut

# A sampler beats between batches; converting version 0 or a long batch can take a minute.
ALIVE_SECONDS = 120.0


def system_status(db: Session, user: User, settings: Settings) -> SystemOut:
    """Workers (with heartbeat age) and, per project the user may see, its sampling state."""
    now = utcnow()
    projects = visible_projects(db, user)
    beats = list(
        db.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.kind, WorkerHeartbeat.id))
    )
    workers = []
    for hb in beats:
        age = max((now - hb.seen_at).total_seconds(), 0.0)
        status = hb.status or {}
        workers.append(
            WorkerOut(
                id=hb.id,
                kind=hb.kind,
                seen_at=hb.seen_at,
                age_seconds=round(age, 1),
                alive=age <= ALIVE_SECONDS,
                state=str(status.get("state", "")),
                tokens_per_s=status.get("tokens_per_s"),
                pairs_made=status.get("pairs_made"),
                last_error=status.get("last_error"),
                last_error_at=status.get("last_error_at"),
            )
        )
    alive_samplers = [
        (w, hb.status or {})
        for w, hb in zip(workers, beats, strict=True)
        if w.alive and hb.kind == "sampler"
    ]
    out = []
    for project in projects:
        version = versions.active_version(db, project.id)
        serving = [
            (w, s) for w, s in alive_samplers if str(project.id) in (s.get("projects") or {})
        ]
        # Only this project's own errors: the page shows a project to its members alone.
        entries = [(s.get("projects") or {}).get(str(project.id)) or {} for _, s in serving]
        errors = [str(e["last_error"]) for e in entries if e.get("last_error")]
        out.append(
            ProjectSamplingOut(
                id=project.id,
                name=project.name,
                active_version=version.number if version else None,
                buffer_depth=sampling.buffer_depth(db, project.id, version.id) if version else 0,
                head_to_head_depth=(
                    sampling.buffer_depth(db, project.id, version.id, "head_to_head")
                    if version
                    else 0
                ),
                # What the samplers aim for (their settings may differ from this process's).
                pair_buffer=max(
                    (int(st.get("pair_buffer") or 0) for _, st in serving),
                    default=settings.pair_buffer,
                ),
                samplers_alive=len(serving),
                tokens_per_s=round(sum(w.tokens_per_s or 0.0 for w, _ in serving), 1),
                last_error=errors[0] if errors else None,
            )
        )
    return SystemOut(generated_at=now, workers=workers, projects=out)
