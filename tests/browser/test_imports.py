"""In Chromium: the prompt and preference import forms upload without a page reload, show
the upload's progress and swap in the outcome (rows stored, or the bad rows named)."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import LiveServer, log_in

pytestmark = pytest.mark.browser


def jsonl(*rows: object) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def upload(page, name: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    page.set_input_files("input[type=file]", files=[
        {"name": name, "mimeType": "application/jsonl", "buffer": data}
    ])  # fmt: skip
    page.evaluate("window.notReloaded = true")
    page.click("form[data-upload-progress] button[type=submit]")


def test_imports_show_progress_and_outcome_in_place(page, live_server: LiveServer) -> None:
    live_server.add_user("importer", "admin")
    log_in(page, live_server, "importer")
    page.wait_for_selector("text=Welcome, importer")

    page.goto(live_server.url + "/admin/prompts")
    assert page.locator("#import-form progress#import-progress").count() == 1
    upload(page, "prompts.jsonl", jsonl({"prompt": "Name a colour."}, {"tags": ["x"]}))
    page.wait_for_selector("#import-summary")
    assert page.evaluate("window.notReloaded") is True  # swapped in, no navigation
    summary = page.inner_text("#import-outcome")
    assert "nothing imported — 1 bad record(s)" in summary
    assert page.locator("#import-outcome table.problems tr td").first.inner_text() == "2"
    assert page.evaluate("document.querySelector('#import-progress').value") == 100
    assert page.locator("#import-progress").is_visible()

    upload(page, "good.jsonl", jsonl({"prompt": "Name a colour."}, {"prompt": "Name a bird."}))
    page.wait_for_selector("#import-summary.notice")
    assert page.evaluate("window.notReloaded") is True
    assert "added 2" in page.inner_text("#import-summary")
    assert "Name a bird." in page.inner_text("#prompt-rows")  # the list refreshed too

    page.goto(live_server.url + "/admin/imports")
    assert page.locator("#preference-import-form progress").count() == 1
    rows = [{"prompt": f"Q{i}?", "chosen": "good answer", "rejected": "bad"} for i in range(3)]
    upload(page, "prefs.jsonl", jsonl(*rows[:2], {"prompt": "Q?", "chosen": "same"}))
    page.wait_for_selector("#import-summary.error")
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#import-outcome table.problems tbody tr").count() == 1
    assert page.locator("#import-outcome table.problems td").first.inner_text() == "3"

    upload(page, "prefs.jsonl", jsonl(*rows))
    page.wait_for_selector("#import-summary.notice")
    assert page.evaluate("window.notReloaded") is True
    assert "stored 3 row(s)" in page.inner_text("#import-summary")
    assert page.locator("#import-batches tr[data-batch]").count() == 1  # batches refreshed
