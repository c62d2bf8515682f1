"""The promotion gates say in words why a candidate was held back."""

from __future__ import annotations

from app.domain.recipe import GateSection
from trainer.evaluate import gates_pass


def test_all_gates_pass() -> None:
    ok, reasons = gates_pass({"reward_gain": 0.2, "kl": 1.0, "val_accuracy": 0.8}, GateSection())
    assert ok and reasons == []


def test_each_failure_is_explained() -> None:
    gates = GateSection(min_reward_gain=0.1, max_kl=5.0, min_reward_accuracy=0.6)
    ok, reasons = gates_pass({"reward_gain": 0.05, "kl": 7.5, "reward_val_accuracy": 0.5}, gates)
    assert not ok
    assert reasons == [
        "reward gain 0.0500 is not above 0.1",
        "KL to the reference 7.500 exceeds 5",
        "reward-model validation accuracy 0.500 is below 0.6",
    ]


def test_missing_measurements_fail_and_disabled_gates_are_skipped() -> None:
    ok, reasons = gates_pass({}, GateSection())
    assert not ok and len(reasons) == 3
    ok, reasons = gates_pass(
        {"reward_gain": 0.01}, GateSection(max_kl=None, min_reward_accuracy=None)
    )
    assert ok


def test_reward_hacking_guards_explain_themselves() -> None:
    gates = GateSection(kl_budget=10.0, max_answer_drop=0.1, min_length_ratio=0.5)
    ok, reasons = gates_pass(
        {
            "reward_gain": 0.3,
            "kl": 2.0,
            "kl_total": 12.5,
            "adequate_new": 0.5,
            "adequate_ref": 0.8,
            "length_new": 20.0,
            "length_ref": 60.0,
        },
        gates,
    )
    assert not ok
    assert reasons == [
        "the reward model has no validation accuracy (empty validation set)",
        "KL along the lineage 12.500 exceeds the budget 10",
        "complete answers fell from 80% to 50% (more than 10%)",
        "mean answer length 20.0 tokens is below 0.5 x the reference's 60.0",
    ]
    ok, _ = gates_pass(
        {
            "reward_gain": 0.3,
            "kl": 2.0,
            "kl_total": 4.0,
            "adequate_new": 0.75,
            "adequate_ref": 0.8,
            "length_new": 40.0,
            "length_ref": 60.0,
        },
        gates.model_copy(update={"min_reward_accuracy": None}),
    )
    assert ok
