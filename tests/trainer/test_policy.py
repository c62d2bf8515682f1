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


def test_lora_versions_are_kept_as_adapters_and_trained_further_on_the_same_base(
    tmp_path, tiny_policy_dir, trained_reward, tiny_cfg
):
    cfg = tiny_cfg.policy
    cfg.lora.enabled = True
    cfg.lora.r = 4
    cfg.lora.merged_copy = True
    v1 = tmp_path / "v1"
    optimise_policy(
        synthetic_prompts(2), tiny_policy_dir, trained_reward[0], v1, cfg, no_progress, never_stop
    )
    # The version is its adapter alone (what vLLM loads), plus the merged copy asked for.
    assert (v1 / "adapter_config.json").is_file() and (v1 / "adapter_model.safetensors").is_file()
    assert not (v1 / "model.safetensors").exists() and not (v1 / "ref").exists()
    assert changed_tensors(tiny_policy_dir, v1 / "merged") > 0

    # The child of an adapter version trains that adapter further: again one adapter on v0.
    cfg.lora.merged_copy = False
    v2 = tmp_path / "v2"
    optimise_policy(
        synthetic_prompts(2),
        v1,
        trained_reward[0],
        v2,
        cfg,
        no_progress,
        never_stop,
        base=tiny_policy_dir,
    )
    assert not (v2 / "merged").exists() and not (v2 / "model.safetensors").exists()
    first = load_file(v1 / "adapter_model.safetensors")
    second = load_file(v2 / "adapter_model.safetensors")
    assert first.keys() == second.keys()
    assert any(not first[k].equal(second[k]) for k in first)
    model, _ = load_policy(v2, tiny_policy_dir)  # merged onto its base for evaluation
    assert not hasattr(model, "peft_config") or not model.peft_config
    with pytest.raises(ValueError, match="its base weights are needed"):
        load_policy(v2)

    # A full-weight run from an adapter parent starts from the parent's merged weights.
    cfg.lora.enabled = False
    v3 = tmp_path / "v3"
    optimise_policy(
        synthetic_prompts(2),
        v2,
        trained_reward[0],
        v3,
        cfg,
        no_progress,
        never_stop,
        base=tiny_policy_dir,
    )
    assert (v3 / "model.safetensors").is_file() and not (v3 / "adapter_config.json").exists()
    metrics = evaluate_policy(
        v3, v2, trained_reward[0], synthetic_prompts(2), tiny_cfg, reference_base=tiny_policy_dir
    )
    assert metrics["kl"] is not None


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


def test_rl_stops_early_once_its_kl_budget_is_spent(
    tmp_path, tiny_policy_dir, trained_reward, tiny_cfg
) -> None:
    cfg = tiny_cfg.policy.model_copy(update={"steps": 3})
    # What a version gets when its lineage has already spent more than the gates' budget.
    spent = optimise_policy(
        synthetic_prompts(4),
        tiny_policy_dir,
        trained_reward[0],
        tmp_path / "v1",
        cfg,
        no_progress,
        never_stop,
        kl_budget=-1.0,
    )
    assert spent["steps"] == 1 and spent["kl_budget"]["stopped_at_step"] == 1
    assert spent["kl_budget"]["spent"] is not None
    load_policy(tmp_path / "v1")  # what it trained so far is saved as a version
    roomy = optimise_policy(
        synthetic_prompts(4),
        tiny_policy_dir,
        trained_reward[0],
        tmp_path / "v2",
        cfg,
        no_progress,
        never_stop,
        kl_budget=1e9,
    )
    assert roomy["steps"] == 3 and roomy["kl_budget"]["stopped_at_step"] is None
