"""The multi-rule learning benchmark: several content rules x several policy methods, one
label budget each, on the real loop (bench/loop.py's rounds: sample, label through the API
with simulated evaluators, train, promote, measure on held-out prompts).

Each (rule, method) cell starts a fresh system from the same version 0, judged against the
same version-0 answers. Per round it prints the win-rate against version 0 by the hidden
rule (Wilson interval), the reward model's held-out accuracy, KL, mean length, the trait
rate (share of answers showing the rule's property, by the rule's own predicate; version
0's in the header), the share of complete answers (the general-quality check) and the
time of the round. A full run takes hours on 2 cores; a reduced one:

    .venv/bin/python bench/content.py --rules example,you --methods best_of_n,rloo \\
        --rounds 1 --labels-per-round 40 --heldout 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import get_args

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.domain.answers import adequate_share  # noqa: E402
from app.domain.base_model import convert  # noqa: E402
from app.domain.recipe import PolicyMethod  # noqa: E402
from app.domain.store import ModelStore  # noqa: E402
from app.sampling.backend import VersionRef  # noqa: E402
from app.simulate.rules import parse_rule  # noqa: E402
from bench.loop import (  # noqa: E402
    RoundResult,
    answers,
    parse_args,
    probe_settings,
    run_variant,
    traits_of,
)
from bench.loop_prompts import benchmark_prompts, split  # noqa: E402

DEFAULT_RULES = "example,answer-first,you,no-lists,keyword:example"

HEADER = (
    "| rule | method | round | labels | win-rate vs v0 (95 % CI) | RM acc | KL | mean tokens "
    "| trait rate (v0) | complete | s / round | note |"
)


def _pct(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.0%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def row_text(rule: str, r: RoundResult, v0_trait: float | None) -> str:
    win = f"{r.win_rate:.0%} [{r.win_low:.0%}, {r.win_high:.0%}]" if r.judged else "–"
    took = sum(r.seconds.get(k, 0.0) for k in ("sample", "label", "train", "measure"))
    return (
        f"| {rule} | {r.method} | {r.round} | {r.labels} | {win} | {_num(r.reward_accuracy)} "
        f"| {_num(r.kl, 3)} | {_num(r.mean_tokens, 1)} | {_pct(r.trait_rate)} ({_pct(v0_trait)}) "
        f"| {_pct(r.complete)} | {took:.0f} | {r.note} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    p.add_argument("--rules", default=DEFAULT_RULES, help="comma list of hidden rules")
    p.add_argument("--methods", default="best_of_n,rm_dpo,rloo,dpo", help="comma list")
    mine, rest = p.parse_known_args(argv)
    methods = [m.strip() for m in mine.methods.split(",") if m.strip()]
    unknown = set(methods) - set(get_args(PolicyMethod))
    if unknown or not methods:
        p.error(f"--methods takes {', '.join(get_args(PolicyMethod))}")
    specs = [r.strip() for r in mine.rules.split(",") if r.strip()]
    rules = [parse_rule(spec) for spec in specs]
    opts = parse_args(["--variants", "main", *rest])  # the loop's other options, shared
    opts.work.mkdir(parents=True, exist_ok=True)

    train_prompts, heldout_prompts = split(benchmark_prompts(), opts.heldout)
    prompts_file = opts.work / "prompts.jsonl"
    prompts_file.write_text("".join(json.dumps({"prompt": q}) + "\n" for q in train_prompts))
    heldout = [q for q in heldout_prompts for _ in range(opts.eval_samples)]
    v0_folder = opts.work / "v0"
    if not v0_folder.exists():
        convert(opts.policy, v0_folder)
    probe = probe_settings(opts)
    v0_answers = answers(probe, ModelStore(opts.work), VersionRef(0, 0, 0, "v0"), heldout)
    v0_traits = {rule.name: traits_of(rule, heldout, v0_answers) for rule in rules}
    print(
        f"version 0: {len(heldout)} held-out answers, mean "
        f"{statistics.fmean(s.completion_tokens for s in v0_answers):.1f} tokens, complete "
        f"{_pct(adequate_share(s.text for s in v0_answers))}; trait rates "
        + ", ".join(f"{k} {_pct(v)}" for k, v in v0_traits.items()),
        flush=True,
    )
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|", flush=True)
    results: list[tuple[str, RoundResult]] = []
    started = time.monotonic()
    for rule in rules:
        for method in methods:
            name = f"{rule.name}-{method}".replace(":", "_").replace("/", "_")
            cell = replace(opts, rule=rule.name)
            for r in run_variant(
                cell, name, method, True, rule, prompts_file, v0_folder, heldout, v0_answers
            ):
                results.append((rule.name, r))
                print(row_text(rule.name, r, v0_traits[rule.name]), flush=True)
    (opts.work / "content-results.json").write_text(
        json.dumps([{"rule": k, **asdict(r)} for k, r in results], indent=1)
    )
    print()
    print(
        f"{len(rules)} rules x {len(methods)} methods, {opts.rounds} rounds x "
        f"{opts.labels_per_round} labels, noise {opts.noise}, recipe {opts.recipe}, held-out "
        f"{len(heldout_prompts)} prompts x {opts.eval_samples}, "
        f"{time.monotonic() - started:.0f} s; results in {opts.work / 'content-results.json'}"
    )
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|")
    print("\n".join(row_text(k, r, v0_traits[k]) for k, r in results))
    return 0 if results and all(r.judged for _, r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
