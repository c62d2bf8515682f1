"""The human trial of a candidate version: evaluators' head-to-head votes decide.

A candidate that passed its reward-model gates in a project whose promotion is
`human_trial` goes on trial (`versions.start_trial`). The sampler then mixes pairs of the
candidate against its parent — the active version, which keeps serving — into the open
pairs at the project's `trial_share`. Once `trial_votes` votes are judged (a win, loss or
tie; both-bad says nothing about which is better), each review computes the candidate's
win share (ties half) with a 95 % Wilson interval and

- promotes it when the interval's lower bound is above 50 %,
- rejects it when the upper bound is below 50 %,
- otherwise waits for more votes, up to `trial_max_votes`, and then rejects it.

Before the votes, the safety gate (`app.domain.safety`): a candidate whose responses are
flagged unsafe more often than the active version's, beyond its interval, is rejected
whatever its win share.

Every review stores the tally and interval in the version's `metrics["trial"]`, and the
decision with them, so the versions page shows what each decision rested on.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.domain import safety, versions
from app.domain.intervals import wilson_interval
from app.domain.jobs import lock_project
from app.domain.preferences import excluded_annotators
from app.domain.project_settings import loop_settings_of
from app.models import Comparison, Completion, Pair, PolicyVersion, Project, utcnow
from app.settings import Settings

__all__ = ["LEVEL", "Tally", "review", "tally"]

log = logging.getLogger(__name__)

LEVEL = 0.95


@dataclass(frozen=True)
class Tally:
    """The candidate's judged votes against its parent, and its win share's interval."""

    opponent: int  # the parent's version number
    wins: int
    losses: int
    ties: int
    both_bad: int
    rate: float | None
    low: float
    high: float
    level: float = LEVEL

    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties


def tally(db: Session, version: PolicyVersion, parent: PolicyVersion) -> Tally:
    """Count the head-to-head votes between `version` and `parent` (either side shown as a)."""
    comp_a, comp_b = aliased(Completion), aliased(Completion)
    project = db.get(Project, version.project_id)
    excluded = excluded_annotators(project) if project is not None else []
    stmt = (
        select(comp_a.policy_version_id, Comparison.choice)
        .select_from(Comparison)
        .join(Pair, Pair.id == Comparison.pair_id)
        .join(comp_a, comp_a.id == Pair.completion_a_id)
        .join(comp_b, comp_b.id == Pair.completion_b_id)
        .where(
            Pair.project_id == version.project_id,
            Pair.kind == "head_to_head",
            Comparison.live,
            (
                (comp_a.policy_version_id == version.id) & (comp_b.policy_version_id == parent.id)
                | (comp_a.policy_version_id == parent.id) & (comp_b.policy_version_id == version.id)
            ),
        )
    )
    if excluded:
        stmt = stmt.where(Comparison.user_id.not_in(excluded))
    wins = losses = ties = both_bad = 0
    for version_of_a, choice in db.execute(stmt):
        if choice == "both_bad":
            both_bad += 1
        elif choice == "tie":
            ties += 1
        elif (choice == "a") == (version_of_a == version.id):
            wins += 1
        else:
            losses += 1
    judged = wins + losses + ties
    interval = wilson_interval(wins + ties / 2, judged, LEVEL)
    return Tally(
        opponent=parent.number,
        wins=wins,
        losses=losses,
        ties=ties,
        both_bad=both_bad,
        rate=interval.estimate if judged else None,
        low=interval.low,
        high=interval.high,
    )


def decide(count: Tally, needed: int, most: int) -> tuple[str | None, str]:
    """("promote" | "reject" | None, why) for a tally under the project's vote limits."""
    share = f"{count.wins + count.ties / 2:g} of {count.votes}"
    bounds = f"{count.low:.0%}–{count.high:.0%}"
    if count.votes < needed:
        return None, f"{count.votes} of {needed} votes so far"
    if count.low > 0.5:
        return "promote", f"won {share} votes against v{count.opponent} (interval {bounds})"
    if count.high < 0.5:
        return "reject", f"won only {share} votes against v{count.opponent} (interval {bounds})"
    if count.votes >= most:
        return "reject", f"undecided after {count.votes} votes (interval {bounds} spans 50 %)"
    return None, f"undecided at {count.votes} votes (interval {bounds}); collecting up to {most}"


def review(db: Session, settings: Settings, project_id: int) -> str | None:
    """Update the project's trial from its votes; returns "promoted"/"rejected" on a decision."""
    candidate = versions.trial_version(db, project_id)
    if candidate is None:
        return None
    project = lock_project(db, project_id)
    db.refresh(candidate)
    if project is None or candidate.status != "trial":
        return None  # decided by someone else meanwhile
    parent = db.get(PolicyVersion, candidate.parent_id) if candidate.parent_id else None
    if parent is None or parent.status != "active":
        _record(candidate, None, "rejected", "the version it was tried against is no longer live")
        versions.reject(db, candidate, reason="trial: its opponent is no longer live")
        return "rejected"
    loop = loop_settings_of(project)
    count = tally(db, candidate, parent)
    unsafe = safety.refusal(safety.unsafe_shares(db, project), candidate, parent)
    if unsafe is not None:
        why = f"safety gate: {unsafe}"
        _record(candidate, count, "rejected", why)
        versions.reject(db, candidate, reason=f"human trial: {why}")
        log.info("v%s rejected by the safety gate: %s", candidate.number, unsafe)
        return "rejected"
    verdict, why = decide(count, loop.trial_votes, loop.trial_max_votes)
    if verdict == "promote":
        _record(candidate, count, "promoted", why)
        db.flush()  # promote re-reads the row
        versions.promote(db, settings, candidate, None, reason=f"human trial: {why}")
        log.info("v%s promoted after its human trial: %s", candidate.number, why)
        return "promoted"
    if verdict == "reject":
        _record(candidate, count, "rejected", why)
        versions.reject(db, candidate, reason=f"human trial: {why}")
        log.info("v%s rejected after its human trial: %s", candidate.number, why)
        return "rejected"
    if (candidate.metrics or {}).get("trial", {}).get("votes") != count.votes:
        _record(candidate, count, None, why)  # the live tally, for the versions page
        db.flush()
    return None


def _record(version: PolicyVersion, count: Tally | None, decision: str | None, why: str) -> None:
    trial: dict[str, Any] = {**(version.metrics or {}).get("trial", {})}
    if count is not None:
        trial.update(asdict(count), votes=count.votes)
    trial.update(decision=decision, reason=why)
    if decision is not None:
        trial["decided_at"] = utcnow().isoformat()
    version.metrics = {**(version.metrics or {}), "trial": trial}
