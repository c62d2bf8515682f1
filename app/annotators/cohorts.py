"""Annotator cohorts: admin-set tags (language = de, region = EU, expertise = medicine…), one
value per dimension per annotator; the bias checks on the quality page compare cohorts."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.domain.audit import audit
from app.models import AnnotatorTag, User

MAX_DIMENSION, MAX_VALUE = 40, 60


class CohortError(ValueError):
    """A tag the admin cannot set; the message says why."""


def tags_by_user(db: Session) -> dict[int, dict[str, str]]:
    """Every annotator's tags, by user id."""
    out: dict[int, dict[str, str]] = defaultdict(dict)
    for uid, dim, value in db.execute(
        select(AnnotatorTag.user_id, AnnotatorTag.dimension, AnnotatorTag.value)
    ):
        out[uid][dim] = value
    return dict(out)


def tags_of(db: Session, user_id: int) -> dict[str, str]:
    """One annotator's tags: dimension → value."""
    rows = db.execute(
        select(AnnotatorTag.dimension, AnnotatorTag.value)
        .where(AnnotatorTag.user_id == user_id)
        .order_by(AnnotatorTag.dimension)
    )
    return dict(rows.tuples().all())


def _clean(dimension: str, value: str) -> tuple[str, str]:
    dimension, value = " ".join(dimension.split()).lower(), " ".join(value.split())
    if not dimension or len(dimension) > MAX_DIMENSION or len(value) > MAX_VALUE:
        raise CohortError(
            f"A dimension of 1–{MAX_DIMENSION} characters and a value of up to {MAX_VALUE}."
        )
    return dimension, value


def set_tag(db: Session, user: User, dimension: str, value: str, actor_id: int) -> None:
    """Place `user` in cohort `value` of `dimension`; an empty value removes the tag."""
    dimension, value = _clean(dimension, value)
    db.execute(
        delete(AnnotatorTag).where(
            AnnotatorTag.user_id == user.id, AnnotatorTag.dimension == dimension
        )
    )
    if value:
        db.add(AnnotatorTag(user_id=user.id, dimension=dimension, value=value))
    db.flush()
    audit(db, "annotator.tagged", actor_id, f"user:{user.id}", dimension=dimension, value=value)


def replace_tags(db: Session, user: User, tags: dict[str, str], actor_id: int) -> dict[str, str]:
    """Make `tags` the annotator's whole set (a dimension left out is removed; an empty value
    too); each change is audited. All are checked before any is written."""
    wanted: dict[str, str] = {}
    for dimension, value in tags.items():
        dim, val = _clean(dimension, value)
        if dim in wanted and wanted[dim] != val:
            raise CohortError(f"Dimension {dim!r} given twice.")
        if val:
            wanted[dim] = val
    current = tags_of(db, user.id)
    for dim in sorted(set(current) | set(wanted)):
        if current.get(dim) != wanted.get(dim):
            set_tag(db, user, dim, wanted.get(dim, ""), actor_id)
    return tags_of(db, user.id)
