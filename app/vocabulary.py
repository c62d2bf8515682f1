"""The fixed words the data uses: statuses, kinds, choices, roles — one StrEnum each.

(Kept outside app.models so that the CLI can name roles without loading SQLAlchemy.)
Members are `str`s, so they compare equal to the stored text and to literals; the tuples
beside them (`PAIR_STATUSES`, ...) are what the columns' CHECK constraints list.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    evaluator = "evaluator"
    admin = "admin"
    ml = "ml"
    reviewer = "reviewer"  # adjudicates split and disputed pairs (app.pairs.review)


class InvitationKind(StrEnum):
    invite = "invite"
    reset = "reset"


class PairKind(StrEnum):
    live = "live"
    gold = "gold"
    head_to_head = "head_to_head"


class PairStatus(StrEnum):
    open = "open"
    complete = "complete"
    retired = "retired"


class AssignmentStatus(StrEnum):
    leased = "leased"
    submitted = "submitted"
    skipped = "skipped"
    expired = "expired"
    released = "released"


class Choice(StrEnum):
    a = "a"
    b = "b"
    tie = "tie"
    both_bad = "both_bad"


class Strength(StrEnum):
    slight = "slight"
    clear = "clear"
    much = "much"


class Side(StrEnum):
    a = "a"
    b = "b"


class FinishReason(StrEnum):
    """Why a completion ended: the model stopped by itself, or the token limit cut it off."""

    stop = "stop"
    length = "length"


class MatchSource(StrEnum):
    """Where a playground match came from (app.playground): named or blind."""

    playground = "playground"  # ML staff chose both contestants and saw their names
    battle = "battle"  # an evaluator's anonymous battle: names shown only after the vote


class VersionStatus(StrEnum):
    candidate = "candidate"
    trial = "trial"  # a candidate whose human head-to-head trial is running (app.domain.trial)
    active = "active"
    archived = "archived"
    rejected = "rejected"


# A stored choice as pages word it (completion a is the one shown as A).
CHOICE_LABELS = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both bad"}


class Agreement(StrEnum):
    """How a pair's votes relate (app.pairs.service); adjudicated overrides the votes."""

    unanimous = "unanimous"  # two or more votes, all the same choice
    majority = "majority"  # two or more votes, not all the same, a/b not tied
    even_split = "split"  # as many votes for a as for b (the trainer's majority drops it)
    adjudicated = "adjudicated"  # a reviewer set the final label


class ReviewStatus(StrEnum):
    pending = "pending"  # in the review queue (sent by an admin)
    decided = "decided"  # a reviewer set the final label


class DemonstrationStatus(StrEnum):
    """A written answer's review (app.demonstrations): rejected ones never train."""

    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"


class ImportStatus(StrEnum):
    """A batch of imported preference data (app.imports): in use, or taken back out."""

    active = "active"
    reverted = "reverted"


class ImportFormat(StrEnum):
    trl = "trl"  # prompt / chosen / rejected, plain or conversational
    pairwise = "pairwise"  # prompt / response_a / response_b / choice


class RunKind(StrEnum):
    full = "full"
    reward = "reward"
    policy = "policy"


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The members' stored text, in declaration order."""
    return tuple(member.value for member in enum)


CHOICES = values(Choice)  # a label's choice, in completion terms
STRENGTHS = values(Strength)
