"""GET /metrics in the Prometheus text format; guarded by METRICS_TOKEN when it is set, and off
in production until it is."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from app.deps import DbDep, SettingsDep
from app.observability.collector import DatabaseCollector

router = APIRouter()


def token_ok(request: Request, expected: str) -> bool:
    """True when no token is configured, or the request carries `Bearer <METRICS_TOKEN>`."""
    if not expected:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        given.strip().encode(), expected.encode()
    )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, db: DbDep, settings: SettingsDep) -> Response:
    expected = settings.resolved_metrics_token()
    if expected is None:
        return PlainTextResponse(
            "/metrics is off in production until METRICS_TOKEN is set.", status_code=403
        )
    if not token_ok(request, expected):
        return PlainTextResponse(
            "A valid METRICS_TOKEN is required: Authorization: Bearer <token>.",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    # The database series use this request's session, so they read one consistent snapshot.
    per_scrape = CollectorRegistry(auto_describe=False)
    per_scrape.register(DatabaseCollector(db))
    body = generate_latest(REGISTRY) + generate_latest(per_scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
