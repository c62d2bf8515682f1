"""The learning benchmark: does the loop make the policy better by the evaluators' hidden rule?

For each variant it starts a fresh system (Postgres when DATABASE_URL names one, else
SQLite), imports a fixed prompt set, and runs R rounds of the real loop: the sampler fills a
pool of pairs from the live version → simulated evaluators label L of them through the HTTP
API with a hidden rule → a training run with the CPU recipe → promotion → next round. After
each round the new version answers held-out prompts (never sampled nor trained on) and the
hidden rule judges it against version 0's answers to the same prompts (same seeds): the
win-rate with a Wilson interval, next to the reward model's held-out accuracy, KL, mean
length and the wall time of each stage. The variants run the same label budget:

    main      the chosen --method with active pair selection
    random    the same method, pairs served at random (ACTIVE_SELECTION_SHARE=0)
    other     DPO on the human pairs when --method is RL (RLOO when --method is dpo)

    .venv/bin/python bench/loop.py --rule concise --rounds 5 --labels-per-round 100
    .venv/bin/python bench/loop.py --variants main --rounds 2 --labels-per-round 60
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, get_args

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402

from app.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from app.domain.answers import adequate_share  # noqa: E402
from app.domain.base_model import convert  # noqa: E402
from app.domain.recipe import PolicyMethod  # noqa: E402
from app.domain.store import ModelStore  # noqa: E402
from app.domain.versions import promote  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import PolicyVersion, Project, TrainingRun, utcnow  # noqa: E402
from app.projects.service import ensure_default_project  # noqa: E402
from app.prompts.importer import parse_path  # noqa: E402
from app.prompts.service import import_prompts  # noqa: E402
from app.sampling.backend import Sample, SampleRequest, VersionRef  # noqa: E402
from app.sampling.transformers_backend import TransformersBackend  # noqa: E402
from app.sampling.worker import Sampler  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.simulate.accounts import simulated_evaluators  # noqa: E402
from app.simulate.measure import RuleWinRate, rule_win_rate  # noqa: E402
from app.simulate.rules import Rule, parse_rule  # noqa: E402
from app.simulate.runner import SimulationConfig, run_simulation  # noqa: E402
from app.simulate.server import serve_in_thread  # noqa: E402
from app.simulate.traits import trait_rate  # noqa: E402
from app.training.service import parse_overrides  # noqa: E402
from bench.loop_prompts import benchmark_prompts, split  # noqa: E402
from trainer.worker import Worker  # noqa: E402

EVAL_SEED = 10_000  # held-out answers use seeds EVAL_SEED + k: the same for every version


@dataclass
class RoundResult:
    variant: str
    method: str
    active_selection: bool
    round: int
    labels: int  # cumulative
    version: int
    promoted: str  # "gates" | "forced" | "-"
    win_rate: float
    win_low: float
    win_high: float
    judged: int
    reward_accuracy: float | None
    kl: float | None
    mean_tokens: float
    seconds: dict[str, float] = field(default_factory=dict)
    note: str = ""
    trait_rate: float | None = None  # share of held-out answers showing the rule's trait
    complete: float | None = None  # share of complete answers (app/domain/answers.py)


@dataclass
class Options:
    rule: str
    rounds: int
    labels_per_round: int
    method: str
    variants: list[str]
    recipe: str
    policy: str
    pool: float
    heldout: int
    eval_samples: int
    evaluators: int
    noise: float
    batch_size: int
    max_new_tokens: int
    overrides: list[str]
    respect_gates: bool
    work: Path
    sampler_dtype: str = "float32"


def parse_args(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rule", default="concise", help="hidden rule of the simulated evaluators")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--labels-per-round", type=int, default=100)
    p.add_argument("--method", choices=list(get_args(PolicyMethod)), default="rloo")
    p.add_argument("--variants", default="main,random,other", help="comma list of the three")
    p.add_argument("--recipe", default="cpu-small")
    p.add_argument("--policy", default="smollm2", help="version 0: bundled name or a folder")
    p.add_argument("--pool", type=float, default=2.0, help="pairs sampled per label wanted")
    p.add_argument("--heldout", type=int, default=40, help="held-out prompts for the measure")
    p.add_argument("--eval-samples", type=int, default=2, help="answers per held-out prompt")
    p.add_argument("--evaluators", type=int, default=4)
    p.add_argument("--noise", type=float, default=0.1, help="share of flipped judgements")
    p.add_argument("--batch-size", type=int, default=16, help="SAMPLE_BATCH_SIZE")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--respect-gates", action="store_true", help="no forced promotion")
    p.add_argument("--work", type=Path, default=None, help="folder kept for inspection")
    p.add_argument(
        "--sampler-dtype",
        choices=["float32", "auto"],
        default="float32",
        help="the sampler's and the measure's dtype (auto: bfloat16 where the CPU has it)",
    )
    a = p.parse_args(argv)
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = set(variants) - {"main", "random", "other"}
    if unknown or not variants:
        p.error(f"--variants takes main, random, other (got {a.variants!r})")
    if a.rounds < 1 or a.labels_per_round < 1 or a.pool < 1:
        p.error("--rounds and --labels-per-round must be positive and --pool at least 1")
    work = a.work or Path(tempfile.mkdtemp(prefix="pairwise-learning-"))
    return Options(
        a.rule,
        a.rounds,
        a.labels_per_round,
        a.method,
        variants,
        a.recipe,
        a.policy,
        a.pool,
        a.heldout,
        a.eval_samples,
        a.evaluators,
        a.noise,
        a.batch_size,
        a.max_new_tokens,
        a.set,
        a.respect_gates,
        work,
        a.sampler_dtype,
    )


def variant_plan(opts: Options) -> list[tuple[str, str, bool]]:
    """(name, method, active selection) of each variant asked for."""
    other = "dpo" if opts.method != "dpo" else "rloo"
    plan = {"main": (opts.method, True), "random": (opts.method, False), "other": (other, True)}
    return [(name, *plan[name]) for name in opts.variants]


# -- one fresh system ------------------------------------------------------------------------


def fresh_database(work: Path) -> str:
    """DATABASE_URL's Postgres with an empty schema, else a new SQLite file."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return url
    return f"sqlite:///{work / 'pairwise.db'}"


def probe_settings(opts: Options) -> Settings:
    """Settings for version 0's held-out answers, which every variant is judged against."""
    return Settings(
        pairwise_env="test",
        data_dir=opts.work,
        secret_key="b" * 48,
        sample_batch_size=opts.batch_size,
        max_new_tokens=opts.max_new_tokens,
        sampler_dtype=opts.sampler_dtype,
    )  # type: ignore[call-arg]


def variant_settings(opts: Options, work: Path, active: bool) -> Settings:
    pool = max(1, round(opts.labels_per_round * opts.pool))
    return Settings(
        pairwise_env="test",
        data_dir=work,
        secret_key="b" * 48,
        database_url=fresh_database(work),
        sampler_enabled=False,
        pair_buffer=pool,
        pair_low_water=pool,
        sample_batch_size=opts.batch_size,
        max_new_tokens=opts.max_new_tokens,
        sampler_dtype=opts.sampler_dtype,
        active_selection_share=0.5 if active else 0.0,
        auto_promote=True,
    )  # type: ignore[call-arg]


def set_up(settings: Settings, engine: Engine, prompts_file: Path, v0: Path) -> int:
    """Project, imported prompts and version 0; returns the project id."""
    upgrade(engine)
    factory = make_sessionmaker(engine)
    parsed = parse_path(prompts_file, settings.prompt_max_chars)
    with transaction(factory) as db:
        project = ensure_default_project(db, "smollm2")
        project.head_to_head_share = 0.0  # the label budget goes to training pairs only
        summary = import_prompts(db, project, parsed, skip_bad=False, actor_id=None)
        if summary.rejected or not summary.added:
            raise SystemExit(f"prompt import failed: {summary.rejected}")
        store = ModelStore(settings.resolved_model_dir)
        uri = store.policy_uri(project.id, 0)
        shutil.copytree(v0, store.path(uri))
        db.add(
            PolicyVersion(
                project_id=project.id,
                number=0,
                checkpoint_uri=uri,
                base_model=str(v0),
                status="active",
                promoted_at=utcnow(),
            )
        )
        return project.id


# -- the measure -----------------------------------------------------------------------------


def answers(
    settings: Settings, store: ModelStore, version: VersionRef, prompts: list[str]
) -> list[Sample]:
    """The version's answers to the held-out prompts, seed EVAL_SEED + k for the k-th."""
    backend = TransformersBackend(settings, store)
    backend.load(version)
    try:
        requests = [SampleRequest(0, p, None, EVAL_SEED + k) for k, p in enumerate(prompts)]
        out: list[Sample] = []
        for start in range(0, len(requests), settings.sample_batch_size):
            out += backend.generate(requests[start : start + settings.sample_batch_size])
        return out
    finally:
        backend.close()


def judge(
    rule: Rule, prompts: list[str], mine: list[Sample], v0: list[Sample], seed: int
) -> RuleWinRate:
    return rule_win_rate(rule, prompts, [s.text for s in mine], [s.text for s in v0], seed=seed)


def traits_of(rule: Rule, prompts: list[str], mine: list[Sample]) -> float | None:
    """The share of answers showing the rule's trait (None for a rule without one)."""
    return trait_rate(rule.trait, prompts, [s.text for s in mine]) if rule.trait else None


# -- one variant -----------------------------------------------------------------------------


def run_variant(
    opts: Options,
    name: str,
    method: str,
    active: bool,
    rule: Rule,
    prompts_file: Path,
    v0_folder: Path,
    heldout: list[str],
    v0_answers: list[Sample],
) -> list[RoundResult]:
    work = opts.work / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    settings = variant_settings(opts, work, active)
    engine = make_engine(settings.resolved_database_url)
    project_id = set_up(settings, engine, prompts_file, v0_folder)
    factory = make_sessionmaker(engine)
    store = ModelStore(settings.resolved_model_dir)
    overrides = {"policy.method": method, **parse_overrides("\n".join(opts.overrides))}
    results: list[RoundResult] = []
    labels = 0
    with transaction(factory) as db:
        project = db.get(Project, project_id)
        assert project is not None
        tokens = [t for _, t in simulated_evaluators(db, settings, project, opts.evaluators)]
    sampler = Sampler(factory, settings, store=store)
    try:
        with serve_in_thread(create_app(settings, engine)) as url:
            for number in range(1, opts.rounds + 1):
                seconds: dict[str, float] = {}
                t = time.monotonic()
                sampler.step()
                seconds["sample"] = time.monotonic() - t

                t = time.monotonic()
                config = SimulationConfig(
                    url=url,
                    project_id=project_id,
                    labels=opts.labels_per_round,
                    noise=opts.noise,
                    skip_rate=0.0,
                    idle_timeout=5.0,
                    seed=number,
                )
                labels += run_simulation(tokens, rule, config).labels
                seconds["label"] = time.monotonic() - t

                t = time.monotonic()
                result = train_round(opts, settings, factory, project_id, overrides)
                seconds["train"] = time.monotonic() - t
                seconds.update(result.pop("stages"))
                if result["version"] is None:
                    results.append(failed_round(name, method, active, number, labels, result))
                    break

                t = time.monotonic()
                version: VersionRef = result.pop("ref")
                mine = answers(settings, store, version, heldout)
                win = judge(rule, heldout, mine, v0_answers, seed=number)
                seconds["measure"] = time.monotonic() - t
                results.append(
                    RoundResult(
                        name,
                        method,
                        active,
                        number,
                        labels,
                        result["version"],
                        result["promoted"],
                        win.interval.estimate,
                        win.interval.low,
                        win.interval.high,
                        win.judged,
                        result["accuracy"],
                        result["kl"],
                        statistics.fmean(s.completion_tokens for s in mine),
                        {k: round(v, 1) for k, v in seconds.items()},
                        result["note"],
                        traits_of(rule, heldout, mine),
                        adequate_share(s.text for s in mine),
                    )
                )
                print(row_text(results[-1]), flush=True)
    finally:
        sampler.close()
        engine.dispose()
    return results


def train_round(
    opts: Options,
    settings: Settings,
    factory: Any,
    project_id: int,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """One training run through the real queue and worker; the new version made live."""
    from app.domain import jobs

    with transaction(factory) as db:
        config = {"overrides": overrides, "include_simulated": True}
        run_id = jobs.enqueue(db, settings, project_id, recipe=opts.recipe, config=config).id
    Worker(settings, factory).run_once()
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None
        metrics = run.metrics or {}
        stages = {f"  {k}": float(v) for k, v in (metrics.get("timings") or {}).items()}
        out: dict[str, Any] = {
            "stages": stages,
            "accuracy": (metrics.get("reward") or {}).get("val_accuracy"),
            "kl": (metrics.get("evaluation") or {}).get("kl"),
            "version": None,
            "promoted": "-",
            "note": "" if run.status == "succeeded" else f"run {run.status}: {run.error}",
        }
        version = db.get(PolicyVersion, run.policy_version_id) if run.policy_version_id else None
        if version is None:
            return out
        if version.status == "active":
            out["promoted"] = "gates"
        elif opts.respect_gates:
            out["note"] = f"gates refused: {metrics.get('gates')}"
            return out
        else:
            promote(db, settings, version, None, reason="learning benchmark")
            out["promoted"] = "forced"
            out["note"] = "gates refused; promoted anyway"
        out["version"] = version.number
        out["ref"] = VersionRef(
            version.id, version.project_id, version.number, version.checkpoint_uri
        )
        return out


def failed_round(
    name: str, method: str, active: bool, number: int, labels: int, result: dict[str, Any]
) -> RoundResult:
    nan = float("nan")
    return RoundResult(
        name, method, active, number, labels, -1, "-", nan, nan, nan, 0,
        result["accuracy"], result["kl"], nan, {}, result["note"],
    )  # fmt: skip


# -- output ----------------------------------------------------------------------------------

HEADER = (
    "| variant | round | labels | version | win-rate vs v0 (95 % CI) | judged | RM acc | KL "
    "| mean tokens | sample s | label s | train s | measure s | note |"
)


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def row_text(r: RoundResult) -> str:
    s = r.seconds
    win = f"{r.win_rate:.0%} [{r.win_low:.0%}, {r.win_high:.0%}]" if r.judged else "–"
    name = f"{r.variant} ({r.method}, {'active' if r.active_selection else 'random'})"
    return (
        f"| {name} | {r.round} | {r.labels} | v{r.version} ({r.promoted}) | {win} | {r.judged} "
        f"| {_num(r.reward_accuracy)} | {_num(r.kl, 3)} | {_num(r.mean_tokens, 1)} "
        f"| {_num(s.get('sample'), 0)} | {_num(s.get('label'), 0)} | {_num(s.get('train'), 0)} "
        f"| {_num(s.get('measure'), 0)} | {r.note} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    opts.work.mkdir(parents=True, exist_ok=True)
    rule = parse_rule(opts.rule)
    train_prompts, heldout_prompts = split(benchmark_prompts(), opts.heldout)
    prompts_file = opts.work / "prompts.jsonl"
    prompts_file.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in train_prompts))
    heldout = [p for p in heldout_prompts for _ in range(opts.eval_samples)]

    started = time.monotonic()
    v0_folder = opts.work / "v0"
    if not v0_folder.exists():
        convert(opts.policy, v0_folder)
    convert_s = time.monotonic() - started
    # Version 0's held-out answers, once: every variant and round is judged against them.
    probe = probe_settings(opts)
    t = time.monotonic()
    v0_answers = answers(probe, ModelStore(opts.work), VersionRef(0, 0, 0, "v0"), heldout)
    baseline = judge(rule, heldout, v0_answers, v0_answers, seed=0)
    v0_s = time.monotonic() - t
    print(
        f"version 0: converted in {convert_s:.0f} s; {len(heldout)} held-out answers in "
        f"{v0_s:.0f} s, mean {statistics.fmean(s.completion_tokens for s in v0_answers):.1f} "
        f"tokens; v0 against itself {baseline.interval.estimate:.0%} (judged {baseline.judged})"
    )
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|")
    results: list[RoundResult] = []
    for name, method, active in variant_plan(opts):
        results += run_variant(
            opts, name, method, active, rule, prompts_file, v0_folder, heldout, v0_answers
        )
    (opts.work / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=1))
    print()
    print(f"rule {opts.rule}, noise {opts.noise}, recipe {opts.recipe}, {opts.evaluators} "
          f"evaluators, pool {opts.pool}× labels, held-out {len(heldout_prompts)} prompts × "
          f"{opts.eval_samples}; results in {opts.work / 'results.json'}")  # fmt: skip
    print("\n".join(row_text(r) for r in results))
    return 0 if results and all(r.judged for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
