"""A project's quality figures — agreement and every annotator's figures — from one pass of
aggregate queries, kept per project (`app.snapshots`): the quality page, its API and the
dashboard all show these, with their time."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.annotators.figures import AnnotatorStats, trust_flags
from app.annotators.stats import overlap_rows, project_annotator_stats
from app.models import Comparison, Project
from app.quality.agreement import Agreement, pair_tables, project_agreement
from app.quality.cohorts import Dimension, cohort_figures
from app.settings import Settings
from app.snapshots import Aggregate, Figures, Snapshots, invalidate, invalidate_everywhere


@dataclass
class QualityFigures:
    agreement: Agreement = field(default_factory=Agreement)
    annotators: dict[int, AnnotatorStats] = field(default_factory=dict)
    cohorts: list[Dimension] = field(default_factory=list)


def compute(db: Session, project: Project, settings: Settings) -> QualityFigures:
    """Agreement and every annotator's figures; the overlap rows are read once for both."""
    overlap = overlap_rows(db, project.id)
    return QualityFigures(
        agreement=project_agreement(db, project.id, overlap=overlap),
        annotators=project_annotator_stats(db, project.id, settings, overlap=overlap),
        cohorts=cohort_figures(db, project.id, pair_tables(db, project.id)),
    )


def comparisons_source(db: Session, project: Project, settings: Settings) -> str:
    """The project's label count and newest label: new labels (or removed ones) move it."""
    count, newest = db.execute(
        select(func.count(Comparison.id), func.max(Comparison.id)).where(
            Comparison.project_id == project.id, Comparison.live
        )
    ).one()
    return f"{count}:{newest}"


QUALITY = Aggregate("quality", QualityFigures, comparisons_source, compute)


def project_quality(snapshots: Snapshots, db: Session, project: Project) -> Figures[QualityFigures]:
    """The kept figures (trust flags by this deployment's thresholds), with their time."""
    figures = snapshots.get(db, QUALITY, project)
    for stats in figures.value.annotators.values():
        stats.trust_flags = trust_flags(stats, snapshots.settings)
    return figures


def figures_changed(db: Session, project_id: int) -> None:
    """Gold answers changed: the kept figures are out of date (refreshed on the next view)."""
    invalidate(db, project_id, QUALITY.kind)


def cohorts_changed(db: Session) -> None:
    """Annotators' cohort tags changed: every project's kept figures are out of date, since
    each project's cohort figures read every annotator's tags (the cohort sizes too)."""
    invalidate_everywhere(db, QUALITY.kind)
