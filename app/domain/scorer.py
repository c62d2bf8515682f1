"""A trained reward model as a scorer: the one text format and the one loader.

Reward training (trainer/reward.py), RL's reward function, the sampler's pair margins and
the simulated `judge:` evaluator all format (prompt, completion) with `reward_text` and
cut it with `encode`, so the model sees the same token sequences everywhere. torch and
transformers are imported only when a scorer is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.domain.messages import PromptValue
from app.domain.store import assert_safetensors_only

# MiniLM has no chat template: the prompt and the response are joined with a visible marker
# (and role names for chat prompts) so the model can tell where the response starts.
RESPONSE_MARKER = "\n\n### Response:\n"


def reward_text(prompt: PromptValue, completion: str) -> str:
    """THE formatting of (prompt, completion) for reward training and scoring."""
    if isinstance(prompt, str):
        context = prompt
    else:
        context = "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in prompt)
    return f"{context}{RESPONSE_MARKER}{completion}"


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Pad token and truncation side as reward training and scoring both need them."""
    # Without a pad token, the scorer of a decoder model cannot find the last real token and
    # accuracy stays at chance (TRL #937, #2758).
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.truncation_side = "left"  # keep the response; drop the start of a long prompt
    return tokenizer


def encode(tokenizer: Any, text: str, max_length: int) -> tuple[list[int], bool]:
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


def load_sequence_scorer(path: Path | str) -> Any:
    """A one-label sequence-classification model (safetensors only for local folders)."""
    from transformers import AutoModelForSequenceClassification

    if isinstance(path, Path):
        assert_safetensors_only(path)
    return AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=1, use_safetensors=True
    )


class RewardScorer:
    """Scores (prompt, completion) pairs with a trained reward model, in batches."""

    def __init__(self, path: Path, batch_size: int = 32, max_length: int | None = None) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(str(path)))
        self.model = load_sequence_scorer(path).eval()
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.batch_size = batch_size
        # The length the model was trained at is saved with its tokenizer (see train_reward_model).
        limit = min(self.tokenizer.model_max_length, 1 << 16)
        positions = getattr(self.model.config, "max_position_embeddings", None) or limit
        self.max_length = max_length or min(limit, positions)

    def score_texts(self, texts: list[str]) -> list[float]:
        import torch

        out: list[float] = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                ids = [
                    encode(self.tokenizer, t, self.max_length)[0]
                    for t in texts[start : start + self.batch_size]
                ]
                batch = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt")
                logits = self.model(**batch).logits[:, 0]
                out.extend(float(x) for x in logits.float())
        return out

    def score(self, prompts: list[PromptValue], completions: list[str]) -> list[float]:
        """One scalar reward per (prompt, completion)."""
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        return self.score_texts(
            [reward_text(p, c) for p, c in zip(prompts, completions, strict=True)]
        )
