"""Reward model: Bradley–Terry training with TRL's RewardTrainer.

Options from the labels themselves: `strength_margin` (Llama 2's margin term: a pair labelled
"much better" must be won by a wider reward gap than one labelled "slightly"), and row
weights from the annotators' gold accuracy (`annotator_weights`), which scale each pair's
loss.

Training formats and cuts texts with the domain scorer's `reward_text` and `encode`
(app/domain/scorer.py), so the model sees exactly the same token sequences when it is used
as a reward function during RL, for pair margins or as a judge, as when it was trained.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from torch import nn
from transformers import AutoTokenizer, PreTrainedTokenizerBase
from trl import RewardConfig, RewardTrainer
from trl.trainer.reward_trainer import DataCollatorForPreference

from app.domain.bundled import minilm_dir
from app.domain.preferences import PreferenceRow
from app.domain.recipe import RewardSection
from app.domain.scorer import (
    RewardScorer,
    encode,
    load_sequence_scorer,
    prepare_tokenizer,
    reward_text,
)
from trainer._hf import StageCallback, quiet, set_threads
from trainer.types import Cancelled, Progress, ShouldStop

# Llama 2's margin by how much better the chosen answer is (their "small" margins, x scale).
STRENGTH_MARGIN = {"slight": 1 / 3, "clear": 2 / 3, "much": 1.0}


def margin_of(strength: str | None, scale: float) -> float:
    """The reward gap a pair of this strength must clear (0 for no or an unknown strength)."""
    return scale * STRENGTH_MARGIN.get(strength or "", 0.0)


class _WeightedCollator(DataCollatorForPreference):
    """TRL's preference collator, passing each row's `weight` on as a tensor."""

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        out = super().torch_call(examples)
        out["weight"] = torch.tensor([e["weight"] for e in examples], dtype=torch.float)
        return out


class _WeightedRewardTrainer(RewardTrainer):
    """Bradley–Terry loss with a weight per pair: sum(w * -log σ(Δ - margin)) / sum(w)."""

    def _set_signature_columns_if_needed(self) -> None:
        if self._signature_columns is None:
            self._signature_columns = ["chosen_ids", "rejected_ids", "margin", "weight"]  # type: ignore[assignment]

    def compute_loss(
        self,
        model: Any,
        inputs: Any,
        return_outputs: Any = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        weight = inputs.pop("weight")
        margin = inputs.pop("margin", None)
        outputs = model(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False
        )
        chosen, rejected = torch.chunk(outputs.logits.squeeze(-1), chunks=2)
        gap = chosen - rejected - (margin if margin is not None else 0.0)
        loss = -(weight * nn.functional.logsigmoid(gap)).sum() / weight.sum().clamp_min(1e-8)
        return (loss, outputs) if return_outputs else loss


def resolve_reward_base(base_model: str) -> Path | str:
    """A reward base from the config: "minilm", a local folder, or a Hugging Face id."""
    if base_model == "minilm":
        return minilm_dir()
    folder = Path(base_model)
    return folder if folder.is_dir() else base_model


def _accuracy(
    scorer: RewardScorer, rows: list[PreferenceRow]
) -> tuple[float | None, dict[str, float]]:
    """Share of rows where chosen outscores rejected, overall and per strength label."""
    if not rows:
        return None, {}
    prompts = [r.prompt for r in rows]
    chosen = scorer.score(prompts, [r.chosen for r in rows])
    rejected = scorer.score(prompts, [r.rejected for r in rows])
    hits: dict[str, list[bool]] = defaultdict(list)
    overall = []
    for row, c, r in zip(rows, chosen, rejected, strict=True):
        ok = c > r
        overall.append(ok)
        hits[row.strength or "unspecified"].append(ok)
    by_strength = {k: sum(v) / len(v) for k, v in sorted(hits.items())}
    return sum(overall) / len(overall), by_strength


def _tokenised_dataset(
    rows: list[PreferenceRow], tokenizer: PreTrainedTokenizerBase, cfg: RewardSection
) -> tuple[Dataset, int, int]:
    """Pre-tokenised pairs (TRL then skips its own formatting); counts of cut and dropped rows."""
    chosen_ids, rejected_ids, margins, weights = [], [], [], []
    cut = dropped = 0
    for row in rows:
        c, c_cut = encode(tokenizer, reward_text(row.prompt, row.chosen), cfg.max_length)
        r, r_cut = encode(tokenizer, reward_text(row.prompt, row.rejected), cfg.max_length)
        if (c_cut or r_cut) and not cfg.truncate_long_rows:
            dropped += 1
            continue
        cut += int(c_cut or r_cut)
        chosen_ids.append(c)
        rejected_ids.append(r)
        margins.append(margin_of(row.strength, cfg.strength_margin))
        weights.append(row.weight)
    columns: dict[str, list[Any]] = {"chosen_ids": chosen_ids, "rejected_ids": rejected_ids}
    if cfg.strength_margin > 0:
        columns["margin"] = margins
    if cfg.annotator_weights:
        columns["weight"] = weights
    return Dataset.from_dict(columns), cut, dropped


def train_reward_model(
    train: list[PreferenceRow],
    val: list[PreferenceRow],
    base: Path | str,
    out_dir: Path,
    cfg: RewardSection,
    progress: Progress,
    should_stop: ShouldStop,
    previous: Path | None = None,
) -> dict[str, Any]:
    """Train a scalar reward model on preference pairs; save safetensors + tokenizer to out_dir."""
    set_threads(cfg.threads)
    if not train:
        raise ValueError("no training comparisons for the reward model")
    start_from = previous if (cfg.warm_start and previous is not None) else base
    progress(0.0, f"reward model: loading {Path(str(start_from)).name}", {})
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(str(start_from)))
    model = load_sequence_scorer(start_from)
    model.config.pad_token_id = tokenizer.pad_token_id

    dataset, cut, dropped = _tokenised_dataset(train, tokenizer, cfg)
    if len(dataset) == 0:
        raise ValueError(
            f"all {len(train)} training comparisons are longer than "
            f"reward.max_length={cfg.max_length}"
        )
    callback = StageCallback("reward model", progress, should_stop)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pairwise-reward-") as scratch:
        args = RewardConfig(
            output_dir=scratch,
            learning_rate=cfg.lr,
            num_train_epochs=cfg.epochs,
            per_device_train_batch_size=cfg.batch_size,
            weight_decay=cfg.weight_decay,
            max_length=None,  # rows are already cut to length by `encode`
            seed=cfg.seed,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            use_cpu=not torch.cuda.is_available(),
            bf16=cfg.bf16,
            gradient_checkpointing=False,
            disable_tqdm=True,
            eos_token=tokenizer.sep_token or tokenizer.eos_token,
        )
        weighted = cfg.annotator_weights
        trainer = quiet(
            (_WeightedRewardTrainer if weighted else RewardTrainer)(
                model=model,
                args=args,
                train_dataset=dataset,
                processing_class=tokenizer,
                callbacks=[callback],
                data_collator=_WeightedCollator(tokenizer.pad_token_id) if weighted else None,
            )
        )
        trainer.train()
        if should_stop():
            raise Cancelled("reward model cancelled")
    train_seconds = time.monotonic() - started

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.model_max_length = cfg.max_length  # so RewardScorer cuts texts as training did
    trainer.model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)

    progress(0.95, "reward model: validating", {})
    scorer = RewardScorer(out_dir, batch_size=cfg.score_batch_size, max_length=cfg.max_length)
    val_accuracy, by_strength = _accuracy(scorer, val)
    train_accuracy, _ = _accuracy(scorer, train[:200])
    previous_accuracy = None
    if previous is not None and val:
        old = RewardScorer(previous, batch_size=cfg.score_batch_size, max_length=cfg.max_length)
        previous_accuracy, _ = _accuracy(old, val)
    metrics = {
        "train_pairs": len(dataset),
        "strength_margin": cfg.strength_margin,
        "mean_row_weight": (
            sum(r.weight for r in train) / len(train) if cfg.annotator_weights else None
        ),
        "val_pairs": len(val),
        "truncated_rows": cut,
        "dropped_too_long": dropped,
        "val_accuracy": val_accuracy,
        "accuracy_by_strength": by_strength,
        "train_accuracy": train_accuracy,
        "previous_val_accuracy": previous_accuracy,
        "loss_curve": callback.curves.get("loss", []),
        "train_seconds": round(train_seconds, 2),
        "pairs_per_second": round(len(dataset) * cfg.epochs / max(train_seconds, 1e-9), 2),
    }
    progress(
        1.0, f"reward model: validation accuracy {val_accuracy}", {"val_accuracy": val_accuracy}
    )
    return metrics
