"""In-process sampling with transformers: our decoding loop (`app.domain.decoding.decode`) over the
loaded checkpoint, prompts grouped by token length, a seed per sequence."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.domain.base_model import LOAD_LOCK
from app.domain.checkpoints import load_causal_lm
from app.domain.decoding.decode import Decoded, SamplingParams, decode, stop_token_ids
from app.domain.messages import as_messages, prompt_value
from app.domain.store import ModelStore, assert_safetensors_only
from app.sampling.backend import Sample, SampleRequest, VersionRef
from app.settings import Settings

log = logging.getLogger(__name__)


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX on x86, BF16 on Arm).

    oneDNN also reports bf16 "supported" on AVX-512 CPUs without these instructions, where
    it is emulated; /proc/cpuinfo's flags tell the two apart. Without /proc/cpuinfo (not
    Linux) oneDNN's answer is all there is.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            import torch

            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"flags", "Features"}:
            flags.update(value.split())
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def auto_dtype() -> Any:
    """bfloat16 where the hardware computes it natively, else float32.

    On a CPU without native bfloat16 it is emulated and generation runs up to 100x slower
    than in float32, so the checkpoint's own dtype is not a safe default.
    """
    import torch

    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if native_bf16() else torch.float32


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
        self.generate_calls: list[int] = []  # prompts admitted by each prefill
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
        """One sample per request, in order, at most SAMPLE_BATCH_SIZE sequences at a time."""
        if self.model is None:
            raise RuntimeError("no policy loaded")
        prompts = [self.prompt_ids(r) for r in requests]
        # Prompts of similar token length side by side: less left padding to compute over.
        order = sorted(range(len(requests)), key=lambda i: len(prompts[i]))
        size = self.settings.sample_batch_size
        decoded = self._decode(
            [prompts[i] for i in order],
            [requests[i].seed for i in order],
            on_batch=self.generate_calls.append,
        )
        samples: list[Sample | None] = [None] * len(requests)
        for i, result in zip(order, decoded, strict=True):
            samples[i] = self._sample(requests[i], result, min(size, len(requests)))
        return [s for s in samples if s is not None]

    def stream(self, request: SampleRequest) -> Iterator[str | Sample]:
        """One sequence as it is generated (TextIteratorStreamer), then its `Sample`."""
        import threading

        import torch
        from transformers import TextIteratorStreamer

        if self.model is None:
            raise RuntimeError("no policy loaded")
        prompt = self.prompt_ids(request)
        streamer = TextIteratorStreamer(self.tokenizer, skip_special_tokens=True, timeout=600)
        result: list[Decoded] = []
        failure: list[BaseException] = []

        def run() -> None:
            try:
                result.extend(
                    self._decode(
                        [prompt],
                        [request.seed],
                        on_token=lambda _row, token: streamer.put(torch.tensor([token])),
                    )
                )
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)
            finally:
                streamer.end()

        thread = threading.Thread(target=run, name="pairwise-stream", daemon=True)
        thread.start()
        for piece in streamer:
            if piece:
                yield piece
        thread.join()
        if failure:
            raise failure[0]
        yield self._sample(request, result[0], 1)

    def prompt_ids(self, request: SampleRequest) -> list[int]:
        """The prompt as the model reads it: `render`'s text as token ids."""
        ids: list[int] = self.tokenizer(self.render(request), add_special_tokens=False)["input_ids"]
        return ids

    def _decode(
        self,
        prompts: list[list[int]],
        seeds: list[int],
        on_token: Callable[[int, int], None] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> list[Decoded]:
        s = self.settings
        tok = self.tokenizer
        return decode(
            self.model,
            prompts,
            seeds,
            SamplingParams(s.max_new_tokens, s.temperature, s.top_p),
            stop_ids=stop_token_ids(self.model, tok),
            pad_id=tok.pad_token_id,
            batch_size=s.sample_batch_size,
            should_stop=self.should_stop,
            on_token=on_token,
            on_batch=on_batch,
        )

    def _sample(self, request: SampleRequest, result: Decoded, batch_size: int) -> Sample:
        s = self.settings
        return Sample(
            text=self.tokenizer.decode(result.tokens, skip_special_tokens=True).strip(),
            prompt_tokens=result.prompt_tokens,
            completion_tokens=len(result.tokens),
            seed=request.seed,
            # No end-of-sequence token among the new ones: max_new_tokens cut it off.
            finish_reason=result.finish_reason,
            params={
                "backend": self.name,
                "temperature": s.temperature,
                "top_p": s.top_p,
                "max_new_tokens": s.max_new_tokens,
                "batch_size": batch_size,
            },
        )
