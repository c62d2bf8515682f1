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

import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from torch import nn
from torch.utils.data import DataLoader, Sampler
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
from trainer import ranks
from trainer._hf import StageCallback, per_rank, quiet, set_threads
from trainer.types import Progress, ShouldStop
from trainer.workspace import Workspace, run_stage, stage_output

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


class RankingBatches(Sampler[list[int]]):
    """Batches that keep all implied pairs of one ranking together, as InstructGPT trains.

    Rows are grouped by `pair_id` (a ranking's rows share it); the groups are shuffled once
    with the seed and packed first-fit into batches of at most `batch_size` rows (a larger
    group is a batch of its own), so the number of batches is fixed; their order is shuffled
    anew each epoch.
    """

    def __init__(self, groups: list[int], batch_size: int, seed: int) -> None:
        members: dict[int, list[int]] = defaultdict(list)
        for index, group in enumerate(groups):
            members[group].append(index)
        shuffled = list(members.values())
        self.rng = random.Random(seed)
        self.rng.shuffle(shuffled)
        self.batches: list[list[int]] = []
        for rows in shuffled:
            for batch in self.batches:
                if len(batch) + len(rows) <= batch_size:
                    batch.extend(rows)
                    break
            else:
                self.batches.append(list(rows))

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        order = self.batches[:]
        self.rng.shuffle(order)
        return iter(order)


class _RankingRewardTrainer(RewardTrainer):
    """TRL's RewardTrainer whose training batches come from `RankingBatches`."""

    def __init__(self, *args: Any, groups: list[int], **kwargs: Any) -> None:
        self._groups = groups
        super().__init__(*args, **kwargs)

    def get_train_dataloader(self) -> DataLoader[Any]:
        dataset = self._remove_unused_columns(self.train_dataset, description="Training")
        if len(dataset) != len(self._groups):
            raise ValueError("ranking groups do not match the training rows")
        batches = RankingBatches(self._groups, self._train_batch_size, self.args.seed)
        loader = DataLoader(dataset, batch_sampler=batches, collate_fn=self.data_collator)
        return self.accelerator.prepare(loader)  # type: ignore[no-any-return]


def _tokenised_dataset(
    rows: list[PreferenceRow], tokenizer: PreTrainedTokenizerBase, cfg: RewardSection
) -> tuple[Dataset, int, int, list[int]]:
    """Pre-tokenised pairs (TRL then skips its own formatting); counts of cut and dropped rows;
    the kept rows' `pair_id`s (a ranking's rows share one)."""
    chosen_ids, rejected_ids, margins, weights = [], [], [], []
    groups: list[int] = []
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
        # A row without a pair (pair_id 0: synthetic data) is a group of its own.
        groups.append(row.pair_id or -len(groups) - 1)
        margins.append(margin_of(row.strength, cfg.strength_margin))
        weights.append(row.weight)
    columns: dict[str, list[Any]] = {"chosen_ids": chosen_ids, "rejected_ids": rejected_ids}
    if cfg.strength_margin > 0:
        columns["margin"] = margins
    if cfg.annotator_weights:
        columns["weight"] = weights
    return Dataset.from_dict(columns), cut, dropped, groups


class _RankingWeightedRewardTrainer(_RankingRewardTrainer, _WeightedRewardTrainer):
    """Rankings kept in one batch, and each row weighed by its annotators."""


def _trainer_class(*, ranked: bool, weighted: bool) -> type[RewardTrainer]:
    if ranked and weighted:
        return _RankingWeightedRewardTrainer
    if ranked:
        return _RankingRewardTrainer
    return _WeightedRewardTrainer if weighted else RewardTrainer


def train_reward_model(
    train: list[PreferenceRow],
    val: list[PreferenceRow],
    base: Path | str,
    out_dir: Path,
    cfg: RewardSection,
    progress: Progress,
    should_stop: ShouldStop,
    previous: Path | None = None,
    workspace: Workspace | None = None,
) -> dict[str, Any]:
    """Train a scalar reward model on preference pairs; save safetensors + tokenizer to out_dir.

    `workspace`: the run's work folder (checkpoints every `save_steps`, tracker logs)."""
    set_threads(cfg.threads)
    if not train:
        raise ValueError("no training comparisons for the reward model")
    start_from = previous if (cfg.warm_start and previous is not None) else base
    progress(0.0, f"reward model: loading {Path(str(start_from)).name}", {})
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(str(start_from)))
    model = load_sequence_scorer(start_from)
    model.config.pad_token_id = tokenizer.pad_token_id

    dataset, cut, dropped, groups = _tokenised_dataset(train, tokenizer, cfg)
    # Rankings (several rows per pair_id) train with each ranking's pairs in one batch.
    ranking_rows = sum(n for n in Counter(groups).values() if n > 1)
    ranked = ranking_rows > 0
    if len(dataset) == 0:
        raise ValueError(
            f"all {len(train)} training comparisons are longer than "
            f"reward.max_length={cfg.max_length}"
        )
    callback = StageCallback("reward model", progress, should_stop)
    with stage_output(workspace, "reward", cfg.save_steps) as output:
        args = RewardConfig(
            **output,
            learning_rate=cfg.lr,
            num_train_epochs=cfg.epochs,
            per_device_train_batch_size=cfg.batch_size,
            weight_decay=cfg.weight_decay,
            max_length=None,  # rows are already cut to length by `encode`
            seed=cfg.seed,
            logging_steps=1,
            use_cpu=not torch.cuda.is_available(),
            bf16=cfg.bf16,
            gradient_checkpointing=False,
            disable_tqdm=True,
            eos_token=tokenizer.sep_token or tokenizer.eos_token,
        )
        extra: dict[str, Any] = {"groups": groups} if ranked else {}
        weighted = cfg.annotator_weights
        trainer_class = _trainer_class(ranked=ranked, weighted=weighted)
        trainer = quiet(
            trainer_class(
                model=model,
                args=args,
                train_dataset=dataset,
                processing_class=tokenizer,
                callbacks=[callback],
                **extra,
                data_collator=_WeightedCollator(tokenizer.pad_token_id) if weighted else None,
            )
        )
        train_seconds, resumed = run_stage(
            trainer, should_stop, "reward model", progress, workspace, "reward"
        )

    def write() -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        tokenizer.model_max_length = cfg.max_length  # so RewardScorer cuts texts as training did
        trainer.model.save_pretrained(out_dir, safe_serialization=True)
        tokenizer.save_pretrained(out_dir)

    # Under `accelerate launch` every rank trained its share; rank 0 writes and validates.
    ranks.on_main(write)
    shares = per_rank(callback)
    if not ranks.is_main():
        return {"train_pairs": len(dataset), **shares}

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
        "ranking_pairs": ranking_rows,
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
        "resumed_from_step": resumed,
        "pairs_per_second": round(len(dataset) * cfg.epochs / max(train_seconds, 1e-9), 2),
        **shares,
    }
    progress(
        1.0, f"reward model: validation accuracy {val_accuracy}", {"val_accuracy": val_accuracy}
    )
    return metrics
