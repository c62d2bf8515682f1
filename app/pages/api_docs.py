"""GET /docs: Swagger UI for the API, served from the package under the site's own CSP.

The Swagger UI files come from the npm registry at setup (`swagger-ui-dist`, copied into
`app/static/vendor/swagger-ui` like htmx), so no page loads script from a CDN.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.web import render

router = APIRouter()


@router.get("/docs", include_in_schema=False)
def api_docs(request: Request) -> Response:
    return render(request, "api_docs.html", {"openapi_url": request.app.openapi_url})
