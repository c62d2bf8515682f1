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
