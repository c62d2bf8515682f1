"""Settings, read once from the environment (and `.env`) and validated at start-up."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.vocabulary import Role, values

WEAK_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development", "test"}
MIN_SECRET_LENGTH = 32


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
# Read from a file when not set directly: NAME_FILE=path, or Docker's /run/secrets/name.
SECRETS_DIR = Path("/run/secrets")
SECRET_FILE_FIELDS = ("secret_key", "database_password", "openai_api_key", "metrics_token")


class PlaygroundModel(BaseModel):
    """An OpenAI-compatible model the playground may set against a policy version."""

    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field(min_length=1, max_length=100, description="Shown in the playground.")
    base_url: str = Field(description="The server's OpenAI-compatible root (…/v1).")
    model: str = Field(min_length=1, description="The `model` the server is asked for.")
    api_key: str = Field("", description="Bearer key for that server, if it needs one.")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/")


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    pairwise_env: Literal["development", "production", "test"] = Field(
        "development", description="`production` enforces secure cookies and a real secret."
    )
    data_dir: Path = Field(Path("data"), description="Folder for the SQLite file and secrets.")
    database_url: str = Field("", description="SQLAlchemy URL; default SQLite in DATA_DIR.")
    database_password: str = Field(
        "",
        description="Password put into DATABASE_URL when the URL has none (a Docker secret: "
        "DATABASE_PASSWORD_FILE or /run/secrets/database_password).",
    )
    model_dir: Path | None = Field(None, description="Model store; default DATA_DIR/models.")
    secret_key: str = Field("", description="Signs tokens; generated into DATA_DIR locally.")
    host: str = Field("127.0.0.1", description="Address `pairwise serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `pairwise serve` binds.")
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks (10.0.0.0/8) of the reverse proxies "
        "whose X-Forwarded-For and X-Forwarded-Proto are believed; empty: none, the client "
        "address is the connection's.",
    )

    session_idle_minutes: int = Field(120, ge=1, description="Session ends after this idle time.")
    session_absolute_hours: int = Field(24, ge=1, description="Session ends this long after login.")
    login_attempts_per_account: int = Field(
        5, ge=1, description="Failed logins per account/15 min."
    )
    login_attempts_per_ip: int = Field(20, ge=1, description="Failed logins per IP per 15 min.")
    api_requests_per_minute: int = Field(
        1200, ge=0, description="API requests one token may make per minute (429 beyond; 0: off)."
    )
    totp_required_roles: str | None = Field(
        None,
        description="Comma-separated roles that must sign in with a TOTP code as well (they are "
        "sent to enrol first); unset: `admin,ml` in production, none elsewhere; empty: none.",
    )
    password_min_length: int = Field(8, ge=8, description="Shortest password accepted.")
    password_max_length: int = Field(256, ge=64, description="Longest password accepted.")

    policy_base_model: str = Field(
        "smollm2", description="`smollm2` (bundled GGUF), a Hugging Face id or a local folder."
    )
    reward_base_model: str = Field(
        "minilm", description="`minilm` (bundled), a Hugging Face id or a local folder."
    )
    sampler_enabled: bool = Field(True, description="Run the sampler inside the web process.")
    sampler_backend: Literal["transformers", "openai"] = Field(
        "transformers", description="`transformers` in-process, or `openai` (e.g. vLLM)."
    )
    openai_base_url: str = Field("", description="OpenAI-compatible server for the sampler.")
    openai_model: str = Field("", description="Model name served there (default: version).")
    openai_api_key: str = Field("", description="Key for that server.")
    pair_buffer: int = Field(16, ge=1, description="Open pairs kept ready per active version.")
    pair_low_water: int = Field(8, ge=0, description="Refill below this many open pairs.")
    sample_batch_size: int = Field(
        16, ge=1, description="Sequences per call to the backend (rows decoded together)."
    )
    # SmolLM2-135M's answers to the demo prompts run a median ~120 tokens and mostly under
    # 250; at 96, over half were cut off mid-sentence (docs/benchmarks.md, "Answer length").
    max_new_tokens: int = Field(
        256, ge=1, description="Tokens per sampled completion (longer ones are marked cut off)."
    )
    temperature: float = Field(0.9, gt=0, le=5, description="Sampling temperature.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass.")
    torch_threads: int = Field(0, ge=0, description="torch threads per process; 0 = default.")

    lease_minutes: int = Field(15, ge=1, description="How long a pair stays leased.")
    default_overlap: int = Field(1, ge=1, le=10, description="Labels needed per pair.")
    active_selection_share: float = Field(
        0.5, ge=0, le=1, description="Share of next-pair requests that take the smallest |margin|."
    )
    label_poll_seconds: int = Field(
        5, ge=1, le=300, description="How often an empty labelling queue checks again."
    )

    retrain_every_labels: int = Field(0, ge=0, description="Auto-enqueue after N labels; 0=off.")
    retrain_min_interval_minutes: int = Field(
        30, ge=0, description="At most one automatic run per this many minutes."
    )
    auto_promote: bool = Field(True, description="Promote a candidate when its gates pass.")
    training_lease_seconds: int = Field(
        120, ge=5, description="A trainer that stops heartbeating loses its run after this."
    )
    training_max_attempts: int = Field(
        3, ge=1, description="Tries before a run whose trainer died is failed."
    )
    training_rank_timeout_seconds: int = Field(
        1800,
        ge=10,
        description="Under `accelerate launch`: how long a training process waits for the "
        "others at a hand-over (the plan, a written checkpoint, a gradient) before the run fails.",
    )

    # Observability (app/observability): /metrics and structured logs.
    metrics_token: str = Field(
        "",
        description="Bearer token required by /metrics when set; in production /metrics is off "
        "without it.",
    )
    log_format: Literal["json", "text"] = Field(
        "text", description="`json`: one JSON object per log line (with request ids)."
    )
    log_level: LogLevel = Field(
        "INFO", description="Lowest level logged by `pairwise serve`/`demo`."
    )
    web_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Processes `pairwise serve` runs; 0 picks: 1 on SQLite or with the embedded "
        "sampler, else the CPU count (at most 8).",
    )
    keep_alive_seconds: int = Field(
        20, ge=1, le=600, description="How long `pairwise serve` keeps an idle connection open."
    )
    shutdown_grace_seconds: int = Field(
        25, ge=1, description="On SIGTERM `pairwise serve` waits this long for open requests."
    )

    # Admin: prompt import, invitations, annotator trust thresholds.
    prompt_max_chars: int = Field(
        32000, ge=100, description="Longest prompt (characters) an import accepts."
    )
    import_max_mb: int = Field(200, ge=1, description="Largest prompt file an upload accepts.")
    invitation_hours: int = Field(
        72, ge=1, description="Invitation and password-reset links expire after this."
    )
    trust_min_gold_accuracy: float = Field(
        0.7, ge=0, le=1, description="Flag an annotator below this gold accuracy."
    )
    trust_min_agreement: float = Field(
        0.6, ge=0, le=1, description="Flag an annotator below this agreement with the majority."
    )
    trust_max_bias_p: float = Field(
        0.01, ge=0, le=1, description="Flag position bias when the binomial test p is below this."
    )
    trust_min_median_seconds: float = Field(
        3.0, ge=0, description="Flag an annotator whose median time per label is below this."
    )

    # Sampler and model store (issue 3).
    base_model_dtype: Literal["bfloat16", "float32"] = Field(
        "float32", description="dtype of the converted version-0 checkpoint (float32 is exact)."
    )
    sampler_dtype: Literal["auto", "bfloat16", "float32"] = Field(
        "auto", description="dtype the sampler computes in; `auto`: bfloat16 only where native."
    )
    sampler_poll_seconds: float = Field(
        2.0, gt=0, le=300, description="How often an idle sampler checks buffer and version."
    )
    sampler_pause_during_runs: bool = Field(
        False,
        description="Make no new pairs for a project while one of its training runs is queued "
        "or running, so that a trainer on the same machine gets the CPU (`pairwise demo` sets "
        "it); the pairs already open stay open.",
    )
    openai_api: Literal["chat", "completions"] = Field(
        "chat", description="`chat` (/v1/chat/completions) or `completions` (/v1/completions)."
    )
    openai_timeout_seconds: float = Field(
        60.0, gt=0, description="Timeout of one request to the OpenAI-compatible server."
    )
    openai_max_retries: int = Field(
        3, ge=0, le=10, description="Retries (with backoff) of a failed request to that server."
    )
    openai_manage_adapters: bool = Field(
        True,
        description="Load each needed version's LoRA adapter into that server at run time and "
        "unload the rest (vLLM: VLLM_ALLOW_RUNTIME_LORA_UPDATING=True); needs its /v1/models. "
        "false for a plain OpenAI-compatible server, which is asked for each version by name.",
    )
    openai_store_dir: str = Field(
        "", description="The model store's folder as that server sees it (default: MODEL_DIR)."
    )
    openai_version_servers: str = Field(
        "",
        description="Servers of full-weight versions: comma-separated `name=url` pairs, a "
        "version's name being its checkpoint URI (`projects/1/policy/v3=http://vllm-3:8000/v1`).",
    )

    # Training queue, worker and promotion (the runs package).
    training_parallel_runs: bool = Field(
        False, description="Allow a second queued/running run for the same project."
    )
    training_poll_seconds: float = Field(
        5.0, gt=0, description="How often an idle `pairwise worker train` looks for work."
    )
    training_default_recipe: str = Field(
        "cpu-small", description="Recipe of runs enqueued without one (and periodic runs)."
    )
    training_model_allowlist: str = Field(
        "",
        description="Comma-separated model ids or folders a run's overrides may name, beyond the "
        "bundled models and the model store.",
    )
    tensorboard_url: str = Field(
        "",
        description="A TensorBoard serving MODEL_DIR/projects (`tensorboard --logdir`), linked "
        "from the run page of runs whose recipe has report_to: tensorboard.",
    )
    retire_old_pairs_on_promote: bool = Field(
        True, description="On promotion, retire the open pairs of the previous active version."
    )

    # Admin figures kept per project (app/snapshots.py): agreement, annotator quality, win-rates.
    aggregates_refresh_seconds: float = Field(
        60.0,
        ge=0,
        description="Kept admin figures (agreement, annotator quality, win-rates) are recomputed "
        "once new labels arrived and they are at least this old; pages show their time.",
    )
    aggregates_background: bool = Field(
        True,
        description="Recompute out-of-date admin figures in a background thread of the web "
        "process, showing the previous ones meanwhile (off: in the request that finds them).",
    )

    # Win-rates (app/winrates).
    leaderboard_bootstrap: int = Field(
        200, ge=0, le=5000, description="Bootstrap resamples behind leaderboard intervals."
    )

    # The playground (app/playground).
    playground_models: list[PlaygroundModel] = Field(
        [],
        description="External OpenAI-compatible models the playground offers beside the "
        'versions: a JSON list of {"name", "base_url", "model", "api_key" (optional)}, e.g. '
        '[{"name": "gpt-4o-mini", "base_url": "https://api.openai.com/v1", "model": '
        '"gpt-4o-mini", "api_key": "sk-…"}].',
    )
    playground_loaded_versions: int = Field(
        2,
        ge=1,
        le=8,
        description="Policy versions the web process keeps loaded for the playground.",
    )
    playground_serve_minutes: int = Field(
        30,
        ge=0,
        le=1440,
        description="With SAMPLER_BACKEND=openai and runtime adapters: how long a version "
        "the playground answered with stays loaded in the server beside the sampler's "
        "versions (0: the sampler unloads it at its next refill).",
    )

    @field_validator("playground_models", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        # From the environment (or a .env file) the list arrives as JSON text.
        if isinstance(value, str):
            return json.loads(value) if value.strip() else []
        return value

    @field_validator("playground_models")
    @classmethod
    def _unique_names(cls, value: list[PlaygroundModel]) -> list[PlaygroundModel]:
        names = [m.name for m in value]
        if len(set(names)) != len(names):
            raise ValueError("each model needs a name of its own")
        return value

    def playground_model(self, name: str) -> PlaygroundModel | None:
        """The external model of that name in PLAYGROUND_MODELS."""
        return next((m for m in self.playground_models if m.name == name), None)

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: Any) -> Any:
        """Secrets from files (Docker secrets): NAME_FILE names one, else /run/secrets/name."""
        if not isinstance(data, dict):
            return data
        for name in SECRET_FILE_FIELDS:
            if data.get(name):
                continue
            named = os.environ.get(f"{name.upper()}_FILE")
            path = Path(named) if named else SECRETS_DIR / name
            if named or path.is_file():
                try:
                    data[name] = path.read_text().strip()
                except OSError as exc:
                    raise ValueError(f"{name.upper()}_FILE: cannot read {path}: {exc}") from None
        return data

    @field_validator("log_level", mode="before")
    @classmethod
    def _any_case_level(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().upper() in get_args(LogLevel):
            return value.strip().upper()
        return value  # anything else fails with the value as written

    @field_validator("totp_required_roles")
    @classmethod
    def _roles(cls, value: str | None) -> str | None:
        known = values(Role)
        for role in filter(None, (r.strip() for r in (value or "").split(","))):
            if role not in known:
                raise ValueError(f"expected roles among {', '.join(known)}, got {role!r}")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for entry in filter(None, (e.strip() for e in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"expected IP addresses or networks separated by commas, got {entry!r}"
                ) from None
        return value

    @field_validator("openai_version_servers")
    @classmethod
    def _name_url_pairs(cls, value: str) -> str:
        _name_url_pairs(value)
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.pair_low_water > self.pair_buffer:
            raise ValueError(
                f"PAIR_LOW_WATER: must not exceed PAIR_BUFFER ({self.pair_buffer}), "
                f"got {self.pair_low_water}"
            )
        return self

    @property
    def production(self) -> bool:
        return self.pairwise_env == "production"

    @property
    def resolved_database_url(self) -> str:
        url = self.database_url or f"sqlite:///{self.data_dir / 'pairwise.db'}"
        if self.database_password and not url.startswith("sqlite"):
            from sqlalchemy.engine import make_url

            parsed = make_url(url)
            if parsed.password is None:
                url = parsed.set(password=self.database_password).render_as_string(
                    hide_password=False
                )
        return url

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @property
    def version_servers(self) -> dict[str, str]:
        """OPENAI_VERSION_SERVERS as served name → base URL."""
        return _name_url_pairs(self.openai_version_servers)

    def resolved_web_workers(self) -> int:
        """WEB_WORKERS, or the choice for 0: one process where a second would not help (SQLite
        serialises writes; an embedded sampler must not run once per process)."""
        if self.web_workers:
            return self.web_workers
        if self.sampler_enabled or self.resolved_database_url.startswith("sqlite"):
            return 1
        return max(1, min(os.cpu_count() or 1, 8))

    def resolved_totp_roles(self) -> frozenset[str]:
        """The roles that need a second factor (TOTP_REQUIRED_ROLES, or the default above)."""
        if self.totp_required_roles is None:
            return frozenset({"admin", "ml"}) if self.production else frozenset()
        return frozenset(r.strip() for r in self.totp_required_roles.split(",") if r.strip())

    def resolved_metrics_token(self) -> str | None:
        """METRICS_TOKEN ("" : /metrics open), or None where /metrics is off: production without
        a token. In production a token that is set must be strong."""
        if not self.metrics_token:
            return None if self.production else ""
        if self.production and _weak(self.metrics_token):
            raise SettingsError(
                f"METRICS_TOKEN is too weak for production (use {MIN_SECRET_LENGTH}+ random chars)"
            )
        return self.metrics_token

    def resolved_secret_key(self) -> str:
        """The secret; in production it must be set and strong, locally it is generated once."""
        if self.secret_key:
            if _weak(self.secret_key) and self.production:
                raise SettingsError(
                    f"SECRET_KEY is too weak for production (use {MIN_SECRET_LENGTH}+ random chars)"
                )
            return self.secret_key
        if self.production:
            raise SettingsError("SECRET_KEY must be set when PAIRWISE_ENV=production")
        return _local_secret(self.data_dir)


def _weak(secret: str) -> bool:
    return secret.lower() in WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH


def _name_url_pairs(value: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, sep, url = (text.strip() for text in item.partition("="))
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ValueError("must be comma-separated name=http(s)://url pairs")
        pairs[name] = url.rstrip("/")
    return pairs


def _local_secret(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


# Values never echoed back in an error line.
_SECRET_FIELDS = frozenset(
    {
        "secret_key",
        "openai_api_key",
        "metrics_token",
        "database_url",
        "database_password",
        "playground_models",
    }
)


def _accepts(name: str) -> str:
    """What the variable accepts, from its type and bounds: `must be one of A, B`."""
    field = Settings.model_fields[name]
    annotation = field.annotation
    if get_origin(annotation) is Literal:
        return "must be one of " + ", ".join(str(choice) for choice in get_args(annotation))
    kinds: dict[Any, str] = {
        bool: "must be true or false (or 1/0, yes/no, on/off)",
        int: "must be a whole number",
        float: "must be a number",
    }
    text = kinds.get(annotation)
    if text is None:
        return ""
    bounds = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}  # Field(ge=…) and friends
    limits = [
        f"{sign} {getattr(m, bound)}"
        for m in field.metadata
        for bound, sign in bounds.items()
        if getattr(m, bound, None) is not None
    ]
    return f"{text} {' and '.join(limits)}" if limits else text


def settings_problems(error: ValidationError) -> list[str]:
    """One line per bad variable: `NAME: what it accepts, got VALUE`."""
    lines: dict[str, str] = {}
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else ""
        if name not in Settings.model_fields:  # a check across fields names them itself
            lines[problem["msg"]] = problem["msg"].removeprefix("Value error, ")
            continue
        message = problem["msg"].removeprefix("Value error, ")
        accepts = _accepts(name) or message[:1].lower() + message[1:]
        got = "" if name in _SECRET_FIELDS else f", got {problem['input']!r}"
        lines.setdefault(name, f"{name.upper()}: {accepts}{got}")
    return list(lines.values())


@lru_cache
def get_settings() -> Settings:
    """The settings; a bad variable raises SettingsError with one line per problem."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError("\n".join(settings_problems(exc))) from None
