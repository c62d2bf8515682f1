"""Does the sft stage teach the demonstrations' wording? Log-probability before and after.

Converts the default policy (SmolLM2-135M-Instruct, bundled) into a safetensors folder,
fine-tunes it with the sft stage's own function and the `cpu-small` recipe's `sft` section
(`--enable` not needed: the stage is called directly) on demonstrations written in one
distinctive house style, and prints the mean per-token log-probability of (a) the trained
demonstrations and (b) held-out demonstrations in the same style on other prompts, before
and after. Prints a Markdown table.

    .venv/bin/python bench/sft.py [--epochs 3] [--lr 2e-5] [--work DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.domain.base_model import convert  # noqa: E402
from app.domain.demonstrations import DemonstrationRow  # noqa: E402
from app.domain.recipe import load_recipe  # noqa: E402
from trainer.policy import load_policy  # noqa: E402
from trainer.sft import answer_logprob, sft_policy  # noqa: E402
from trainer.types import never_stop, no_progress  # noqa: E402

# The house style: a fixed opening, the answer, a fixed sign-off. SmolLM2 never writes it.
STYLE = "Splendid question, dear reader! {answer} Yours in curiosity, the Lighthouse Keeper."
TRAIN = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What colour is the sky on a clear day?", "On a clear day the sky is blue."),
    ("What is 7 times 6?", "Seven times six is forty-two."),
    ("Which planet is known as the red planet?", "Mars is known as the red planet."),
    ("What do bees make?", "Bees make honey and wax."),
    ("How many days are in a week?", "A week has seven days."),
    ("What is frozen water called?", "Frozen water is called ice."),
]
HELD_OUT = [
    ("What is the largest ocean?", "The Pacific is the largest ocean."),
    ("How many hours are in a day?", "A day has twenty-four hours."),
    ("What gas do plants take in?", "Plants take in carbon dioxide."),
    ("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet."),
]


def rows(pairs: list[tuple[str, str]]) -> list[DemonstrationRow]:
    return [
        DemonstrationRow(q, STYLE.format(answer=a), i + 1, i + 1) for i, (q, a) in enumerate(pairs)
    ]


def mean_logprob(folder: Path, demos: list[DemonstrationRow], system: str | None) -> float:
    model, tok = load_policy(folder)
    model.eval()
    return statistics.fmean(answer_logprob(model, tok, d, system) for d in demos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="cpu-small")
    parser.add_argument("--epochs", type=float, default=None, help="override sft.epochs")
    parser.add_argument("--lr", type=float, default=None, help="override sft.lr")
    parser.add_argument("--work", type=Path, default=None, help="keep the converted model here")
    args = parser.parse_args()
    overrides = {k: v for k, v in (("sft.epochs", args.epochs), ("sft.lr", args.lr)) if v}
    cfg = load_recipe(args.recipe, overrides)
    work = args.work or Path(tempfile.mkdtemp(prefix="pairwise-sft-bench-"))
    base = work / "policy-v0"
    if not (base / "model.safetensors").exists():
        convert("smollm2", base)
    system = cfg.policy.system_prompt
    train, held = rows(TRAIN), rows(HELD_OUT)
    before = mean_logprob(base, train, system), mean_logprob(base, held, system)
    started = time.monotonic()
    metrics = sft_policy(train, base, work / "sft", cfg.sft, cfg.policy, no_progress, never_stop)
    seconds = time.monotonic() - started
    after = mean_logprob(work / "sft", train, system), mean_logprob(work / "sft", held, system)
    print(
        f"SFT: {len(train)} demonstrations, {metrics['steps']} steps, lr {cfg.sft.lr}, "
        f"batch {cfg.sft.batch_size}, {seconds:.0f} s\n"
    )
    print("| demonstrations | mean log-prob per token before | after | change |")
    print("| --- | --- | --- | --- |")
    for name, b, a in (("trained on", before[0], after[0]), ("held out", before[1], after[1])):
        print(f"| {name} | {b:.3f} | {a:.3f} | {a - b:+.3f} |")


if __name__ == "__main__":
    main()
