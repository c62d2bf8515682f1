"""The judge:PATH rule: a reward model from the store scores both responses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from app.domain.scorer import reward_text
from app.simulate.judge import strength_of
from app.simulate.rules import RuleError, parse_rule

TEXTS = [
    "Paris is the capital of France.",
    "I think it might be Lyon, or possibly somewhere else entirely, hard to say.",
    "- Paris\n- Lyon\n- Marseille",
    "The answer is Paris!",
]


def direct_score(folder: Path, prompt: str, response: str) -> float:
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    with torch.no_grad():
        out = model(**tokenizer([reward_text(prompt, response)], return_tensors="pt"))
    return float(out.logits[0, 0])


def test_judge_prefers_the_higher_score_and_is_symmetric(tiny_reward_dir: Path) -> None:
    rule = parse_rule(f"judge:{tiny_reward_dir}")
    prompt = "What is the capital of France?"
    scores = [direct_score(tiny_reward_dir, prompt, t) for t in TEXTS]
    for i in range(len(TEXTS)):
        for j in range(len(TEXTS)):
            if i == j:
                continue
            choice, strength = rule(prompt, TEXTS[i], TEXTS[j])
            mirrored, mirrored_strength = rule(prompt, TEXTS[j], TEXTS[i])
            assert {choice, mirrored} in ({"a", "b"}, {"tie"})
            assert strength == mirrored_strength
            p_i = 1 / (1 + torch.exp(torch.tensor(scores[j] - scores[i])).item())
            assert (choice, strength) == strength_of(p_i)


def test_strength_bands() -> None:
    assert strength_of(0.5) == ("tie", None)
    assert strength_of(0.55) == ("a", "slight")
    assert strength_of(0.3) == ("b", "clear")
    assert strength_of(0.95) == ("a", "much")


def test_judge_resolves_store_uris_and_refuses_bad_folders(
    tiny_reward_dir: Path, tmp_path: Path
) -> None:
    store = tmp_path / "models"
    target = store / "projects" / "1" / "reward" / "run7"
    shutil.copytree(tiny_reward_dir, target)
    rule = parse_rule("judge:projects/1/reward/run7", model_dir=store)
    assert rule("q", "x", "y")[0] in ("a", "b", "tie")

    with pytest.raises(RuleError, match="no reward model folder at 'projects/9/reward/x'"):
        parse_rule("judge:projects/9/reward/x", model_dir=store)
    with pytest.raises(RuleError, match="must be relative to the store"):
        parse_rule("judge:../outside", model_dir=store)
    (target / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(RuleError, match="refusing pickled weights"):
        parse_rule(f"judge:{target}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuleError, match="holds no safetensors weights"):
        parse_rule(f"judge:{empty}")
