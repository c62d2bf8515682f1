"""Admin edits to projects: settings, per-tag overlap, members, versioned guidelines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import user_by_name
from app.domain.audit import audit
from app.domain.leases import release_leases
from app.domain.project_settings import (
    MAX_HELD_OUT_SHARE,
    MAX_LABEL_CHANGE_WINDOW_MINUTES,
    MAX_OVERLAP,
    MAX_RANK_K,
    MIN_RANK_K,
    LoopSettings,
    ProjectSettingsError,
    loop_settings_of,
    settings_of,
    update_settings,
)
from app.models import GuidelineVersion, Project, ProjectMember, User
from app.projects.service import add_member

MAX_FLAGS = 20
DEFAULT_HEAD_TO_HEAD_SHARE = 0.1


class ProjectError(ValueError):
    """Bad project input; the message is shown to the admin."""


@dataclass
class ProjectFields:
    name: str
    description: str = ""
    base_policy_model: str = "smollm2"
    overlap: int = 1
    gold_rate: float = 0.0
    flags: list[str] | None = None
    head_to_head_share: float | None = None  # None: unchanged (the default on creation)
    overlap_by_tag: dict[str, int] | None = None
    held_out_share: float | None = None  # None: unchanged
    ranking_k: int | None = None  # None: unchanged; 0: pairs; 3-6: rankings of that many
    ranking_by_tag: dict[str, int] | None = None  # None: unchanged
    label_change_window_minutes: int | None = None  # None: unchanged; 0: labels are final


def parse_flags(text: str) -> list[str]:
    flags = list(dict.fromkeys(f.strip() for f in text.replace("\n", ",").split(",") if f.strip()))
    if len(flags) > MAX_FLAGS or any(len(f) > 50 for f in flags):
        raise ProjectError(f"At most {MAX_FLAGS} flags of up to 50 characters.")
    return flags


def parse_by_tag(text: str, what: str, low: int, high: int) -> dict[str, int]:
    """Lines of `tag = n` (low ≤ n ≤ high) → {tag: n}; `what` names the field in errors."""
    out: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        tag, sep, value = line.partition("=")
        if not sep or not tag.strip() or not value.strip().isdigit():
            raise ProjectError(f"{what}, line {number}: write `tag = number`.")
        n = int(value)
        if not low <= n <= high:
            raise ProjectError(f"{what}, line {number}: between {low} and {high}.")
        out[tag.strip()] = n
    return out


def parse_overlap_by_tag(text: str) -> dict[str, int]:
    """Lines of `tag = n` → {tag: labels each pair of such a prompt needs}."""
    return parse_by_tag(text, "Overlap by tag", 1, MAX_OVERLAP)


def parse_ranking_by_tag(text: str) -> dict[str, int]:
    """Lines of `tag = K` → {tag: answers ranked per task for such a prompt}."""
    return parse_by_tag(text, "Rankings by tag", MIN_RANK_K, MAX_RANK_K)


def _check(db: Session, fields: ProjectFields, project_id: int | None) -> None:
    name = fields.name.strip()
    if not name or len(name) > 100:
        raise ProjectError("Name must be 1 to 100 characters.")
    clash = db.scalar(select(Project.id).where(Project.name == name))
    if clash is not None and clash != project_id:
        raise ProjectError(f"A project named {name!r} exists.")
    if not 1 <= fields.overlap <= MAX_OVERLAP:
        raise ProjectError(f"Overlap must be between 1 and {MAX_OVERLAP}.")
    if not 0 <= fields.gold_rate <= 0.5:
        raise ProjectError("Gold rate must be between 0 and 0.5.")
    share = fields.head_to_head_share
    if share is not None and not 0 <= share <= 0.5:
        raise ProjectError("Head-to-head share must be between 0 and 0.5.")
    held = fields.held_out_share
    if held is not None and not 0 <= held <= MAX_HELD_OUT_SHARE:
        raise ProjectError(f"Held-out share must be between 0 and {MAX_HELD_OUT_SHARE}.")
    window = fields.label_change_window_minutes
    if window is not None and not 0 <= window <= MAX_LABEL_CHANGE_WINDOW_MINUTES:
        raise ProjectError(
            f"Label change window must be between 0 and {MAX_LABEL_CHANGE_WINDOW_MINUTES} minutes."
        )
    if not fields.base_policy_model.strip():
        raise ProjectError("Base policy model must not be empty.")


def _apply(project: Project, fields: ProjectFields) -> None:
    project.name = fields.name.strip()
    project.description = fields.description.strip()
    project.base_policy_model = fields.base_policy_model.strip()[:300]
    project.overlap = fields.overlap
    project.gold_rate = fields.gold_rate
    if fields.head_to_head_share is not None:
        project.head_to_head_share = fields.head_to_head_share
    if fields.flags is not None:
        project.flags = fields.flags
    changes: dict[str, object] = {}
    if fields.overlap_by_tag is not None:
        changes["overlap_by_tag"] = fields.overlap_by_tag
    if fields.held_out_share is not None:
        changes["held_out_share"] = fields.held_out_share
    if fields.ranking_k is not None:
        changes["ranking_k"] = fields.ranking_k or None
    if fields.ranking_by_tag is not None:
        changes["ranking_by_tag"] = fields.ranking_by_tag
    if fields.label_change_window_minutes is not None:
        changes["label_change_window_minutes"] = fields.label_change_window_minutes
    if changes:
        try:
            update_settings(project, **changes)
        except ProjectSettingsError as exc:
            raise ProjectError(str(exc)) from exc


def create_project(db: Session, fields: ProjectFields, actor: User) -> Project:
    """A new project; its creator becomes a member."""
    _check(db, fields, None)
    project = Project(
        settings={},
        guidelines="",
        guidelines_version=1,
        head_to_head_share=DEFAULT_HEAD_TO_HEAD_SHARE,
    )
    _apply(project, fields)
    db.add(project)
    db.flush()
    add_member(db, project, actor)
    audit(db, "project.created", actor.id, f"project:{project.id}", name=project.name)
    return project


def update_project(db: Session, project: Project, fields: ProjectFields, actor_id: int) -> None:
    """Change settings (overlap, gold rate, flags, per-tag overlap...)."""
    _check(db, fields, project.id)
    _apply(project, fields)
    audit(
        db,
        "project.updated",
        actor_id,
        f"project:{project.id}",
        overlap=project.overlap,
        gold_rate=project.gold_rate,
        head_to_head_share=project.head_to_head_share,
        overlap_by_tag=settings_of(project).overlap_by_tag,
        held_out_share=settings_of(project).held_out_share,
        ranking_k=settings_of(project).ranking_k,
        ranking_by_tag=settings_of(project).ranking_by_tag,
        label_change_window_minutes=settings_of(project).label_change_window_minutes,
    )


def set_loop_settings(
    db: Session, project: Project, changes: dict[str, Any], actor_id: int
) -> LoopSettings:
    """Change the project's retraining schedule and promotion rule (validated; all or none)."""
    try:
        update_settings(project, **changes)
    except ProjectSettingsError as exc:
        raise ProjectError(str(exc)) from exc
    loop = loop_settings_of(project)
    audit(db, "project.loop_updated", actor_id, f"project:{project.id}", **loop.model_dump())
    return loop


def set_guidelines(db: Session, project: Project, text: str, actor_id: int) -> bool:
    """Store new guidelines as the next version (history kept); False when unchanged."""
    if text.strip() == project.guidelines.strip():
        return False
    known = set(
        db.scalars(
            select(GuidelineVersion.version).where(GuidelineVersion.project_id == project.id)
        )
    )
    if project.guidelines_version not in known:
        # Keep the text written before history existed, so the number stays explainable.
        db.add(
            GuidelineVersion(
                project_id=project.id, version=project.guidelines_version, text=project.guidelines
            )
        )
    project.guidelines_version += 1
    project.guidelines = text
    db.add(
        GuidelineVersion(
            project_id=project.id,
            version=project.guidelines_version,
            text=text,
            created_by_id=actor_id,
        )
    )
    audit(
        db,
        "guidelines.changed",
        actor_id,
        f"project:{project.id}",
        version=project.guidelines_version,
    )
    return True


def guideline_history(db: Session, project_id: int) -> list[GuidelineVersion]:
    stmt = (
        select(GuidelineVersion)
        .where(GuidelineVersion.project_id == project_id)
        .order_by(GuidelineVersion.version.desc())
    )
    return list(db.scalars(stmt))


def members(db: Session, project_id: int) -> list[User]:
    stmt = (
        select(User)
        .join(ProjectMember, ProjectMember.user_id == User.id)
        .where(ProjectMember.project_id == project_id)
        .order_by(User.username)
    )
    return list(db.scalars(stmt))


def add_member_by_name(db: Session, project: Project, username: str, actor_id: int) -> User:
    user = user_by_name(db, username)
    if user is None:
        raise ProjectError(f"No account named {username.strip()!r}.")
    add_member(db, project, user)
    audit(db, "member.added", actor_id, f"project:{project.id}", user=user.id)
    return user


def remove_member(db: Session, project: Project, user_id: int, actor_id: int) -> None:
    """Membership ends, and with it the person's open leases in the project."""
    row = db.get(ProjectMember, (project.id, user_id))
    if row is not None:
        db.delete(row)
        audit(db, "member.removed", actor_id, f"project:{project.id}", user=user_id)
        release_leases(db, user_id, actor_id, project_id=project.id)
