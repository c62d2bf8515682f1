"""bench/content.py end to end with tiny models: one rule x the two ranking methods, one round."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("content_bench", ROOT / "bench" / "content.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def longer_wins(prompt: str, response_a: str, response_b: str) -> tuple[str, str]:
    return ("a" if len(response_a) >= len(response_b) else "b"), "clear"


@pytest.mark.trainer
def test_content_benchmark_runs_each_rule_and_method(
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    bench = load_bench()
    args = [
        "--rules", f"python:{__name__}:longer_wins", "--methods", "best_of_n,rm_dpo",
        "--noise", "0", "--policy", str(tiny_policy_dir), "--recipe", "tiny",
        "--set", f"reward.base_model={tiny_reward_dir}", "--set", "policy.bon_samples=1",
        "--rounds", "1", "--labels-per-round", "6",
        "--heldout", "4", "--eval-samples", "1", "--evaluators", "2",
        "--batch-size", "8", "--max-new-tokens", "8", "--work", str(tmp_path),
    ]  # fmt: skip
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "trait rate (v0)" in out and "version 0:" in out
    results = json.loads((tmp_path / "content-results.json").read_text())
    assert [(r["method"], r["round"]) for r in results] == [("best_of_n", 1), ("rm_dpo", 1)]
    for r in results:
        assert r["judged"] > 0 and r["version"] == 1 and r["complete"] is not None
