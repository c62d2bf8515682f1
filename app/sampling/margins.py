"""Reward-model margins of live pairs: what active pair selection orders by.

Once a project has a reward model, each new live pair gets reward(a) − reward(b) from the
newest one; open pairs made before it are scored when it first loads. Head-to-head and gold
pairs are never scored, so the win-rates they measure stay free of selection bias.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.domain import versions
from app.domain.store import ModelStore
from app.sampling import service
from app.settings import Settings

log = logging.getLogger(__name__)

RESCORE_LIMIT = 512  # open pairs scored when a new reward model appears


class Scorer(Protocol):
    def score(self, prompts: list[Any], completions: list[str]) -> list[float]: ...


def load_scorer(folder: Any) -> Scorer:
    from app.domain.scorer import RewardScorer

    return RewardScorer(folder)


def _prompt(snapshot: service.PromptSnapshot) -> Any:
    return snapshot.messages or snapshot.text


class Margins:
    """Holds each project's newest reward model and scores pairs with it."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        store: ModelStore,
        loader: Any = load_scorer,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.store = store
        self.loader = loader
        self.loaded: dict[int, tuple[int, Scorer | None]] = {}
        self.errors: dict[int, str] = {}  # project id → why its reward model did not load

    def scorer(self, project_id: int) -> Scorer | None:
        """The project's newest reward model, loaded once; None before the first one exists
        or while active selection is off."""
        if self.settings.active_selection_share <= 0:
            return None
        with transaction(self.factory) as db:
            newest = versions.newest_reward_model(db, project_id)
            if newest is None:
                return None
            model_id, uri = newest.id, newest.checkpoint_uri
        held = self.loaded.get(project_id)
        if held is not None and held[0] == model_id:
            return held[1]
        try:
            scorer: Scorer | None = self.loader(self.store.path(uri))
        except Exception as exc:  # noqa: BLE001 - sampling goes on without margins
            log.exception("could not load reward model %s", uri)
            self.errors[project_id] = f"reward model {uri}: {type(exc).__name__}: {exc}"
            scorer = None
        else:
            self.errors.pop(project_id, None)
        self.loaded[project_id] = (model_id, scorer)
        if scorer is not None:
            self.rescore_open(project_id, scorer)
        return scorer

    def rescore_open(self, project_id: int, scorer: Scorer) -> int:
        """Give open live pairs made before this reward model their margin."""
        with transaction(self.factory) as db:
            pending = service.unscored_open_pairs(db, project_id, RESCORE_LIMIT)
        if not pending:
            return 0
        margins = self._margins(scorer, [(p.prompt, p.text_a, p.text_b) for p in pending])
        with transaction(self.factory) as db:
            service.set_margins(db, {p.id: m for p, m in zip(pending, margins, strict=True)})
        return len(pending)

    def annotate(
        self, project_id: int, candidates: list[service.PairCandidate]
    ) -> list[service.PairCandidate]:
        """The candidates with their margins, when the project has a reward model."""
        scorer = self.scorer(project_id)
        if scorer is None or not candidates:
            return candidates
        margins = self._margins(scorer, [(c.prompt, c.a.text, c.b.text) for c in candidates])
        return [dataclasses.replace(c, margin=m) for c, m in zip(candidates, margins, strict=True)]

    @staticmethod
    def _margins(
        scorer: Scorer, triples: list[tuple[service.PromptSnapshot, str, str]]
    ) -> list[float]:
        prompts = [_prompt(p) for p, _, _ in triples for _ in (0, 1)]
        texts = [t for _, a, b in triples for t in (a, b)]
        scores = scorer.score(prompts, texts)
        return [scores[2 * i] - scores[2 * i + 1] for i in range(len(triples))]
