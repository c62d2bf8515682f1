"""Templates and the one helper that decides between a whole page and an htmx fragment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from jinja2_fragments.fastapi import Jinja2Blocks

from app import vocabulary
from app.markdown import render_markdown

PACKAGE = Path(__file__).resolve().parent
templates = Jinja2Blocks(directory=str(PACKAGE / "templates"))
templates.env.filters["markdown"] = render_markdown
templates.env.autoescape = True
# Statuses and kinds by name in templates (`VersionStatus.active`), never as bare strings.
templates.env.globals.update(
    {name: getattr(vocabulary, name) for name in dir(vocabulary) if name[:1].isupper()}
)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
) -> Response:
    """Render `template`; for an htmx request with `block` set, only that block."""
    ctx = {"request": request, **(context or {})}
    ctx.setdefault("principal", getattr(request.state, "principal", None))
    ctx.setdefault("csrf_token", getattr(request.state, "csrf_token", ""))
    ctx.setdefault("csp_nonce", getattr(request.state, "csp_nonce", ""))
    if block and is_htmx(request):
        response = templates.TemplateResponse(
            request, template, ctx, block_name=block, status_code=status_code
        )
    else:
        response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    response.headers["Vary"] = "HX-Request"
    return response


def redirect(request: Request, url: str) -> Response:
    """POST-then-redirect: `HX-Redirect` for htmx, 303 otherwise."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
