"""`pairwise demo`: the whole loop on one machine — web, sampler and trainer, one admin.

The three run as child processes of this one (`app.supervisor`): training never stalls
the web server, and Ctrl-C stops all three cleanly. A second start resumes: the database,
the account and the model store are reused, and a run the trainer gave back on stopping
(or one whose trainer died) is picked up again.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
from pathlib import Path

from sqlalchemy import select

from app.auth.service import create_user
from app.db import check_connection, make_engine, make_sessionmaker, transaction
from app.domain.project_settings import update_settings
from app.migrate import upgrade
from app.models import User, UserRole
from app.projects.service import add_member, ensure_default_project
from app.sampling.demo_prompts import seed_demo_prompts
from app.settings import Settings
from app.supervisor import Child, Supervisor

ADMIN_USERNAME = "admin"
# The demo project retrains by itself: a person who labels sees a new version go live, and
# so does one who lets `pairwise simulate` label (its evaluators' labels count here).
DEMO_RETRAINING = {
    "retrain_every_labels": 50,
    "retrain_min_minutes": 10,
    "train_on_simulated": True,
}
# Runs enqueued without a recipe (the scheduled ones too) use this one unless the deployment
# names its own (TRAINING_DEFAULT_RECIPE): a first new version minutes after 50 labels on
# 2 CPU cores (docs/benchmarks.md, "The first loop").
DEMO_RECIPE = "demo"
READY_SECONDS = 180.0


def seed(settings: Settings) -> str | None:
    """Create the default project and, only the first time, the admin. Returns its password."""
    engine = make_engine(settings.resolved_database_url)
    check_connection(engine)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    password = None
    with transaction(factory) as db:
        project = ensure_default_project(db, settings.policy_base_model)
        seed_demo_prompts(db, project)  # so the sampler has something to sample at once
        stored = project.settings or {}
        unset = {k: v for k, v in DEMO_RETRAINING.items() if k not in stored}
        if unset:  # never undo an admin's choice
            update_settings(project, **unset)
        has_admin = db.scalar(select(UserRole.user_id).where(UserRole.role == "admin").limit(1))
        if (
            has_admin is None
            and db.scalar(select(User).where(User.username == ADMIN_USERNAME)) is None
        ):
            password = secrets.token_urlsafe(12)
            user = create_user(db, settings, ADMIN_USERNAME, password, {"admin", "evaluator", "ml"})
            add_member(db, project, user)
    engine.dispose()
    return password


def children(settings: Settings, host: str, port: int) -> list[Child]:
    """The processes of the loop: web (its embedded sampler off), sampler, trainer."""
    logs = settings.data_dir / "logs"
    web = Child(
        "web",
        ["serve", "--host", host, "--port", str(port), "--workers", "1"],
        logs / "web.log",
        {"SAMPLER_ENABLED": "false"},
        does=f"pages and API at http://{host}:{port}/",
    )
    sampler = Child(
        "sampler",
        ["worker", "sample"],
        logs / "sampler.log",
        does="keeps pairs ready to label (paused while a run trains)",
    )
    trainer = Child(
        "trainer",
        ["worker", "train"],
        logs / "trainer.log",
        does="claims training runs; enqueues them on each project's retraining schedule",
    )
    return [web, sampler, trainer] if settings.sampler_enabled else [web, trainer]


def child_env(settings: Settings) -> dict[str, str]:
    """The environment every child reads its settings from: this process's, made explicit."""
    env = {
        **os.environ,
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.resolved_database_url,
        "MODEL_DIR": str(settings.resolved_model_dir),
        "PYTHONUNBUFFERED": "1",
    }
    # The demo's defaults where the deployment sets nothing itself.
    if "training_default_recipe" not in settings.model_fields_set:
        env["TRAINING_DEFAULT_RECIPE"] = DEMO_RECIPE
    pauses = settings.sampler_pause_during_runs
    if "sampler_pause_during_runs" not in settings.model_fields_set:
        # One machine: while a run trains, the trainer gets the cores the sampler would use.
        env["SAMPLER_PAUSE_DURING_RUNS"] = "true"
        pauses = True
    if not settings.torch_threads and not pauses:
        # Sampler and trainer work at once: half the cores each (TRAINING-NOTES.md). When
        # the sampler pauses while a run trains, each has every core while it works.
        env["TORCH_THREADS"] = str(max(1, (os.cpu_count() or 2) // 2))
    here = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
    return env


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _say(line: str = "") -> None:
    print(line, flush=True)


def run_demo(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    password = seed(settings)
    host = host or settings.host
    port = port or settings.port
    url = f"http://{host}:{port}"
    procs = children(settings, host, port)
    supervisor = Supervisor(procs, grace_seconds=settings.shutdown_grace_seconds + 35)
    supervisor.install_signal_handlers()
    _say("Starting Pairwise: " + ", ".join(c.name for c in procs) + " ...")
    supervisor.start(child_env(settings))
    ended = supervisor.wait_until(lambda: _healthy(url), READY_SECONDS)
    if ended is None and not supervisor.stopping.is_set() and _healthy(url):
        _banner(settings, procs, url, password)
        ended = supervisor.watch()
    if ended is not None:
        code = ended.popen.poll() if ended.popen else None
        print(f"\nThe {ended.name} process ended (exit status {code}); its log:", file=sys.stderr)
        print(ended.tail(), file=sys.stderr)
        print(f"Stopping the others (full logs in {settings.data_dir / 'logs'}).", file=sys.stderr)
    elif not supervisor.stopping.is_set():
        print(f"The web server did not answer within {READY_SECONDS:.0f} s.", file=sys.stderr)
    else:
        _say("\nStopping web, sampler and trainer (a run in progress goes back to the queue)...")
    codes = supervisor.stop()
    _say("Stopped: " + ", ".join(f"{name} ({_how(code)})" for name, code in codes.items()))
    return 1 if ended is not None or not supervisor.stopping.is_set() else 0


def _how(code: int | None) -> str:
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
    if code in (0, -signal.SIGTERM):
        return "clean"
    return "killed" if code == -signal.SIGKILL else f"exit status {code}"


def _banner(settings: Settings, procs: list[Child], url: str, password: str | None) -> None:
    _say()
    _say(f"  Pairwise is running at {url}/")
    if password:
        _say(f"  Admin login: {ADMIN_USERNAME} / {password}   (shown once; write it down)")
    else:
        _say(f"  Log in as {ADMIN_USERNAME} with the password printed on the first run.")
    _say()
    _say(f"  Processes (logs in {settings.data_dir / 'logs'}):")
    for child in procs:
        _say(f"    {child.name:<8} pid {child.pid:<7} {child.does}")
    for line in retraining_lines(settings):
        _say(f"  {line}")
    _say(f"  Label: {url}/label   Runs: {url}/training/runs   Versions: {url}/training/versions")
    _say(f"  Workers: {url}/system   Settings: {url}/admin/projects")
    _say(f"  Let simulated evaluators label: pairwise simulate --url {url} --rule concise")
    _say("  Ctrl-C stops all of them; `make run` again resumes where it stopped.")
    _say()


def retraining_lines(settings: Settings) -> list[str]:
    """What retraining each project is set to, as printed at start."""
    from app.domain.retraining import describe_all

    engine = make_engine(settings.resolved_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as db:
            return describe_all(db, settings)
    finally:
        engine.dispose()
