"""The whole loop on this machine: N human labels → a live new policy version.

Sets up a throw-away SQLite database and model store, converts the default policy into
version 0 (timed separately: it happens once per deployment), stores N synthetic
comparisons that follow a hidden rule, enqueues a run and lets the real worker claim,
train, evaluate, register and (gates permitting) promote it. Prints a table.

    .venv/bin/python bench/retrain.py --labels 200 --recipe cpu-small
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.auth.service import create_user  # noqa: E402
from app.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from app.domain import jobs  # noqa: E402
from app.domain.store import ModelStore  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import (  # noqa: E402
    Assignment,
    Comparison,
    Completion,
    Pair,
    PolicyVersion,
    Prompt,
    TrainingRun,
    utcnow,
)
from app.models.labeling import STRENGTHS  # noqa: E402
from app.projects.service import ensure_default_project  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.training.service import parse_overrides  # noqa: E402
from trainer.synthetic import synthetic_comparisons  # noqa: E402
from trainer.worker import Worker  # noqa: E402


def convert_smollm2(dest: Path) -> None:
    """Version 0: the bundled GGUF as a plain bf16 safetensors Llama (see TRAINING-NOTES)."""
    try:  # the sampler's converter, when it is part of this checkout
        from app.domain.base_model import convert  # type: ignore[import-not-found]

        convert("smollm2", dest)
        return
    except ImportError:
        pass
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    from app.domain.bundled import SMOLLM2_GGUF, smollm2_dir

    folder = str(smollm2_dir())
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    config = loaded.config
    config.quantization_config = None
    plain = LlamaForCausalLM(config)
    plain.load_state_dict(loaded.state_dict())
    plain.to(torch.bfloat16).save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)


def seed_labels(settings: Settings, factory, labels: int) -> int:  # type: ignore[no-untyped-def]
    rows = synthetic_comparisons(labels, pairs_per_prompt=4)
    with transaction(factory) as db:
        project = ensure_default_project(db, "smollm2")
        store = ModelStore(settings.resolved_model_dir)
        v0 = PolicyVersion(
            project_id=project.id,
            number=0,
            checkpoint_uri=store.policy_uri(project.id, 0),
            base_model="smollm2",
            status="active",
            promoted_at=utcnow(),
        )
        user = create_user(db, settings, "bench-judge", "bench password 1", {"evaluator"})
        db.add(v0)
        db.flush()
        prompts: dict[str, Prompt] = {}
        for i, row in enumerate(rows):
            text = str(row.prompt)
            if text not in prompts:
                prompts[text] = Prompt(
                    project_id=project.id,
                    text=text,
                    content_hash=hashlib.sha256(text.encode()).hexdigest(),
                )
                db.add(prompts[text])
                db.flush()
            prompt = prompts[text]
            a = Completion(prompt_id=prompt.id, policy_version_id=v0.id, text=row.chosen)
            b = Completion(prompt_id=prompt.id, policy_version_id=v0.id, text=row.rejected)
            db.add_all([a, b])
            db.flush()
            # Alternate sides so "a" is not always the winner.
            first, second, choice = (a, b, "a") if i % 2 == 0 else (b, a, "b")
            pair = Pair(
                project_id=project.id,
                prompt_id=prompt.id,
                completion_a_id=first.id,
                completion_b_id=second.id,
                policy_version_id=v0.id,
                status="complete",
                labels_received=1,
            )
            db.add(pair)
            db.flush()
            lease = Assignment(
                pair_id=pair.id, user_id=user.id, status="submitted", expires_at=utcnow()
            )
            db.add(lease)
            db.flush()
            db.add(
                Comparison(
                    project_id=project.id,
                    pair_id=pair.id,
                    user_id=user.id,
                    assignment_id=lease.id,
                    choice=choice,
                    strength=row.strength if row.strength in STRENGTHS else None,
                    idempotency_key=f"bench-{i}",
                )
            )
        return project.id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--recipe", default="cpu-small")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pairwise-loop-"))
    settings = Settings(
        pairwise_env="test", data_dir=work, secret_key="l" * 48, sampler_enabled=False
    )  # type: ignore[call-arg]
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    factory = make_sessionmaker(engine)

    started = time.monotonic()
    store = ModelStore(settings.resolved_model_dir)
    convert_smollm2(store.path("projects/1/policy/v0"))
    convert_seconds = time.monotonic() - started
    project_id = seed_labels(settings, factory, args.labels)

    overrides = {"overrides": parse_overrides("\n".join(args.set))}
    t0 = time.monotonic()
    with transaction(factory) as db:
        run_id = jobs.enqueue(db, settings, project_id, recipe=args.recipe, config=overrides).id
    Worker(settings, factory).run_once()
    total = time.monotonic() - t0
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None
        live = db.get(PolicyVersion, run.policy_version_id) if run.policy_version_id else None
        metrics = run.metrics or {}
        status, error = run.status, run.error
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    evaluation = metrics.get("evaluation", {})
    reward = metrics.get("reward", {})

    rows = [("version 0 conversion (once)", f"{convert_seconds:.1f} s")]
    rows += [(f"stage {k}", f"{v:.1f} s") for k, v in metrics.get("timings", {}).items()]
    rows += [
        (f"loop: {args.labels} labels → new version", f"{total:.1f} s"),
        ("run status", status + (f" ({error})" if error else "")),
        ("new version", f"v{live.number} {live.status}" if live else "none"),
        ("reward-model validation accuracy", str(reward.get("val_accuracy"))),
        ("reward gain (held-out)", f"{evaluation.get('reward_gain', float('nan')):.4f}"),
        ("KL to the reference", f"{evaluation.get('kl', float('nan')):.4f}"),
        ("gates", str(metrics.get("gates"))),
        ("peak RSS", f"{peak:.0f} MiB"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'what'.ljust(width)} | value |")
    print(f"| {'-' * width} | --- |")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    return 0 if status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
