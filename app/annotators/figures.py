"""Per-annotator quality figures (throughput, speed, gold accuracy, agreement, position and
length bias) and the rules that flag an annotator for a look; no database access here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from app.settings import Settings

# Below these counts a figure is shown but too noisy to flag anyone on.
MIN_GOLD = 5
MIN_OVERLAP = 5
MIN_SIDE_PICKS = 20
MIN_LABELS_FOR_SPEED = 5


@dataclass
class AnnotatorStats:
    labels: int = 0
    per_day: list[tuple[date, int]] = field(default_factory=list)
    median_seconds: float | None = None
    gold_total: int = 0
    gold_correct: int = 0
    overlap_pairs: int = 0
    agreements: int = 0
    side_picks: int = 0
    left_picks: int = 0
    bias_p: float | None = None
    # Length bias: decisive picks on pairs of unequal length, how many chose the longer one,
    # the other annotators' share of such picks and a binomial test against it.
    length_picks: int = 0
    longer_picks: int = 0
    others_longer_share: float | None = None
    length_p: float | None = None
    ties: int = 0
    both_bad: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    trust_flags: list[str] = field(default_factory=list)

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_total if self.gold_total else None

    @property
    def agreement(self) -> float | None:
        return self.agreements / self.overlap_pairs if self.overlap_pairs else None

    @property
    def left_share(self) -> float | None:
        return self.left_picks / self.side_picks if self.side_picks else None

    @property
    def longer_share(self) -> float | None:
        return self.longer_picks / self.length_picks if self.length_picks else None

    @property
    def tie_share(self) -> float | None:
        return self.ties / self.labels if self.labels else None

    @property
    def both_bad_share(self) -> float | None:
        return self.both_bad / self.labels if self.labels else None


def trust_flags(s: AnnotatorStats, settings: Settings) -> list[str]:
    """Reasons to look at this annotator; never acted on automatically."""
    out = []
    if s.gold_total >= MIN_GOLD and (s.gold_accuracy or 0) < settings.trust_min_gold_accuracy:
        out.append(f"gold accuracy {s.gold_accuracy:.0%} < {settings.trust_min_gold_accuracy:.0%}")
    if s.overlap_pairs >= MIN_OVERLAP and (s.agreement or 0) < settings.trust_min_agreement:
        out.append(f"agreement {s.agreement:.0%} < {settings.trust_min_agreement:.0%}")
    if (
        s.side_picks >= MIN_SIDE_PICKS
        and s.bias_p is not None
        and s.bias_p < settings.trust_max_bias_p
    ):
        out.append(f"position bias: left {s.left_share:.0%} (p={s.bias_p:.2g})")
    if (
        s.length_picks >= MIN_SIDE_PICKS
        and s.length_p is not None
        and s.length_p < settings.trust_max_bias_p
        and s.others_longer_share is not None
    ):
        out.append(
            f"length bias: longer {s.longer_share:.0%} vs others {s.others_longer_share:.0%}"
            f" (p={s.length_p:.2g})"
        )
    if (
        s.labels >= MIN_LABELS_FOR_SPEED
        and s.median_seconds is not None
        and s.median_seconds < settings.trust_min_median_seconds
    ):
        out.append(f"fast: median {s.median_seconds:.1f}s per label")
    return out
