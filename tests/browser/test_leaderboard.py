"""The leaderboard page in Chromium: table, matrix and SVG chart, no CSP violations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.auth.service import create_user
from app.db import transaction
from app.models import Project
from app.projects.service import add_member
from tests import factories as f
from tests.browser.conftest import PASSWORD, LiveServer, log_in

pytestmark = pytest.mark.browser


def test_leaderboard_page_shows_chart_and_table(
    page, live_server: LiveServer, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    with transaction(live_server.sessionmaker) as db:
        project = Project(name="leaderboard-browser")
        db.add(project)
        db.flush()
        judge = create_user(db, live_server.settings, "lb-judge", PASSWORD, {"evaluator"})
        staff = create_user(db, live_server.settings, "lb-staff", PASSWORD, {"ml"})
        add_member(db, project, staff)
        v0, v1, v2 = (f.make_version(db, project, n, status="archived") for n in range(3))
        f.judgements(db, project, judge, v1, v0, "a" * 14 + "b" * 4 + "tt")
        f.judgements(db, project, judge, v0, v2, "b" * 18 + "a" * 2 + "x")
        project_id = project.id

    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    log_in(page, live_server, "lb-staff")
    page.wait_for_url(live_server.url + "/")
    page.goto(f"{live_server.url}/training/leaderboard?project_id={project_id}")
    assert page.locator("svg.chart circle.point").count() == 3
    assert page.locator("table.leaderboard tbody tr").count() == 3
    assert "40 judgements used" in page.content()
    assert '1 "both bad" left out' in page.text_content("main")
    # The whisker of v2 sits above the dashed 50 % line: the interval excludes even odds.
    half = float(page.locator("line.half-line").get_attribute("y1"))
    whisker_low = page.locator("g.version-point").nth(2).locator("line.whisker").first
    assert float(whisker_low.get_attribute("y1")) < half
    # No Content-Security-Policy violations (a browser's own favicon request may 404).
    assert [e for e in errors if "404" not in e] == []
    assert [u for u in missing if not u.endswith("/favicon.ico")] == []
    folder = Path(os.environ.get("PAIRWISE_ARTEFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "leaderboard.png"), full_page=True)

    # The versions page shows the same leaderboard and chart under the version list.
    page.goto(f"{live_server.url}/training/versions?project={project_id}")
    assert page.locator("#versions tbody tr").count() == 3
    assert page.locator("svg.chart circle.point").count() == 3
    assert page.locator("table.leaderboard tbody tr").count() == 3
    assert "40 judgements used" in page.text_content("main")
    page.screenshot(path=str(folder / "versions.png"), full_page=True)
    assert [e for e in errors if "404" not in e] == []
