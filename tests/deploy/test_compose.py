"""docker-compose.yml, Dockerfile and .env.example checked without Docker.

The compose file must name real `pairwise` subcommands and known settings, wait for
the migration, and build its image with the Makefile's own install commands.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli import command_at
from app.env_example import COMPOSE_VARS, env_example
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SETTINGS = {name.upper() for name in Settings.model_fields}

# The `pairwise` subcommands the compose file runs, per service (the image's entrypoint
# is `pairwise`). Each must name a command of the CLI (not just a group).
COMPOSE_COMMANDS = {
    "migrate": ["db", "upgrade"],
    "init": ["worker", "prepare"],
    "web": ["serve"],
    "sampler": ["worker", "sample"],
    "sampler-vllm": ["worker", "sample"],
    "trainer": ["worker", "train"],
}
# Subcommands registered by branches not merged into this one yet; their check is
# skipped until then, and test_awaiting_merge_is_current fails once they exist.
AWAITING_MERGE: set[tuple[str, ...]] = set()
APP_SERVICES = set(COMPOSE_COMMANDS)
POSTGRES_IMAGE_VARS = {
    "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE", "POSTGRES_DB", "PGDATA"
}  # fmt: skip
VLLM_VARS = {"VLLM_ALLOW_RUNTIME_LORA_UPDATING", "HF_TOKEN"}
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?:[:?-][^}]*)?\}")


def interpolate(value: str) -> str:
    """Compose's `${VAR:-default}` with the defaults, and placeholders for required vars."""
    return INTERPOLATION.sub(
        lambda m: m.group(0).split(":-", 1)[1][:-1] if ":-" in m.group(0) else "x", value
    )


def parses(argv: list[str]) -> str | None:
    """The command `pairwise ARGV` runs, or None when it names no command."""
    command, rest = command_at(argv)
    return None if rest or command is None else " ".join(argv)


def test_required_services_are_there() -> None:
    assert {"postgres", "migrate", "web", "sampler", "trainer", "vllm", "proxy"} <= set(SERVICES)


def test_a_tls_proxy_is_the_only_way_in() -> None:
    """Production sets Secure cookies: browsers reach web only through Caddy's https."""
    proxy = SERVICES["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert {interpolate(p).split(":")[-1] for p in proxy["ports"]} == {"80", "443"}
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert proxy["depends_on"]["web"] == {"condition": "service_healthy"}
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile and "{$PAIRWISE_DOMAIN" in caddyfile
    web = SERVICES["web"]
    assert "ports" not in web and web["expose"] == ["8000"]
    Settings(_env_file=None, trusted_proxies=interpolate(web["environment"]["TRUSTED_PROXIES"]))  # type: ignore[call-arg]
    assert {"caddy-data", "caddy-config"} <= set(COMPOSE["volumes"])


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        if name in APP_SERVICES:
            continue  # built here
        image = interpolate(service["image"])
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and "/" not in tag, f"{name}: {image}"


def test_secrets_are_docker_secrets_read_by_the_settings(tmp_path: Path, monkeypatch) -> None:
    """The database password and SECRET_KEY come from files, never from the environment."""
    assert set(COMPOSE["secrets"]) == {"db_password", "secret_key"}
    for name in APP_SERVICES:
        targets = {s["target"] for s in SERVICES[name]["secrets"]}
        assert targets == {"database_password", "secret_key"}, name
        env = SERVICES[name]["environment"]
        assert "SECRET_KEY" not in env and "@postgres" in env["DATABASE_URL"]
        assert ":" not in env["DATABASE_URL"].removeprefix("postgresql://").split("@")[0]
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == (
        "/run/secrets/db_password"
    )
    assert "POSTGRES_PASSWORD" not in SERVICES["postgres"]["environment"]
    # What the app does with them: /run/secrets/<target> (or NAME_FILE) fills the setting.
    (tmp_path / "database_password").write_text("pw-from-secret\n")
    (tmp_path / "secret_key").write_text("s" * 48 + "\n")
    monkeypatch.setattr("app.settings.SECRETS_DIR", tmp_path)
    url = SERVICES["web"]["environment"]["DATABASE_URL"]
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    assert settings.secret_key == "s" * 48
    assert (
        settings.resolved_database_url
        == "postgresql://pairwise:pw-from-secret@postgres:5432/pairwise"
    )
    (tmp_path / "elsewhere").write_text("k" * 48)
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "elsewhere"))
    assert Settings(_env_file=None).secret_key == "k" * 48  # type: ignore[call-arg]


def test_the_sampler_image_gets_the_cpu_torch() -> None:
    for name in ("init", "sampler"):
        args = interpolate(SERVICES[name]["build"]["args"]["TORCH_PIP_ARGS"])
        assert args == "--index-url https://download.pytorch.org/whl/cpu", name


@pytest.mark.parametrize("service", sorted(COMPOSE_COMMANDS))
def test_commands_are_real_cli_commands(service: str) -> None:
    command = SERVICES[service]["command"]
    assert command == COMPOSE_COMMANDS[service]
    key = parses(command)
    if key is None and tuple(command) in AWAITING_MERGE:
        pytest.skip(f"`pairwise {' '.join(command)}` comes with another branch")
    assert key is not None, f"`pairwise {' '.join(command)}` is not a CLI command"


def test_awaiting_merge_is_current() -> None:
    landed = [cmd for cmd in AWAITING_MERGE if parses(list(cmd)) is not None]
    assert landed == [], f"now registered, remove from AWAITING_MERGE: {landed}"


def test_every_service_of_our_image_waits_for_the_migration() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES - {"migrate"}:
        deps = SERVICES[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert "postgres" not in deps or deps["postgres"]["condition"] == "service_healthy"


def test_health_checks() -> None:
    pg = SERVICES["postgres"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in pg["volumes"])
    web = " ".join(SERVICES["web"]["healthcheck"]["test"])
    assert "/healthz" in web
    assert "/health" in " ".join(SERVICES["vllm"]["healthcheck"]["test"])


def test_web_health_check_is_a_real_public_route(client) -> None:
    assert client.get("/healthz").status_code == 200


def test_the_profile_chooses_the_sampler_and_both_scale() -> None:
    """COMPOSE_PROFILES=cpu (.env.example) runs the transformers sampler; vllm runs the vLLM
    server and a sampler that asks it, which starts only once vLLM is healthy."""
    cpu, vllm = SERVICES["sampler"], SERVICES["sampler-vllm"]
    for sampler in (cpu, vllm):
        assert "ports" not in sampler and "container_name" not in sampler
    assert cpu["profiles"] == ["cpu"] and "vllm" not in cpu["depends_on"]
    assert interpolate(cpu["environment"]["SAMPLER_BACKEND"]) == "transformers"
    assert vllm["profiles"] == ["vllm"] == SERVICES["vllm"]["profiles"]
    assert vllm["depends_on"]["vllm"] == {"condition": "service_healthy"}
    assert vllm["environment"]["SAMPLER_BACKEND"] == "openai"
    assert vllm["image"] == cpu["image"] and vllm["command"] == cpu["command"]
    assert env_example_lines()["COMPOSE_PROFILES"] == "cpu"


def test_version_zero_is_prepared_before_vllm_and_the_sampler_start() -> None:
    """A fresh stack: init converts v0 (what vLLM's --model names), then vLLM and the
    sampler start; nothing waits on a service that waits on it."""
    init = SERVICES["init"]
    assert init["restart"] == "no"
    assert init["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    done = {"condition": "service_completed_successfully"}
    assert SERVICES["vllm"]["depends_on"]["init"] == done
    assert SERVICES["sampler"]["depends_on"]["init"] == done
    assert SERVICES["sampler-vllm"]["depends_on"]["init"] == done
    model = interpolate(
        SERVICES["vllm"]["command"][SERVICES["vllm"]["command"].index("--model") + 1]
    )
    served = SERVICES["vllm"]["command"][
        SERVICES["vllm"]["command"].index("--served-model-name") + 1
    ]
    assert model == "/models/" + interpolate(served)  # v0 is served under its own name


def test_sampler_can_use_vllm_and_models_share_a_hugging_face_cache() -> None:
    env = SERVICES["sampler-vllm"]["environment"]
    assert interpolate(env["OPENAI_BASE_URL"]) == "http://vllm:8000/v1"
    assert env["OPENAI_STORE_DIR"] == "/models"  # vLLM's mount of the store
    for name in ("init", "sampler", "sampler-vllm", "trainer", "vllm"):
        mounts = [v.split(":")[:2] for v in SERVICES[name]["volumes"]]
        assert ["hf-cache", "/root/.cache/huggingface"] in mounts, name
    assert "hf-cache" in COMPOSE["volumes"]


def test_trainer_and_vllm_reserve_gpus() -> None:
    for name in ("trainer", "vllm"):
        devices = SERVICES[name]["deploy"]["resources"]["reservations"]["devices"]
        assert any("gpu" in d["capabilities"] for d in devices), name
    trainer_args = SERVICES["trainer"]["build"]["args"]
    sampler_args = SERVICES["sampler"]["build"]["args"]
    assert trainer_args["TORCH_PIP_ARGS"] != sampler_args["TORCH_PIP_ARGS"]


def test_web_image_carries_no_torch_and_workers_do() -> None:
    """migrate and web build from the base lock (no torch); sampler and trainer from demo."""
    locks = {name: SERVICES[name]["build"]["args"]["LOCK"] for name in APP_SERVICES}
    assert locks == {
        "migrate": "base",
        "web": "base",
        "init": "demo",
        "sampler": "demo",
        "sampler-vllm": "demo",
        "trainer": "demo",
    }
    images = {name: SERVICES[name]["image"] for name in APP_SERVICES}
    assert images["migrate"] == images["web"] and images["init"] == images["sampler"]
    assert len({images["web"], images["sampler"], images["trainer"]}) == 3
    assert "torch" not in lock_pins("base")
    assert lock_pins("demo")["torch"] == "2.13.0"


def test_model_store_is_one_shared_volume() -> None:
    mounts = {}
    for name in (*APP_SERVICES, "vllm"):
        volumes = [v.split(":") for v in SERVICES[name]["volumes"]]
        mounts[name] = {(v[0], v[1]) for v in volumes}
    store = SERVICES["web"]["environment"]["MODEL_DIR"]
    for name in APP_SERVICES:
        assert SERVICES[name]["environment"]["MODEL_DIR"] == store
        assert ("models", store) in mounts[name], name
    assert ("models", store) in mounts["vllm"]
    assert "models" in COMPOSE["volumes"] and "pgdata" in COMPOSE["volumes"]


def test_environment_names_known_settings_with_valid_values() -> None:
    for name in APP_SERVICES:
        env = SERVICES[name]["environment"]
        unknown = set(env) - SETTINGS
        assert unknown == set(), f"{name}: not settings: {unknown}"
        values = {k.lower(): interpolate(str(v)) for k, v in env.items()}
        Settings(_env_file=None, **values)  # type: ignore[call-arg]
        assert env["PAIRWISE_ENV"] == "production"
    assert set(SERVICES["postgres"]["environment"]) <= POSTGRES_IMAGE_VARS
    assert set(SERVICES["vllm"]["environment"]) <= VLLM_VARS


def test_interpolated_variables_are_documented() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(INTERPOLATION.findall(text))
    assert used - SETTINGS - set(COMPOSE_VARS) == set()
    # COMPOSE_PROFILES is read by Compose itself (from .env), not interpolated.
    unread = set(COMPOSE_VARS) - used - {"COMPOSE_PROFILES"}
    assert unread == set(), "COMPOSE_VARS lists variables compose never reads"


def env_example_lines() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_env_example_is_generated_and_complete() -> None:
    assert (ROOT / ".env.example").read_text() == env_example(), (
        "regenerate: python -m app.env_example > .env.example"
    )
    values = env_example_lines()
    assert set(values) == SETTINGS | set(COMPOSE_VARS)
    assert values["SECRET_KEY"] == "" and values["DATABASE_PASSWORD"] == ""  # Docker secrets
    assert values["PAIRWISE_ENV"] == "production"
    settings = {k.lower(): v for k, v in values.items() if k in SETTINGS and v != ""}
    Settings(_env_file=None, **settings)  # type: ignore[call-arg]


def make_recipe(target: str) -> list[str]:
    """The recipe lines of a Makefile target, `$(BIN)/` removed."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)/", ""))
    return recipe


def make_variable(name: str) -> str:
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{name} :?= *(\S+)$", text, re.MULTILINE)
    assert match, f"Makefile sets no {name}"
    return match.group(1)


def lock_pins(name: str) -> dict[str, str]:
    """Package → pinned version in requirements/lock-NAME.txt."""
    pins = {}
    for line in (ROOT / "requirements" / f"lock-{name}.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            package, version = requirement.split("==")
            pins[package] = version
    return pins


def normalise(command: str) -> list[str]:
    """Words of a command without quiet/cache flags, build-arg words or BuildKit mounts."""
    return [
        w
        for w in shlex.split(command)
        if w != "--quiet" and not w.startswith(("$", "--mount=")) and w != "RUN"
    ]


def dockerfile() -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def docker_pip(lock: str) -> list[list[str]]:
    """The image's `pip install` commands when built with LOCK=lock, in order."""
    commands = []
    for line in dockerfile():
        if not line.startswith("RUN "):
            continue
        guarded = re.match(r'.*if \[ "\$LOCK" != base \]; then (.*); fi$', line)
        if guarded and lock == "base":
            continue
        body = guarded.group(1) if guarded else line
        for part in re.split(r"&&|;", body):
            words = normalise(part.replace("$LOCK", lock))
            if words[:2] == ["pip", "install"]:
                commands.append(words)
    return commands


def test_image_installs_like_the_makefile() -> None:
    lock = make_variable("LOCK")
    assert lock == "requirements/lock-demo.txt"
    make_pip = [
        normalise(c.replace("$(LOCK)", lock))
        for c in make_recipe("$(STAMP)")
        if c.startswith("pip install")
    ]
    assert len(make_pip) == 4
    image = docker_pip("demo")
    # The same commands, except that the image installs the package itself (not editable).
    assert image[:-1] == make_pip[:-1]
    assert make_pip[-1] == ["pip", "install", "--no-deps", "--editable", "."]
    assert image[-1] == ["pip", "install", "--no-deps", "."]
    # The web image: no torch step, the base lock.
    base = docker_pip("base")
    assert ["pip", "install", "--no-deps", "--requirement", "requirements/lock-base.txt"] in base
    assert not any("torch==2.13.0" in command for command in base)

    make_npm = [normalise(c) for c in make_recipe("$(HTMX)") if c.startswith("npm")]
    docker_runs = [normalise(line) for line in dockerfile() if line.startswith("RUN ")]
    assert make_npm and all(cmd in docker_runs for cmd in make_npm)
    htmx = next(c for c in make_recipe("$(HTMX)") if c.startswith("cp "))
    source = htmx.split()[1]
    copy = next(line for line in dockerfile() if line.startswith("COPY --from=htmx"))
    assert copy.split()[-2].endswith("/" + source)
    assert copy.split()[-1] == "app/static/vendor/htmx.min.js"
    assert "PYTHON ?= python3.11" in (ROOT / "Makefile").read_text()
    assert "FROM python:3.11-slim" in dockerfile()


def test_image_installs_dependencies_before_copying_the_code() -> None:
    """A code change rebuilds only the layers after the dependencies."""
    lines = dockerfile()
    final = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    stage = lines[final:]
    code = next(i for i, line in enumerate(stage) if line.startswith("COPY app "))
    locks = [i for i, line in enumerate(stage) if "--requirement requirements/lock-" in line]
    assert locks and max(locks) < code
    copied_before = [line for line in stage[: max(locks)] if line.startswith("COPY ")]
    assert copied_before == ["COPY requirements requirements"]


def test_image_holds_what_the_app_reads_at_run_time() -> None:
    copied = {
        line.split()[i]
        for line in dockerfile()
        if line.startswith("COPY ") and "--from" not in line
        for i in range(1, len(line.split()) - 1)
    }
    assert {"app", "trainer"} <= copied
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not {"app", "trainer", "app/templates", "app/migrations"} & set(ignored)
    envs = {
        word.split("=")[0]
        for line in dockerfile()
        if line.startswith("ENV ")
        for word in line.split()[1:]
    }
    assert {e for e in envs if not e.startswith(("PYTHON", "PIP_"))} <= SETTINGS


@pytest.mark.parametrize("name", ["1gpu", "8gpu-zero3", "8gpu-fsdp"])
def test_accelerate_configs_load(name: str) -> None:
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import launch_command_parser

    path = ROOT / "trainer" / "accelerate" / f"{name}.yaml"
    config = ClusterConfig.from_yaml_file(os.fspath(path))
    assert config.num_processes == (1 if name == "1gpu" else 8)
    options = {a.dest for a in launch_command_parser()._actions} | {"use_cpu"}
    raw = yaml.safe_load(path.read_text())
    nested = {**raw.get("fsdp_config", {}), **raw.get("deepspeed_config", {})}
    assert set(nested) <= options, "an option accelerate launch does not know"
