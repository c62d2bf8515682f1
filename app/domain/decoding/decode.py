"""Our own decoding loop over a Hugging Face causal LM, for throughput on a CPU.

`generate` keeps every row of a batch until the longest one ends, so short answers pay
for long ones. Here a row leaves the batch (and its KV cache) the step it finishes, and
a waiting prompt takes the free slot: its prompt is prefilled on its own and its cache
joined to the batch's, left-padded to the same length. The cache grows in place
(`app.domain.decoding.kv_cache`) instead of being copied at every token. Every row is
sampled with its own seed (`app.domain.decoding.seeded`), so a seed gives the same tokens
alone or in any batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.domain.decoding.kv_cache import in_place_cache, is_in_place
from app.domain.decoding.seeded import RowDraws, pick_tokens
from app.vocabulary import FinishReason

if TYPE_CHECKING:  # torch is imported where it is used: the base install has none
    import torch

__all__ = ["Batch", "Decoded", "SamplingParams", "StopRequested", "decode", "stop_token_ids"]


class StopRequested(Exception):
    """Generation was cut short: the caller's `should_stop` said so (the worker is
    stopping, or a training run now waits)."""


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int
    temperature: float
    top_p: float
    top_k: int = 0  # 0: no limit


@dataclass
class Decoded:
    """One row's new tokens (without the stop token), why it ended, and the stop token
    picked when it ended by itself."""

    tokens: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    finish_reason: FinishReason = FinishReason.length
    stop_token: int | None = None


def stop_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """The tokens that end an answer: the model's generation config's and the tokenizer's."""
    configured = model.generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    return {i for i in [*ids, tokenizer.eos_token_id] if i is not None}


def decode(
    model: Any,
    prompts: Sequence[list[int]],
    seeds: Sequence[int],
    params: SamplingParams,
    *,
    stop_ids: Collection[int],
    pad_id: int,
    batch_size: int,
    should_stop: Callable[[], bool] = lambda: False,
    on_token: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> list[Decoded]:
    """Sample one completion per prompt (token ids), at most `batch_size` rows at a time.

    Prompts are admitted in the order given (sort them by length to cut padding).
    `on_token(row, token)` sees each new token as it is picked (not stop tokens);
    `on_batch(rows)` is told how many prompts each prefill admitted.
    Raises `StopRequested` when `should_stop()` turns true.
    """
    import torch

    device = next(model.parameters()).device
    n = len(prompts)
    draws = RowDraws(list(seeds), params.max_new_tokens, device)
    temperature = torch.full((n,), params.temperature, dtype=torch.float64, device=device)
    top_p = torch.full((n,), params.top_p, dtype=torch.float64, device=device)
    top_k = torch.full((n,), params.top_k, dtype=torch.long, device=device)
    stops = set(stop_ids)
    out = [Decoded(prompt_tokens=len(p)) for p in prompts]
    waiting = deque(range(n))
    batch: Batch | None = None
    with torch.inference_mode():
        while waiting or batch is not None:
            free = batch_size - (batch.size if batch else 0)
            if waiting and free > 0 and (batch is None or batch.can_join):
                rows = [waiting.popleft() for _ in range(min(free, len(waiting)))]
                joined = Batch.prefill(model, [prompts[r] for r in rows], rows, pad_id)
                batch = joined if batch is None else batch.join(joined)
                if on_batch:
                    on_batch(len(rows))
            assert batch is not None
            if should_stop():
                raise StopRequested()
            picked = pick_tokens(
                batch.logits,
                draws.at(batch.rows, batch.steps),
                temperature[batch.rows],
                top_p[batch.rows],
                top_k[batch.rows],
            )
            keep: list[int] = []
            for j, (row, token) in enumerate(
                zip(batch.rows.tolist(), picked.tolist(), strict=True)
            ):
                if token in stops:
                    out[row].finish_reason = FinishReason.stop
                    out[row].stop_token = token
                    continue
                out[row].tokens.append(token)
                if on_token:
                    on_token(row, token)
                if len(out[row].tokens) < params.max_new_tokens:
                    keep.append(j)
            if not keep:
                batch = None
                continue
            if len(keep) < batch.size:
                index = torch.tensor(keep, device=device)
                batch.select(index)
                picked = picked[index]
            batch.step(model, picked)
    return out


class Batch:
    """The rows being decoded together: KV cache, padding mask, positions, next logits."""

    def __init__(
        self,
        cache: Any,
        mask: torch.Tensor,
        rows: torch.Tensor,
        positions: torch.Tensor,
        steps: torch.Tensor,
        logits: torch.Tensor,
    ) -> None:
        self.cache = cache  # covers every token so far; `logits` are for the next one
        self.mask = mask  # (rows, cache length): 1 for a real token, 0 for left padding
        self.rows = rows  # which prompt each row samples for
        self.positions = positions  # the next token's position id in its own sequence
        self.steps = steps  # tokens sampled so far per row (the index of its next draw)
        self.logits = logits  # (rows, vocab)

    @property
    def size(self) -> int:
        return int(self.rows.shape[0])

    @property
    def can_join(self) -> bool:
        """Rows can be added, and padding trimmed, only in a cache of in-place layers."""
        return is_in_place(self.cache)

    @classmethod
    def prefill(cls, model: Any, prompts: list[list[int]], rows: list[int], pad_id: int) -> Batch:
        """Run the prompts (left-padded to the longest) through the model into a new cache."""
        import torch

        device = next(model.parameters()).device
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, prompt in enumerate(prompts):
            ids[i, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[i, width - len(prompt) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        # As `generate` does: positions count real tokens only; padding gets a dummy one.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = in_place_cache(model.config)
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return cls(
            cache,
            mask,
            torch.tensor(rows, dtype=torch.long, device=device),
            mask.sum(-1),
            torch.zeros(len(prompts), dtype=torch.long, device=device),
            out.logits[:, -1, :],
        )

    def select(self, index: torch.Tensor) -> None:
        """Keep only the rows at `index`, and drop padding columns no kept row needs."""
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        self.rows, self.positions = self.rows[index], self.positions[index]
        self.steps, self.logits = self.steps[index], self.logits[index]
        unused = int(self.mask.any(dim=0).int().argmax())  # leading all-padding columns
        if unused and self.can_join:
            self.mask = self.mask[:, unused:]
            for layer in self.cache.layers:
                layer.drop_leading(unused)

    def step(self, model: Any, tokens: torch.Tensor) -> None:
        """Feed each row its picked token; the logits become those for the token after."""
        import torch

        ones = torch.ones((self.size, 1), dtype=self.mask.dtype, device=self.mask.device)
        self.mask = torch.cat([self.mask, ones], dim=1)
        out = model(
            input_ids=tokens.unsqueeze(1),
            attention_mask=self.mask,
            position_ids=self.positions.unsqueeze(1),
            cache=self.cache,
            use_cache=True,
        )
        self.logits = out.logits[:, -1, :]
        self.positions = self.positions + 1
        self.steps = self.steps + 1

    def join(self, other: Batch) -> Batch:
        """This batch and `other` as one: both caches left-padded to the longer one."""
        import torch

        width = max(self.mask.shape[1], other.mask.shape[1])

        def pad(t: torch.Tensor) -> torch.Tensor:  # (rows, columns): zeros on the left
            missing = width - t.shape[1]
            return torch.cat([t.new_zeros((t.shape[0], missing)), t], dim=1) if missing else t

        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            mine.join(theirs, width)
        self.mask = torch.cat([pad(self.mask), pad(other.mask)])
        self.rows = torch.cat([self.rows, other.rows])
        self.positions = torch.cat([self.positions, other.positions])
        self.steps = torch.cat([self.steps, other.steps])
        self.logits = torch.cat([self.logits, other.logits])
        return self
