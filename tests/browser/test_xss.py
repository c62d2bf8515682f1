"""Stored XSS (Label Studio CVE-2024-26152) in Chromium: hostile prompts, completions,
guidelines, usernames, tags and project names are shown as text on every page, no script
runs, and every page sends a nonce-based CSP and the other security headers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.auth.service import create_api_token, create_user
from app.db import transaction
from app.models import (
    Comparison,
    PolicyVersion,
    TrainingRun,
    User,
    UserRole,
    utcnow,
)
from app.projects.service import add_member
from tests.browser.conftest import PASSWORD, LiveServer, log_in
from tests.factories import lease, make_pair, make_project, make_prompt

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<script>window.__xss='script'</script>",
    "<img src=x onerror=\"window.__xss='img'\">",
    "[click me](javascript:window.__xss='link')",
    "</textarea><script>window.__xss='textarea'</script>",
    "{{7*7}}zz",
    "![pixel](x onerror=window.__xss='mdimg')",
    "<svg onload=\"window.__xss='svg'\"></svg>",
    '"><a href="javascript:window.__xss=\'attr\'">attr</a>',
]
HOSTILE = " ".join(PAYLOADS)
SHORT = "<b>x</b>{{7*7}}zz<img src=x onerror=window.__xss='n'>"  # fits 100-character names

# Runs before any page script: any payload that executes flips the flag or opens a dialog.
TRAP = (
    "window.__xss = null;"
    " window.alert = window.confirm = window.prompt = () => { window.__xss = 'dialog'; };"
)

# Active content anywhere in the DOM: an event handler, a javascript: URL, a script the
# server did not write (ours carry a nonce or a src).
ACTIVE = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const v = a.value.trim().toLowerCase();
      if (a.name.startsWith('on') && v.includes('__xss')) found.push(el.tagName + ' ' + a.name);
      if (['href', 'src', 'action', 'formaction'].includes(a.name) && v.startsWith('javascript:'))
        found.push(el.tagName + ' ' + a.name);
    }
    if (el.tagName === 'SCRIPT' && !el.src && !el.nonce) found.push('script without nonce');
    if (el.tagName === 'SCRIPT' && el.textContent.includes('__xss')) found.push('payload script');
  }
  return found;
}"""


@pytest.fixture(scope="module")
def hostile(live_server: LiveServer) -> dict[str, int]:
    """One project where every user-visible text field carries the payloads."""
    with transaction(live_server.sessionmaker) as db:
        project = make_project(
            db, name=SHORT, description=HOSTILE, guidelines=HOSTILE, flags=[SHORT, "unsafe"]
        )
        me = create_user(
            db, live_server.settings, "xss-all", PASSWORD, {"evaluator", "admin", "ml"}
        )
        add_member(db, project, me)
        create_api_token(db, me, SHORT)
        victim = User(username=SHORT[:60], password_hash="!unusable")
        victim.role_rows.append(UserRole(role="evaluator"))
        db.add(victim)
        db.flush()
        add_member(db, project, victim)
        prompt = make_prompt(db, project, text=HOSTILE)
        prompt.tags = [SHORT[:50], "ok"]
        make_pair(db, project, prompt=prompt, text_a=HOSTILE, text_b=HOSTILE)
        judged = make_pair(db, project, text_a=HOSTILE, text_b="plain")
        asg = lease(db, judged, victim)
        asg.status = "submitted"
        db.add(
            Comparison(
                project_id=project.id,
                pair_id=judged.id,
                user_id=victim.id,
                assignment_id=asg.id,
                choice="a",
                strength="clear",
                rationale=HOSTILE,
                flags=[SHORT],
                decision_ms=4000,
                idempotency_key="xss-1",
                created_at=utcnow() - timedelta(minutes=1),
            )
        )
        run = TrainingRun(
            project_id=project.id,
            recipe="tiny",
            status="failed",
            log=HOSTILE,
            error=HOSTILE,
            metrics={"evaluation": {"note": HOSTILE}},
        )
        db.add(run)
        db.add(
            PolicyVersion(
                project_id=project.id,
                number=1,
                checkpoint_uri="projects/x/v1",
                base_model=SHORT,
                status="candidate",
                metrics={"note": HOSTILE},
            )
        )
        db.flush()
        return {"project": project.id, "victim": victim.id, "run": run.id}


PAGES = [
    "/",
    "/label?project={project}",
    "/guidelines",
    "/account",
    "/account/totp",
    "/admin/prompts?project={project}",
    "/admin/annotators?project={project}",
    "/admin/annotators/{victim}?project={project}",
    "/admin/projects",
    "/admin/projects/{project}",
    "/admin/quality?project={project}",
    "/admin/export?project={project}",
    "/training/runs?project={project}",
    "/training/runs/{run}",
    "/training/versions?project={project}",
    "/training/leaderboard?project_id={project}",
    "/system",
]


def test_hostile_text_is_shown_as_text_and_never_runs(
    page, live_server: LiveServer, hostile: dict[str, int]
) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.add_init_script(TRAP)
    log_in(page, live_server, "xss-all")
    page.wait_for_selector("text=Welcome, xss-all")
    shown_anywhere = set()
    for template in PAGES:
        path = template.format(**hostile)
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        page.wait_for_load_state("networkidle")
        page.mouse.move(5, 5)
        for link in page.query_selector_all("a"):
            link.hover()  # onmouseover-style payloads would fire now
        assert page.evaluate("window.__xss") is None, (path, page.evaluate("window.__xss"))
        assert page.evaluate(ACTIVE) == [], path
        text = page.inner_text("body")
        assert "49zz" not in text, f"{path}: a template expression was evaluated"
        for marker in ("{{7*7}}zz", "<script>", "onerror=", "<b>x</b>"):
            if marker in text:
                shown_anywhere.add(marker)
        if "{project}" in template or template in ("/guidelines", "/admin/projects"):
            assert "{{7*7}}zz" in text, f"{path}: the hostile text is not shown as text"
    assert dialogs == []
    assert shown_anywhere == {"{{7*7}}zz", "<script>", "onerror=", "<b>x</b>"}


NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")


def test_every_page_sends_csp_with_nonces_and_security_headers(
    page, live_server: LiveServer, hostile: dict[str, int]
) -> None:
    log_in(page, live_server, "xss-all")
    page.wait_for_selector("text=Welcome, xss-all")
    nonces = set()
    for template in ["/login", *PAGES]:
        path = template.format(**hostile)
        response = page.request.get(live_server.url + path)
        assert response.status == 200, path
        headers = response.headers
        csp = headers["content-security-policy"]
        match = NONCE.search(csp)
        assert match, (path, csp)
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        nonce = match.group(1)
        nonces.add(nonce)
        body = response.text()
        for script in re.findall(r"<script\b[^>]*>", body):
            assert "src=" in script or f'nonce="{nonce}"' in script, (path, script)
    assert len(nonces) == len(PAGES) + 1, "the nonce must change on every response"
