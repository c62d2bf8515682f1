"""The data browser: a project's pairs with their votes, filtered and keyset-paginated;
one pair in full; retiring a filtered selection."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased

from app.domain.audit import audit
from app.models import (
    Adjudication,
    Assignment,
    Comparison,
    Completion,
    Pair,
    PolicyVersion,
    Project,
    Prompt,
    User,
)
from app.pairs.schemas import MARGIN_SORTS, PairFilter, PairSort
from app.prompts.service import like_pattern, meta_condition
from app.vocabulary import Agreement, PairStatus, ReviewStatus


class BrowseError(ValueError):
    """A filter that cannot be applied; `field` names the bad parameter."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


# --- agreement: one rule for the filter, the rows shown and the review queue -------------


def agreement_of(choices: Counter[str], adjudicated: bool) -> Agreement | None:
    """How a pair's votes relate; None for fewer than two votes (and no adjudication)."""
    if adjudicated:
        return Agreement.adjudicated
    if choices["a"] and choices["a"] == choices["b"]:
        return Agreement.even_split
    if sum(choices.values()) < 2:
        return None
    return Agreement.unanimous if len(+choices) == 1 else Agreement.majority


def _per_pair(project_id: int) -> Select[Any]:
    return (
        select(Comparison.pair_id)
        .where(Comparison.project_id == project_id, Comparison.live)
        .group_by(Comparison.pair_id)
    )


def _votes_of_this_pair() -> Select[Any]:
    """The votes of the outer query's pair, grouped (correlated): evaluated pair by pair, so a
    page of 50 stops after 50 matches instead of grouping every vote of the project."""
    return (
        select(Comparison.pair_id)
        .where(Comparison.pair_id == Pair.id, Comparison.live)
        .group_by(Comparison.pair_id)
    )


def _a_votes() -> Any:
    return func.sum(case((Comparison.choice == "a", 1), else_=0))


def _b_votes() -> Any:
    return func.sum(case((Comparison.choice == "b", 1), else_=0))


def _split() -> ColumnElement[bool]:
    """As many votes for a as for b (what the trainer's majority drops)."""
    return and_(_a_votes() == _b_votes(), _a_votes() > 0)


def _unanimous() -> ColumnElement[bool]:
    return and_(func.count() >= 2, func.count(distinct(Comparison.choice)) == 1)


def _majority() -> ColumnElement[bool]:
    return and_(
        func.count() >= 2,
        func.count(distinct(Comparison.choice)) > 1,
        or_(_a_votes() != _b_votes(), _a_votes() == 0),
    )


RULES = {
    Agreement.even_split: _split,
    Agreement.unanimous: _unanimous,
    Agreement.majority: _majority,
}


def split_pair_ids(project_id: int) -> Select[Any]:
    """The project's split pairs' ids (for counting the review queue)."""
    return _per_pair(project_id).having(_split())


def decided() -> ColumnElement[bool]:
    """The pair (Pair) has a reviewer's final label."""
    return exists().where(
        Adjudication.pair_id == Pair.id, Adjudication.status == ReviewStatus.decided
    )


def agreement_condition(agreement: Agreement) -> ColumnElement[bool]:
    """The pair (Pair) has this agreement (the rule `agreement_of` applies to a page's rows)."""
    if agreement == Agreement.adjudicated:
        return decided()
    return and_(_votes_of_this_pair().having(RULES[agreement]()).exists(), ~decided())


# --- the list ------------------------------------------------------------------------------


@dataclass
class PairRow:
    pair: Pair
    prompt: str
    version_a: int
    version_b: int
    choices: Counter[str]
    agreement: Agreement | None

    @property
    def votes(self) -> int:
        return sum(self.choices.values())


@dataclass
class PairPage:
    rows: list[PairRow]
    next: str | None  # keyset cursor: pass as `after`


def annotator_id(db: Session, username: str) -> int:
    user_id = db.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise BrowseError(f"No annotator named {username!r}.", "annotator")
    return user_id


def _vote_exists(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Comparison.pair_id == Pair.id, Comparison.live, *conditions)


def filter_conditions(db: Session, project: Project, filt: PairFilter) -> list[Any]:
    """WHERE conditions on Pair (joined with Prompt and both completions' versions)."""
    va, vb = _versions()
    conds: list[Any] = [Pair.project_id == project.id]
    if filt.versions:
        conds.append(or_(va.number.in_(filt.versions), vb.number.in_(filt.versions)))
    if filt.kind is not None:
        conds.append(Pair.kind == filt.kind)
    if filt.status is not None:
        conds.append(Pair.status == filt.status)
    if filt.agreement is not None:
        conds.append(agreement_condition(filt.agreement))
    if filt.flag.strip():
        quoted = json.dumps(filt.flag.strip())
        conds.append(
            _vote_exists(cast(Comparison.flags, String).like(like_pattern(quoted), escape="\\"))
        )
    if filt.annotator.strip():
        conds.append(_vote_exists(Comparison.user_id == annotator_id(db, filt.annotator.strip())))
    if filt.since is not None or filt.until is not None:
        window = []
        if filt.since is not None:
            window.append(Comparison.created_at >= filt.since)
        if filt.until is not None:
            window.append(Comparison.created_at < filt.until)
        conds.append(_vote_exists(*window))
    if filt.q.strip():
        if db.get_bind().dialect.name == "postgresql":
            # As in the prompt list: plan for the actual pattern, so the trigram index is used.
            db.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        conds.append(Prompt.text.ilike(like_pattern(filt.q.strip()), escape="\\"))
    if (matches := meta_condition(filt.meta)) is not None:
        conds.append(matches)
    if filt.has_rationale is not None:
        reasoned = _vote_exists(Comparison.rationale != "")
        conds.append(reasoned if filt.has_rationale else ~reasoned)
    if filt.margin_min is not None:
        conds.append(Pair.reward_margin >= filt.margin_min)
    if filt.margin_max is not None:
        conds.append(Pair.reward_margin <= filt.margin_max)
    if filt.sort in MARGIN_SORTS:
        conds.append(Pair.reward_margin.isnot(None))
    return conds


_VA, _VB = aliased(PolicyVersion, name="version_a"), aliased(PolicyVersion, name="version_b")
_CA, _CB = aliased(Completion, name="completion_a"), aliased(Completion, name="completion_b")


def _versions() -> tuple[Any, Any]:
    return _VA, _VB


def _joined(stmt: Select[Any]) -> Select[Any]:
    return (
        stmt.join(Prompt, Prompt.id == Pair.prompt_id)
        .join(_CA, _CA.id == Pair.completion_a_id)
        .join(_CB, _CB.id == Pair.completion_b_id)
        .join(_VA, _VA.id == _CA.policy_version_id)
        .join(_VB, _VB.id == _CB.policy_version_id)
    )


def pair_rows() -> Select[Any]:
    """Pairs with their prompt's text and both completions' version numbers (for rows_for)."""
    stmt: Select[Any] = select(Pair, Prompt.text, _VA.number, _VB.number)  # type: ignore[assignment]
    return _joined(stmt)


def _cursor(filt: PairFilter) -> list[Any]:
    """The keyset condition continuing after `filt.after` in `filt.sort` order."""
    if not filt.after:
        return []
    try:
        if filt.sort in MARGIN_SORTS:
            margin_text, id_text = filt.after.split(",", 1)
            margin, last = float(margin_text), int(id_text)
        else:
            margin, last = 0.0, int(filt.after)
    except ValueError:
        raise BrowseError("The page cursor is not valid.", "after") from None
    if filt.sort == PairSort.newest:
        return [Pair.id < last]
    if filt.sort == PairSort.oldest:
        return [Pair.id > last]
    if filt.sort == PairSort.margin_asc:
        return [
            or_(Pair.reward_margin > margin, and_(Pair.reward_margin == margin, Pair.id > last))
        ]
    return [or_(Pair.reward_margin < margin, and_(Pair.reward_margin == margin, Pair.id < last))]


ORDER = {
    PairSort.newest: (Pair.id.desc(),),
    PairSort.oldest: (Pair.id.asc(),),
    PairSort.margin_asc: (Pair.reward_margin.asc(), Pair.id.asc()),
    PairSort.margin_desc: (Pair.reward_margin.desc(), Pair.id.desc()),
}


def vote_counts(db: Session, pair_ids: list[int]) -> dict[int, Counter[str]]:
    """Each pair's votes by choice, for the given pairs only."""
    counts: dict[int, Counter[str]] = {pid: Counter() for pid in pair_ids}
    if pair_ids:
        rows = db.execute(
            select(Comparison.pair_id, Comparison.choice, func.count())
            .where(Comparison.pair_id.in_(pair_ids), Comparison.live)
            .group_by(Comparison.pair_id, Comparison.choice)
        )
        for pid, choice, n in rows:
            counts[pid][choice] = int(n)
    return counts


def decided_pairs(db: Session, pair_ids: list[int]) -> set[int]:
    if not pair_ids:
        return set()
    return set(
        db.scalars(
            select(Adjudication.pair_id).where(
                Adjudication.pair_id.in_(pair_ids), Adjudication.status == ReviewStatus.decided
            )
        )
    )


def rows_for(db: Session, found: list[Any]) -> list[PairRow]:
    """Rows (pair, prompt text, version numbers) with their votes and agreement."""
    ids = [r[0].id for r in found]
    counts = vote_counts(db, ids)
    done = decided_pairs(db, ids)
    return [
        PairRow(
            pair, text_, va, vb, counts[pair.id], agreement_of(counts[pair.id], pair.id in done)
        )
        for pair, text_, va, vb in found
    ]


def list_pairs(db: Session, project: Project, filt: PairFilter) -> PairPage:
    """One page of pairs in `filt.sort` order; votes counted for the visible page only."""
    stmt = pair_rows().where(*filter_conditions(db, project, filt), *_cursor(filt))
    found = list(db.execute(stmt.order_by(*ORDER[filt.sort]).limit(filt.limit + 1)))
    more = len(found) > filt.limit
    found = found[: filt.limit]
    rows = rows_for(db, found)
    cursor = None
    if more and rows:
        last = rows[-1].pair
        cursor = f"{last.reward_margin!r},{last.id}" if filt.sort in MARGIN_SORTS else str(last.id)
    return PairPage(rows, cursor)


def matching_ids(db: Session, project: Project, filt: PairFilter) -> Select[Any]:
    """Every pair the filter matches (all pages), as a subquery of ids."""
    return _joined(select(Pair.id)).where(*filter_conditions(db, project, filt))


def retire_matching(db: Session, project: Project, filt: PairFilter, actor_id: int) -> int:
    """Retire every pair the filter matches that is not retired yet (labels stay). Count."""
    result = db.execute(
        update(Pair)
        .where(Pair.id.in_(matching_ids(db, project, filt)), Pair.status != PairStatus.retired)
        .values(status=PairStatus.retired)
        .execution_options(synchronize_session=False)
    )
    retired = int(result.rowcount or 0)  # type: ignore[attr-defined]
    audit(
        db,
        "pairs.retired",
        actor_id,
        f"project:{project.id}",
        retired=retired,
        filter=filt.query(after=None, limit=None, sort=None),
    )
    return retired


# --- one pair --------------------------------------------------------------------------


@dataclass
class Vote:
    comparison: Comparison
    annotator: str
    left_side: str | None


@dataclass
class CompletionView:
    completion: Completion
    version: int

    @property
    def cut_off(self) -> bool | None:
        """Stopped by the token limit; None where nothing recorded why it ended (gold)."""
        return None if self.completion.finish_reason is None else self.completion.cut_off


@dataclass
class PairDetail:
    pair: Pair
    prompt: Prompt
    a: CompletionView
    b: CompletionView
    votes: list[Vote]
    adjudication: Adjudication | None
    adjudicator: str | None

    @property
    def choices(self) -> Counter[str]:
        return Counter(v.comparison.choice for v in self.votes)

    @property
    def agreement(self) -> Agreement | None:
        done = self.adjudication is not None and self.adjudication.status == ReviewStatus.decided
        return agreement_of(self.choices, done)


def _completion(db: Session, completion_id: int) -> CompletionView:
    completion = db.get(Completion, completion_id)
    assert completion is not None  # a foreign key
    version = db.get(PolicyVersion, completion.policy_version_id)
    return CompletionView(completion, version.number if version else -1)


def pair_detail(db: Session, pair: Pair) -> PairDetail:
    """The pair with its prompt, both completions and every live vote, oldest first."""
    prompt = db.get(Prompt, pair.prompt_id)
    assert prompt is not None
    votes = [
        Vote(c, name, side)
        for c, name, side in db.execute(
            select(Comparison, User.username, Assignment.left_side)
            .join(User, User.id == Comparison.user_id)
            .outerjoin(Assignment, Assignment.id == Comparison.assignment_id)
            .where(Comparison.pair_id == pair.id, Comparison.live)
            .order_by(Comparison.id)
        )
    ]
    adjudication = db.scalar(select(Adjudication).where(Adjudication.pair_id == pair.id))
    adjudicator = None
    if adjudication is not None and adjudication.decided_by_id is not None:
        adjudicator = db.scalar(select(User.username).where(User.id == adjudication.decided_by_id))
    return PairDetail(
        pair,
        prompt,
        _completion(db, pair.completion_a_id),
        _completion(db, pair.completion_b_id),
        votes,
        adjudication,
        adjudicator,
    )
