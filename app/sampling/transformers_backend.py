"""In-process sampling with transformers: batched `generate`, left padding, a seed per sequence."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator
from typing import Any

from app.domain.base_model import LOAD_LOCK
from app.domain.checkpoints import load_causal_lm
from app.domain.messages import as_messages, prompt_value
from app.domain.store import ModelStore, assert_safetensors_only
from app.sampling.backend import Sample, SampleRequest, StopRequested, VersionRef
from app.settings import Settings
from app.vocabulary import FinishReason

log = logging.getLogger(__name__)


def _per_row_sampler(seeds: list[int], temperature: float, top_p: float) -> Any:
    """A logits processor that samples each row with its own seeded random stream.

    HF `generate` draws every row of a batch from one random stream, so a batched sample
    could not be tied to a seed of its own. Here temperature and top-p are applied with
    HF's own warpers, and each row draws one uniform number per token from a CPU
    `torch.Generator(seed)`; the token is found on the model's device by inverting the
    row's cumulative distribution there. The draws are the same on CPU and CUDA and do
    not depend on the other rows of the batch. The scores are masked so that greedy
    decoding (`do_sample=False`) picks exactly that token.
    """
    import torch
    from transformers import LogitsProcessor, TemperatureLogitsWarper, TopPLogitsWarper

    class PerRowSampler(LogitsProcessor):
        def __init__(self) -> None:
            self.generators = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
            self.warpers = [TemperatureLogitsWarper(temperature), TopPLogitsWarper(top_p)]

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            for warper in self.warpers:
                scores = warper(input_ids, scores)
            # float64: a 50k-token cumulative sum in float32 loses the tail's resolution.
            cdf = torch.softmax(scores.double(), dim=-1).cumsum(dim=-1)
            draws = torch.cat(
                [torch.rand(1, generator=g, dtype=torch.float64) for g in self.generators]
            )
            targets = draws.to(cdf.device).unsqueeze(1) * cdf[:, -1:]
            # right=True: the first token whose cumulative mass exceeds the draw, which
            # never lands on a token of probability zero (top-p's cut-off).
            picks = torch.searchsorted(cdf, targets, right=True).clamp_(max=cdf.shape[1] - 1)
            out = torch.full_like(scores, float("-inf"))
            return out.scatter_(1, picks, 0.0)

    return PerRowSampler()


def auto_dtype() -> Any:
    """bfloat16 where the hardware computes it natively, else float32.

    On a CPU without AVX-512 BF16 (or AMX) bfloat16 is emulated and generation runs
    100x slower than in float32, so the checkpoint's own dtype is not a safe default.
    """
    import torch

    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32


class TransformersBackend:
    name = "transformers"

    def __init__(
        self,
        settings: Settings,
        store: ModelStore,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.should_stop = should_stop or (lambda: False)
        self.version: VersionRef | None = None
        self.model: Any = None
        self.tokenizer: Any = None
        self.generate_calls: list[int] = []  # batch size of each generate() call
        self.device = "cpu"

    def load(self, version: VersionRef) -> None:
        """Load the version's checkpoint (safetensors only), replacing any loaded model."""
        import torch
        from transformers import AutoTokenizer

        if self.settings.torch_threads:
            torch.set_num_threads(self.settings.torch_threads)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        folder = self.store.path(version.checkpoint_uri)
        base = self.store.adapter_base_path(version.checkpoint_uri)  # a LoRA version's base
        assert_safetensors_only(folder)
        self.close()
        name = self.settings.sampler_dtype
        dtype = auto_dtype() if name == "auto" else getattr(torch, name)
        with LOAD_LOCK:
            model = load_causal_lm(folder, base, dtype=dtype)
            tokenizer = AutoTokenizer.from_pretrained(str(folder), padding_side="left")
        model.eval()
        if self.device != "cpu":
            model.to(torch.device(self.device))  # type: ignore[arg-type]
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model, self.tokenizer, self.version = model, tokenizer, version
        log.info("sampler loaded policy v%s (%s)", version.number, model.dtype)

    def close(self) -> None:
        self.model = self.tokenizer = self.version = None
        gc.collect()

    def render(self, request: SampleRequest) -> str:
        """The prompt text fed to the model: the chat template when the tokenizer has one."""
        messages = as_messages(prompt_value(request.text, request.messages))
        if self.tokenizer.chat_template:
            rendered: str = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            return rendered
        if request.messages:
            return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
        return request.text

    def generate(self, requests: list[SampleRequest]) -> list[Sample]:
        """One sample per request, in order, generated in batches of SAMPLE_BATCH_SIZE."""
        if self.model is None:
            raise RuntimeError("no policy loaded")
        texts = [self.render(r) for r in requests]
        # Batch prompts of similar length together: less left padding to compute over.
        order = sorted(range(len(requests)), key=lambda i: len(texts[i]))
        results: dict[int, Sample] = {}
        size = self.settings.sample_batch_size
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            samples = self._generate_batch([texts[i] for i in chunk], [requests[i] for i in chunk])
            results.update(zip(chunk, samples, strict=True))
        return [results[i] for i in range(len(requests))]

    def stream(self, request: SampleRequest) -> Iterator[str | Sample]:
        """One sequence as it is generated (TextIteratorStreamer), then its `Sample`."""
        import threading

        from transformers import TextIteratorStreamer

        if self.model is None:
            raise RuntimeError("no policy loaded")
        texts = [self.render(request)]
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        result: list[list[Sample]] = []
        failure: list[BaseException] = []

        def run() -> None:
            try:
                result.append(self._generate_batch(texts, [request], streamer=streamer))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="pairwise-stream", daemon=True)
        thread.start()
        for piece in streamer:
            if piece:
                yield piece
        thread.join()
        if failure:
            raise failure[0]
        yield result[0][0]

    def _generate_batch(
        self, texts: list[str], requests: list[SampleRequest], streamer: Any = None
    ) -> list[Sample]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

        should_stop = self.should_stop

        class Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full(
                    (input_ids.shape[0],), should_stop(), dtype=torch.bool, device=input_ids.device
                )

        s = self.settings
        tok = self.tokenizer
        inputs = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        inputs = inputs.to(self.device)
        seeds = [r.seed for r in requests]
        self.generate_calls.append(len(texts))
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=s.max_new_tokens,
                do_sample=False,
                logits_processor=LogitsProcessorList(
                    [_per_row_sampler(seeds, s.temperature, s.top_p)]
                ),
                stopping_criteria=StoppingCriteriaList([Stop()]),
                pad_token_id=tok.pad_token_id,
                streamer=streamer,
            )
        if should_stop():
            raise StopRequested()
        prompt_len = inputs["input_ids"].shape[1]
        eos = set(_as_list(self.model.generation_config.eos_token_id)) | {tok.eos_token_id}
        params = {
            "backend": self.name,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_new_tokens": s.max_new_tokens,
            "batch_size": len(texts),
        }
        samples = []
        for row, request in enumerate(requests):
            new = out[row, prompt_len:].tolist()
            length = next((i for i, t in enumerate(new) if t in eos), len(new))
            samples.append(
                Sample(
                    text=tok.decode(new[:length], skip_special_tokens=True).strip(),
                    prompt_tokens=int(inputs["attention_mask"][row].sum()),
                    completion_tokens=length,
                    seed=request.seed,
                    # No end-of-sequence token among the new ones: max_new_tokens cut it.
                    finish_reason=FinishReason.stop if length < len(new) else FinishReason.length,
                    params=params,
                )
            )
        return samples


def _as_list(value: int | list[int] | None) -> list[int]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
