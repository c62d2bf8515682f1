"""Log in, see the home page, fail with a wrong password, log out — in Chromium."""

from __future__ import annotations

import pytest

from tests.browser.conftest import LiveServer, log_in

pytestmark = pytest.mark.browser


def test_admin_logs_in_and_out(page, live_server: LiveServer) -> None:
    live_server.add_user("boss", "admin", "ml", "evaluator")
    log_in(page, live_server, "boss")
    page.wait_for_selector("text=Welcome, boss")
    assert page.is_visible("a[href='/admin/prompts']")
    assert page.is_visible("a[href='/training/runs']")
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto(live_server.url + "/")
    assert "/login" in page.url


def test_wrong_password_shows_error(page, live_server: LiveServer) -> None:
    live_server.add_user("carol", "evaluator")
    log_in(page, live_server, "carol", "not the password")
    page.wait_for_selector("[role=alert]")
    assert "Wrong username or password" in page.inner_text("[role=alert]")
    assert "/login" in page.url


def test_no_script_errors_on_pages(page, live_server: LiveServer) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    live_server.add_user("dave", "evaluator")
    log_in(page, live_server, "dave")
    page.wait_for_selector("text=Welcome, dave")
    page.goto(live_server.url + "/account")
    page.wait_for_selector("text=API tokens")
    assert errors == []
