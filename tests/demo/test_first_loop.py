"""The issue's done-when, end to end with tiny models: `pairwise demo`, then 60 labels from
`pairwise simulate --url …`, and with no other command a version ≥ 1 goes live; the Loop
page shows it with its human win-rate once simulated evaluators have judged it head to head.

No timing is asserted: each wait is a bounded poll that only stops a hung loop.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from app.db import make_engine, make_sessionmaker, transaction
from app.domain.recipe import RECIPES_DIR
from app.models import PolicyVersion, Project
from app.settings import Settings
from tests.demo.running import ROOT, Demo, free_port
from tests.faults.procs import wait_for

pytestmark = pytest.mark.e2e

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD_RE = re.compile(r"Admin login: admin / (\S+)")
RULE = "python:tests.demo.rules:decisive"


def loop_recipe(folder: Path) -> Path:
    """The tiny recipe with the reward-gain gate open: random tiny models barely move, and
    this test is about the loop closing, not about what it learns."""
    recipe = yaml.safe_load((RECIPES_DIR / "tiny.yaml").read_text())
    recipe["gates"] = {"min_reward_gain": -1.0e9, "max_kl": 1.0e9, "min_reward_accuracy": None}
    path = folder / "loop-test.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def simulate(env: dict[str, str], url: str, labels: int, seed: int, log: Path) -> str:
    args = ["simulate", "--url", url, "--rule", RULE, "--labels", str(labels)]
    args += ["--evaluators", "3", "--skip-rate", "0", "--idle-timeout", "60", "--seed", str(seed)]
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def version_row(page: str, number: int) -> str:
    match = re.search(rf'<tr data-version="{number}">(.*?)</tr>', page, re.S)
    assert match, page[-3000:]
    return match.group(1)


def test_sixty_simulated_labels_put_a_new_version_live_and_the_loop_page_shows_it(
    demo_env: dict[str, str], tmp_path: Path, started: list[Demo]
) -> None:
    env = {
        **demo_env,
        "TRAINING_DEFAULT_RECIPE": str(loop_recipe(tmp_path)),
        "PAIR_BUFFER": "16",
        "PAIR_LOW_WATER": "8",
        "SAMPLE_BATCH_SIZE": "8",
        "TORCH_THREADS": "1",
        # The Loop page's win-rates are kept figures; refresh them as soon as votes arrive.
        "AGGREGATES_REFRESH_SECONDS": "0",
    }
    demo = Demo(env, tmp_path / "demo.log", free_port())
    started.append(demo)
    demo.wait_started()
    password = PASSWORD_RE.search(demo.output())
    assert password, demo.output()
    logs = tmp_path / "data" / "logs"

    out = simulate(env, demo.url, 60, seed=1, log=tmp_path / "simulate-1.log")
    assert "labels 60 " in out, out

    settings = Settings(data_dir=Path(env["DATA_DIR"]), database_url="")  # type: ignore[call-arg]
    engine = make_engine(settings.resolved_database_url)
    factory = make_sessionmaker(engine)

    def live_version() -> int:
        with transaction(factory) as db:
            number = db.scalar(
                select(PolicyVersion.number).where(PolicyVersion.status == "active").limit(1)
            )
            return int(number or 0)

    # Nothing else is typed: the trainer's schedule (50 labels, simulated ones included in the
    # demo project) enqueues the run, trains, and the gates promote the candidate.
    assert wait_for(lambda: live_version() >= 1, 240, every=1), (logs / "trainer.log").read_text()[
        -4000:
    ]
    with transaction(factory) as db:
        project_id = db.scalars(select(Project.id)).one()
    engine.dispose()

    admin = httpx.Client(base_url=demo.url, timeout=30)
    form = CSRF_RE.search(admin.get("/login").text)
    assert form
    r = admin.post(
        "/login",
        data={"username": "admin", "password": password.group(1), "csrf_token": form.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = admin.get(f"/projects/{project_id}/loop")
    assert page.status_code == 200
    assert re.search(r'id="active-version">v[1-9]', page.text), page.text[-3000:]
    assert "status-active" in version_row(page.text, live_version())

    # Head-to-head pairs of the new version against v0 are mixed in; once simulated evaluators
    # have judged some, its win-rate against v0 appears (a percentage, not a dash).
    def rated() -> bool:
        text = admin.get(f"/projects/{project_id}/loop").text
        cell = re.search(r'<td class="vs-zero">(.*?)</td>', version_row(text, 1), re.S)
        return cell is not None and "%" in cell.group(1)

    for round_number in range(2, 8):
        if rated():
            break
        simulate(
            env, demo.url, 20, seed=round_number, log=tmp_path / f"simulate-{round_number}.log"
        )
    deadline = time.monotonic() + 60  # the refresh the last view queued runs in the background
    while not rated() and time.monotonic() < deadline:
        time.sleep(1)
    assert rated(), admin.get(f"/projects/{project_id}/loop").text[-3000:]
    admin.close()
