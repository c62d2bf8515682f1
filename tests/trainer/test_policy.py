"""RL (RLOO, GRPO) and DPO change the policy's weights and save a loadable checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.torch import load_file

from trainer.evaluate import evaluate_policy, gates_pass
from trainer.policy import dpo_policy, load_policy, optimise_policy
from trainer.synthetic import synthetic_prompts
from trainer.types import Cancelled, never_stop, no_progress

pytestmark = pytest.mark.trainer


def changed_tensors(a: Path, b: Path) -> int:
    old, new = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert old.keys() == new.keys()
    return sum(not old[k].equal(new[k]) for k in old)


@pytest.mark.parametrize("method", ["rloo", "grpo"])
def test_rl_step_changes_policy(
    method, tmp_path, tiny_policy_dir, trained_reward, tiny_cfg
) -> None:
    cfg = tiny_cfg.policy
    cfg.method = method
    seen: list[tuple[float, str, dict]] = []
    out = tmp_path / "v1"
    metrics = optimise_policy(
        synthetic_prompts(4),
        tiny_policy_dir,
        trained_reward[0],
        out,
        cfg,
        lambda f, m, mm, step=None: seen.append((f, m, mm)),
        never_stop,
    )
    assert changed_tensors(tiny_policy_dir, out) > 0
    model, tok = load_policy(out)  # safetensors + tokenizer load
    assert tok.chat_template and model.config.num_hidden_layers == 2
    assert metrics["reward_curve"] and metrics["kl_curve"] and metrics["length_curve"]
    assert seen[-1][0] == 1.0
    assert any("reward" in mm for _, _, mm in seen)


def test_dpo_changes_policy(tmp_path, tiny_policy_dir, keyword_rows, tiny_cfg) -> None:
    cfg = tiny_cfg.policy
    cfg.method = "dpo"
    out = tmp_path / "v1"
    metrics = dpo_policy(keyword_rows[:8], tiny_policy_dir, out, cfg, no_progress, never_stop)
    assert changed_tensors(tiny_policy_dir, out) > 0
    assert metrics["loss_curve"]


def test_lora_is_merged_into_a_plain_checkpoint(
    tmp_path, tiny_policy_dir, trained_reward, tiny_cfg
):
    cfg = tiny_cfg.policy
    cfg.lora.enabled = True
    cfg.lora.r = 4
    out = tmp_path / "v1"
    optimise_policy(
        synthetic_prompts(2), tiny_policy_dir, trained_reward[0], out, cfg, no_progress, never_stop
    )
    assert not (out / "adapter_model.safetensors").exists()
    assert changed_tensors(tiny_policy_dir, out) > 0


def test_cancel_leaves_no_checkpoint(tmp_path, tiny_policy_dir, trained_reward, tiny_cfg) -> None:
    cfg = tiny_cfg.policy
    cfg.steps = 3
    calls: list[int] = []

    def stop_after_first_step() -> bool:
        calls.append(1)
        return len(calls) > 1

    out = tmp_path / "v1"
    with pytest.raises(Cancelled):
        optimise_policy(
            synthetic_prompts(4),
            tiny_policy_dir,
            trained_reward[0],
            out,
            cfg,
            no_progress,
            stop_after_first_step,
        )
    assert not (out / "model.safetensors").exists()


def test_evaluate_and_gates(tmp_path, tiny_policy_dir, trained_reward, tiny_cfg) -> None:
    reward, reward_metrics = trained_reward
    out = tmp_path / "v1"
    optimise_policy(
        synthetic_prompts(4), tiny_policy_dir, reward, out, tiny_cfg.policy, no_progress, never_stop
    )
    prompts = synthetic_prompts(2, seed=9) + [
        [{"role": "user", "content": "Give me tips to knit."}]
    ]
    metrics = evaluate_policy(out, tiny_policy_dir, reward, prompts, tiny_cfg)
    assert metrics["samples"] == 3 * tiny_cfg.eval.samples_per_prompt
    assert metrics["reward_gain"] == pytest.approx(metrics["reward_new"] - metrics["reward_ref"])
    assert 0 < metrics["length_new"] <= tiny_cfg.eval.max_new_tokens
    assert metrics["kl"] == metrics["kl"]  # a number, not NaN

    same = evaluate_policy(tiny_policy_dir, tiny_policy_dir, reward, prompts, tiny_cfg)
    assert same["reward_gain"] == 0 and same["kl"] == pytest.approx(0, abs=1e-4)
    ok, reasons = gates_pass(
        {**same, "reward_val_accuracy": reward_metrics["val_accuracy"]}, tiny_cfg.gates
    )
    assert not ok and reasons == ["reward gain 0.0000 is not above 0"]
