"""Sampling throughput: the sampler against one-at-a-time `generate`, beside the CPU's ceiling.

Converts SmolLM2-135M-Instruct (the bundled GGUF) into a version-0 checkpoint once, then on
the same loaded model, in one run: two completions for each of N prompts one at a time
with plain `model.generate(do_sample=True)` (the baseline), the same through the sampler
(`app.domain.decoding.decode`: rows leave the batch as they finish, waiting prompts take their
slots, prompts grouped by token length, a seed per row), and a probe of the model's
forward pass alone (no sampling, no Python per token beyond the call) at batch 1 and at
the batch size: the ceiling for decoding on this CPU. Prints pairs/min, tokens/s, the
share of the ceiling, the dtype and why, and the load average (the machine may be shared).
Results go in docs/benchmarks.md.

    .venv/bin/python bench/sampling.py --prompts 8 --max-new-tokens 64
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain.base_model import ensure_checkpoint  # noqa: E402
from app.domain.decoding.decode import Batch  # noqa: E402
from app.domain.store import ModelStore  # noqa: E402
from app.sampling.backend import SampleRequest, VersionRef, new_seed  # noqa: E402
from app.sampling.demo_prompts import demo_prompt_texts  # noqa: E402
from app.sampling.transformers_backend import TransformersBackend, native_bf16  # noqa: E402
from app.settings import Settings  # noqa: E402


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def forward_rate(backend: TransformersBackend, prompts: list[list[int]], steps: int) -> float:
    """Tokens/s of the decoding forward pass alone for this batch, after a prefill."""
    import torch

    model, pad = backend.model, backend.tokenizer.pad_token_id
    with torch.inference_mode():
        batch = Batch.prefill(model, prompts, list(range(len(prompts))), pad)
        batch.step(model, batch.logits.argmax(-1))  # first step out of the timing
        started = time.perf_counter()
        for _ in range(steps):
            batch.step(model, batch.logits.argmax(-1))
        seconds = time.perf_counter() - started
    return len(prompts) * steps / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8, help="pairs to make each way")
    parser.add_argument("--batch-size", type=int, default=16, help="rows decoded together")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument(
        "--dtype",
        choices=["auto", "bfloat16", "float32"],
        default="auto",
        help="what the sampler computes in; auto: bfloat16 only where the CPU has it natively",
    )
    parser.add_argument("--probe-steps", type=int, default=16, help="decoding steps per probe")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = default")
    parser.add_argument("--store", type=Path, default=Path("data/bench-models"))
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = load_average()
    settings = Settings(  # type: ignore[call-arg]
        pairwise_env="test",
        secret_key="b" * 48,
        sample_batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        base_model_dtype="float32",
        sampler_dtype=args.dtype,
        sampler_enabled=False,
    )
    store = ModelStore(args.store)
    uri = "bench/smollm2-v0-float32"
    started = time.perf_counter()
    converted = ensure_checkpoint(store, uri, "smollm2", "float32")
    convert_s = time.perf_counter() - started

    backend = TransformersBackend(settings, store)
    started = time.perf_counter()
    backend.load(VersionRef(0, 0, 0, uri))
    load_s = time.perf_counter() - started
    demo = demo_prompt_texts()
    prompts = [demo[i % len(demo)] for i in range(args.prompts)]
    requests = [
        SampleRequest(i, p, None, new_seed()) for i, p in enumerate(prompts) for _ in (0, 1)
    ]
    backend.generate(requests[:2])  # warm-up: first-call overheads out of both timings

    model, tok = backend.model, backend.tokenizer
    naive_tokens = 0
    started = time.perf_counter()
    for request in requests:
        inputs = tok(backend.render(request), return_tensors="pt", add_special_tokens=False)
        torch.manual_seed(request.seed)
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                max_new_tokens=args.max_new_tokens,
                do_sample=True,
                temperature=settings.temperature,
                top_p=settings.top_p,
                pad_token_id=tok.pad_token_id,
            )
        new = out[0, inputs["input_ids"].shape[1] :].tolist()
        naive_tokens += next((i for i, t in enumerate(new) if t == tok.eos_token_id), len(new))
    naive_s = time.perf_counter() - started

    started = time.perf_counter()
    batched = backend.generate(requests)
    batched_s = time.perf_counter() - started
    batched_tokens = sum(s.completion_tokens for s in batched)

    ids = [backend.prompt_ids(r) for r in requests]
    width = min(args.batch_size, len(ids))
    ceiling_1 = forward_rate(backend, ids[:1], args.probe_steps)
    ceiling_b = forward_rate(backend, ids[:width], args.probe_steps)
    load_after = load_average()

    pairs = args.prompts
    dtype = str(model.dtype).removeprefix("torch.")
    why = "the CPU has native bf16" if native_bf16() else "no native bf16 on this CPU"
    print(
        f"SmolLM2-135M-Instruct, {dtype} (sampler dtype {args.dtype}: {why}), {pairs} pairs "
        f"({2 * pairs} sequences), max_new_tokens {args.max_new_tokens}, "
        f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs"
    )
    print(
        f"version 0: {'converted' if converted else 'already in the store'} in {convert_s:.1f} s; "
        f"load {load_s:.2f} s; load average before {load_before}, after {load_after}"
    )
    print()
    print(
        "| method | seconds | new tokens | tokens/s | ceiling (forward only) tokens/s "
        "| share of ceiling | pairs/min | speed-up (pairs/min) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = [
        ("one at a time (`generate`)", naive_s, naive_tokens, ceiling_1, 1),
        (f"sampler (batch {args.batch_size})", batched_s, batched_tokens, ceiling_b, width),
    ]
    for name, seconds, tokens, ceiling, at in rows:
        rate = tokens / seconds
        print(
            f"| {name} | {seconds:.1f} | {tokens} | {rate:.1f} | {ceiling:.1f} at batch {at} | "
            f"{rate / ceiling:.0%} | {pairs / seconds * 60:.1f} | {naive_s / seconds:.2f}× |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
