"""Sampling throughput: the sampler's batched generation against one-at-a-time `generate`.

Converts SmolLM2-135M-Instruct (the bundled GGUF) into a version-0 checkpoint once, then
generates two completions for each of N prompts both ways on the same loaded model and
prints pairs/min and tokens/s. Results go in docs/benchmarks.md.

    .venv/bin/python bench/sampling.py --prompts 8 --max-new-tokens 64
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain.base_model import ensure_checkpoint  # noqa: E402
from app.domain.store import ModelStore  # noqa: E402
from app.sampling.backend import SampleRequest, VersionRef, new_seed  # noqa: E402
from app.sampling.demo_prompts import demo_prompt_texts  # noqa: E402
from app.sampling.transformers_backend import TransformersBackend  # noqa: E402
from app.settings import Settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8, help="pairs to make each way")
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per generate()")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="float32")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = default")
    parser.add_argument("--store", type=Path, default=Path("data/bench-models"))
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = Settings(  # type: ignore[call-arg]
        pairwise_env="test",
        secret_key="b" * 48,
        sample_batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        base_model_dtype=args.dtype,
        sampler_dtype=args.dtype,
        sampler_enabled=False,
    )
    store = ModelStore(args.store)
    uri = f"bench/smollm2-v0-{args.dtype}"
    started = time.perf_counter()
    converted = ensure_checkpoint(store, uri, "smollm2", args.dtype)
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

    started = time.perf_counter()
    batched = backend.generate(requests)
    batched_s = time.perf_counter() - started
    batched_tokens = sum(s.completion_tokens for s in batched)

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

    pairs = args.prompts
    rows = [
        ("one at a time", naive_s, naive_tokens),
        (f"sampler (batch {args.batch_size})", batched_s, batched_tokens),
    ]
    print(
        f"SmolLM2-135M-Instruct, {args.dtype}, {pairs} pairs ({2 * pairs} sequences), "
        f"max_new_tokens {args.max_new_tokens}, torch threads {torch.get_num_threads()}"
    )
    print(
        f"version 0: {'converted' if converted else 'already in the store'} in {convert_s:.1f} s; "
        f"load {load_s:.2f} s"
    )
    print()
    print("| method | seconds | new tokens | tokens/s | pairs/min | speed-up (pairs/min) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, seconds, tokens in rows:
        print(
            f"| {name} | {seconds:.1f} | {tokens} | {tokens / seconds:.1f} | "
            f"{pairs / seconds * 60:.1f} | {naive_s / seconds:.2f}× |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
