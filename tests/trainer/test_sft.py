"""The sft stage: supervised fine-tuning on demonstrations changes the policy's weights and
raises the likelihood of the demonstrated wording."""

from __future__ import annotations

import pytest

from app.domain.demonstrations import DemonstrationRow
from tests.trainer.test_policy import changed_tensors
from trainer.policy import load_policy
from trainer.sft import answer_logprob, sft_dataset, sft_policy, sft_steps
from trainer.types import Cancelled, never_stop, no_progress

pytestmark = pytest.mark.trainer

ROWS = [
    DemonstrationRow("Name a colour.", "Ultramarine, the blue of lapis lazuli.", 1, 1),
    DemonstrationRow(
        [{"role": "user", "content": "Say hello."}], "Hello there, friend of lapis.", 2, 2
    ),
    DemonstrationRow("What is 2 + 2?", "Four, as sure as lapis is blue.", 3, 3),
]


def answer_logprob_of(folder, row: DemonstrationRow, system: str | None) -> float:
    model, tok = load_policy(folder)
    return answer_logprob(model, tok, row, system)


def test_dataset_is_prompt_and_completion_of_the_messages() -> None:
    data = sft_dataset(ROWS[:2], "Be brief.")
    assert data[0]["prompt"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a colour."},
    ]
    assert data[0]["completion"] == [{"role": "assistant", "content": ROWS[0].completion}]
    assert data[1]["prompt"][-1] == {"role": "user", "content": "Say hello."}


def test_sft_changes_weights_and_makes_the_demonstration_likelier(
    tmp_path, tiny_policy_dir, tiny_cfg
) -> None:
    out = tmp_path / "sft"
    seen: list[float] = []
    before = answer_logprob_of(tiny_policy_dir, ROWS[0], tiny_cfg.policy.system_prompt)
    metrics = sft_policy(
        ROWS,
        tiny_policy_dir,
        out,
        tiny_cfg.sft,
        tiny_cfg.policy,
        lambda f, m, mm, step=None: seen.append(f),
        never_stop,
    )
    assert changed_tensors(tiny_policy_dir, out) > 0
    after = answer_logprob_of(out, ROWS[0], tiny_cfg.policy.system_prompt)
    assert after > before
    assert metrics["steps"] == sft_steps(len(ROWS), tiny_cfg.sft) == 4
    assert metrics["loss_curve"] and metrics["demonstrations"] == 3
    assert seen[-1] == 1.0


def test_sft_stops_when_asked(tmp_path, tiny_policy_dir, tiny_cfg) -> None:
    with pytest.raises(Cancelled):
        sft_policy(
            ROWS,
            tiny_policy_dir,
            tmp_path / "x",
            tiny_cfg.sft,
            tiny_cfg.policy,
            no_progress,
            lambda: True,
        )
    assert not (tmp_path / "x").exists()
