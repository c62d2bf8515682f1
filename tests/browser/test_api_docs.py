"""/docs: Swagger UI from the package runs under the same CSP as every page, nothing outside."""

from __future__ import annotations

import re

from tests.browser.conftest import LiveServer


def test_swagger_ui_runs_under_the_site_csp_from_the_package(page, live_server: LiveServer) -> None:
    messages: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
    page.on(
        "request",
        lambda r: None if r.url.startswith((live_server.url, "data:")) else outside.append(r.url),
    )
    response = page.goto(live_server.url + "/docs")
    assert response is not None and response.status == 200
    page.wait_for_selector(".opblock-summary-path")  # the operations were read and drawn
    assert page.locator(".opblock-summary-path", has_text="/api/v1/comparisons").count() > 0
    login_csp = page.request.get(live_server.url + "/login").headers["content-security-policy"]
    docs_csp = response.headers["content-security-policy"]
    nonce = re.compile(r"'nonce-[^']+'")
    assert nonce.sub("", docs_csp) == nonce.sub("", login_csp)
    assert not [m for m in messages if "Content Security Policy" in m], messages
    assert outside == []
