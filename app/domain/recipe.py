"""Typed training configuration: one Pydantic model per stage, YAML recipes keyed by field names.

A recipe (`app/domain/recipes/<name>.yaml`) sets any subset of the fields; overrides are a dict
with the same shape, or dotted keys (`{"policy.lr": 1e-5}`), and string values are read as YAML
scalars (`"2e-5"`, `"true"`, `"null"`). Unknown keys, wrong types and values out of bounds are
refused with one line per problem naming the key, so a typo never silently falls back to a
default. Overrides come from people through the web app, so the model fields they may set are
also restricted to bundled names, the model store or an admin allow-list (`ModelSources`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from app.domain.recipe_checks import ConfigError, ModelSources, fields, model_refusals, problems

__all__ = [
    "ConfigError",
    "EvalSection",
    "GateSection",
    "LoraSection",
    "ModelSources",
    "PolicyMethod",
    "PolicySection",
    "RewardSection",
    "SftSection",
    "VllmSection",
    "TrainingConfig",
    "available_recipes",
    "config_from_dict",
    "config_help",
    "config_to_dict",
    "load_recipe",
    "recipe_path",
]

RECIPES_DIR = Path(__file__).parent / "recipes"
SEED_MAX = 2**32 - 1  # numpy's seed range
TOKENS_MAX = 32768
BATCH_MAX = 4096
THREADS_MAX = 1024
COUNT_MAX = 10_000_000


def _scalar(value: Any) -> Any:
    """A string read as YAML reads a scalar (`12`, `true`, `null`): how `key=value` text arrives."""
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if not isinstance(parsed, dict | list):
            return parsed
    return value


def _number(value: Any) -> Any:
    value = _scalar(value)
    if isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads 1e-5 (no dot) as a string
        except ValueError:
            return value
    return value


Int = Annotated[int, BeforeValidator(_scalar)]
OptInt = Annotated[int | None, BeforeValidator(_scalar)]
Float = Annotated[float, BeforeValidator(_number)]
OptFloat = Annotated[float | None, BeforeValidator(_number)]
Bool = Annotated[bool, BeforeValidator(_scalar)]
ModuleName = Annotated[str, Field(min_length=1, max_length=200)]
Tracker = Literal["tensorboard", "trackio", "wandb", "mlflow"]  # transformers' report_to names


def _trackers(value: Any) -> Any:
    """`report_to` as a list: `tensorboard`, `"tensorboard,mlflow"` or `none` are accepted too."""
    value = _scalar(value)
    if value is None or value == "none":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Trackers = Annotated[list[Tracker], BeforeValidator(_trackers)]


class Section(BaseModel):
    # strict: no silent bool→int or "3"→3 beyond the YAML reading above.
    model_config = ConfigDict(
        extra="forbid", strict=True, allow_inf_nan=False, validate_assignment=True
    )


def _model_ref(default: str, help: str, bundled: tuple[str, ...]) -> Any:
    """A field naming a model: overrides of it are checked against `ModelSources`."""
    return Field(
        default,
        description=help,
        min_length=1,
        max_length=500,
        json_schema_extra={"bundled": list(bundled)},
    )


class SftSection(Section):
    enabled: Bool = Field(
        False,
        description="run the sft stage first: supervised fine-tuning of the starting policy on "
        "the evaluators' demonstrations (TRL SFTTrainer); RL and DPO then start from it, and "
        "it is their KL reference",
    )
    lr: Float = Field(2e-5, gt=0, le=1, description="learning rate of supervised fine-tuning")
    epochs: Float = Field(3.0, gt=0, le=100, description="passes over the demonstrations")
    max_steps: OptInt = Field(
        None, ge=1, le=100_000, description="cap on optimiser steps (None: the epochs decide)"
    )
    batch_size: Int = Field(4, ge=1, le=BATCH_MAX, description="demonstrations per optimiser step")
    max_length: Int = Field(
        512,
        ge=1,
        le=TOKENS_MAX,
        description="tokens per prompt+demonstration; longer rows are cut from the right",
    )
    accepted_only: Bool = Field(
        False, description="train only on demonstrations a reviewer accepted (else pending too)"
    )
    min_demonstrations: Int = Field(
        1, ge=1, le=COUNT_MAX, description="a run with fewer usable demonstrations fails fast"
    )
    seed: Int = Field(0, ge=0, le=SEED_MAX, description="seed of the data order")


class RewardSection(Section):
    base_model: str = _model_ref(
        "minilm",
        '"minilm" (the bundled MiniLM-L6), a Hugging Face model id or a local folder',
        ("minilm",),
    )
    lr: Float = Field(5e-5, gt=0, le=1, description="learning rate of the reward model (AdamW)")
    epochs: Float = Field(3.0, gt=0, le=100, description="passes over the training comparisons")
    batch_size: Int = Field(
        8, ge=1, le=BATCH_MAX, description="comparison pairs per optimiser step"
    )
    max_length: Int = Field(
        512,
        ge=1,
        le=TOKENS_MAX,
        description="tokens per prompt+response; longer rows are cut from the left",
    )
    truncate_long_rows: Bool = Field(
        True, description="cut over-long rows from the left (keeps the responses); false drops them"
    )
    warm_start: Bool = Field(
        False, description="start from the previous reward model instead of the base"
    )
    weight_decay: Float = Field(0.0, ge=0, le=1, description="AdamW weight decay")
    bf16: Bool = Field(False, description="bf16 autocast (CPUs with AVX-512 BF16 or GPUs)")
    seed: Int = Field(
        0, ge=0, le=SEED_MAX, description="seed of the score head's initialisation and data order"
    )
    threads: OptInt = Field(
        None,
        ge=1,
        le=THREADS_MAX,
        description="torch CPU threads for this stage (None: leave as is)",
    )
    score_batch_size: Int = Field(
        32, ge=1, le=BATCH_MAX, description="texts per forward pass when scoring"
    )
    save_steps: OptInt = Field(
        None,
        ge=1,
        le=100_000,
        description="checkpoint every N optimiser steps into the run's work folder, so a retried "
        "run resumes there (None: no checkpoints; the stage restarts)",
    )
    strength_margin: Float = Field(
        0.0,
        ge=0,
        le=100,
        description="Llama 2's margin term: a pair labelled slight / clear / much must be "
        "won by this x 1/3, 2/3, 1 in reward (0: off; 1 is Llama 2's small margin, 3 its large)",
    )
    annotator_weights: Bool = Field(
        False,
        description="weight each pair by its annotators' gold accuracy (smoothed; an annotator "
        "at chance counts for little, gold pairs count fully)",
    )


class LoraSection(Section):
    enabled: Bool = Field(
        False,
        description="train a LoRA adapter instead of all weights; the version is kept as that "
        "adapter on its base weights (an adapter parent is trained further, so every version "
        "stays one adapter on the same base, which vLLM loads at run time)",
    )
    merged_copy: Bool = Field(
        False,
        description="also save the adapter merged into full weights, in the version's `merged` "
        "folder (for tools without LoRA support)",
    )
    r: Int = Field(16, ge=1, le=1024, description="LoRA rank")
    alpha: Int = Field(32, ge=1, le=4096, description="LoRA alpha (scale = alpha / r)")
    dropout: Float = Field(0.05, ge=0, lt=1, description="LoRA dropout")
    target_modules: str | list[ModuleName] = Field(
        "all-linear", max_length=200, description="modules that get adapters"
    )


class VllmSection(Section):
    enabled: Bool = Field(
        False,
        description="rloo / grpo: generate the rollouts with vLLM (TRL's use_vllm) instead of "
        "transformers `generate`; needs vllm and a GPU where the trainer runs",
    )
    mode: Literal["colocate", "server"] = Field(
        "colocate",
        description='"colocate": vLLM inside each training process, on its GPU; "server": a '
        "separate `trl vllm-serve` process at `server_url` (its own GPUs)",
    )
    server_url: str | None = Field(
        None,
        max_length=200,
        pattern=r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?/?$",
        description="server mode: the `trl vllm-serve` address, e.g. http://vllm-rollouts:8000",
    )
    gpu_memory_utilization: Float = Field(
        0.3,
        gt=0,
        le=1,
        description="colocate mode: the share of the GPU's memory vLLM may take",
    )


PolicyMethod = Literal["rloo", "grpo", "dpo", "best_of_n", "rm_dpo"]


class PolicySection(Section):
    method: PolicyMethod = Field(
        "rloo",
        description='"rloo" (default), "grpo" (both RL against the reward model), "dpo" (on the '
        'human pairs), "best_of_n" (fine-tune on the reward model\'s best of the sampled '
        'answers) or "rm_dpo" (DPO on pairs the reward model ranks from the sampled answers)',
    )
    human_dpo_steps: Int = Field(
        0,
        ge=0,
        le=100_000,
        description="DPO steps on the human pairs before the method (0: none; not with dpo)",
    )
    bon_samples: Int = Field(
        4,
        ge=0,
        le=256,
        description="best_of_n / rm_dpo: fresh answers sampled per prompt from the starting "
        "policy, ranked with the sampler's stored answers to the same prompt",
    )
    pool_per_prompt: Int = Field(
        16,
        ge=0,
        le=10_000,
        description="best_of_n / rm_dpo: the sampler's newest stored answers read per prompt",
    )
    rank_prompts: OptInt = Field(
        32,
        ge=1,
        le=COUNT_MAX,
        description="best_of_n / rm_dpo: prompts ranked (those with stored answers first; "
        "None: every RL prompt)",
    )
    sample_batch_size: Int = Field(
        8, ge=1, le=BATCH_MAX, description="best_of_n / rm_dpo: sequences sampled per batch"
    )
    sft_batch_size: Int = Field(4, ge=1, le=BATCH_MAX, description="best_of_n: answers per step")
    rm_pairs_per_prompt: Int = Field(
        1,
        ge=1,
        le=128,
        description="rm_dpo: pairs per prompt (best vs worst, second best vs second worst ...)",
    )
    rm_min_gap: Float = Field(
        0.0, ge=0, le=1e6, description="rm_dpo: keep a ranked pair only if its reward gap exceeds"
    )
    rm_dpo_human_pairs: Bool = Field(
        True, description="rm_dpo: train on the human pairs too, beside the ranked ones"
    )
    lr: Float = Field(1e-5, gt=0, le=1, description="learning rate of the policy")
    steps: Int = Field(
        20,
        ge=1,
        le=100_000,
        description="optimiser steps (RL: one generation batch each; DPO: batches of pairs)",
    )
    prompts_per_step: Int = Field(2, ge=1, le=BATCH_MAX, description="distinct prompts per RL step")
    num_generations: Int = Field(
        4, ge=2, le=256, description="completions sampled per prompt (RL baseline group, >= 2)"
    )
    max_completion_length: Int = Field(
        64, ge=1, le=TOKENS_MAX, description="new tokens per sampled completion"
    )
    max_prompt_length: Int = Field(
        256,
        ge=1,
        le=TOKENS_MAX,
        description="prompt tokens kept (DPO; longer prompts cut from the left)",
    )
    temperature: Float = Field(1.0, gt=0, le=10, description="sampling temperature during RL")
    beta: Float = Field(
        0.05,
        ge=0,
        le=100,
        description="KL penalty coefficient to the reference (the starting policy)",
    )
    normalize_advantages: Bool = Field(
        False,
        description="RLOO: scale advantages to unit variance (useful when reward scales are small)",
    )
    dpo_batch_size: Int = Field(4, ge=1, le=BATCH_MAX, description="preference pairs per DPO step")
    dpo_beta: Float = Field(
        0.1,
        gt=0,
        le=100,
        description="DPO temperature beta (strength of the implicit KL to the reference)",
    )
    lora: LoraSection = Field(default_factory=LoraSection, description="LoRA options")
    bf16: Bool = Field(
        False,
        description="bf16 autocast (CPUs with AVX-512 BF16 or GPUs); on a GPU the policy is "
        "also loaded in bf16 (half the memory of fp32), on a CPU it stays fp32",
    )
    gradient_checkpointing: Bool = Field(
        False,
        description="recompute activations in the backward pass: less GPU memory for longer "
        "sequences, at some 20-30% more time per step",
    )
    vllm: VllmSection = Field(
        default_factory=VllmSection, description="rollouts through vLLM (RL methods, GPU only)"
    )
    system_prompt: str | None = Field(
        None,
        max_length=20_000,
        description="system message added to prompts without one (None keeps the chat template's)",
    )
    length_monitor: Bool = Field(
        True, description="log completion length as a weight-0 reward (hacking check)"
    )
    max_grad_norm: Float = Field(1.0, gt=0, le=1e6, description="gradient clipping")
    warmup_ratio: Float = Field(0.0, ge=0, le=1, description="share of steps with a linear warm-up")
    seed: Int = Field(0, ge=0, le=SEED_MAX, description="seed of sampling and data order")
    threads: OptInt = Field(
        None,
        ge=1,
        le=THREADS_MAX,
        description="torch CPU threads for this stage (None: leave as is)",
    )
    save_steps: OptInt = Field(
        25,
        ge=1,
        le=100_000,
        description="checkpoint every N optimiser steps into the run's work folder, so a retried "
        "run resumes from the last one (None: no checkpoints; a retry starts at step 0)",
    )


class EvalSection(Section):
    max_new_tokens: Int = Field(
        64, ge=1, le=TOKENS_MAX, description="new tokens per evaluation sample"
    )
    samples_per_prompt: Int = Field(
        2, ge=1, le=256, description="samples per held-out prompt from each policy"
    )
    temperature: Float = Field(
        1.0,
        gt=0,
        le=10,
        description="sampling temperature for evaluation (KL is measured at it)",
    )
    batch_size: Int = Field(8, ge=1, le=BATCH_MAX, description="sequences generated per batch")
    seed: Int = Field(
        1234, ge=0, le=SEED_MAX, description="sampling seed (the same for new and reference)"
    )


class GateSection(Section):
    min_reward_gain: Float = Field(
        0.0,
        ge=-1e9,
        le=1e9,
        description="promote only if mean reward(new) - reward(ref) exceeds this",
    )
    max_kl: OptFloat = Field(
        20.0,
        ge=0,
        le=1e9,
        description="promote only if KL(new || ref) per sequence is below (None: off)",
    )
    min_reward_accuracy: OptFloat = Field(
        0.55,
        ge=0,
        le=1,
        description="promote only if the reward model's validation accuracy reaches this "
        "(None: off)",
    )
    kl_budget: OptFloat = Field(
        None,
        ge=0,
        le=1e9,
        description="promote only if the KL summed along the lineage from version 0 "
        "(each version's KL to its parent) stays below; RL (rloo, grpo, with beta > 0) stops "
        "early once it has spent what the budget leaves the new version (None: off)",
    )
    max_answer_drop: OptFloat = Field(
        None,
        ge=0,
        le=1,
        description="promote only if the share of complete answers (non-empty, not cut off) "
        "falls at most this much below the reference's (None: off)",
    )
    min_length_ratio: OptFloat = Field(
        None,
        ge=0,
        le=1,
        description="promote only if mean answer length is at least this share of the "
        "reference's (None: off)",
    )


class TrainingConfig(Section):
    sft: SftSection = Field(default_factory=SftSection, description="supervised fine-tuning")
    reward: RewardSection = Field(default_factory=RewardSection, description="reward model")
    policy: PolicySection = Field(default_factory=PolicySection, description="policy")
    eval: EvalSection = Field(default_factory=EvalSection, description="evaluation")
    gates: GateSection = Field(default_factory=GateSection, description="promotion gates")
    min_comparisons: Int = Field(
        50, ge=1, le=COUNT_MAX, description="a run with fewer usable comparisons fails fast"
    )
    include_ties: Bool = Field(
        False, description="keep tie / both-bad judgements (they are dropped by default)"
    )
    demonstrations_preferred: Bool = Field(
        False,
        description="a demonstration written on a pair counts as preferred over both of its "
        "responses (reward model and DPO rows)",
    )
    include_imported: Bool = Field(
        False,
        description="train on imported preference data too (the Imports page; each imported "
        "choice a row of its own)",
    )
    validation_share: Float = Field(
        0.2, ge=0, lt=1, description="share of prompts held out for reward validation"
    )
    split_seed: Int = Field(
        0, ge=0, le=SEED_MAX, description="seed of the train/validation split by prompt"
    )
    heldout_prompts: Int = Field(
        16,
        ge=0,
        le=100_000,
        description="prompts evaluated on: a seeded sample of the held-out prompts, or "
        "when none is held out, active prompts kept out of RL",
    )
    rl_prompts: OptInt = Field(
        None,
        ge=1,
        le=COUNT_MAX,
        description="cap on prompts used for RL (None: all remaining)",
    )
    save_total_limit: Int = Field(
        1,
        ge=1,
        le=100,
        description="checkpoints kept per stage in the run's work folder (older ones are pruned)",
    )
    report_to: Trackers = Field(
        default_factory=list,
        max_length=4,
        description="experiment trackers the stages log to, as transformers' report_to "
        "(tensorboard writes into the run's folder in the model store; [] : none)",
    )


# --- loading ---------------------------------------------------------------------------------


def _nest(overrides: dict[str, Any]) -> dict[str, Any]:
    """Turn dotted keys (`policy.lr`) into nested dicts."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {key!r} conflicts with another override")
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = _merge(node[parts[-1]], value)
        else:
            node[parts[-1]] = value
    return nested


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def recipe_path(name_or_path: str) -> Path:
    """A recipe file: a name in app/domain/recipes/ (`cpu-small`) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    named = RECIPES_DIR / f"{name_or_path}.yaml"
    if named.is_file():
        return named
    raise ConfigError(
        f"no recipe {name_or_path!r}; available: {', '.join(available_recipes())} or a YAML path"
    )


def available_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def load_recipe(
    name_or_path: str,
    overrides: dict[str, Any] | None = None,
    *,
    sources: ModelSources | None = None,
) -> TrainingConfig:
    """Build a config from defaults, then the recipe, then overrides (nested or dotted keys).

    With `sources`, model fields set by the overrides must be bundled, in the store or
    allow-listed (the check for overrides typed by people; recipe files are trusted).
    """
    path = recipe_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {path.name} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"recipe {path.name} must be a mapping of config keys")
    nested = _nest(overrides or {})
    refused = model_refusals(nested, TrainingConfig, sources) if sources is not None else []
    try:
        cfg = TrainingConfig.model_validate(_merge(data, nested))
    except ValidationError as exc:
        refused = problems(exc, TrainingConfig) + refused
    if refused:
        raise ConfigError(refused)
    return cfg


def config_from_dict(data: dict[str, Any]) -> TrainingConfig:
    """Rebuild a config saved with `config_to_dict` (same key checks as recipes)."""
    try:
        return TrainingConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems(exc, TrainingConfig)) from None


def config_to_dict(cfg: BaseModel) -> dict[str, Any]:
    """Plain dict of a config or section (saved next to each checkpoint)."""
    return cfg.model_dump()


def config_help(cls: type[Section] = TrainingConfig, prefix: str = "") -> dict[str, str]:
    """Dotted key → help text for every field (for forms and docs)."""
    return {
        key: info.description or ""
        for key, info in fields(cls, prefix)
        if not (isinstance(info.annotation, type) and issubclass(info.annotation, Section))
    }
