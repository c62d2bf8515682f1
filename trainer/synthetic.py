"""Synthetic comparisons that follow a hidden rule (tests, benchmarks, demos).

`keyword`: the chosen answer mentions a marker word; `shorter`: the chosen answer is the
shorter one. A reward model that learns the rule beats chance on unseen prompts.
"""

from __future__ import annotations

import random

from trainer.types import PreferenceRow

TOPICS = [
    "bake bread",
    "fix a bike tyre",
    "learn French",
    "plant tomatoes",
    "write a cover letter",
    "train for a 10k run",
    "brew coffee",
    "paint a wall",
    "save money",
    "start a podcast",
    "clean a laptop keyboard",
    "choose a tent",
    "sharpen a knife",
    "make soup",
    "knit a scarf",
    "study for an exam",
    "repot a cactus",
    "tune a guitar",
    "organise a desk",
    "wash a wool jumper",
]
TEMPLATES = [
    "How do I {t}?",
    "What is the best way to {t}?",
    "Give me tips to {t}.",
    "Can you explain how to {t}?",
]
SENTENCES = [
    "Start with the basics and take it one step at a time.",
    "Gather everything you need before you begin.",
    "Check the instructions that came with your tools.",
    "Practice a little every day to build the habit.",
    "Ask someone experienced to watch you the first time.",
    "Keep notes so you can see what worked.",
    "Do not rush the final step.",
    "Clean up as you go to save time later.",
    "Set a small goal for the first week.",
    "Measure twice before you commit.",
    "Use good light so you can see the details.",
    "Rest when you get tired and come back fresh.",
]
KEYWORD = "Honestly"
STRENGTHS = ["slightly", "clearly", "much"]


def _answer(rng: random.Random, n: int) -> str:
    return " ".join(rng.sample(SENTENCES, n))


def synthetic_prompts(n: int, seed: int = 0) -> list[str]:
    """Distinct prompts (cycled with a number when n exceeds the templates)."""
    rng = random.Random(seed)
    base = [tpl.format(t=t) for t in TOPICS for tpl in TEMPLATES]
    rng.shuffle(base)
    return [
        base[i % len(base)] + ("" if i < len(base) else f" (case {i // len(base)})")
        for i in range(n)
    ]


def synthetic_comparisons(
    n: int,
    rule: str = "keyword",
    seed: int = 0,
    pairs_per_prompt: int = 1,
    first_prompt_id: int = 1,
) -> list[PreferenceRow]:
    """n preference rows following `rule`; prompt ids are consecutive from first_prompt_id."""
    if rule not in ("keyword", "shorter"):
        raise ValueError(f"unknown rule {rule!r}")
    rng = random.Random(seed)
    prompts = synthetic_prompts((n + pairs_per_prompt - 1) // pairs_per_prompt, seed)
    rows = []
    for i in range(n):
        pid = i // pairs_per_prompt
        if rule == "keyword":
            length = rng.randint(2, 4)
            good = f"{KEYWORD}, " + _answer(rng, length)
            bad = _answer(rng, rng.randint(2, 4))
        else:
            good = _answer(rng, rng.randint(1, 2))
            bad = _answer(rng, rng.randint(4, 6))
        rows.append(
            PreferenceRow(
                prompt=prompts[pid],
                chosen=good,
                rejected=bad,
                strength=rng.choice(STRENGTHS),
                prompt_id=first_prompt_id + pid,
            )
        )
    return rows
