"""Reward model: Bradley–Terry training with TRL's RewardTrainer, and batched scoring.

Training and scoring share `reward_text` and `encode`, so the model sees exactly the same
token sequences when it is used as a reward function during RL as when it was trained.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerBase
from trl import RewardConfig, RewardTrainer

from trainer._hf import StageCallback, quiet, set_threads
from trainer.bundled import minilm_dir
from trainer.config import RewardSection
from trainer.store import assert_safetensors_only
from trainer.types import Cancelled, PreferenceRow, Progress, Prompt, ShouldStop

# MiniLM has no chat template: the prompt and the response are joined with a visible marker
# (and role names for chat prompts) so the model can tell where the response starts.
RESPONSE_MARKER = "\n\n### Response:\n"


def reward_text(prompt: Prompt, completion: str) -> str:
    """THE formatting of (prompt, completion) for reward training and scoring."""
    if isinstance(prompt, str):
        context = prompt
    else:
        context = "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in prompt)
    return f"{context}{RESPONSE_MARKER}{completion}"


def resolve_reward_base(base_model: str) -> Path | str:
    """A reward base from the config: "minilm", a local folder, or a Hugging Face id."""
    if base_model == "minilm":
        return minilm_dir()
    folder = Path(base_model)
    return folder if folder.is_dir() else base_model


def _prepare_tokenizer(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    # Without a pad token, the scorer of a decoder model cannot find the last real token and
    # accuracy stays at chance (TRL #937, #2758).
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.truncation_side = "left"  # keep the response; drop the start of a long prompt
    return tokenizer


def encode(
    tokenizer: PreTrainedTokenizerBase, text: str, max_length: int
) -> tuple[list[int], bool]:
    """Token ids of one formatted text (cut from the left) and whether it was cut."""
    full = tokenizer(text, truncation=False)["input_ids"]
    eos = tokenizer.eos_token_id
    # Decoder bases score the last token: make it an end marker, as TRL does for plain text.
    if eos is not None and tokenizer.sep_token_id is None and (not full or full[-1] != eos):
        full = [*full, eos]
    if len(full) <= max_length:
        return full, False
    ids = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
    if eos is not None and tokenizer.sep_token_id is None:
        ids = [*ids[: max_length - 1], eos]
    return ids, True


def _load_scorer(path: Path | str) -> Any:
    if isinstance(path, Path):
        assert_safetensors_only(path)
    return AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=1, use_safetensors=True
    )


class RewardScorer:
    """Scores (prompt, completion) pairs with a trained reward model, in batches."""

    def __init__(self, path: Path, batch_size: int = 32, max_length: int | None = None) -> None:
        self.tokenizer = _prepare_tokenizer(AutoTokenizer.from_pretrained(str(path)))
        self.model = _load_scorer(path).eval()
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.batch_size = batch_size
        limit = getattr(self.model.config, "max_position_embeddings", None) or 512
        self.max_length = max_length or min(limit, 1024)

    @torch.no_grad()
    def score_texts(self, texts: list[str]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            ids = [
                encode(self.tokenizer, t, self.max_length)[0]
                for t in texts[start : start + self.batch_size]
            ]
            batch = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt")
            logits = self.model(**batch).logits[:, 0]
            out.extend(float(x) for x in logits.float())
        return out

    def score(self, prompts: list[Prompt], completions: list[str]) -> list[float]:
        """One scalar reward per (prompt, completion)."""
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        return self.score_texts(
            [reward_text(p, c) for p, c in zip(prompts, completions, strict=True)]
        )


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
    chosen_ids, rejected_ids = [], []
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
    return Dataset.from_dict({"chosen_ids": chosen_ids, "rejected_ids": rejected_ids}), cut, dropped


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
    tokenizer = _prepare_tokenizer(AutoTokenizer.from_pretrained(str(start_from)))
    model = _load_scorer(start_from)
    model.config.pad_token_id = tokenizer.pad_token_id

    dataset, cut, dropped = _tokenised_dataset(train, tokenizer, cfg)
    if len(dataset) == 0:
        raise ValueError(
            f"all {len(train)} training comparisons are longer than reward.max_length={cfg.max_length}"
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
        trainer = quiet(
            RewardTrainer(
                model=model,
                args=args,
                train_dataset=dataset,
                processing_class=tokenizer,
                callbacks=[callback],
            )
        )
        trainer.train()
        if should_stop():
            raise Cancelled("reward model cancelled")
    train_seconds = time.monotonic() - started

    out_dir.mkdir(parents=True, exist_ok=True)
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
