"""The `judge:PATH` rule: a reward model (safetensors only) scores both responses."""

from __future__ import annotations

import math
from pathlib import Path

from app.domain.scorer import RewardScorer
from app.domain.store import WEIGHT_FILES, ModelStore, StoreError, assert_safetensors_only
from app.simulate.decision import Decision, RuleError, RuleFn

# Probability that A beats B under Bradley–Terry, sigmoid(score_a - score_b): how far it
# sits from 1/2 decides the strength; closer than TIE_BAND is a tie.
TIE_BAND = 0.02
SLIGHT_BAND = 0.1
CLEAR_BAND = 0.25


def resolve_folder(path: str, model_dir: Path | None) -> Path:
    """An existing folder as given, else a checkpoint URI inside the model store."""
    folder = Path(path)
    if not folder.is_dir() and model_dir is not None:
        try:
            folder = ModelStore(model_dir).path(path)
        except StoreError as exc:
            raise RuleError(f"judge rule: {exc}") from None
    if not folder.is_dir():
        raise RuleError(f"judge rule: no reward model folder at {path!r}")
    try:
        assert_safetensors_only(folder)
    except StoreError as exc:
        raise RuleError(f"judge rule: {exc}") from None
    if not any((folder / name).exists() for name in WEIGHT_FILES):
        raise RuleError(f"judge rule: {path!r} holds no safetensors weights")
    return folder


def strength_of(p_a: float) -> Decision:
    """Map P(A beats B) to a choice and a strength."""
    gap = abs(p_a - 0.5)
    if gap < TIE_BAND:
        return "tie", None
    strength = "slight" if gap < SLIGHT_BAND else "clear" if gap < CLEAR_BAND else "much"
    return ("a" if p_a > 0.5 else "b"), strength


class RewardJudge:
    """A loaded reward model that scores texts; one instance per rule."""

    def __init__(self, folder: Path) -> None:
        from transformers import AutoConfig

        labels = AutoConfig.from_pretrained(str(folder)).num_labels
        if labels != 1:
            raise RuleError(
                f"judge rule: {folder.name} is not a reward model (num_labels={labels}, expected 1)"
            )
        self.scorer = RewardScorer(folder)

    def scores(self, prompt: str, responses: list[str]) -> list[float]:
        return self.scorer.score([prompt] * len(responses), responses)


def judge_rule(path: str, model_dir: Path | None = None) -> RuleFn:
    """A rule that prefers the response the reward model at `path` scores higher."""
    judge = RewardJudge(resolve_folder(path, model_dir))

    def rule(prompt: str, response_a: str, response_b: str) -> Decision:
        score_a, score_b = judge.scores(prompt, [response_a, response_b])
        return strength_of(1 / (1 + math.exp(score_b - score_a)))

    return rule
