"""The Loop page in Chromium: reached from the nav, updates itself as labels arrive, no CSP
violations; the runs page overlays the curves of ticked runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.auth.service import create_user
from app.db import transaction
from app.domain.preferences import current_watermark
from app.models import Project, TrainingRun
from app.projects.service import add_member
from tests import factories as f
from tests.browser.conftest import PASSWORD, LiveServer, log_in

pytestmark = pytest.mark.browser


def test_loop_page_updates_as_labels_arrive(page, live_server: LiveServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with transaction(live_server.sessionmaker) as db:
        project = Project(name="loop-browser")
        db.add(project)
        db.flush()
        judge = create_user(db, live_server.settings, "loop-judge", PASSWORD, {"evaluator"})
        staff = create_user(db, live_server.settings, "loop-staff", PASSWORD, {"ml"})
        add_member(db, project, staff)
        v0 = f.make_version(db, project, 0, status="active")
        v1 = f.make_version(db, project, 1, status="candidate")
        f.judgements(db, project, judge, v1, v0, "a" * 12 + "b" * 4)
        curves = {"reward:loss": [[1, 0.7], [2, 0.5]]}
        runs = [
            TrainingRun(project_id=project.id, status="succeeded", metrics={"curves": curves})
            for _ in range(2)
        ]
        runs[1].watermark_comparison_id = current_watermark(db, project.id)
        db.add_all(runs)
        db.flush()
        v1.training_run_id = runs[1].id
        project_id, judge_id = project.id, judge.id

    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, live_server, "loop-staff")
    page.wait_for_url(live_server.url + "/")
    page.click("header nav >> text=Loop")
    page.wait_for_url(f"**/projects/{project_id}/loop")
    assert page.text_content("#labels-since") == "0"
    assert page.locator("#loop-versions-table tbody tr").count() == 2
    # v1, trained on 16 labels, beats v0 in 12 of 16: the curve rises from 50 % at 0 labels.
    assert page.locator("#win-rate-curve svg polyline").count() == 1

    with transaction(live_server.sessionmaker) as db:
        judge = db.get_one(type(staff), judge_id)
        project = db.get_one(Project, project_id)
        f.judgements(db, project, judge, v0, v0, "ab", kind="live")
    # The live part polls and swaps in the new count (Playwright waits for it).
    page.wait_for_selector("#labels-since >> text=2")
    folder = Path(os.environ.get("PAIRWISE_ARTEFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "loop.png"), full_page=True)

    page.goto(f"{live_server.url}/training/runs?project={project_id}")
    for box in page.locator("#compare-form input[name=compare]").all():
        box.check()
    page.click("#compare-runs")
    page.wait_for_selector("#overlay-charts svg")
    page.screenshot(path=str(folder / "runs-overlay.png"), full_page=True)
    assert page.locator("#overlay-charts svg g.series").count() == 2
    assert [e for e in errors if "404" not in e] == []
