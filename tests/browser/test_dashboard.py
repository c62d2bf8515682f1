"""The admin dashboard in Chromium: the labels-per-day chart shows the seeded day counts."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.auth.service import create_user
from app.db import transaction
from app.models import Project
from app.projects.service import add_member
from tests import factories as f
from tests.browser.conftest import PASSWORD, LiveServer, log_in

pytestmark = pytest.mark.browser


def test_dashboard_chart_shows_labels_per_day(
    page, live_server: LiveServer, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    today, two_days_ago = now.date(), (now - timedelta(days=2)).date()
    with transaction(live_server.sessionmaker) as db:
        project = Project(name="dashboard-browser")
        db.add(project)
        db.flush()
        admin = create_user(db, live_server.settings, "dash-admin", PASSWORD, {"admin"})
        judge = create_user(db, live_server.settings, "dash-judge", PASSWORD, {"evaluator"})
        add_member(db, project, admin)
        for _ in range(3):
            f.compare(db, f.make_pair(db, project), judge, "a", at=now - timedelta(seconds=30))
        for _ in range(2):
            f.compare(db, f.make_pair(db, project), judge, "b", at=now - timedelta(days=2))
        project_id = project.id

    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, live_server, "dash-admin")
    page.wait_for_url(live_server.url + "/")
    page.click("header nav >> text=Dashboard")
    page.goto(f"{live_server.url}/admin/dashboard?project={project_id}")
    chart = page.locator("svg.day-chart")
    assert chart.is_visible()
    assert chart.bounding_box()["height"] > 100
    assert page.locator("svg.day-chart rect.bar").count() == 30
    for day, count in ((today, "3"), (two_days_ago, "2")):
        bar = page.locator(f'g.day[data-day="{day.isoformat()}"]')
        assert bar.locator("text.bar-count").text_content() == count
        assert bar.locator("rect.bar").bounding_box()["height"] > 0
    # Three labels stand taller than two; days without labels have no visible bar.
    heights = [
        page.locator(f'g.day[data-day="{d.isoformat()}"] rect.bar').bounding_box()["height"]
        for d in (today, two_days_ago)
    ]
    assert heights[0] == pytest.approx(1.5 * heights[1], rel=0.05)
    assert page.locator("svg.day-chart text.bar-count").count() == 2
    assert "5 label(s) in the last 30 days" in page.text_content("#labels-per-day")
    assert page.text_content("#active-count") == "1"
    assert [e for e in errors if "404" not in e] == []
    folder = Path(os.environ.get("PAIRWISE_ARTEFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "dashboard.png"), full_page=True)
