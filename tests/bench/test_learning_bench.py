"""bench/loop.py (the learning benchmark) end to end with tiny models: one round, two variants."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("learning_bench", ROOT / "bench" / "loop.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def longer_wins(prompt: str, response_a: str, response_b: str) -> tuple[str, str]:
    """A hidden rule that always picks a side, so every label is usable whatever tiny random
    models write (the concise rule calls many of their answers both bad)."""
    return ("a" if len(response_a) >= len(response_b) else "b"), "clear"


def test_learning_benchmark_runs_rounds_and_prints_the_table(
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    bench = load_bench()
    args = [
        "--rule", f"python:{__name__}:longer_wins", "--noise", "0",
        "--policy", str(tiny_policy_dir), "--recipe", "tiny",
        "--set", f"reward.base_model={tiny_reward_dir}",
        "--rounds", "2", "--labels-per-round", "6", "--variants", "main,other",
        "--heldout", "4", "--eval-samples", "1", "--evaluators", "2",
        "--batch-size", "8", "--max-new-tokens", "8", "--work", str(tmp_path),
    ]  # fmt: skip
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "version 0: converted" in out and "win-rate vs v0" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert [(r["variant"], r["method"], r["round"]) for r in results] == [
        ("main", "rloo", 1),
        ("main", "rloo", 2),
        ("other", "dpo", 1),
        ("other", "dpo", 2),
    ]
    for r in results:
        assert r["version"] == r["round"]  # each round made the next version live
        assert r["labels"] == 6 * r["round"]  # the label budget, cumulative
        assert r["judged"] > 0 and 0 <= r["win_low"] <= r["win_rate"] <= r["win_high"] <= 1
        assert r["promoted"] in ("gates", "forced")
        assert {"sample", "label", "train", "measure"} <= set(r["seconds"])
    assert sum(f"| {r['round']} | {r['labels']} |" in out for r in results) >= 4
