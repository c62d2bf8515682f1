"""An admin imports prompts through the upload form and sees the summary; invites an
evaluator, who sets a password through the link and signs in — in Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser.conftest import LiveServer, log_in

pytestmark = pytest.mark.browser


def test_admin_imports_prompts_and_invites(page, live_server: LiveServer, tmp_path: Path) -> None:
    live_server.add_user("chief", "admin")
    good = [{"prompt": f"Browser prompt {i}", "tags": ["web"]} for i in range(5)]
    bad_file = tmp_path / "prompts.jsonl"
    bad_file.write_text("\n".join(json.dumps(x) for x in [*good, {"prompt": ""}]) + "\n")

    log_in(page, live_server, "chief")
    page.wait_for_selector("text=Welcome, chief")
    page.goto(live_server.url + "/admin/prompts")
    page.set_input_files("#import-form input[name=file]", str(bad_file))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-summary")
    assert "nothing imported" in page.inner_text("#import-summary")
    assert "empty text" in page.inner_text("table.problems")

    page.set_input_files("#import-form input[name=file]", str(bad_file))
    page.check("#import-form input[name=skip_bad]")
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-summary.notice")
    assert "added 5, skipped 0 duplicate(s), rejected 1" in page.inner_text("#import-summary")
    assert page.locator("table.prompts tbody tr").count() == 5
    assert page.is_visible("text=Browser prompt 4")

    page.goto(live_server.url + "/admin/annotators")
    page.fill("#new-annotator input[name=username]", "invitee")
    page.click("#new-annotator button[type=submit]")
    link = page.input_value("#invite-link")
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto(link)
    page.fill("input[name=password]", "invitee password 1")
    page.fill("input[name=confirm]", "invitee password 1")
    page.click("button[type=submit]")
    page.wait_for_url("**/login**")
    log_in(page, live_server, "invitee", "invitee password 1")
    page.wait_for_selector("text=Welcome, invitee")
    page.goto(link)
    assert "already been used" in page.content()


def test_admin_sees_a_label_on_the_annotator_page_and_in_the_export(
    page, live_server: LiveServer
) -> None:
    from sqlalchemy import select

    from app.db import transaction
    from app.models import Project, User
    from tests import factories

    live_server.add_user("lead", "admin")
    live_server.add_user("labeller", "evaluator")
    # The labelling flow is its own package; the judgement is written directly here.
    with transaction(live_server.sessionmaker) as db:
        project = db.scalar(select(Project).order_by(Project.id))
        user = db.scalar(select(User).where(User.username == "labeller"))
        prompt = factories.make_prompt(db, project, "Which is the capital of France?")
        pair = factories.make_pair(db, project, prompt=prompt, text_a="Lyon", text_b="Paris")
        factories.compare(db, pair, user, "b", left="b", flags=["off-topic"])
        user_id = user.id

    log_in(page, live_server, "lead")
    page.wait_for_selector("text=Welcome, lead")
    page.goto(f"{live_server.url}/admin/annotators/{user_id}")
    assert page.inner_text("#stat-labels") == "1"
    assert "100%" in page.inner_text("#stat-left")
    page.goto(live_server.url + "/admin/export")
    with page.expect_download() as info:
        page.click("#export-download")
    download = info.value
    assert download.suggested_filename.startswith("pairwise-project")
    rows = [json.loads(x) for x in Path(download.path()).read_text().splitlines()]
    assert {
        "prompt": "Which is the capital of France?",
        "chosen": "Paris",
        "rejected": "Lyon",
    } in rows
