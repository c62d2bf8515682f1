"""ML staff in Chromium: enqueue a run, watch it finish, see the curves, promote, roll back."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from app.auth.service import create_user
from app.db import transaction
from app.projects.service import ensure_default_project
from tests.browser.conftest import LiveServer, log_in
from tests.factories.training import labelled_pairs, version_zero
from trainer.progress import RunState
from trainer.worker import Worker

pytestmark = pytest.mark.browser


def test_ml_staff_trains_promotes_and_rolls_back(
    page,
    live_server: LiveServer,
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console", lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None
    )
    settings = live_server.settings
    with transaction(live_server.sessionmaker) as db:
        project = ensure_default_project(db, "tiny")
        v0 = version_zero(db, project, settings.resolved_model_dir, tiny_policy_dir)
        judge = create_user(db, settings, "browser-judge", "judge password 1", {"evaluator"})
        labelled_pairs(db, project, v0, judge, 16, prompts=8)
    live_server.add_user("mlwatcher", "ml")
    # An override may name a folder inside the model store (or an allow-listed model) only.
    scorer = settings.resolved_model_dir / "bases" / "tiny-reward"
    shutil.copytree(tiny_reward_dir, scorer, dirs_exist_ok=True)

    log_in(page, live_server, "mlwatcher")
    page.wait_for_selector("text=Welcome, mlwatcher")
    page.click("a[href='/training/runs']")
    page.select_option("select[name=recipe]", "tiny")
    page.fill(
        "textarea[name=overrides]",
        f"reward.base_model={scorer}\ngates.min_reward_gain=-1000",
    )
    page.click("#enqueue")
    page.wait_for_selector("#run-progress")
    assert page.inner_text("#run-status") == "queued"

    # A tiny run can finish between two polls of the page: the evaluation stage waits (up to
    # a minute) until the page has shown the bar part-way, so the test sees what a user sees.
    shown_midway = threading.Event()
    enter = RunState.enter

    def enter_then_wait(self: RunState, stage: str) -> None:
        enter(self, stage)
        if stage == "evaluate":
            self.changed.set()
            shown_midway.wait(timeout=60)

    monkeypatch.setattr(RunState, "enter", enter_then_wait)

    # The trainer: a worker thread on the live server's database, promotion left to the user.
    worker = Worker(
        settings.model_copy(update={"auto_promote": False}),
        live_server.sessionmaker,
        heartbeat_seconds=0.3,
    )
    thread = threading.Thread(target=worker.serve, kwargs={"once": True}, daemon=True)
    thread.start()
    seen: list[float] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        value = page.eval_on_selector("#run-progress", "el => el.value")
        seen.append(float(value))
        if 0 < seen[-1] < 1:
            shown_midway.set()
        if page.inner_text("#run-status") in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.5)
    thread.join(timeout=60)
    assert page.inner_text("#run-status") == "succeeded", page.inner_text("#run-live")
    assert any(0 < v < 1 for v in seen), seen  # the bar moved through the stages
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert page.locator("svg.chart").count() >= 1
    assert "reward model · loss" in page.inner_text("#run-charts")

    page.click("text=see versions")
    page.wait_for_selector("#version-1")
    assert page.get_attribute("#version-1", "data-status") == "candidate"
    page.click("#promote-1")
    page.wait_for_selector("#version-1[data-status=active]")
    assert page.get_attribute("#version-0", "data-status") == "archived"
    page.click("#promote-0")  # "Roll back to v0"
    page.wait_for_selector("#version-0[data-status=active]")
    assert page.get_attribute("#version-1", "data-status") == "archived"
    assert [e for e in errors if "favicon.ico" not in e] == []  # the app serves no favicon
