"""Writing and reviewing demonstrations: the answer an evaluator would want for a prompt.

An evaluator writes one on the pair they are labelling, from scratch or by editing one of
its responses (`start`); one row per prompt and annotator, so writing again replaces the
text and sends it back to review. Reviewers accept or reject it; what trains is decided in
app/domain/demonstrations.py.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.domain.audit import audit
from app.labeling.service import owned_assignment
from app.models import Completion, Demonstration, Pair, Project, Prompt, User, utcnow
from app.vocabulary import DemonstrationStatus, Side

TEXT_MAX = 20_000
NOTE_MAX = 2000
PAGE = 50
STARTS = ("left", "right", "blank")


class DemonstrationError(ValueError):
    """A demonstration that cannot be stored or reviewed; the message says why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Draft:
    """What the editor starts from on the labelling page."""

    assignment_id: int
    start: str  # left / right / blank
    source: Completion | None  # the response being edited (None: from scratch)
    text: str  # the editor's text: the caller's saved answer, else the response's


@dataclass
class Segment:
    op: str  # equal / insert / delete
    text: str


def diff(before: str, after: str) -> list[Segment]:
    """Word-level changes from `before` to `after` (whitespace kept with its word)."""
    old, new = re.findall(r"\S+\s*", before), re.findall(r"\S+\s*", after)
    out: list[Segment] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(Segment("equal", "".join(old[i1:i2])))
            continue
        if i2 > i1:
            out.append(Segment("delete", "".join(old[i1:i2])))
        if j2 > j1:
            out.append(Segment("insert", "".join(new[j1:j2])))
    return out


def _pair_of(db: Session, user: User, assignment_id: int) -> tuple[Pair, str]:
    """The caller's assigned pair (NotFound otherwise) and which completion is on the left."""
    assignment = owned_assignment(db, user, assignment_id, lock=False)
    return db.get_one(Pair, assignment.pair_id), assignment.left_side


def _side(pair: Pair, left_side: str, start: str) -> int | None:
    if start == "blank":
        return None
    shown_a = (start == "left") == (left_side == Side.a)
    return pair.completion_a_id if shown_a else pair.completion_b_id


def existing(db: Session, user: User, prompt_id: int) -> Demonstration | None:
    return db.scalar(
        select(Demonstration).where(
            Demonstration.prompt_id == prompt_id, Demonstration.user_id == user.id
        )
    )


def draft(db: Session, user: User, assignment_id: int, start: str) -> Draft:
    """The editor for a pair: starting from the left or right response, or blank."""
    if start not in STARTS:
        raise DemonstrationError("Start from the left response, the right one or blank.", "start")
    pair, left_side = _pair_of(db, user, assignment_id)
    source_id = _side(pair, left_side, start)
    source = db.get(Completion, source_id) if source_id else None
    return Draft(assignment_id, start, source, source.text if source else "")


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise DemonstrationError("Write the answer you would want.", "text")
    if len(text) > TEXT_MAX:
        raise DemonstrationError(f"The answer is longer than {TEXT_MAX} characters.", "text")
    return text


def _store(
    db: Session, user: User, prompt: Prompt, text: str, pair_id: int | None, source_id: int | None
) -> Demonstration:
    """The caller's one demonstration for `prompt`, written or replaced; back to review."""
    demo = existing(db, user, prompt.id)
    if demo is None:
        demo = Demonstration(project_id=prompt.project_id, prompt_id=prompt.id, user_id=user.id)
        db.add(demo)
    demo.pair_id, demo.source_completion_id, demo.text = pair_id, source_id, text
    demo.status, demo.review_note = DemonstrationStatus.pending, ""
    demo.reviewed_by_id, demo.reviewed_at, demo.updated_at = None, None, utcnow()
    db.flush()
    audit(db, "demonstration.written", user.id, f"demonstration:{demo.id}", pair=pair_id)
    return demo


def write(
    db: Session, user: User, assignment_id: int, text: str, start: str
) -> tuple[Demonstration, Completion | None]:
    """Store the caller's demonstration on their assigned pair (replacing an earlier one for
    its prompt); `start` names the response it was edited from."""
    if start not in STARTS:
        raise DemonstrationError("Start from the left response, the right one or blank.", "start")
    text = _clean(text)
    pair, left_side = _pair_of(db, user, assignment_id)
    source_id = _side(pair, left_side, start)
    demo = _store(db, user, db.get_one(Prompt, pair.prompt_id), text, pair.id, source_id)
    return demo, db.get(Completion, source_id) if source_id else None


def write_on_prompt(db: Session, user: User, prompt: Prompt, text: str) -> Demonstration:
    """Store the caller's demonstration for a prompt of a project they label (no pair)."""
    return _store(db, user, prompt, _clean(text), None, None)


def review(
    db: Session, demo: Demonstration, decision: str, note: str, actor_id: int
) -> Demonstration:
    """Accept or reject a demonstration (a later decision replaces the earlier; audited)."""
    if decision not in (DemonstrationStatus.accepted, DemonstrationStatus.rejected):
        raise DemonstrationError("Accept or reject the demonstration.", "decision")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise DemonstrationError(f"The note is longer than {NOTE_MAX} characters.", "note")
    before = demo.status
    demo.status, demo.review_note = decision, note
    demo.reviewed_by_id, demo.reviewed_at = actor_id, utcnow()
    db.flush()
    target = f"demonstration:{demo.id}"
    audit(db, "demonstration.reviewed", actor_id, target, decision=decision, before=before)
    return demo


@dataclass
class ReviewRow:
    demo: Demonstration
    prompt: str
    annotator: str
    source: str | None
    changes: list[Segment]


@dataclass
class ReviewPage:
    rows: list[ReviewRow]
    next_after: int | None


def review_page(
    db: Session, project: Project, status: str, *, after: int | None = None, limit: int = PAGE
) -> ReviewPage:
    """The project's demonstrations in one status, oldest first, keyset-paginated on id."""
    source = aliased(Completion)
    stmt = (
        select(Demonstration, Prompt.text, User.username, source.text)
        .join(Prompt, Prompt.id == Demonstration.prompt_id)
        .join(User, User.id == Demonstration.user_id)
        .outerjoin(source, source.id == Demonstration.source_completion_id)
        .where(Demonstration.project_id == project.id, Demonstration.status == status)
        .order_by(Demonstration.id)
    )
    if after is not None:
        stmt = stmt.where(Demonstration.id > after)
    found = list(db.execute(stmt.limit(limit + 1)))
    rows = [
        ReviewRow(demo, prompt, name, src, diff(src, demo.text) if src is not None else [])
        for demo, prompt, name, src in found[:limit]
    ]
    more = len(found) > limit
    return ReviewPage(rows, rows[-1].demo.id if more and rows else None)
