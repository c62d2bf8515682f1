"""Playground matches: start one (named or a blind battle), store its answers, take its vote."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.audit import audit
from app.domain.versions import VersionRef
from app.models import PlaygroundMatch, PolicyVersion, Project, Prompt, User, utcnow
from app.sampling.backend import Sample, SampleRequest
from app.settings import PlaygroundModel, Settings
from app.vocabulary import CHOICES, MatchSource, VersionStatus

# Versions that may answer in the playground and in battles (a rejected one never won its gates).
PLAYABLE = (
    VersionStatus.active,
    VersionStatus.trial,
    VersionStatus.candidate,
    VersionStatus.archived,
)
PROMPT_MAX_CHARS = 8000
SIDES = ("a", "b")


class PlaygroundError(ValueError):
    """A match cannot start or take this vote as asked; the message says why."""


class MatchConflict(RuntimeError):
    """The match is not in a state for this (voted already, or an answer still missing)."""


class MatchNotFound(LookupError):
    """No such object that this caller may use (answered 404, naming nothing)."""


@dataclass(frozen=True)
class Contestant:
    """Who answers one side: a policy version of the project, or an external model."""

    version: VersionRef | None = None
    model: PlaygroundModel | None = None

    @property
    def label(self) -> str:
        if self.version is not None:
            return f"v{self.version.number}"
        return self.model.name if self.model else "?"


def playable_versions(db: Session, project_id: int, limit: int = 100) -> list[PolicyVersion]:
    """The project's versions that may answer, newest first."""
    return list(
        db.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.project_id == project_id, PolicyVersion.status.in_(PLAYABLE))
            .order_by(PolicyVersion.number.desc())
            .limit(limit)
        )
    )


def pickable_prompts(db: Session, project_id: int, limit: int = 50) -> list[Prompt]:
    """Prompts one may pick instead of typing one: the project's newest active ones."""
    return list(
        db.scalars(
            select(Prompt)
            .where(Prompt.project_id == project_id, Prompt.active.is_(True))
            .order_by(Prompt.id.desc())
            .limit(limit)
        )
    )


def _version(db: Session, project: Project, version_id: int) -> PolicyVersion:
    version = db.get(PolicyVersion, version_id)
    if version is None or version.project_id != project.id or version.status not in PLAYABLE:
        raise MatchNotFound("No such version.")
    return version


def _prompt(
    db: Session, project: Project, prompt_id: int | None, text: str
) -> tuple[int | None, str]:
    if prompt_id is not None:
        prompt = db.get(Prompt, prompt_id)
        if prompt is None or prompt.project_id != project.id:
            raise MatchNotFound("No such prompt.")
        return prompt.id, prompt.text
    text = text.strip()
    if not text:
        raise PlaygroundError("Type a prompt or pick one.")
    if len(text) > PROMPT_MAX_CHARS:
        raise PlaygroundError(f"A prompt may have at most {PROMPT_MAX_CHARS} characters.")
    return None, text


def start_match(
    db: Session,
    settings: Settings,
    project: Project,
    user: User,
    *,
    prompt_id: int | None,
    prompt_text: str,
    version_a_id: int | None,
    version_b_id: int | None,
    model_b: str,
) -> PlaygroundMatch:
    """A named match: version A against version B or an external model (PLAYGROUND_MODELS)."""
    # Every id is looked up before anything else is checked: a foreign id is a 404, always.
    a = _version(db, project, version_a_id) if version_a_id is not None else None
    b = _version(db, project, version_b_id) if version_b_id is not None else None
    prompt = _prompt(db, project, prompt_id, prompt_text)
    if a is None:
        raise PlaygroundError("Choose version A.")
    external = settings.playground_model(model_b) if model_b else None
    if (b is None) == (external is None):
        if model_b and external is None:
            raise PlaygroundError(f"No external model named {model_b!r} is configured.")
        raise PlaygroundError("Choose version B or an external model, one of the two.")
    return _insert(
        db, project, user, MatchSource.playground, prompt, a, b, external.name if external else None
    )


def start_battle(
    db: Session, project: Project, user: User, *, prompt_id: int | None, prompt_text: str
) -> PlaygroundMatch:
    """A blind battle: two different versions drawn at random, sides drawn at random."""
    prompt = _prompt(db, project, prompt_id, prompt_text)
    versions = playable_versions(db, project.id)
    if len(versions) < 2:
        raise PlaygroundError("A battle needs two versions of this project; there is one so far.")
    a, b = secrets.SystemRandom().sample(versions, 2)
    return _insert(db, project, user, MatchSource.battle, prompt, a, b, None)


def _insert(
    db: Session,
    project: Project,
    user: User,
    source: MatchSource,
    prompt: tuple[int | None, str],
    a: PolicyVersion,
    b: PolicyVersion | None,
    model_b: str | None,
) -> PlaygroundMatch:
    match = PlaygroundMatch(
        project_id=project.id,
        user_id=user.id,
        source=source,
        prompt_id=prompt[0],
        prompt_text=prompt[1],
        version_a_id=a.id,
        version_b_id=b.id if b else None,
        model_b=model_b,
    )
    db.add(match)
    db.flush()
    return match


def own_match(db: Session, user: User, match_id: int, source: MatchSource) -> PlaygroundMatch:
    """The caller's own match of that source; anyone else's is not found."""
    match = db.get(PlaygroundMatch, match_id)
    if match is None or match.user_id != user.id or match.source != source:
        raise MatchNotFound("No such match.")
    return match


def contestants(db: Session, settings: Settings, match: PlaygroundMatch) -> dict[str, Contestant]:
    """Side → who answers it."""
    out = {}
    for side in SIDES:
        version_id = getattr(match, f"version_{side}_id")
        model = getattr(match, f"model_{side}")
        if version_id is not None:
            version = db.get(PolicyVersion, version_id)
            out[side] = Contestant(version=VersionRef.of(version) if version else None)
        else:
            out[side] = Contestant(model=settings.playground_model(model) if model else None)
    return out


def sample_request(db: Session, match: PlaygroundMatch) -> SampleRequest:
    """What each side is asked: the prompt as stored (a picked prompt's chat turns too)."""
    prompt = db.get(Prompt, match.prompt_id) if match.prompt_id is not None else None
    return SampleRequest(
        prompt_id=match.prompt_id or 0,
        text=match.prompt_text,
        messages=prompt.messages if prompt is not None else None,
        seed=secrets.randbits(31),
    )


def store_answer(db: Session, match_id: int, side: str, sample: Sample) -> None:
    """Keep a side's answer once (a second stream of the same side changes nothing)."""
    if side not in SIDES:
        raise ValueError(side)
    text, finish = getattr(PlaygroundMatch, f"text_{side}"), f"finish_{side}"
    db.execute(
        update(PlaygroundMatch)
        .where(PlaygroundMatch.id == match_id, text.is_(None))
        .values({f"text_{side}": sample.text, finish: sample.finish_reason})
    )


def vote(db: Session, match: PlaygroundMatch, choice: str) -> PlaygroundMatch:
    """Record the one vote of a match whose answers are both in."""
    if choice not in CHOICES:
        raise PlaygroundError(f"choice: expected one of {', '.join(CHOICES)}")
    if match.choice is not None:
        raise MatchConflict("This match has its vote already.")
    if match.text_a is None or match.text_b is None:
        raise MatchConflict("Both answers must be in before the vote.")
    # Conditional, so that of two votes sent at once only the first counts.
    done = db.execute(
        update(PlaygroundMatch)
        .where(PlaygroundMatch.id == match.id, PlaygroundMatch.choice.is_(None))
        .values(choice=choice, voted_at=utcnow())
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise MatchConflict("This match has its vote already.")
    db.refresh(match)
    _audit_vote(db, match)
    return match


def _audit_vote(db: Session, match: PlaygroundMatch) -> None:
    """The vote in the audit log: who, which match, and who answered each side."""
    ids = [v for v in (match.version_a_id, match.version_b_id) if v is not None]
    numbers = dict(
        db.execute(select(PolicyVersion.id, PolicyVersion.number).where(PolicyVersion.id.in_(ids)))
        .tuples()
        .all()
    )
    sides: dict[str, Any] = {}
    for side, version_id, model in (
        ("a", match.version_a_id, match.model_a),
        ("b", match.version_b_id, match.model_b),
    ):
        sides[f"version_{side}"] = numbers.get(version_id) if version_id is not None else None
        sides[f"version_{side}_id"] = version_id
        sides[f"model_{side}"] = model
    audit(
        db,
        f"{match.source}.voted",
        match.user_id,
        f"playground_match:{match.id}",
        project=match.project_id,
        match=match.id,
        choice=match.choice,
        **sides,
    )
