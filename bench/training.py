"""Training benchmark on this CPU with the default models (SmolLM2-135M policy, MiniLM reward).

Stages run in child processes so each one's peak memory (RSS) is its own:
  convert  SmolLM2 GGUF → a plain safetensors folder (as the model store does for version 0)
  reward   our train_reward_model on 200 synthetic comparisons (hidden rule: shorter wins)
  plain    a plain TRL RewardTrainer script on the same 200 pairs, same hyper-parameters
  policy   one RL round with the recipe (default cpu-small) against our reward model
  eval     evaluate_policy: new vs reference on held-out prompts, then the gates

    .venv/bin/python bench/training.py [--recipe cpu-small] [--set policy.lr=5e-5] [--write]

`--write` replaces the `## Training` section of docs/benchmarks.md with the results;
BENCH_THREADS sets torch threads (default 2); BENCH_TRACE=90 prints stacks every 90 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAIRS = 200
DOC = ROOT / "docs" / "benchmarks.md"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def data() -> tuple[list[Any], list[Any], list[str]]:
    """200 train comparisons (50 prompts), 40 validation (10 other prompts), 8 held-out prompts."""
    from trainer.synthetic import synthetic_comparisons, synthetic_prompts

    rows = synthetic_comparisons(PAIRS + 40, rule="shorter", seed=11, pairs_per_prompt=4)
    prompts = synthetic_prompts(80, seed=11)  # the first 60 are the comparisons' prompts
    return rows[:PAIRS], rows[PAIRS:], prompts[60:68]


def stage_convert(work: Path, cfg: Any) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    from app.domain.bundled import SMOLLM2_GGUF, smollm2_dir

    out = work / "policy-v0"
    started = time.monotonic()
    src = str(smollm2_dir())
    loaded = AutoModelForCausalLM.from_pretrained(src, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # a GGUF-loaded model refuses to be saved or trained
    plain = LlamaForCausalLM(config)
    plain.load_state_dict(loaded.state_dict())
    plain.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return {"seconds": time.monotonic() - started, "path": str(out)}


def stage_reward(work: Path, cfg: Any) -> dict[str, Any]:
    from trainer.reward import resolve_reward_base, train_reward_model
    from trainer.types import never_stop, no_progress

    train, val, _ = data()
    started = time.monotonic()
    metrics = train_reward_model(
        train,
        val,
        resolve_reward_base(cfg.reward.base_model),
        work / "reward",
        cfg.reward,
        no_progress,
        never_stop,
    )
    metrics["seconds"] = time.monotonic() - started
    metrics.pop("loss_curve")
    return metrics


def stage_plain(work: Path, cfg: Any) -> dict[str, Any]:
    """The reference: TRL's RewardTrainer fed text directly, as its documentation shows."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from app.domain.scorer import reward_text
    from trainer.reward import resolve_reward_base

    train, _, _ = data()
    base = str(resolve_reward_base(cfg.reward.base_model))
    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    dataset = Dataset.from_dict(
        {
            "chosen": [reward_text(r.prompt, r.chosen) for r in train],
            "rejected": [reward_text(r.prompt, r.rejected) for r in train],
        }
    )
    with tempfile.TemporaryDirectory() as scratch:
        args = RewardConfig(
            output_dir=scratch,
            learning_rate=cfg.reward.lr,
            num_train_epochs=cfg.reward.epochs,
            per_device_train_batch_size=cfg.reward.batch_size,
            max_length=cfg.reward.max_length,
            seed=cfg.reward.seed,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            bf16=False,
            gradient_checkpointing=False,
            disable_tqdm=True,
            logging_steps=50,
            eos_token="[SEP]",
        )
        trainer = RewardTrainer(
            model=model, args=args, train_dataset=dataset, processing_class=tokenizer
        )
        t0 = time.monotonic()
        trainer.train()
        train_seconds = time.monotonic() - t0
    return {
        "seconds": time.monotonic() - started,
        "train_seconds": train_seconds,
        "pairs_per_second": len(train) * cfg.reward.epochs / train_seconds,
        "threads": torch.get_num_threads(),
    }


def stage_policy(work: Path, cfg: Any) -> dict[str, Any]:
    from trainer.policy import dpo_policy, optimise_policy
    from trainer.synthetic import synthetic_prompts
    from trainer.types import never_stop

    def progress(fraction: float, message: str, metrics: dict[str, Any]) -> None:
        shown = {k: round(v, 3) for k, v in metrics.items() if k in ("reward", "kl", "loss")}
        print(f"  {fraction:4.0%} {message} {shown}", file=sys.stderr, flush=True)

    started = time.monotonic()
    if cfg.policy.method == "dpo":
        train, _, _ = data()
        metrics = dpo_policy(
            train, work / "policy-v0", work / "policy-v1", cfg.policy, progress, never_stop
        )
    else:
        prompts = synthetic_prompts(50, seed=11)  # the training comparisons' prompts
        metrics = optimise_policy(
            prompts,
            work / "policy-v0",
            work / "reward",
            work / "policy-v1",
            cfg.policy,
            progress,
            never_stop,
        )
    metrics["seconds"] = time.monotonic() - started
    metrics.pop("curves")
    return metrics


def stage_eval(work: Path, cfg: Any) -> dict[str, Any]:
    from trainer.evaluate import evaluate_policy, gates_pass

    _, _, heldout = data()
    started = time.monotonic()
    metrics = evaluate_policy(work / "policy-v1", work / "policy-v0", work / "reward", heldout, cfg)
    metrics["seconds"] = time.monotonic() - started
    reward = json.loads((work / "reward.json").read_text())
    ok, reasons = gates_pass({**metrics, "reward_val_accuracy": reward["val_accuracy"]}, cfg.gates)
    metrics["gates"] = "pass" if ok else "; ".join(reasons)
    return metrics


STAGES = {
    "convert": stage_convert,
    "reward": stage_reward,
    "plain": stage_plain,
    "policy": stage_policy,
    "eval": stage_eval,
}


def child(stage: str, work: Path, recipe: str, overrides: dict[str, Any]) -> None:
    import faulthandler

    import torch

    if os.environ.get("BENCH_TRACE"):  # print where a slow stage spends its time
        faulthandler.dump_traceback_later(float(os.environ["BENCH_TRACE"]), repeat=True)

    from trainer.config import load_recipe

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    cfg = load_recipe(recipe, overrides)
    result = STAGES[stage](work, cfg)
    result["peak_rss_mb"] = peak_rss_mb()
    (work / f"{stage}.json").write_text(json.dumps(result, indent=2, default=str))


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = yaml.safe_load(value)
    return out


def run_stage(stage: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", stage, "--work", str(work), "--recipe", args.recipe]
    for pair in args.set:
        cmd += ["--set", pair]
    print(f"== {stage}", file=sys.stderr, flush=True)
    started = time.monotonic()
    subprocess.run(cmd, check=True, cwd=ROOT)
    result = json.loads((work / f"{stage}.json").read_text())
    result["wall_seconds"] = time.monotonic() - started
    result["load_after"] = os.getloadavg()[0]  # the machine's 1-minute load as the stage ends
    return result


def fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    from trainer.config import config_to_dict, load_recipe

    cfg = load_recipe(args.recipe, parse_overrides(args.set))
    r, p, pol, ev = results["reward"], results["plain"], results["policy"], results["eval"]
    curve = pol.get("reward_curve") or []
    first = sum(v for _, v in curve[:3]) / max(len(curve[:3]), 1)
    last = sum(v for _, v in curve[-3:]) / max(len(curve[-3:]), 1)
    loads = ", ".join(
        f"{stage} {fmt(results[stage].get('load_after'), 1)}"
        for stage in STAGES
        if stage in results
    )
    ratio = (
        r["pairs_per_second"] / p["pairs_per_second"]
        if r.get("pairs_per_second") and p.get("pairs_per_second")
        else None
    )
    lines = [
        "## Training",
        "",
        f"`{command}` — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch threads {os.environ.get('BENCH_THREADS', '2')}; "
        f"1-minute load average as each stage ended: {loads} (about the torch threads when "
        "nothing else runs; more means the stages shared the cores). Each stage runs in its own "
        "process; memory is that process's peak RSS.",
        "",
        f"Data: {PAIRS} synthetic comparisons whose hidden rule is *the shorter answer wins* "
        "(40 more on other prompts for validation, 8 further prompts held out for evaluation). "
        f"Recipe `{args.recipe}`" + (f" with `{' '.join(args.set)}`" if args.set else "") + ".",
        "",
        "| stage | time (s) | peak RSS (MB) | result |",
        "| --- | ---: | ---: | --- |",
        f"| GGUF → safetensors (SmolLM2-135M) | {fmt(results['convert']['seconds'], 1)} | "
        f"{fmt(results['convert']['peak_rss_mb'], 0)} | version 0 folder |",
        f"| reward model, ours (MiniLM, {fmt(cfg.reward.epochs, 0)} epochs) | "
        f"{fmt(r['seconds'], 1)} | "
        f"{fmt(r['peak_rss_mb'], 0)} | val accuracy {fmt(r['val_accuracy'])}, "
        f"{fmt(r['pairs_per_second'], 1)} pairs/s |",
        f"| reward model, plain TRL script | {fmt(p['seconds'], 1)} | {fmt(p['peak_rss_mb'], 0)} | "
        f"{fmt(p['pairs_per_second'], 1)} pairs/s |",
        f"| policy ({pol['method']}, {pol['steps']} steps) | {fmt(pol['seconds'], 1)} | "
        f"{fmt(pol['peak_rss_mb'], 0)} | {fmt(pol['seconds_per_step'], 1)} s/step; training reward "
        f"{fmt(first)} → {fmt(last)} (mean of first/last 3 steps) |",
        f"| evaluation ({ev['samples']} samples each) | {fmt(ev['seconds'], 1)} | "
        f"{fmt(ev['peak_rss_mb'], 0)} | reward {fmt(ev['reward_ref'])} → {fmt(ev['reward_new'])} "
        f"(gain {fmt(ev['reward_gain'])} ± {fmt(ev['reward_gain_se'])}), win rate "
        f"{fmt(ev['win_rate_vs_ref'])}, KL {fmt(ev['kl'])}, length {fmt(ev['length_ref'], 1)} → "
        f"{fmt(ev['length_new'], 1)} tokens; gates: {ev['gates']} |",
        "",
        f"Reward-model training speed, ours against a plain TRL `RewardTrainer` script on the "
        f"same pairs in the same run: {fmt(r['pairs_per_second'], 1)} vs "
        f"{fmt(p['pairs_per_second'], 1)} pairs/s ({fmt(ratio)}× the plain script's).",
        "",
        f"Reward + policy + evaluation: {fmt(r['seconds'] + pol['seconds'] + ev['seconds'], 0)} s "
        "(the trainer's share of the 200-labels-to-live-version loop; loading and registration "
        "are measured by the loop benchmark).",
        "",
        "Policy settings: `" + json.dumps(config_to_dict(cfg.policy), separators=(",", ":")) + "`",
        "",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    DOC.parent.mkdir(exist_ok=True)
    body = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    start = body.find("## Training")
    if start >= 0:
        end = body.find("\n## ", start + 1)
        body = body[:start] + text + (body[end + 1 :] if end >= 0 else "")
    else:
        body = body.rstrip("\n") + "\n\n" + text
    DOC.write_text(body)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipe", default="cpu-small")
    parser.add_argument("--set", action="append", default=[], help="override, e.g. policy.lr=5e-5")
    parser.add_argument("--stages", default="convert,reward,plain,policy,eval")
    parser.add_argument(
        "--work", type=Path, help="keep intermediate models here (default: a temp dir)"
    )
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.work, args.recipe, parse_overrides(args.set))
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="pairwise-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for stage in args.stages.split(","):
        if stage == "convert" and (work / "policy-v0" / "model.safetensors").exists():
            results[stage] = json.loads((work / "convert.json").read_text())
            continue
        results[stage] = run_stage(stage, work, args)
    for stage in STAGES:
        if stage not in results and (work / f"{stage}.json").exists():
            results[stage] = json.loads((work / f"{stage}.json").read_text())
    command = "python bench/training.py " + " ".join(sys.argv[1:])
    text = report(results, args, command)
    print(text)
    if args.write:
        write_section(text)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
