"""The learning benchmark's fixed prompt set: everyday questions, built from a seedless grid.

The same list every run, so rounds, variants and dates compare. Questions that a short
answer serves well and a rambling one serves badly, which is what the `concise` rule rewards.
"""

from __future__ import annotations

TOPICS = [
    "photosynthesis",
    "the water cycle",
    "gravity",
    "a rainbow",
    "inflation",
    "a vaccine",
    "the internet",
    "a volcano",
    "electricity",
    "sleep",
    "a black hole",
    "recycling",
    "democracy",
    "the moon's phases",
    "an earthquake",
    "a computer virus",
    "compound interest",
    "the seasons",
    "a battery",
    "evolution",
    "the stock market",
    "a thunderstorm",
    "DNA",
    "a password manager",
    "the immune system",
    "solar power",
    "a recession",
    "tides",
    "a calorie",
    "climate change",
    "a telescope",
    "the heart",
    "an election",
    "a refrigerator",
    "bread rising",
    "a comet",
    "the Roman Empire",
    "a spreadsheet",
    "jet lag",
    "a bridge",
]

TEMPLATES = [
    "What is {topic}?",
    "Explain {topic} to a ten-year-old.",
    "Why does {topic} matter?",
    "Give me one fact about {topic}.",
]


def benchmark_prompts() -> list[str]:
    """160 prompts: every template for every topic, topic-major so a tail split is unseen."""
    return [t.format(topic=topic) for topic in TOPICS for t in TEMPLATES]


def split(prompts: list[str], heldout: int) -> tuple[list[str], list[str]]:
    """(training prompts, held-out prompts): the last `heldout` topics' prompts are held out,
    so the measure asks about topics the policy was never trained on."""
    if not 0 < heldout < len(prompts):
        raise ValueError(f"held-out prompts must be between 1 and {len(prompts) - 1}")
    return prompts[:-heldout], prompts[-heldout:]
