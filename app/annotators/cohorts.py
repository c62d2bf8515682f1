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


def set_tag(db: Session, user: User, dimension: str, value: str, actor_id: int) -> None:
    """Place `user` in cohort `value` of `dimension`; an empty value removes the tag."""
    dimension, value = " ".join(dimension.split()).lower(), " ".join(value.split())
    if not dimension or len(dimension) > MAX_DIMENSION or len(value) > MAX_VALUE:
        raise CohortError(
            f"A dimension of 1–{MAX_DIMENSION} characters and a value of up to {MAX_VALUE}."
        )
    db.execute(
        delete(AnnotatorTag).where(
            AnnotatorTag.user_id == user.id, AnnotatorTag.dimension == dimension
        )
    )
    if value:
        db.add(AnnotatorTag(user_id=user.id, dimension=dimension, value=value))
    db.flush()
    audit(db, "annotator.tagged", actor_id, f"user:{user.id}", dimension=dimension, value=value)
